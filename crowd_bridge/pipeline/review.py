"""Decide, with evidence, what each submitted assignment and worker deserves.

Approval is the default. An assignment is rejected only when two things hold:
the worker's accuracy on gold items across the campaign is, with 90%
confidence, below the campaign's threshold over enough gold answers, and the
assignment itself got its gold items wrong. The reason the worker reads lists
those items. Blocks need the same kind of proof at a lower threshold; bonuses
go to workers whose gold accuracy is proven high. Every decision is stored as
an action with its evidence and carried out by ``execute_actions``.
"""

from __future__ import annotations

import logging
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import timedelta

from scipy.special import betaincinv
from sqlalchemy import select as sa_select
from sqlmodel import Session, col, select

from crowd_bridge.db.models import (
    Action,
    Answer,
    Assignment,
    Item,
    WorkerScore,
    utcnow,
)
from crowd_bridge.db.session import session_scope
from crowd_bridge.pipeline.context import CampaignContext
from crowd_bridge.pipeline.register import request_token
from crowd_bridge.timeutil import as_utc

logger = logging.getLogger(__name__)

CREDIBLE_MASS = 0.90


@dataclass
class GoldRecord:
    """A worker's answers on gold items: (item id, answer, known label)."""

    answers: list[tuple[str, str, str]] = field(default_factory=list)

    @property
    def total(self) -> int:
        return len(self.answers)

    @property
    def correct(self) -> int:
        return sum(given == known for _, given, known in self.answers)

    def interval(self) -> tuple[float, float, float]:
        """Posterior mean and 90% interval of accuracy under a uniform prior."""
        a, b = self.correct + 1, self.total - self.correct + 1
        tail = (1 - CREDIBLE_MASS) / 2
        low, high = betaincinv(a, b, [tail, 1 - tail])
        return a / (a + b), float(low), float(high)


@dataclass
class ReviewReport:
    approved: int = 0
    rejected: int = 0
    blocked: int = 0
    bonuses: int = 0
    waiting: int = 0


def review(ctx: CampaignContext, *, final: bool = False) -> ReviewReport:
    """Store decisions for submitted assignments that are due for review.

    An assignment is due ``review.approve_after`` after submission, so that
    gold evidence from the worker's other HITs can accumulate; ``final``
    reviews everything now (the campaign has stopped receiving work).
    """
    report = ReviewReport()
    labels = ctx.campaign.config.task.labels
    policy = ctx.campaign.config.review
    now = ctx.clock.now()
    due_before = now - timedelta(seconds=ctx.campaign.approve_after_seconds)

    with session_scope(ctx.engine) as session:
        rows = session.execute(
            sa_select(
                col(Answer.assignment_id),
                col(Answer.worker_id),
                col(Answer.value),
                col(Item.item_id),
                col(Item.gold_label),
            )
            .join(Item, col(Item.id) == col(Answer.item_pk))
            .where(col(Answer.campaign_id) == ctx.campaign_id, col(Item.is_gold))
        ).all()
        worker_gold: dict[str, GoldRecord] = defaultdict(GoldRecord)
        assignment_gold: dict[str, GoldRecord] = defaultdict(GoldRecord)
        for assignment_id, worker_id, value, item_id, known in rows:
            worker_gold[worker_id].answers.append((item_id, value, known))
            assignment_gold[assignment_id].answers.append((item_id, value, known))

        decided_keys = set(
            session.exec(
                select(Action.key).where(Action.campaign_id == ctx.campaign_id)
            ).all()
        )
        waiting = session.exec(
            select(Assignment).where(
                Assignment.campaign_id == ctx.campaign_id,
                Assignment.status == "Submitted",
                col(Assignment.decision).is_(None),
            )
        ).all()

        for assignment in waiting:
            submitted = as_utc(assignment.submit_time) or now
            if not final and submitted > due_before:
                report.waiting += 1
                continue
            record = worker_gold.get(assignment.worker_id, GoldRecord())
            own = assignment_gold.get(assignment.id, GoldRecord())
            mean, low, high = record.interval()
            proven_poor = (
                record.total >= policy.min_gold_answers
                and high < policy.reject_below_accuracy
            )
            own_poor = (
                own.total > 0 and own.correct / own.total < policy.reject_below_accuracy
            )
            if proven_poor and own_poor:
                reason = _rejection_reason(own, record, labels)
                kind = "reject"
                report.rejected += 1
            else:
                reason = "Thank you for your careful work."
                kind = "approve"
                report.approved += 1
            evidence = _evidence(record, own, mean, low, high)
            assignment.decision = kind
            session.add(assignment)
            session.add(
                Action(
                    campaign_id=ctx.campaign_id,
                    key=f"{kind}:{assignment.id}",
                    kind=kind,
                    hit_pk=assignment.hit_pk,
                    assignment_id=assignment.id,
                    worker_id=assignment.worker_id,
                    reason=reason,
                    evidence=evidence,
                )
            )

        for worker_id, record in worker_gold.items():
            mean, low, high = record.interval()
            verdict = "ok"
            if (
                record.total >= policy.min_gold_answers
                and high < policy.block_below_accuracy
            ):
                verdict = "blocked"
                key = f"block:{worker_id}"
                if key not in decided_keys:
                    session.add(
                        Action(
                            campaign_id=ctx.campaign_id,
                            key=key,
                            kind="block",
                            worker_id=worker_id,
                            reason=(
                                f"Answers on {record.total} check items were correct "
                                f"{record.correct} times; the task needs more care."
                            ),
                            evidence=_evidence(record, None, mean, low, high),
                        )
                    )
                    report.blocked += 1
            _store_score(session, ctx.campaign_id, worker_id, record, verdict)

        report.bonuses = _decide_bonuses(ctx, session, worker_gold, decided_keys)
    if report.approved or report.rejected or report.blocked or report.bonuses:
        logger.info(
            "campaign %s review: %d to approve, %d to reject, %d to block, %d bonuses",
            ctx.campaign_id,
            report.approved,
            report.rejected,
            report.blocked,
            report.bonuses,
        )
    return report


