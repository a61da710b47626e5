"""The kinds of disagreement reconciliation reports, and the row for each."""

from __future__ import annotations

from dataclasses import dataclass

# Kinds of difference, each explained in plain words where it is found.
HIT_UNREACHABLE = "hit_unreachable"
ASSIGNMENT_STATUS = "assignment_status"
ASSIGNMENT_WORKER = "assignment_worker"
ASSIGNMENT_NOT_COLLECTED = "assignment_not_collected"
ASSIGNMENT_MISSING = "assignment_missing"
REWARD_NOT_BOOKED = "reward_not_booked"
REWARD_NOT_PAID = "reward_not_paid"
REWARD_BOOKED_TWICE = "reward_booked_twice"
REWARD_AMOUNT = "reward_amount"
FEE_MISSING = "fee_missing"
BONUS_AMOUNT = "bonus_amount"
BONUS_WORKER = "bonus_worker"
BONUS_NOT_PAID = "bonus_not_paid"
BONUS_NOT_BOOKED = "bonus_not_booked"


@dataclass(frozen=True)
class Difference:
    """One way our records and the endpoint disagree, with what it means."""

    kind: str
    campaign_id: str
    explanation: str
    hit_id: str | None = None
    assignment_id: str | None = None
    worker_id: str | None = None
    ours: str = ""
    theirs: str = ""
