"""Turn a finished campaign's answers into refined labels and export them.

Three methods run side by side so requesters can see what each adds:
majority vote, Dawid-Skene (worker confusion matrices, gold items clamped),
and the refined labels that combine the crowd with a text model trained on
the crowd's own labels. The refined labels are exported; the others are kept
in the report for comparison.
"""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass, field

import numpy as np
import pandas as pd
from sqlalchemy import select as sa_select
from sqlmodel import col, select

from crowd_bridge.aggregation.dawid_skene import DawidSkene
from crowd_bridge.aggregation.majority import MajorityVote
from crowd_bridge.db.models import Answer, Assignment, Item, WorkerScore
from crowd_bridge.db.session import session_scope
from crowd_bridge.pipeline.context import CampaignContext
from crowd_bridge.pipeline.export import Snapshot, export_labels
from crowd_bridge.timeutil import utcnow

logger = logging.getLogger(__name__)

EXPORTED_METHOD = "refined"


@dataclass
class FinalReport:
    methods: dict[str, pd.DataFrame]
    exported: pd.DataFrame
    snapshot: Snapshot
    seconds: dict[str, float] = field(default_factory=dict)


def answers_frame(ctx: CampaignContext) -> pd.DataFrame:
    """Answers of every assignment that was not rejected, one row each."""
    with session_scope(ctx.engine) as session:
        rows = session.execute(
            sa_select(
                col(Item.item_id),
                col(Answer.worker_id),
                col(Answer.value),
                col(Answer.assignment_id),
                col(Assignment.work_time_seconds),
            )
            .join(Item, col(Item.id) == col(Answer.item_pk))
            .join(Assignment, col(Assignment.id) == col(Answer.assignment_id))
            .where(
                col(Answer.campaign_id) == ctx.campaign_id,
                col(Assignment.status) != "Rejected",
            )
        ).all()
    frame = pd.DataFrame(
        rows,
        columns=[
            "item_id",
            "worker_id",
            "answer",
            "assignment_id",
            "work_time_seconds",
        ],
    )
    # Work time is known per assignment; spread it over the assignment's items.
    per_assignment = frame.groupby("assignment_id")["item_id"].transform("size")
    frame["work_time_seconds"] = frame["work_time_seconds"] / per_assignment
    return frame


def item_frame(ctx: CampaignContext) -> pd.DataFrame:
    with session_scope(ctx.engine) as session:
        items = session.exec(
            select(Item).where(Item.campaign_id == ctx.campaign_id)
        ).all()
    return pd.DataFrame(
        {
            "item_id": [item.item_id for item in items],
            "fields": [json.loads(item.fields_json) for item in items],
            "gold_label": [item.gold_label for item in items],
        }
    )


def finalize(ctx: CampaignContext) -> FinalReport:
    """Aggregate with every method, refine, and export the refined labels."""
    import time

    from crowd_bridge.refine import RefineConfig, refine_labels

    answers = answers_frame(ctx)
    items = item_frame(ctx)
    classes = ctx.campaign.classes
    gold = {
        row.item_id: row.gold_label
        for row in items.itertuples()
        if isinstance(row.gold_label, str)
    }
    seconds: dict[str, float] = {}
    methods: dict[str, pd.DataFrame] = {}

    started = time.perf_counter()
    methods["majority_vote"] = MajorityVote().fit_frame(answers, classes).result_frame()
    seconds["majority_vote"] = time.perf_counter() - started

    started = time.perf_counter()
    methods["dawid_skene"] = (
        DawidSkene().fit_frame(answers, classes, gold).result_frame()
    )
    seconds["dawid_skene"] = time.perf_counter() - started

    text_columns = ctx.campaign.config.items.text_columns
    texts = None
    if text_columns:
        texts = {
            row.item_id: tuple(str(row.fields.get(name, "")) for name in text_columns)
            for row in items.itertuples()
        }
    config = RefineConfig(model_path=ctx.settings.model_path)
    started = time.perf_counter()
    refined = refine_labels(answers, texts, gold, classes, config)
    seconds["refined"] = time.perf_counter() - started
    methods["refined"] = refined.labels[["item_id", "label", "confidence"]]

    _store_worker_scores(ctx, refined.workers)
    exported = _with_provenance(ctx, refined.labels, answers, gold)
    snapshot = export_labels(ctx, exported, EXPORTED_METHOD)
    logger.info(
        "campaign %s finalized: %d items labelled, snapshot v%04d",
        ctx.campaign_id,
        len(exported),
        snapshot.version,
    )
    return FinalReport(methods, exported, snapshot, seconds)


def _store_worker_scores(ctx: CampaignContext, workers: pd.DataFrame) -> None:
    """Keep each worker's peer, model and speed scores beside the gold ones."""
    with session_scope(ctx.engine) as session:
        for row in workers.itertuples(index=False):
            key = (ctx.campaign_id, str(row.worker_id))
            score = session.get(WorkerScore, key) or WorkerScore(
                campaign_id=key[0], worker_id=key[1]
            )
            score.answers = int(row.n_answers)
            score.peer_agreement = _number(row.peer_accuracy)
            score.model_agreement = _number(row.model_agreement)
            score.seconds_per_item = _number(row.seconds_per_answer)
            flagged = bool(row.constant or row.random or row.adversarial)
            if score.verdict != "blocked" and (flagged or row.copied_from):
                score.verdict = "flagged"
            score.evidence = str(row.evidence)
            score.updated_at = utcnow()
            session.add(score)


def _number(value: object) -> float | None:
    number = float(value)  # type: ignore[arg-type]
    return None if np.isnan(number) else number


def _with_provenance(
    ctx: CampaignContext,
    labels: pd.DataFrame,
    answers: pd.DataFrame,
    gold: dict[str, str],
) -> pd.DataFrame:
    """Add who said what about each item, so every label can be traced back."""
    grouped = answers.groupby("item_id")
    provenance = pd.DataFrame(
        {
            "n_answers": grouped.size(),
            "answers": grouped.apply(
                lambda frame: json.dumps(
                    dict(zip(frame["worker_id"], frame["answer"], strict=True))
                ),
                include_groups=False,
            ),
            "assignment_ids": grouped["assignment_id"].agg(
                lambda ids: ",".join(sorted(ids))
            ),
        }
    ).reset_index()
    own = [name for name in provenance.columns if name != "item_id"]
    table = labels.drop(columns=own, errors="ignore").merge(
        provenance, on="item_id", how="left"
    )
    table["n_answers"] = table["n_answers"].fillna(0).astype("int64")
    table["is_gold"] = table["item_id"].isin(gold.keys())
    table["campaign"] = ctx.campaign_id
    table["method"] = EXPORTED_METHOD
    return table
