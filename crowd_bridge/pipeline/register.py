"""Store a validated campaign with its items and its plan of HITs."""

from __future__ import annotations

import hashlib
import json
import logging
from collections import defaultdict

from sqlalchemy.engine import Engine

from crowd_bridge.campaign import Campaign, CampaignItem
from crowd_bridge.db.models import Campaign as CampaignRow
from crowd_bridge.db.models import Hit, HitItem, Item
from crowd_bridge.db.session import session_scope
from crowd_bridge.errors import ConfigError

logger = logging.getLogger(__name__)


def register_campaign(engine: Engine, campaign: Campaign) -> bool:
    """Store the campaign and plan its HITs in one transaction.

    Registering the same campaign again is a no-op and returns False; a
    campaign of the same name whose configuration or items changed is refused,
    because HITs already published were built from the old ones.
    """
    fingerprint = campaign.fingerprint()
    with session_scope(engine) as session:
        existing = session.get(CampaignRow, campaign.name)
        if existing is not None:
            if existing.config_sha256 != fingerprint:
                raise ConfigError(
                    f"{campaign.source}: campaign {campaign.name!r} is already "
                    "registered with other settings or items; give the changed "
                    "campaign a new name."
                )
            return False

        session.add(
            CampaignRow(
                id=campaign.name,
                config_json=campaign.config_json(),
                config_sha256=fingerprint,
                budget_cents=campaign.budget_cents,
            )
        )
        rows = [
            Item(
                campaign_id=campaign.name,
                item_id=item.item_id,
                fields_json=json.dumps(item.fields, ensure_ascii=False),
                group_key=item.group_key,
                is_gold=item.gold_label is not None,
                gold_label=item.gold_label,
            )
            for item in campaign.items
        ]
        session.add_all(rows)
        session.flush()
        pk_by_id = {row.item_id: int(row.id or 0) for row in rows}

        plan = plan_hits(campaign)
        for sequence, item_ids in enumerate(plan, start=1):
            hit = Hit(
                campaign_id=campaign.name,
                sequence=sequence,
                request_token=request_token(campaign.name, "hit", str(sequence)),
                max_assignments=campaign.config.assignments_per_hit,
                reward_cents=campaign.reward_cents,
            )
            session.add(hit)
            session.flush()
            assert hit.id is not None
            session.add_all(
                HitItem(hit_id=hit.id, item_pk=pk_by_id[item_id], position=position)
                for position, item_id in enumerate(item_ids)
            )
    logger.info(
        "campaign %s registered: %d items, %d HITs planned",
        campaign.name,
        len(campaign.items),
        len(plan),
    )
    return True


def plan_hits(campaign: Campaign) -> list[list[str]]:
    """Group items into HITs, each with at least ``gold.per_hit`` gold items.

    With a group column, items sharing a group stay together in chunks of
    ``items_per_hit`` (gold items among them count as such). Otherwise the
    items to label go in file order, ``items_per_hit - per_hit`` to a HIT,
    so that every HIT holds ``items_per_hit`` items once its gold is added.
    A HIT short of gold gets gold items from the pool in turn, so every
    worker meets known answers and no HIT is gold alone.
    """
    size = campaign.config.items_per_hit
    per_hit = campaign.config.gold.per_hit if campaign.config.gold else 0
    pool = [item for item in campaign.items if item.gold_label is not None]
    chunks: list[list[CampaignItem]] = []
    if campaign.config.items.group_column:
        groups: dict[str | None, list[CampaignItem]] = defaultdict(list)
        for item in campaign.items:
            groups[item.group_key].append(item)
        for key in sorted(groups, key=lambda k: (k is None, k or "")):
            members = groups[key]
            chunks += [members[i : i + size] for i in range(0, len(members), size)]
    else:
        to_label = [item for item in campaign.items if item.gold_label is None]
        room = max(1, size - per_hit) if to_label else size
        members = to_label or pool
        chunks = [members[i : i + room] for i in range(0, len(members), room)]

    turn = 0
    plan: list[list[str]] = []
    for chunk in chunks:
        ids = [item.item_id for item in chunk]
        have = sum(item.gold_label is not None for item in chunk)
        attempts = 0
        while have < per_hit and pool and attempts < len(pool):
            candidate = pool[turn % len(pool)]
            turn += 1
            attempts += 1
            if candidate.item_id not in ids:
                ids.append(candidate.item_id)
                have += 1
        plan.append(ids)
    return plan


def request_token(campaign_id: str, kind: str, key: str) -> str:
    """A UniqueRequestToken derived from our own record, at most 64 characters.

    The same record always gives the same token, so a retried call is
    recognised by the endpoint as the one it already carried out.
    """
    digest = hashlib.sha256(f"{campaign_id}\x1f{kind}\x1f{key}".encode()).hexdigest()
    return f"cb-{kind}-{digest[:40]}"
