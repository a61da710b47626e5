"""The bundled Abt-Buy campaign, run end to end against the bundled endpoint.

The endpoint runs in this process on 127.0.0.1 with a virtual clock and the
replayed real MTurk crowd; the pipeline talks to it through boto3 over HTTP,
exactly as it would talk to any other MTurk-compatible endpoint. The demo
advances the endpoint's clock between passes of the stages, so a week of
campaign time passes in a minute, then aggregates, refines and exports, and
measures every method against the dev truth that was not used as gold.
"""

from __future__ import annotations

import csv
import json
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

from sqlalchemy import func
from sqlmodel import col, select

from crowd_bridge.campaign import load_campaign
from crowd_bridge.db.models import Action, Answer, Assignment, Hit, LedgerEntry
from crowd_bridge.db.session import create_state_engine, migrate, session_scope
from crowd_bridge.endpoint.server import EndpointConfig, RunningEndpoint
from crowd_bridge.mturk.client import MTurkClient
from crowd_bridge.pipeline.context import CampaignContext, FollowingClock
from crowd_bridge.pipeline.cycle import campaign_complete, run_cycle
from crowd_bridge.pipeline.finalize import FinalReport, finalize
from crowd_bridge.pipeline.register import register_campaign
from crowd_bridge.settings import Settings

logger = logging.getLogger(__name__)

EXAMPLE_DIR = Path(__file__).resolve().parent.parent / "examples" / "abt_buy"
DEMO_START = datetime(2026, 10, 5, 9, 0)
STEP_SECONDS = 20 * 60
MAX_STEPS = 2000


@dataclass
class DemoResult:
    summary: dict[str, Any]
    summary_path: Path


def run_demo(
    workdir: Path,
    *,
    campaign_file: Path = EXAMPLE_DIR / "campaign.yaml",
    truth_file: Path | None = EXAMPLE_DIR / "data" / "truth_dev.csv",
    answers_file: Path = EXAMPLE_DIR / "data" / "answers.csv",
    seed: int = 7,
    database_url: str | None = None,
    faults: str | None = None,
    progress: Callable[[str], None] = lambda message: None,
) -> DemoResult:
    """Run the campaign to the end and write ``summary.json`` to ``workdir``."""
    started = time.perf_counter()
    workdir.mkdir(parents=True, exist_ok=True)
    campaign = load_campaign(campaign_file)
    database_url = database_url or f"sqlite:///{workdir / 'state.db'}"
    engine = create_state_engine(database_url)
    migrate(engine)

    endpoint_config = EndpointConfig(
        clock="virtual",
        start_time=DEMO_START,
        crowd=f"replay:{answers_file}",
        seed=seed,
        faults=faults,
    )
    with RunningEndpoint(endpoint_config) as endpoint:
        settings = Settings(
            database_url=database_url,
            endpoint_url=endpoint.url,
            aws_access_key_id="AKIDCROWDBRIDGEDEMO",
            aws_secret_access_key="demo-secret",
            training_store=workdir / "training-store",
        )
        clock = FollowingClock(DEMO_START)
        ctx = CampaignContext(
            campaign=campaign,
            engine=engine,
            client=MTurkClient(settings),
            settings=settings,
            clock=clock,
        )
        register_campaign(engine, campaign)
        progress(f"Campaign {campaign.name}: {len(campaign.items):,} items registered.")

        for step in range(MAX_STEPS):
            report = run_cycle(ctx)
            if campaign_complete(ctx):
                break
            now = endpoint.advance(STEP_SECONDS)
            clock.current = now
            if step % 6 == 0:
                progress(
                    f"{now:%a %d %b %H:%M} (campaign time): "
                    f"{_count(ctx, Assignment)} assignments in, "
                    f"{report.published.published} HITs published this pass."
                )
        else:
            raise RuntimeError(f"the campaign did not finish in {MAX_STEPS} steps")

        progress("All work is in and reviewed; aggregating and refining labels.")
        final = finalize(ctx)
        endpoint_stats = endpoint.stats()

    summary = _summary(ctx, final, endpoint_stats, truth_file, workdir)
    summary["wall_seconds"] = round(time.perf_counter() - started, 1)
    summary["ledger_matches_endpoint"] = (
        summary["money_cents"]["total"] == summary["endpoint_paid_cents"]["total"]
    )
    summary_path = workdir / "summary.json"
    summary_path.write_text(json.dumps(summary, indent=2) + "\n")
    return DemoResult(summary, summary_path)


def _count(ctx: CampaignContext, table: type[Hit | Assignment | Answer]) -> int:
    with session_scope(ctx.engine) as session:
        return int(
            session.exec(
                select(func.count())
                .select_from(table)
                .where(col(table.campaign_id) == ctx.campaign_id)
            ).one()
        )


