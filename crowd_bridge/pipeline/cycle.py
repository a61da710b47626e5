"""One pass of the collection stages, and the test for a finished campaign."""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from typing import TypeVar

from sqlalchemy import func
from sqlmodel import col, select

from crowd_bridge.db.models import Action, Assignment, Hit
from crowd_bridge.db.session import session_scope
from crowd_bridge.errors import MTurkError
from crowd_bridge.pipeline.actions import ActionReport, execute_actions
from crowd_bridge.pipeline.collect import CollectReport, collect
from crowd_bridge.pipeline.context import CampaignContext
from crowd_bridge.pipeline.extend import request_more_work
from crowd_bridge.pipeline.publish import PublishReport, publish
from crowd_bridge.pipeline.review import ReviewReport, review
from crowd_bridge.timeutil import as_utc

logger = logging.getLogger(__name__)

T = TypeVar("T")


@dataclass
class CycleReport:
    published: PublishReport
    collected: CollectReport
    reviewed: ReviewReport
    actions: ActionReport
    extended: int = 0


def run_cycle(ctx: CampaignContext) -> CycleReport:
    """Publish, collect, review and carry out decisions, once each.

    A stage stopped by a temporary failure of the endpoint (throttling, a
    service fault, a lost connection) is left for the next pass: every stage
    resumes where it stopped, so nothing is lost and nothing is done twice.
    """
    published = attempt(ctx, "publish", publish, PublishReport)
    collected = attempt(ctx, "collect", collect, CollectReport)
    reviewed = review(ctx, final=work_is_in(ctx))
    extended = request_more_work(ctx)
    actions = attempt(ctx, "execute_actions", execute_actions, ActionReport)
    return CycleReport(published, collected, reviewed, actions, extended)


def attempt(
    ctx: CampaignContext,
    name: str,
    stage: Callable[[CampaignContext], T],
    empty: Callable[[], T],
) -> T:
    """Run a stage; a temporary endpoint failure defers it to the next pass."""
    try:
        return stage(ctx)
    except MTurkError as error:
        if not error.retryable:
            raise
        logger.warning(
            "campaign %s: %s deferred to the next pass after a temporary failure: %s",
            ctx.campaign_id,
            name,
            error,
        )
        return empty()


def hit_counts(ctx: CampaignContext) -> dict[str, int]:
    with session_scope(ctx.engine) as session:
        rows = session.exec(
            select(Hit.status, func.count())
            .where(Hit.campaign_id == ctx.campaign_id)
            .group_by(col(Hit.status))
        ).all()
    return {status: count for status, count in rows}


def work_is_in(ctx: CampaignContext) -> bool:
    """Every HIT is published and no more assignments can arrive for any.

    Then there is no evidence left to wait for, and review decides the rest.
    """
    counts = hit_counts(ctx)
    if counts.get("planned") or counts.get("publishing"):
        return False
    with session_scope(ctx.engine) as session:
        hits = session.exec(
            select(Hit).where(
                Hit.campaign_id == ctx.campaign_id, Hit.status == "published"
            )
        ).all()
    if not hits:
        return True
    submitted = _submitted_by_hit(ctx)
    now = ctx.clock.now()
    return all(
        submitted.get(hit.id, 0) >= hit.max_assignments
        or (hit.expires_at is not None and as_utc(hit.expires_at) <= now)
        for hit in hits
    )


def _submitted_by_hit(ctx: CampaignContext) -> dict[int | None, int]:
    with session_scope(ctx.engine) as session:
        rows = session.exec(
            select(Assignment.hit_pk, func.count())
            .where(Assignment.campaign_id == ctx.campaign_id)
            .group_by(col(Assignment.hit_pk))
        ).all()
    return {hit_pk: count for hit_pk, count in rows}


def campaign_complete(ctx: CampaignContext) -> bool:
    """All HITs done and no action waiting to be carried out."""
    counts = hit_counts(ctx)
    if any(status != "done" for status in counts):
        return False
    with session_scope(ctx.engine) as session:
        pending = session.exec(
            select(func.count()).where(
                Action.campaign_id == ctx.campaign_id,
                col(Action.state).in_(("intended", "sent")),
            )
        ).one()
    return pending == 0
