"""A state database with a known ledger, written row by row.

Two campaigns. ``alpha`` pays 25 cents on HITs of 3 assignments (20% fee,
5 cents). ``beta`` pays $1.00 on HITs of 10 assignments with Masters, so its
reward fee is 20% + 20% + 5% = 45 cents and its bonus fee 25%.

=========  =======  ======  =========================================  ==========
asg        worker   HIT     what happened                              day (UTC)
=========  =======  ======  =========================================  ==========
A1         W1       HA1     approved, 300 s: 25 + 5                    03-01 10:00
A2         W2       HA1     approved, 600 s: 25 + 5                    03-01 23:59
A3         W3       HA1     rejected: 25 not paid                      03-02 08:00
A4         W1       HA2     approved, 900 s: 25 + 5; bonus 10 + 2      03-02 00:00
A5         W2       HA2     submitted, undecided: owes 25 + 5          03-03
A6         W3       HA2     submitted, rejection decided: owes nothing 03-03
(bonus)    W2       HA1     bonus of 20 on A2 intended: owes 20 + 4    03-03
B1         W1       HB1     approved, 1800 s: 100 + 45; bonus 50 + 13  03-03 09:00
B2         W4       HB1     submitted, undecided: owes 100 + 45        03-03
=========  =======  ======  =========================================  ==========

Totals: rewards 175, reward fees 60, bonuses 60, bonus fees 15, paid 310;
one rejected assignment (25 not paid); pending 30 + 24 + 145 = 199.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime, timezone

from sqlalchemy.engine import Engine
from sqlmodel import select

from crowd_bridge.db.models import (
    Action,
    Assignment,
    Campaign,
    Hit,
    LedgerEntry,
)
from crowd_bridge.db.session import session_scope


@dataclass(frozen=True)
class Known:
    """The figures the fixture ledger must produce, worked out by hand."""

    rewards: int = 175
    reward_fees: int = 60
    bonuses: int = 60
    bonus_fees: int = 15
    paid: int = 310
    rejected: int = 1
    rejected_reward: int = 25
    pending: int = 199


def day(text: str) -> datetime:
    """A UTC instant; aware, which every datetime column type accepts."""
    return datetime.fromisoformat(text).replace(tzinfo=timezone.utc)


class LedgerWriter:
    """Writes campaigns, HITs, assignments, actions and ledger rows directly."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine

    def campaign(self, name: str, *, masters: bool = False) -> None:
        qualifications = [{"type": "Masters"}] if masters else []
        config = {"name": name, "qualifications": qualifications}
        with session_scope(self.engine) as session:
            session.add(
                Campaign(
                    id=name,
                    config_json=json.dumps(config),
                    config_sha256="0" * 64,
                    budget_cents=100_000,
                    created_at=day("2024-02-29T00:00:00"),
                )
            )

    def hit(self, campaign: str, hit_id: str, reward: int, size: int) -> int:
        with session_scope(self.engine) as session:
            taken = session.exec(select(Hit.id).where(Hit.campaign_id == campaign))
            hit = Hit(
                campaign_id=campaign,
                sequence=len(taken.all()) + 1,
                status="published",
                request_token=f"token-{hit_id}",
                mturk_hit_id=hit_id,
                max_assignments=size,
                reward_cents=reward,
            )
            session.add(hit)
            session.flush()
            assert hit.id is not None
            return hit.id

    def assignment(
        self,
        assignment_id: str,
        hit_id: str,
        worker: str,
        status: str,
        *,
        submitted: str,
        seconds: float | None = None,
        decision: str | None = None,
    ) -> None:
        with session_scope(self.engine) as session:
            hit = session.exec(select(Hit).where(Hit.mturk_hit_id == hit_id)).one()
            session.add(
                Assignment(
                    id=assignment_id,
                    hit_pk=hit.id,  # type: ignore[arg-type]
                    campaign_id=hit.campaign_id,
                    worker_id=worker,
                    status=status,
                    submit_time=day(submitted),
                    work_time_seconds=seconds,
                    answer_xml="<QuestionFormAnswers/>",
                    decision=decision,
                )
            )

    def action(
        self,
        kind: str,
        assignment_id: str,
        *,
        state: str = "done",
        amount: int | None = None,
        at: str = "2024-03-01T00:00:00",
        key: str | None = None,
    ) -> int:
        with session_scope(self.engine) as session:
            assignment = session.get(Assignment, assignment_id)
            assert assignment is not None
            action = Action(
                campaign_id=assignment.campaign_id,
                key=key or f"{kind}:{assignment_id}",
                kind=kind,
                state=state,
                hit_pk=assignment.hit_pk,
                assignment_id=assignment_id,
                worker_id=assignment.worker_id,
                amount_cents=amount,
                reason="test",
                created_at=day(at),
                done_at=day(at) if state == "done" else None,
            )
            session.add(action)
            session.flush()
            assert action.id is not None
            return action.id

    def book(self, action_id: int, kind: str, cents: int, at: str) -> None:
        with session_scope(self.engine) as session:
            action = session.get(Action, action_id)
            assert action is not None
            session.add(
                LedgerEntry(
                    campaign_id=action.campaign_id,
                    kind=kind,
                    amount_cents=cents,
                    action_id=action_id,
                    hit_pk=action.hit_pk,
                    assignment_id=action.assignment_id,
                    worker_id=action.worker_id,
                    booked_at=day(at),
                )
            )

    def approve(self, assignment_id: str, reward: int, fee: int, at: str) -> None:
        action_id = self.action("approve", assignment_id, at=at)
        self.book(action_id, "reward", reward, at)
        self.book(action_id, "reward_fee", fee, at)

    def bonus(self, assignment_id: str, cents: int, fee: int, at: str) -> None:
        action_id = self.action(
            "bonus", assignment_id, amount=cents, at=at, key=f"bonus:{assignment_id}"
        )
        self.book(action_id, "bonus", cents, at)
        self.book(action_id, "bonus_fee", fee, at)


