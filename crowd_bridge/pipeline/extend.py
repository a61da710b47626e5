"""Ask for more assignments on HITs whose items are still uncertain.

Once a HIT has all the assignments it asked for, its items' posteriors under
Dawid-Skene tell whether the crowd agrees. Where an item stays below the
campaign's confidence threshold, the HIT gets one more assignment, up to the
campaign's limit and within its budget. MTurk refuses to extend a HIT created
with fewer than ten assignments to ten or more, so such HITs stop at nine.
"""

from __future__ import annotations

import logging
from collections import defaultdict

from sqlalchemy import func
from sqlmodel import col, select

from crowd_bridge.aggregation.dawid_skene import DawidSkene
from crowd_bridge.db.models import Action, Assignment, Hit, HitItem, Item
from crowd_bridge.db.session import session_scope
from crowd_bridge.pipeline.budget import lock_campaign_budget
from crowd_bridge.pipeline.context import CampaignContext
from crowd_bridge.pipeline.finalize import answers_frame
from crowd_bridge.pipeline.register import request_token
from crowd_bridge.timeutil import as_utc

logger = logging.getLogger(__name__)

MTURK_EXTENSION_CEILING = 9


def request_more_work(ctx: CampaignContext) -> int:
    """Store extension actions for uncertain HITs; return how many."""
    policy = ctx.campaign.config.review
    threshold = policy.extra_assignments_below_confidence
    if policy.max_extra_assignments_per_hit == 0 or threshold <= 0:
        return 0
    answers = answers_frame(ctx)
    if answers.empty:
        return 0
    gold = {
        item.item_id: item.gold_label for item in ctx.campaign.items if item.gold_label
    }
    model = DawidSkene().fit_frame(answers, ctx.campaign.classes, gold)
    confidence = dict(
        zip(
            model.result_frame()["item_id"],
            model.result_frame()["confidence"],
            strict=True,
        )
    )

    base = ctx.campaign.config.assignments_per_hit
    ceiling = base + policy.max_extra_assignments_per_hit
    if base < 10:
        ceiling = min(ceiling, MTURK_EXTENSION_CEILING)
    now = ctx.clock.now()
    extended = 0
    with session_scope(ctx.engine) as session:
        state = lock_campaign_budget(session, ctx)
        submitted: dict[int | None, int] = dict(
            session.exec(
                select(Assignment.hit_pk, func.count())
                .where(Assignment.campaign_id == ctx.campaign_id)
                .group_by(col(Assignment.hit_pk))
            ).all()
        )
        items_by_hit: dict[int | None, list[str]] = defaultdict(list)
        for hit_pk, item_id in session.exec(
            select(HitItem.hit_id, Item.item_id)
            .join(Item, col(Item.id) == col(HitItem.item_pk))
            .where(Item.campaign_id == ctx.campaign_id, col(Item.is_gold).is_(False))
        ).all():
            items_by_hit[hit_pk].append(item_id)
        candidates = session.exec(
            select(Hit).where(
                Hit.campaign_id == ctx.campaign_id,
                col(Hit.status).in_(("published", "done")),
                Hit.max_assignments < ceiling,
            )
        ).all()
        available = state.available_cents
        for hit in candidates:
            if submitted.get(hit.id, 0) < hit.max_assignments:
                continue
            if hit.expires_at is not None and as_utc(hit.expires_at) <= now:
                continue
            doubtful = [
                item_id
                for item_id in items_by_hit.get(hit.id, [])
                if confidence.get(item_id, 0.0) < threshold
            ]
            if not doubtful:
                continue
            if available < ctx.assignment_cost_cents:
                logger.warning(
                    "campaign %s: no budget left to extend HIT %s",
                    ctx.campaign_id,
                    hit.mturk_hit_id,
                )
                break
            available -= ctx.assignment_cost_cents
            hit.max_assignments += 1
            hit.status = "published"
            session.add(hit)
            key = f"extend:{hit.id}:{hit.max_assignments}"
            session.add(
                Action(
                    campaign_id=ctx.campaign_id,
                    key=key,
                    kind="extend",
                    hit_pk=hit.id,
                    quantity=1,
                    request_token=request_token(ctx.campaign_id, "extend", key),
                    evidence=(
                        f"{len(doubtful)} item(s) below confidence {threshold:.2f}: "
                        + ", ".join(
                            f"{item_id} ({confidence.get(item_id, 0.0):.2f})"
                            for item_id in doubtful[:5]
                        )
                    ),
                )
            )
            extended += 1
    if extended:
        logger.info(
            "campaign %s: asked for one more assignment on %d uncertain HITs",
            ctx.campaign_id,
            extended,
        )
    return extended
