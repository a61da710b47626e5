"""A small campaign through the real HTTP endpoint and boto3, on both backends."""

from __future__ import annotations

import csv
import shutil
import threading
from collections import Counter, defaultdict
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import yaml
from sqlalchemy import func
from sqlmodel import select

from crowd_bridge.db.models import (
    Action,
    Answer,
    Assignment,
    Hit,
    Item,
    LedgerEntry,
    WorkerScore,
)
from crowd_bridge.db.session import session_scope
from crowd_bridge.endpoint.server import RunningEndpoint
from crowd_bridge.mturk.client import MTurkClient
from crowd_bridge.pipeline.context import CampaignContext
from crowd_bridge.pipeline.cycle import campaign_complete, run_cycle
from crowd_bridge.pipeline.finalize import finalize
from crowd_bridge.pipeline.publish import PublishReport, publish

ContextFactory = Callable[[str], CampaignContext]

DATA = Path(__file__).resolve().parent / "data"
ANSWERS = Path(__file__).resolve().parent.parent / "examples/abt_buy/data/answers.csv"
ORIGINAL_HITS = {"H0001", "H0002", "H0003"}


def run_to_end(ctx: CampaignContext, endpoint: RunningEndpoint) -> int:
    for step in range(500):
        run_cycle(ctx)
        if campaign_complete(ctx):
            return step
        ctx.clock.current = endpoint.advance(20 * 60)  # type: ignore[attr-defined]
    raise AssertionError("the campaign did not finish")


def real_answers() -> list[dict[str, str]]:
    with ANSWERS.open() as handle:
        return [row for row in csv.DictReader(handle) if row["hit_id"] in ORIGINAL_HITS]


def count(ctx: CampaignContext, table: Any, *where: Any) -> int:
    with session_scope(ctx.engine) as session:
        return int(
            session.exec(select(func.count()).select_from(table).where(*where)).one()
        )


def test_small_campaign_end_to_end(
    state_url: str, endpoint: RunningEndpoint, make_context: ContextFactory
) -> None:
    ctx = make_context(state_url)

    run_to_end(ctx, endpoint)
    final = finalize(ctx)

    # Every answer came from the real workers of the three original HITs.
    real = real_answers()
    assert count(ctx, Hit) == 3
    assert count(ctx, Assignment) == 9
    assert count(ctx, Answer) == len(real) == 153
    stats = endpoint.stats()
    assert stats["answers_replayed"] == 153
    assert stats["answers_simulated"] == 0

    with session_scope(ctx.engine) as session:
        stored = set(
            session.exec(
                select(Answer.worker_id, Item.item_id, Answer.value).join(
                    Item, Item.id == Answer.item_pk
                )
            ).all()
        )
        workers = set(session.exec(select(Assignment.worker_id)).all())
        ledger = dict(
            session.exec(
                select(LedgerEntry.kind, func.sum(LedgerEntry.amount_cents)).group_by(
                    LedgerEntry.kind
                )
            ).all()
        )
        decisions = Counter(
            session.exec(select(Action.kind).where(Action.state == "done")).all()
        )
    assert workers == {row["worker_id"] for row in real}
    assert stored == {(r["worker_id"], r["pair_id"], r["answer"]) for r in real}

    # Nine approvals at $0.50 plus the 20% fee; a 5-cent bonus (and its
    # 1-cent fee) for each approved assignment of a worker in the bonus tier.
    assert decisions["approve"] == 9
    assert decisions["reject"] == 0
    assert ledger["reward"] == 9 * 50
    assert ledger["reward_fee"] == 9 * 10
    assert ledger.get("bonus", 0) == decisions["bonus"] * 5
    assert ledger.get("bonus_fee", 0) == decisions["bonus"] * 1
    assert stats["paid_rewards_cents"] == ledger["reward"]
    assert stats["paid_bonuses_cents"] == ledger.get("bonus", 0)

    # Majority vote over the real answers, computed here independently.
    votes: dict[str, Counter[str]] = defaultdict(Counter)
    for row in real:
        votes[row["pair_id"]][row["answer"]] += 1
    expected = {pair: counts.most_common(1)[0][0] for pair, counts in votes.items()}
    majority = final.methods["majority_vote"]
    assert dict(zip(majority["item_id"], majority["label"], strict=True)) == expected

    # The refined labels keep every gold item's known label and are exported.
    exported = final.exported
    assert len(exported) == 51
    gold = exported[exported["is_gold"]]
    campaign_gold = {
        i.item_id: i.gold_label for i in ctx.campaign.items if i.gold_label
    }
    assert dict(zip(gold["item_id"], gold["label"], strict=True)) == campaign_gold
    assert (exported["n_answers"] == 3).all()
    with session_scope(ctx.engine) as session:
        scores = session.exec(select(WorkerScore)).all()
    assert {score.worker_id for score in scores} == workers
    assert all(score.peer_agreement is not None for score in scores)
    assert all(
        score.seconds_per_item and score.seconds_per_item > 0 for score in scores
    )
    assert all(score.evidence for score in scores)
    assert final.snapshot.version == 1
    assert (final.snapshot.path / "labels.parquet").is_file()