def write_known_ledger(engine: Engine) -> LedgerWriter:
    """The scenario of this module's docstring."""
    writer = LedgerWriter(engine)
    writer.campaign("alpha")
    writer.campaign("beta", masters=True)
    writer.hit("alpha", "HA1", reward=25, size=3)
    writer.hit("alpha", "HA2", reward=25, size=3)
    writer.hit("beta", "HB1", reward=100, size=10)

    writer.assignment(
        "A1", "HA1", "W1", "Approved", submitted="2024-03-01T09:55", seconds=300
    )
    writer.approve("A1", 25, 5, "2024-03-01T10:00:00")
    writer.assignment(
        "A2", "HA1", "W2", "Approved", submitted="2024-03-01T23:00", seconds=600
    )
    writer.approve("A2", 25, 5, "2024-03-01T23:59:59")
    writer.assignment(
        "A3", "HA1", "W3", "Rejected", submitted="2024-03-01T22:00", seconds=30
    )
    writer.action("reject", "A3", at="2024-03-02T08:00:00")

    writer.assignment(
        "A4", "HA2", "W1", "Approved", submitted="2024-03-01T23:30", seconds=900
    )
    writer.approve("A4", 25, 5, "2024-03-02T00:00:00")
    writer.bonus("A4", 10, 2, "2024-03-02T12:00:00")
    writer.assignment(
        "A5", "HA2", "W2", "Submitted", submitted="2024-03-03T07:00", seconds=400
    )
    writer.assignment(
        "A6", "HA2", "W3", "Submitted", submitted="2024-03-03T07:10", decision="reject"
    )
    writer.action("reject", "A6", state="intended", at="2024-03-03T08:00:00")
    writer.action("bonus", "A2", state="intended", amount=20, at="2024-03-03T08:00:00")

    writer.assignment(
        "B1", "HB1", "W1", "Approved", submitted="2024-03-03T08:30", seconds=1800
    )
    writer.approve("B1", 100, 45, "2024-03-03T09:00:00")
    writer.bonus("B1", 50, 13, "2024-03-03T09:05:00")
    writer.assignment(
        "B2", "HB1", "W4", "Submitted", submitted="2024-03-03T10:00", seconds=700
    )
    return writer