def _summary(
    ctx: CampaignContext,
    final: FinalReport,
    endpoint_stats: dict[str, Any],
    truth_file: Path | None,
    workdir: Path,
) -> dict[str, Any]:
    with session_scope(ctx.engine) as session:
        ledger = dict(
            session.exec(
                select(LedgerEntry.kind, func.sum(LedgerEntry.amount_cents))
                .where(LedgerEntry.campaign_id == ctx.campaign_id)
                .group_by(col(LedgerEntry.kind))
            ).all()
        )
        actions = dict(
            session.exec(
                select(Action.kind, func.count())
                .where(Action.campaign_id == ctx.campaign_id, Action.state == "done")
                .group_by(col(Action.kind))
            ).all()
        )
        workers = session.exec(
            select(func.count(func.distinct(Assignment.worker_id))).where(
                Assignment.campaign_id == ctx.campaign_id
            )
        ).one()

    labels_path = workdir / "labels.csv"
    refined = final.exported
    refined[["item_id", "label", "confidence"]].to_csv(labels_path, index=False)

    rewards = int(ledger.get("reward", 0))
    bonuses = int(ledger.get("bonus", 0))
    fees = int(ledger.get("reward_fee", 0)) + int(ledger.get("bonus_fee", 0))
    answers_total = endpoint_stats.get("answers_total", 0)
    summary: dict[str, Any] = {
        "campaign": ctx.campaign_id,
        "counts": {
            "items": len(refined),
            "hits": _count(ctx, Hit),
            "assignments": _count(ctx, Assignment),
            "answers": _count(ctx, Answer),
            "workers": int(workers),
            "approved": actions.get("approve", 0),
            "rejected": actions.get("reject", 0),
            "blocked": actions.get("block", 0),
            "bonuses": actions.get("bonus", 0),
        },
        "money_cents": {
            "rewards": rewards,
            "fees": fees,
            "bonuses": bonuses,
            "total": rewards + fees + bonuses,
            "budget": ctx.campaign.budget_cents,
        },
        "endpoint_paid_cents": _endpoint_paid(endpoint_stats, ctx),
        "endpoint": endpoint_stats,
        "replayed_answer_share": (
            round(endpoint_stats.get("answers_replayed", 0) / answers_total, 4)
            if answers_total
            else None
        ),
        "seconds": {name: round(value, 2) for name, value in final.seconds.items()},
        "snapshot": {
            "version": final.snapshot.version,
            "path": str(final.snapshot.path),
        },
        "labels_path": str(labels_path),
    }
    if truth_file is not None and truth_file.is_file():
        gold = set(refined.loc[refined["is_gold"], "item_id"])
        truth = _read_truth(truth_file, exclude=gold)
        summary["quality"] = {
            "measured_on": f"{len(truth)} dev-truth items, gold items excluded",
            **{
                name: _metrics(frame, truth, positive="1")
                for name, frame in final.methods.items()
            },
        }
    return summary


def _endpoint_paid(stats: dict[str, Any], ctx: CampaignContext) -> dict[str, Any]:
    """What the endpoint itself says this requester paid, beside our ledger."""
    key = ctx.settings.aws_access_key_id or ""
    paid = stats.get("requesters", {}).get(key, stats)
    rewards = int(paid.get("paid_rewards_cents", 0))
    fees = int(paid.get("paid_fees_cents", 0))
    bonuses = int(paid.get("paid_bonuses_cents", 0))
    return {
        "rewards": rewards,
        "fees": fees,
        "bonuses": bonuses,
        "total": rewards + fees + bonuses,
    }


def _read_truth(path: Path, exclude: set[str]) -> dict[str, str]:
    with path.open(newline="") as handle:
        reader = csv.reader(handle)
        next(reader)
        return {row[0]: row[1] for row in reader if row[0] not in exclude}


def _metrics(labels: Any, truth: dict[str, str], positive: str) -> dict[str, float]:
    predicted = dict(zip(labels["item_id"], labels["label"].astype(str), strict=True))
    pairs = [(predicted[item], truth[item]) for item in truth if item in predicted]
    correct = sum(p == t for p, t in pairs)
    tp = sum(p == positive and t == positive for p, t in pairs)
    fp = sum(p == positive and t != positive for p, t in pairs)
    fn = sum(p != positive and t == positive for p, t in pairs)
    precision = tp / (tp + fp) if tp + fp else 0.0
    recall = tp / (tp + fn) if tp + fn else 0.0
    f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
    return {
        "accuracy": round(correct / len(pairs), 4) if pairs else 0.0,
        "precision": round(precision, 4),
        "recall": round(recall, 4),
        "f1": round(f1, 4),
        "items": len(pairs),
    }