class CrashAfter(Exception):
    """Stands in for the process dying at a chosen line."""


class CrashingClient:
    """Passes calls through, but dies before or after the first CreateHIT."""

    def __init__(self, inner: MTurkClient, *, after_call: bool) -> None:
        self._inner = inner
        self._after_call = after_call
        self.crashed = False

    def __getattr__(self, name: str) -> Any:
        return getattr(self._inner, name)

    def create_hit(self, **params: Any) -> dict[str, Any]:
        if self.crashed:
            return self._inner.create_hit(**params)
        self.crashed = True
        if self._after_call:
            self._inner.create_hit(**params)
        raise CrashAfter


@pytest.mark.parametrize("after_call", [False, True], ids=["before-call", "lost-reply"])
def test_crash_around_create_hit_never_creates_a_second_hit(
    state_url: str, make_context: ContextFactory, after_call: bool
) -> None:
    ctx = make_context(state_url)
    real_client = ctx.client
    crashing = CrashingClient(real_client, after_call=after_call)
    ctx.client = crashing  # type: ignore[assignment]

    with pytest.raises(CrashAfter):
        publish(ctx)
    with session_scope(ctx.engine) as session:
        statuses = Counter(session.exec(select(Hit.status)).all())
    assert statuses == {"publishing": 1, "planned": 2}

    # A restarted service: same database, fresh client.
    ctx.client = real_client
    report = publish(ctx)

    remote = list(real_client.list_hits())
    assert report.recovered == 1
    assert len(remote) == 3
    with session_scope(ctx.engine) as session:
        ours = set(session.exec(select(Hit.mturk_hit_id)).all())
    assert ours == {hit["HITId"] for hit in remote}


def test_publishing_stops_at_the_budget_cap(
    state_url: str, endpoint: RunningEndpoint, make_context: ContextFactory
) -> None:
    ctx = make_context(state_url)
    # Two HITs of three assignments at 60 cents each fit in $4.00; three do not.
    object.__setattr__(ctx.campaign, "budget_cents", 400)

    report = publish(ctx)

    assert report.published == 2
    assert report.held_for_budget == 1
    assert len(list(ctx.client.list_hits())) == 2


def test_uncertain_hits_get_one_more_assignment(
    endpoint: RunningEndpoint, make_context: ContextFactory, tmp_path: Path
) -> None:
    folder = tmp_path / "extra"
    shutil.copytree(DATA / "small", folder)
    config = yaml.safe_load((folder / "campaign.yaml").read_text())
    config["review"]["extra_assignments_below_confidence"] = 0.999
    config["review"]["max_extra_assignments_per_hit"] = 1
    (folder / "campaign.yaml").write_text(yaml.safe_dump(config))
    ctx = make_context(f"sqlite:///{tmp_path / 'state.db'}", folder / "campaign.yaml")

    run_to_end(ctx, endpoint)

    with session_scope(ctx.engine) as session:
        sizes = session.exec(select(Hit.max_assignments)).all()
        extensions = session.exec(
            select(Action).where(Action.kind == "extend", Action.state == "done")
        ).all()
        rewards = session.exec(
            select(func.sum(LedgerEntry.amount_cents)).where(
                LedgerEntry.kind == "reward"
            )
        ).one()
    remote = {hit["HITId"]: hit["MaxAssignments"] for hit in ctx.client.list_hits()}
    assert sorted(sizes) == [4, 4, 4]
    assert len(extensions) == 3
    assert all(
        action.evidence and "below confidence" in action.evidence
        for action in extensions
    )
    assert sorted(remote.values()) == [4, 4, 4]
    assert count(ctx, Assignment) == 12
    assert rewards == 12 * 50
    assert endpoint.stats()["answers_simulated"] > 0


@pytest.mark.postgres
def test_two_service_instances_never_spend_past_the_cap(
    postgres_url: str, make_context: ContextFactory, tmp_path: Path
) -> None:
    folder = tmp_path / "capped"
    shutil.copytree(DATA / "small", folder)
    config = yaml.safe_load((folder / "campaign.yaml").read_text())
    config["budget"] = "4.00"  # two HITs of three assignments at 60 cents
    (folder / "campaign.yaml").write_text(yaml.safe_dump(config))
    first = make_context(postgres_url, folder / "campaign.yaml")
    second = make_context(postgres_url, folder / "campaign.yaml")
    barrier = threading.Barrier(2)
    reports: list[PublishReport] = []

    def instance(ctx: CampaignContext) -> None:
        barrier.wait()
        reports.append(publish(ctx))

    threads = [threading.Thread(target=instance, args=(c,)) for c in (first, second)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert len(list(first.client.list_hits())) == 2
    with session_scope(first.engine) as session:
        statuses = Counter(session.exec(select(Hit.status)).all())
    assert statuses == {"published": 2, "planned": 1}
    assert sum(report.held_for_budget for report in reports) >= 1
