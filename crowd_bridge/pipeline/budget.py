"""What a campaign has spent and promised, in cents.

Committed money is what the ledger has booked plus what open work may still
cost: every assignment slot of a published HIT that is not yet decided, at
reward plus fee, and every bonus decided but not yet paid. Publishing or
paying anything new first checks that committed plus the new cost stays
within the campaign's budget cap.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING

from sqlalchemy import func
from sqlmodel import Session, col, select

from crowd_bridge.db.models import Action, Assignment, Hit, LedgerEntry
from crowd_bridge.db.models import Campaign as CampaignRow

if TYPE_CHECKING:
    from crowd_bridge.pipeline.context import CampaignContext


@dataclass(frozen=True)
class BudgetState:
    budget_cents: int
    booked_cents: int
    reserved_cents: int

    @property
    def committed_cents(self) -> int:
        return self.booked_cents + self.reserved_cents

    @property
    def available_cents(self) -> int:
        return self.budget_cents - self.committed_cents


def budget_state(
    session: Session,
    campaign_id: str,
    budget_cents: int,
    assignment_cost: int,
    bonus_fee: Callable[[int], int],
) -> BudgetState:
    booked = session.exec(
        select(func.coalesce(func.sum(LedgerEntry.amount_cents), 0)).where(
            LedgerEntry.campaign_id == campaign_id
        )
    ).one()

    # Open slots: assignments a live HIT may still receive or that await a
    # decision. Decided assignments are in the ledger (approved) or cost
    # nothing (rejected).
    decided = (
        select(Assignment.hit_pk, func.count().label("decided"))
        .where(
            Assignment.campaign_id == campaign_id,
            col(Assignment.status).in_(("Approved", "Rejected")),
        )
        .group_by(col(Assignment.hit_pk))
        .subquery()
    )
    rows = session.exec(
        select(Hit.max_assignments, Hit.status, func.coalesce(decided.c.decided, 0))
        .outerjoin(decided, decided.c.hit_pk == Hit.id)
        .where(
            Hit.campaign_id == campaign_id,
            col(Hit.status).in_(("publishing", "published")),
        )
    ).all()
    open_slots = sum(max(0, maximum - done) for maximum, _status, done in rows)

    pending_bonuses = session.exec(
        select(Action.amount_cents).where(
            Action.campaign_id == campaign_id,
            Action.kind == "bonus",
            col(Action.state).in_(("intended", "sent")),
        )
    ).all()
    bonus_reserve = sum(cents + bonus_fee(cents) for cents in pending_bonuses if cents)
    return BudgetState(
        budget_cents=budget_cents,
        booked_cents=int(booked),
        reserved_cents=open_slots * assignment_cost + bonus_reserve,
    )


def lock_campaign_budget(session: Session, ctx: CampaignContext) -> BudgetState:
    """Lock the campaign's row for this transaction and measure its budget.

    Service instances sharing a PostgreSQL database queue here, so two of
    them can never both spend the last of the budget.
    """
    session.exec(
        select(CampaignRow).where(CampaignRow.id == ctx.campaign_id).with_for_update()
    ).one()
    return budget_state(
        session,
        ctx.campaign_id,
        ctx.campaign.budget_cents,
        ctx.assignment_cost_cents,
        lambda cents: ctx.fees.bonus_fee(cents, masters=ctx.campaign.masters),
    )
