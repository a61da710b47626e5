"""The requester's ledger on the endpoint: approvals, rejections, bonuses.

Every payment takes reward (or bonus) plus MTurk's fee from the requester's
balance in integer cents, and records what was paid on the assignment or
bonus so the endpoint's totals can be checked against a client's ledger.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING

from crowd_bridge.errors import EndpointRequestError

from .model import APPROVED, HIT, REJECTED, Account, Assignment, BonusPayment
from .money import format_cents
from .qualifications import requires_masters

if TYPE_CHECKING:
    from .state import EndpointState

logger = logging.getLogger(__name__)


def insufficient_funds(
    account: Account, needed: int, what: str
) -> EndpointRequestError:
    """The RequestError MTurk sends when the balance does not cover a call."""
    return EndpointRequestError(
        f"This requester has insufficient funds for {what}: it costs $"
        f"{format_cents(needed)} with fees and the available balance is $"
        f"{format_cents(account.balance_cents)}.",
        "AWS.MechanicalTurk.InsufficientFunds",
    )


def pay_assignment(
    state: EndpointState,
    assignment: Assignment,
    hit: HIT,
    now: float,
    *,
    automatic: bool,
) -> None:
    """Approve and pay reward plus fee from the requester's balance."""
    account = state.account(hit.requester)
    reward = hit.reward_cents
    fee = state.fees.assignment_fee(
        reward,
        hit.max_assignments,
        requires_masters(hit.qualification_requirements),
    )
    if not automatic and account.balance_cents < reward + fee:
        raise insufficient_funds(
            account, reward + fee, f"approving assignment {assignment.assignment_id}"
        )
    if account.balance_cents < reward + fee:
        # Auto-approval is the worker's due; it is paid even into debt.
        logger.warning(
            "Auto-approving assignment %s overdraws requester %s",
            assignment.assignment_id,
            account.access_key_id,
        )

    was_rejected = assignment.status == REJECTED
    account.balance_cents -= reward + fee
    account.paid_rewards_cents += reward
    account.paid_fees_cents += fee
    assignment.paid_reward_cents += reward
    assignment.paid_fee_cents += fee
    assignment.status = APPROVED
    assignment.approval_time = now
    if not was_rejected:
        hit.completed += 1

    worker = state.worker(assignment.worker_id)
    worker.approved += 1
    if was_rejected:
        worker.rejected -= 1
    state.touch("worker", worker.worker_id)
    state.touch("account", account.access_key_id)
    state.touch("assignment", assignment.assignment_id)
    state.count("assignments_approved")
    if automatic:
        state.count("assignments_auto_approved")


def reject_assignment(
    state: EndpointState, assignment: Assignment, hit: HIT, feedback: str, now: float
) -> None:
    """Reject a submitted assignment; nothing is paid."""
    assignment.status = REJECTED
    assignment.rejection_time = now
    assignment.requester_feedback = feedback
    hit.completed += 1
    worker = state.worker(assignment.worker_id)
    worker.rejected += 1
    state.touch("worker", worker.worker_id)
    state.touch("assignment", assignment.assignment_id)
    state.count("assignments_rejected")


def pay_bonus(
    state: EndpointState,
    assignment: Assignment,
    amount_cents: int,
    reason: str,
    now: float,
) -> BonusPayment:
    """Pay a bonus plus its fee for work done on ``assignment``."""
    hit = state.hits[assignment.hit_id]
    account = state.account(hit.requester)
    fee = state.fees.bonus_fee(amount_cents)
    if account.balance_cents < amount_cents + fee:
        raise insufficient_funds(account, amount_cents + fee, "this bonus")

    account.balance_cents -= amount_cents + fee
    account.paid_bonuses_cents += amount_cents
    account.paid_fees_cents += fee
    bonus = BonusPayment(
        bonus_id=state.ids.new("bonus"),
        requester=hit.requester,
        worker_id=assignment.worker_id,
        assignment_id=assignment.assignment_id,
        hit_id=hit.hit_id,
        seq=state.next_seq(),
        amount_cents=amount_cents,
        fee_cents=fee,
        reason=reason,
        grant_time=now,
    )
    state.index_bonus(bonus)
    state.touch("bonus", bonus.bonus_id)
    state.touch("account", hit.requester)
    state.count("bonuses_paid")
    logger.info(
        "Requester %s paid worker %s a bonus of $%s on assignment %s",
        hit.requester,
        assignment.worker_id,
        format_cents(amount_cents),
        assignment.assignment_id,
    )
    return bonus
