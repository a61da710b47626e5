"""Publish planned HITs within budget, exactly once each.

For each HIT: reserve its cost and mark it ``publishing`` (committed), call
CreateHIT with a UniqueRequestToken derived from the HIT's record, then store
the HIT id. A HIT found in ``publishing`` on the next run had its outcome
lost; it is looked up on the endpoint by its RequesterAnnotation before any
new CreateHIT, because MTurk forgets tokens after 24 hours.
"""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass
from typing import Any

from sqlmodel import Session, col, select

from crowd_bridge.db.models import Hit, HitItem, Item
from crowd_bridge.db.session import session_scope
from crowd_bridge.errors import DuplicateRequest, InsufficientFunds, MTurkError
from crowd_bridge.money import format_dollars
from crowd_bridge.mturk.client import hit_id_from_duplicate
from crowd_bridge.pipeline.budget import lock_campaign_budget
from crowd_bridge.pipeline.context import CampaignContext
from crowd_bridge.rendering import RenderedItem
from crowd_bridge.timeutil import as_utc

logger = logging.getLogger(__name__)


@dataclass
class PublishReport:
    published: int = 0
    recovered: int = 0
    held_for_budget: int = 0
    held_for_funds: int = 0
    remaining: int = 0


def publish(ctx: CampaignContext, *, limit: int | None = None) -> PublishReport:
    """Publish planned HITs until the plan, the budget or ``limit`` runs out."""
    report = PublishReport()
    _recover_unconfirmed(ctx, report)

    with session_scope(ctx.engine) as session:
        planned = session.exec(
            select(Hit.id)
            .where(Hit.campaign_id == ctx.campaign_id, Hit.status == "planned")
            .order_by(col(Hit.sequence))
        ).all()
    for count, hit_pk in enumerate(pk for pk in planned if pk is not None):
        if limit is not None and report.published >= limit:
            report.remaining = len(planned) - count
            break
        if not _reserve(ctx, hit_pk):
            report.held_for_budget = len(planned) - count
            logger.warning(
                "campaign %s: budget cap reached; %d HITs stay unpublished",
                ctx.campaign_id,
                report.held_for_budget,
            )
            break
        try:
            _create(ctx, hit_pk)
        except InsufficientFunds:
            _unreserve(ctx, hit_pk)
            report.held_for_funds = len(planned) - count
            logger.warning(
                "campaign %s: requester balance too low; publishing paused with "
                "%d HITs left, it resumes once the account is topped up",
                ctx.campaign_id,
                report.held_for_funds,
            )
            break
        report.published += 1
    if report.published:
        logger.info("campaign %s: published %d HITs", ctx.campaign_id, report.published)
    return report


def _reserve(ctx: CampaignContext, hit_pk: int) -> bool:
    """Mark the HIT publishing if the budget allows; one writer at a time."""
    with session_scope(ctx.engine) as session:
        state = lock_campaign_budget(session, ctx)
        hit = session.get(Hit, hit_pk)
        if hit is None or hit.status != "planned":
            return True
        cost = hit.max_assignments * ctx.assignment_cost_cents
        if cost > state.available_cents:
            return False
        hit.status = "publishing"
        hit.reserved_cents = cost
        session.add(hit)
    return True


def _unreserve(ctx: CampaignContext, hit_pk: int) -> None:
    with session_scope(ctx.engine) as session:
        hit = session.get(Hit, hit_pk)
        if hit is not None and hit.status == "publishing" and hit.mturk_hit_id is None:
            hit.status = "planned"
            hit.reserved_cents = 0
            session.add(hit)


def _create(ctx: CampaignContext, hit_pk: int) -> None:
    with session_scope(ctx.engine) as session:
        hit = session.get(Hit, hit_pk)
        assert hit is not None
        params = _create_params(ctx, session, hit)
        token = hit.request_token
    try:
        created = ctx.client.create_hit(**params)
    except DuplicateRequest as error:
        existing = hit_id_from_duplicate(error) or _find_by_annotation(ctx, token)
        if existing is None:
            raise
        created = ctx.client.get_hit(existing)
        logger.info("HIT %s for token %s already existed; adopted", existing, token)
    _confirm(ctx, hit_pk, created)


def _create_params(ctx: CampaignContext, session: Session, hit: Hit) -> dict[str, Any]:
    items = session.exec(
        select(Item)
        .join(HitItem, col(HitItem.item_pk) == col(Item.id))
        .where(HitItem.hit_id == hit.id)
        .order_by(col(HitItem.position))
    ).all()
    rendered = [
        RenderedItem(item.item_id, json.loads(item.fields_json)) for item in items
    ]
    assert ctx.renderer is not None
    config = ctx.campaign.config
    params: dict[str, Any] = {
        "Title": config.title,
        "Description": config.description,
        "Reward": format_dollars(hit.reward_cents),
        "MaxAssignments": hit.max_assignments,
        "LifetimeInSeconds": ctx.campaign.lifetime_seconds,
        "AssignmentDurationInSeconds": ctx.campaign.assignment_duration_seconds,
        "AutoApprovalDelayInSeconds": ctx.campaign.auto_approval_delay_seconds,
        "Question": ctx.renderer.question(rendered),
        "RequesterAnnotation": hit.request_token,
        "UniqueRequestToken": hit.request_token,
    }
    if config.keywords:
        params["Keywords"] = config.keywords
    if config.qualifications:
        params["QualificationRequirements"] = [
            q.to_api() for q in config.qualifications
        ]
    return params


def _confirm(ctx: CampaignContext, hit_pk: int, created: dict[str, Any]) -> None:
    with session_scope(ctx.engine) as session:
        hit = session.get(Hit, hit_pk)
        assert hit is not None
        hit.mturk_hit_id = created["HITId"]
        hit.status = "published"
        hit.created_at = as_utc(created.get("CreationTime"))
        hit.expires_at = as_utc(created.get("Expiration"))
        session.add(hit)
    logger.debug("HIT %s published for campaign %s", created["HITId"], ctx.campaign_id)


def _recover_unconfirmed(ctx: CampaignContext, report: PublishReport) -> None:
    """Settle HITs whose CreateHIT outcome was lost in a crash."""
    with session_scope(ctx.engine) as session:
        stuck = session.exec(
            select(Hit).where(
                Hit.campaign_id == ctx.campaign_id, Hit.status == "publishing"
            )
        ).all()
    if not stuck:
        return
    existing = _annotations(ctx)
    for hit in stuck:
        assert hit.id is not None
        found = existing.get(hit.request_token)
        if found is not None:
            _confirm(ctx, hit.id, found)
            logger.info(
                "HIT %s (token %s) was created before a crash; recorded it",
                found["HITId"],
                hit.request_token,
            )
        else:
            try:
                _create(ctx, hit.id)
            except MTurkError:
                logger.exception(
                    "HIT with token %s could not be created", hit.request_token
                )
                raise
        report.recovered += 1


def _annotations(ctx: CampaignContext) -> dict[str, dict[str, Any]]:
    return {
        hit["RequesterAnnotation"]: hit
        for hit in ctx.client.list_hits()
        if hit.get("RequesterAnnotation")
    }


def _find_by_annotation(ctx: CampaignContext, token: str) -> str | None:
    found = _annotations(ctx).get(token)
    return found["HITId"] if found else None