def _decide_bonuses(
    ctx: CampaignContext,
    session: Session,
    worker_gold: dict[str, GoldRecord],
    decided_keys: set[str],
) -> int:
    tiers = sorted(
        ctx.campaign.config.review.bonus_tiers,
        key=lambda tier: ctx.campaign.bonus_cents[tier.name],
        reverse=True,
    )
    if not tiers:
        return 0
    earned: dict[str, tuple[str, int]] = {}
    for worker_id, record in worker_gold.items():
        _, low, _ = record.interval()
        for tier in tiers:
            if record.total >= tier.min_gold_answers and low >= tier.min_gold_accuracy:
                earned[worker_id] = (tier.name, ctx.campaign.bonus_cents[tier.name])
                break
    if not earned:
        return 0
    approved = session.exec(
        select(Assignment).where(
            Assignment.campaign_id == ctx.campaign_id,
            Assignment.decision == "approve",
            col(Assignment.worker_id).in_(list(earned)),
        )
    ).all()
    added = 0
    for assignment in approved:
        if any(key.startswith(f"bonus:{assignment.id}:") for key in decided_keys):
            continue
        tier_name, cents = earned[assignment.worker_id]
        key = f"bonus:{assignment.id}:{tier_name}"
        record = worker_gold[assignment.worker_id]
        session.add(
            Action(
                campaign_id=ctx.campaign_id,
                key=key,
                kind="bonus",
                hit_pk=assignment.hit_pk,
                assignment_id=assignment.id,
                worker_id=assignment.worker_id,
                amount_cents=cents,
                request_token=request_token(ctx.campaign_id, "bonus", key),
                reason=(
                    f"Bonus ({tier_name}): {record.correct} of {record.total} check "
                    "items right. Thank you for the accuracy."
                ),
                evidence=_evidence(record, None, *record.interval()),
            )
        )
        decided_keys.add(key)
        added += 1
    return added


def _rejection_reason(
    own: GoldRecord, record: GoldRecord, labels: dict[str, str]
) -> str:
    wrong = [
        (item, given, known) for item, given, known in own.answers if given != known
    ]
    shown = "; ".join(
        f"item {item}: you answered '{labels.get(given, given)}', the known answer is "
        f"'{labels.get(known, known)}'"
        for item, given, known in wrong[:5]
    )
    if len(wrong) > 5:
        shown += f"; and {len(wrong) - 5} more"
    reason = (
        f"In this HIT {len(wrong)} of {own.total} items with known answers were "
        f"answered wrongly ({shown}). Across this campaign {record.correct} of "
        f"{record.total} such items were right, below the accuracy the task "
        "requires. If you think this is a mistake, contact the requester: a "
        "rejection can be overridden within 30 days."
    )
    return reason[:1024]


def _evidence(
    record: GoldRecord, own: GoldRecord | None, mean: float, low: float, high: float
) -> str:
    text = (
        f"gold items across the campaign: {record.correct}/{record.total} right "
        f"(accuracy {mean:.2f}, 90% interval {low:.2f}-{high:.2f})"
    )
    if own is not None:
        text += f"; in this assignment: {own.correct}/{own.total} right"
    return text


def _store_score(
    session: Session, campaign_id: str, worker_id: str, record: GoldRecord, verdict: str
) -> None:
    mean, low, high = record.interval()
    score = session.get(WorkerScore, (campaign_id, worker_id))
    if score is None:
        score = WorkerScore(campaign_id=campaign_id, worker_id=worker_id)
    score.gold_answers = record.total
    score.gold_correct = record.correct
    score.gold_accuracy_mean = mean
    score.gold_accuracy_low = low
    score.gold_accuracy_high = high
    score.verdict = verdict
    score.evidence = _evidence(record, None, mean, low, high)
    score.updated_at = utcnow()
    session.add(score)
