"""Carry out recorded actions on the workforce, exactly once each.

Every action row is written (state ``intended``) before the call. Just before
the call it becomes ``sent``: from then on the call may have taken effect even
if we never hear back, so a ``sent`` action is first checked on the endpoint
(assignment status, bonus payments, HIT size) and only sent again if it did
not happen. Money is booked in the ledger in the same transaction that marks
the action done, under a unique (action, kind) key.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass, field

from sqlmodel import col, select

from crowd_bridge.db.models import Action, Assignment, Hit, LedgerEntry, utcnow
from crowd_bridge.db.session import session_scope
from crowd_bridge.errors import (
    DuplicateRequest,
    InsufficientFunds,
    MTurkError,
    StateError,
)
from crowd_bridge.money import cents_from_api
from crowd_bridge.pipeline.context import CampaignContext

logger = logging.getLogger(__name__)

# Bonuses wait for the assignment to be approved, so that a worker's reward
# and bonus arrive together and a bonus never precedes the work it rewards.
ORDER = ("override", "approve", "reject", "block", "extend", "bonus")


@dataclass
class ActionReport:
    done: dict[str, int] = field(default_factory=dict)
    waiting: int = 0
    failed: int = 0
    paused_for_funds: bool = False

    def count(self, kind: str) -> None:
        self.done[kind] = self.done.get(kind, 0) + 1


def execute_actions(ctx: CampaignContext) -> ActionReport:
    """Carry out every pending action of the campaign, in a safe order."""
    report = ActionReport()
    with session_scope(ctx.engine) as session:
        pending = session.exec(
            select(Action)
            .where(
                Action.campaign_id == ctx.campaign_id,
                col(Action.state).in_(("intended", "sent")),
            )
            .order_by(col(Action.id))
        ).all()
    pending = sorted(pending, key=lambda action: ORDER.index(action.kind))
    handlers: dict[str, Callable[[CampaignContext, Action], bool]] = {
        "approve": _approve,
        "reject": _reject,
        "override": _override,
        "bonus": _bonus,
        "block": _block,
        "extend": _extend,
    }
    for action in pending:
        try:
            finished = handlers[action.kind](ctx, action)
        except InsufficientFunds:
            report.paused_for_funds = True
            logger.warning(
                "campaign %s: balance too low for %s (assignment %s, worker %s); "
                "it stays queued until the account is topped up",
                ctx.campaign_id,
                action.key,
                action.assignment_id,
                action.worker_id,
            )
            break
        except MTurkError as error:
            if error.retryable:
                logger.warning(
                    "%s deferred after a temporary failure: %s", action.key, error
                )
                report.waiting += 1
                continue
            _fail(ctx, action, str(error))
            report.failed += 1
            continue
        if finished:
            report.count(action.kind)
        else:
            report.waiting += 1
    return report


def _mark_sent(ctx: CampaignContext, action: Action) -> None:
    with session_scope(ctx.engine) as session:
        stored = session.get(Action, action.id)
        assert stored is not None
        stored.state = "sent"
        stored.attempts += 1
        session.add(stored)


def _fail(ctx: CampaignContext, action: Action, error: str) -> None:
    logger.error(
        "%s failed for assignment %s / worker %s: %s",
        action.key,
        action.assignment_id,
        action.worker_id,
        error,
    )
    with session_scope(ctx.engine) as session:
        stored = session.get(Action, action.id)
        assert stored is not None
        stored.state = "failed"
        stored.error = error[:2000]
        session.add(stored)


def _finish(
    ctx: CampaignContext,
    action: Action,
    *,
    assignment_status: str | None = None,
    ledger: list[tuple[str, int]] = (),  # type: ignore[assignment]
) -> None:
    """Mark the action done and book its money in one transaction."""
    with session_scope(ctx.engine) as session:
        stored = session.get(Action, action.id)
        assert stored is not None
        if stored.state == "done":
            return
        stored.state = "done"
        stored.done_at = utcnow()
        session.add(stored)
        if assignment_status and action.assignment_id:
            assignment = session.get(Assignment, action.assignment_id)
            if assignment is not None:
                assignment.status = assignment_status
                session.add(assignment)
        assert action.id is not None
        for kind, cents in ledger:
            session.add(
                LedgerEntry(
                    campaign_id=ctx.campaign_id,
                    kind=kind,
                    amount_cents=cents,
                    action_id=action.id,
                    hit_pk=action.hit_pk,
                    assignment_id=action.assignment_id,
                    worker_id=action.worker_id,
                )
            )


def reward_entries(ctx: CampaignContext, hit_pk: int | None) -> list[tuple[str, int]]:
    with session_scope(ctx.engine) as session:
        hit = session.get(Hit, hit_pk)
        assert hit is not None
        reward, size = hit.reward_cents, hit.max_assignments
    fee = ctx.fees.reward_fee(reward, size, masters=ctx.campaign.masters)
    return [("reward", reward), ("reward_fee", fee)]


def _approve(ctx: CampaignContext, action: Action) -> bool:
    assert action.assignment_id is not None
    if action.state == "sent" or action.attempts:
        status = ctx.client.get_assignment(action.assignment_id)["AssignmentStatus"]
        if status == "Approved":
            _finish(
                ctx,
                action,
                assignment_status="Approved",
                ledger=reward_entries(ctx, action.hit_pk),
            )
            return True
        if status == "Rejected":
            _fail(
                ctx, action, "the assignment was rejected before it could be approved"
            )
            return False
    _mark_sent(ctx, action)
    try:
        ctx.client.approve(action.assignment_id, action.reason)
    except MTurkError as error:
        if error.retryable or isinstance(error, InsufficientFunds):
            raise
        # Already approved (by auto-approval or an earlier call whose answer
        # was lost) is success; anything else is a real failure.
        status = ctx.client.get_assignment(action.assignment_id)["AssignmentStatus"]
        if status != "Approved":
            raise
    _finish(
        ctx,
        action,
        assignment_status="Approved",
        ledger=reward_entries(ctx, action.hit_pk),
    )
    logger.info(
        "assignment %s by worker %s approved", action.assignment_id, action.worker_id
    )
    return True


def _reject(ctx: CampaignContext, action: Action) -> bool:
    assert action.assignment_id is not None and action.reason
    status = ctx.client.get_assignment(action.assignment_id)["AssignmentStatus"]
    if status == "Rejected":
        _finish(ctx, action, assignment_status="Rejected")
        return True
    if status == "Approved":
        # Auto-approval won the race: the worker is paid, so is the ledger.
        _fail(ctx, action, "the assignment was already approved; it cannot be rejected")
        _book_auto_approval(ctx, action)
        return False
    _mark_sent(ctx, action)
    try:
        ctx.client.reject(action.assignment_id, action.reason)
    except MTurkError as error:
        if error.retryable:
            raise
        # An earlier attempt whose reply was lost may have rejected it already.
        status = ctx.client.get_assignment(action.assignment_id)["AssignmentStatus"]
        if status != "Rejected":
            raise
    _finish(ctx, action, assignment_status="Rejected")
    logger.info(
        "assignment %s by worker %s rejected: %s",
        action.assignment_id,
        action.worker_id,
        action.reason,
    )
    return True


def override_rejection(ctx: CampaignContext, assignment_id: str, reason: str) -> Action:
    """Record that a rejected assignment is to be approved and paid after all.

    MTurk allows this within 30 days of the rejection. The worker's record is
    mended and the reward booked once the endpoint confirms it.
    """
    key = f"override:{assignment_id}"
    with session_scope(ctx.engine) as session:
        assignment = session.get(Assignment, assignment_id)
        if assignment is None or assignment.campaign_id != ctx.campaign_id:
            raise StateError(
                f"assignment {assignment_id} is not part of campaign {ctx.campaign_id}"
            )
        if assignment.status != "Rejected":
            raise StateError(
                f"assignment {assignment_id} is {assignment.status}, not Rejected; "
                "only a rejection can be overridden."
            )
        existing = session.exec(
            select(Action).where(
                Action.campaign_id == ctx.campaign_id, Action.key == key
            )
        ).first()
        if existing is not None:
            return existing
        action = Action(
            campaign_id=ctx.campaign_id,
            key=key,
            kind="override",
            hit_pk=assignment.hit_pk,
            assignment_id=assignment_id,
            worker_id=assignment.worker_id,
            reason=reason,
            evidence=f"rejection overridden by the requester: {reason}",
        )
        session.add(action)
        session.flush()
        return action


def _override(ctx: CampaignContext, action: Action) -> bool:
    assert action.assignment_id is not None
    status = ctx.client.get_assignment(action.assignment_id)["AssignmentStatus"]
    if status != "Approved":
        _mark_sent(ctx, action)
        ctx.client.approve(action.assignment_id, action.reason, override_rejection=True)
    _finish(
        ctx,
        action,
        assignment_status="Approved",
        ledger=reward_entries(ctx, action.hit_pk),
    )
    logger.info(
        "rejection of assignment %s by worker %s overridden; reward paid",
        action.assignment_id,
        action.worker_id,
    )
    return True


def _book_auto_approval(ctx: CampaignContext, rejected: Action) -> None:
    """Record an approval the endpoint made on its own, with its money."""
    key = f"approve:{rejected.assignment_id}"
    with session_scope(ctx.engine) as session:
        existing = session.exec(
            select(Action).where(
                Action.campaign_id == ctx.campaign_id, Action.key == key
            )
        ).first()
        if existing is None:
            existing = Action(
                campaign_id=ctx.campaign_id,
                key=key,
                kind="approve",
                state="sent",
                hit_pk=rejected.hit_pk,
                assignment_id=rejected.assignment_id,
                worker_id=rejected.worker_id,
                evidence="Approved automatically by the endpoint after the "
                "auto-approval delay.",
            )
            session.add(existing)
            session.flush()
    _finish(
        ctx,
        existing,
        assignment_status="Approved",
        ledger=reward_entries(ctx, existing.hit_pk),
    )


def _bonus(ctx: CampaignContext, action: Action) -> bool:
    assert action.assignment_id and action.worker_id and action.amount_cents
    assert action.request_token and action.reason
    with session_scope(ctx.engine) as session:
        assignment = session.get(Assignment, action.assignment_id)
        ready = assignment is not None and assignment.status == "Approved"
    if not ready:
        return False
    fee = ctx.fees.bonus_fee(action.amount_cents, masters=ctx.campaign.masters)
    entries = [("bonus", action.amount_cents), ("bonus_fee", fee)]
    if action.state == "sent" and _bonus_was_paid(ctx, action):
        _finish(ctx, action, ledger=entries)
        return True
    _mark_sent(ctx, action)
    try:
        ctx.client.send_bonus(
            action.worker_id,
            action.assignment_id,
            action.amount_cents,
            action.reason,
            action.request_token,
        )
    except DuplicateRequest:
        if not _bonus_was_paid(ctx, action):
            raise
    _finish(ctx, action, ledger=entries)
    logger.info(
        "bonus of %d cents paid to worker %s for assignment %s",
        action.amount_cents,
        action.worker_id,
        action.assignment_id,
    )
    return True


def _bonus_was_paid(ctx: CampaignContext, action: Action) -> bool:
    """Whether the endpoint lists this bonus; MTurk forgets tokens after 24 h."""
    assert action.assignment_id is not None
    for payment in ctx.client.list_bonus_payments(action.assignment_id):
        paid = cents_from_api(payment.get("BonusAmount", "0"))
        if (
            payment.get("WorkerId") == action.worker_id
            and paid == action.amount_cents
            and payment.get("Reason") == action.reason
        ):
            return True
    return False


def _block(ctx: CampaignContext, action: Action) -> bool:
    assert action.worker_id and action.reason
    _mark_sent(ctx, action)
    ctx.client.block_worker(action.worker_id, action.reason)
    _finish(ctx, action)
    logger.info("worker %s blocked: %s", action.worker_id, action.reason)
    return True


def _extend(ctx: CampaignContext, action: Action) -> bool:
    assert action.hit_pk is not None and action.quantity and action.request_token
    with session_scope(ctx.engine) as session:
        hit = session.get(Hit, action.hit_pk)
        assert hit is not None and hit.mturk_hit_id is not None
        hit_id, wanted = hit.mturk_hit_id, hit.max_assignments
    if action.state == "sent":
        remote = ctx.client.get_hit(hit_id)
        if remote["MaxAssignments"] >= wanted:
            _finish(ctx, action)
            return True
    _mark_sent(ctx, action)
    try:
        ctx.client.add_assignments(hit_id, action.quantity, action.request_token)
    except DuplicateRequest:
        pass
    _finish(ctx, action)
    logger.info("HIT %s extended by %d assignments", hit_id, action.quantity)
    return True
