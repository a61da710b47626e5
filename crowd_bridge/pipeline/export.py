"""Push refined labels to the recommender training store, versioned.

A snapshot is a folder ``<store>/<campaign>/v<NNNN>/`` holding
``labels.parquet`` (one row per item, with the label, its confidence and the
provenance of every label) and ``manifest.json`` (what was exported, from
which campaign configuration and answers, by which method, with digests). A
snapshot is written to a temporary folder and renamed into place, so readers
never see half of one. Exporting labels identical to the newest snapshot
writes nothing.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import shutil
import tempfile
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
from sqlalchemy import func
from sqlmodel import col, select

from crowd_bridge import __version__
from crowd_bridge.db.models import Campaign as CampaignRow
from crowd_bridge.db.models import LabelSnapshot
from crowd_bridge.db.session import session_scope
from crowd_bridge.pipeline.context import CampaignContext

logger = logging.getLogger(__name__)

REQUIRED_COLUMNS = ("item_id", "label", "confidence")


@dataclass(frozen=True)
class Snapshot:
    version: int
    path: Path
    sha256: str
    created: bool


def export_labels(ctx: CampaignContext, labels: pd.DataFrame, method: str) -> Snapshot:
    """Write ``labels`` as the campaign's next snapshot, unless unchanged."""
    missing = [name for name in REQUIRED_COLUMNS if name not in labels.columns]
    if missing:
        raise ValueError(f"labels to export lack column(s) {', '.join(missing)}")
    table = pa.Table.from_pandas(
        labels.sort_values("item_id").reset_index(drop=True), preserve_index=False
    )
    content_digest = _table_digest(table)
    campaign_dir = Path(ctx.settings.training_store) / ctx.campaign_id

    with session_scope(ctx.engine) as session:
        latest = session.exec(
            select(LabelSnapshot)
            .where(LabelSnapshot.campaign_id == ctx.campaign_id)
            .order_by(col(LabelSnapshot.version).desc())
        ).first()
        if (
            latest is not None
            and latest.sha256 == content_digest
            and Path(latest.path).exists()
        ):
            return Snapshot(latest.version, Path(latest.path), latest.sha256, False)
        recorded = session.exec(
            select(func.coalesce(func.max(LabelSnapshot.version), 0)).where(
                LabelSnapshot.campaign_id == ctx.campaign_id
            )
        ).one()
        # A snapshot already in the store (from another state database, say)
        # is never overwritten: the next version comes after both.
        version = max(recorded, _newest_in_store(campaign_dir)) + 1
        campaign_row = session.get(CampaignRow, ctx.campaign_id)
        assert campaign_row is not None
        config_digest = campaign_row.config_sha256

    target = campaign_dir / f"v{version:04d}"
    campaign_dir.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".v{version:04d}-", dir=campaign_dir))
    try:
        pq.write_table(table, staging / "labels.parquet")
        manifest = {
            "campaign": ctx.campaign_id,
            "version": version,
            "created_at": datetime.now(timezone.utc).isoformat(),
            "method": method,
            "items": table.num_rows,
            "label_counts": {
                str(k): int(v)
                for k, v in labels["label"].value_counts().sort_index().items()
            },
            "classes": ctx.campaign.config.task.labels,
            "columns": table.column_names,
            "labels_sha256": content_digest,
            "campaign_config_sha256": config_digest,
            "previous_version": version - 1 or None,
            "producer": f"crowd_bridge {__version__}",
        }
        (staging / "manifest.json").write_text(json.dumps(manifest, indent=2) + "\n")
        os.replace(staging, target)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise

    with session_scope(ctx.engine) as session:
        session.add(
            LabelSnapshot(
                campaign_id=ctx.campaign_id,
                version=version,
                path=str(target),
                method=method,
                items=table.num_rows,
                sha256=content_digest,
            )
        )
    logger.info(
        "campaign %s: labels snapshot v%04d with %d items written to %s",
        ctx.campaign_id,
        version,
        table.num_rows,
        target,
    )
    return Snapshot(version, target, content_digest, True)


def _newest_in_store(campaign_dir: Path) -> int:
    versions = [
        int(path.name[1:])
        for path in campaign_dir.glob("v[0-9]*")
        if path.is_dir() and path.name[1:].isdigit()
    ]
    return max(versions, default=0)


def _table_digest(table: pa.Table) -> str:
    digest = hashlib.sha256()
    for batch in table.to_batches():
        for column in batch.columns:
            digest.update(str(column.to_pylist()).encode())
    return digest.hexdigest()
