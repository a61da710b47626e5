"""The requester's ledger on the endpoint: holds, approvals, rejections, bonuses.

As on MTurk, publishing a HIT holds reward plus fee for each of its
assignments (the requester's assignment liability): only the balance
beyond what is held is available for new HITs and bonuses. Approving pays
out of the hold; rejecting, expiring or deleting a HIT releases what its
unused assignments held. Every payment takes reward (or bonus) plus fee
from the balance in integer cents and is recorded on the assignment or
bonus, so the endpoint's totals can be checked against a client's ledger.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING

from crowd_bridge.errors import EndpointRequestError

from .model import (
    APPROVED,
    DISPOSED,
    HIT,
    REJECTED,
    SUBMITTED,
    Account,
    Assignment,
    BonusPayment,
)
from .money import format_cents
from .notifications import notify
from .qualifications import requires_masters

if TYPE_CHECKING:
    from .state import EndpointState

logger = logging.getLogger(__name__)


def available_cents(account: Account) -> int:
    """The balance not held for outstanding assignments."""
    return account.balance_cents - account.held_cents


def insufficient_funds(
    account: Account, needed: int, what: str
) -> EndpointRequestError:
    """The RequestError MTurk sends when the balance does not cover a call."""
    return EndpointRequestError(
        f"This requester has insufficient funds for {what}: it costs $"
        f"{format_cents(needed)} with fees and the available balance is $"
        f"{format_cents(available_cents(account))}.",
        "AWS.MechanicalTurk.InsufficientFunds",
    )


def hold_needed(
    state: EndpointState,
    hit: HIT,
    now: float,
    *,
    expiration: float | None = None,
    reward_cents: int | None = None,
) -> int:
    """Reward plus fee for every assignment of ``hit`` that may still be paid.

    Those are the open slots (while the HIT has not expired), the accepted
    assignments and the submitted ones not yet reviewed. ``expiration`` and
    ``reward_cents`` ask what the hold would be after such a change.
    """
    if hit.status == DISPOSED:
        return 0
    expiration = hit.expiration if expiration is None else expiration
    reward = hit.reward_cents if reward_cents is None else reward_cents
    open_slots = hit.available if now < expiration else 0
    outstanding = open_slots + hit.pending + hit.submitted - hit.completed
    masters = requires_masters(hit.qualification_requirements)
    return outstanding * state.fees.assignment_cost(
        reward, hit.max_assignments, masters=masters
    )


def sync_hold(state: EndpointState, hit: HIT, now: float) -> None:
    """Bring what ``hit`` holds in line with its outstanding assignments."""
    needed = hold_needed(state, hit, now)
    if needed == hit.held_cents:
        return
    account = state.account(hit.requester)
    account.held_cents += needed - hit.held_cents
    hit.held_cents = needed
    state.touch("hit", hit.hit_id)
    state.touch("account", account.access_key_id)


def require_funds(state: EndpointState, requester: str, cost: int, what: str) -> None:
    """Refuse a call whose cost the available balance does not cover."""
    account = state.account(requester)
    if available_cents(account) < cost:
        raise insufficient_funds(account, cost, what)


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
    fee = state.fees.reward_fee(
        reward,
        hit.max_assignments,
        masters=requires_masters(hit.qualification_requirements),
    )
    # Submitted work is paid from its hold; a rejection being overridden
    # held nothing any more and needs available money.
    funds = (
        account.balance_cents
        if assignment.status == SUBMITTED
        else available_cents(account)
    )
    if not automatic and funds < reward + fee:
        raise insufficient_funds(
            account, reward + fee, f"approving assignment {assignment.assignment_id}"
        )
    if funds < reward + fee:
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
    sync_hold(state, hit, now)
    notify(
        state,
        "AssignmentApproved",
        hit,
        now,
        assignment_id=assignment.assignment_id,
        worker_id=assignment.worker_id,
    )


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
    sync_hold(state, hit, now)
    notify(
        state,
        "AssignmentRejected",
        hit,
        now,
        assignment_id=assignment.assignment_id,
        worker_id=assignment.worker_id,
    )


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
    if available_cents(account) < amount_cents + fee:
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
