"""Label snapshots in the training store: versioned, atomic, never overwritten."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import pandas as pd
import pyarrow.parquet as pq

from crowd_bridge.pipeline.context import CampaignContext
from crowd_bridge.pipeline.export import export_labels

ContextFactory = Callable[[str], CampaignContext]


def labels(confidence: float) -> pd.DataFrame:
    return pd.DataFrame(
        {"item_id": ["P2", "P1"], "label": ["1", "0"], "confidence": [confidence, 0.9]}
    )


def test_snapshots_are_versioned_and_unchanged_labels_write_nothing(
    make_context: ContextFactory, tmp_path: Path
) -> None:
    ctx = make_context(f"sqlite:///{tmp_path / 'state.db'}")

    first = export_labels(ctx, labels(0.8), "refined")
    again = export_labels(ctx, labels(0.8), "refined")
    second = export_labels(ctx, labels(0.7), "refined")

    assert (first.version, first.created) == (1, True)
    assert (again.version, again.created) == (1, False)
    assert (second.version, second.created) == (2, True)
    table = pq.read_table(second.path / "labels.parquet").to_pandas()
    assert table["item_id"].tolist() == ["P1", "P2"]
    manifest = json.loads((second.path / "manifest.json").read_text())
    assert manifest["version"] == 2
    assert manifest["previous_version"] == 1
    assert manifest["label_counts"] == {"0": 1, "1": 1}
    assert manifest["labels_sha256"] == second.sha256


def test_a_snapshot_already_in_the_store_is_never_overwritten(
    make_context: ContextFactory, tmp_path: Path
) -> None:
    ctx = make_context(f"sqlite:///{tmp_path / 'state.db'}")
    earlier = Path(ctx.settings.training_store) / ctx.campaign_id / "v0001"
    earlier.mkdir(parents=True)
    (earlier / "manifest.json").write_text('{"from": "another database"}')

    snapshot = export_labels(ctx, labels(0.8), "refined")

    assert snapshot.version == 2
    assert json.loads((earlier / "manifest.json").read_text()) == {
        "from": "another database"
    }
