"""A campaign's state in numbers: HITs, assignments, decisions and money."""

from __future__ import annotations

from typing import Any

from sqlalchemy import func
from sqlalchemy.engine import Engine
from sqlmodel import col, select

from crowd_bridge.campaign import Campaign
from crowd_bridge.db.models import Action, Assignment, Hit, LedgerEntry
from crowd_bridge.db.session import session_scope
from crowd_bridge.money import FeeSchedule
from crowd_bridge.pipeline.budget import budget_state


def campaign_status(
    engine: Engine, campaign: Campaign, fees: FeeSchedule | None = None
) -> dict[str, Any]:
    fees = fees or FeeSchedule()
    cost = fees.assignment_cost(
        campaign.reward_cents,
        campaign.config.assignments_per_hit,
        masters=campaign.masters,
    )
    with session_scope(engine) as session:

        def grouped(column: Any, *where: Any) -> dict[str, int]:
            rows = session.exec(
                select(column, func.count()).where(*where).group_by(column)
            )
            return {str(key): int(count) for key, count in rows.all()}

        actions = session.exec(
            select(Action.kind, Action.state, func.count())
            .where(Action.campaign_id == campaign.name)
            .group_by(Action.kind, Action.state)
        ).all()
        ledger = session.exec(
            select(LedgerEntry.kind, func.sum(LedgerEntry.amount_cents))
            .where(LedgerEntry.campaign_id == campaign.name)
            .group_by(col(LedgerEntry.kind))
        ).all()
        budget = budget_state(
            session,
            campaign.name,
            campaign.budget_cents,
            cost,
            lambda cents: fees.bonus_fee(cents, masters=campaign.masters),
        )
        return {
            "campaign": campaign.name,
            "hits": grouped(Hit.status, Hit.campaign_id == campaign.name),
            "assignments": grouped(
                Assignment.status, Assignment.campaign_id == campaign.name
            ),
            "actions": {
                f"{kind}:{state}": int(count) for kind, state, count in actions
            },
            "ledger_cents": {kind: int(total) for kind, total in ledger},
            "budget_cents": {
                "cap": budget.budget_cents,
                "booked": budget.booked_cents,
                "reserved": budget.reserved_cents,
                "available": budget.available_cents,
            },
        }
