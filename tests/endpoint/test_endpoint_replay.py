"""The replayed Abt-Buy crowd: real answers back, simulated ones counted."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from endpoint_helpers import (
    ANSWERS_CSV,
    START,
    hit_args,
    make_client,
    original_hits,
    question,
    real_answers,
)

from crowd_bridge.endpoint import EndpointConfig, ReplayCrowd, RunningEndpoint
from crowd_bridge.endpoint.forms import parse_answers

ORIGINAL = ("H0364", "H0001", "H0002")


def replay_endpoint(seed: int = 5, **crowd_args: Any) -> RunningEndpoint:
    crowd = ReplayCrowd(ANSWERS_CSV, arrival_mean_s=600, **crowd_args)
    return RunningEndpoint(
        EndpointConfig(clock="virtual", start_time=START, crowd=crowd, seed=seed)
    )


@pytest.fixture
def replay() -> Iterator[RunningEndpoint]:
    with replay_endpoint() as running:
        yield running


def all_assignments(client: Any, hit_id: str) -> list[dict[str, Any]]:
    pages = client.get_paginator("list_assignments_for_hit").paginate(HITId=hit_id)
    return [a for page in pages for a in page["Assignments"]]


def test_original_hits_get_exactly_the_recorded_answers(
    replay: RunningEndpoint,
) -> None:
    client = make_client(replay.url)
    groups = original_hits()
    recorded = real_answers()
    hit_ids = {
        name: client.create_hit(**hit_args(groups[name]))["HIT"]["HITId"]
        for name in ORIGINAL
    }
    replay.advance(2 * 86_400)

    total = 0
    for name, hit_id in hit_ids.items():
        assignments = all_assignments(client, hit_id)
        assert len(assignments) == 3
        for assignment in assignments:
            answers = parse_answers(assignment["Answer"])
            worker = assignment["WorkerId"]
            expected = {
                f"item-{pair}": recorded[(worker, pair)] for pair in groups[name]
            }
            assert answers == expected
            total += len(answers)
            work = assignment["SubmitTime"] - assignment["AcceptTime"]
            assert 0 < work.total_seconds() <= 3_600

    stats = replay.stats()
    assert (
        stats["answers_replayed"] == total == sum(3 * len(groups[n]) for n in ORIGINAL)
    )
    assert stats["answers_simulated"] == 0
    assert stats["answers_total"] == total
    assert stats["assignments_submitted"] == 9


def test_extra_slots_go_to_other_workers_and_are_simulated(
    replay: RunningEndpoint,
) -> None:
    client = make_client(replay.url)
    pairs = original_hits()["H0364"]
    hit_id = client.create_hit(**hit_args(pairs, MaxAssignments=5))["HIT"]["HITId"]
    replay.advance(2 * 86_400)

    assignments = all_assignments(client, hit_id)
    workers = [a["WorkerId"] for a in assignments]
    assert len(workers) == len(set(workers)) == 5
    recorded = real_answers()
    originals = {w for (w, p) in recorded if p == pairs[0]}
    assert originals < set(workers)

    stats = replay.stats()
    assert stats["answers_replayed"] == 3 * len(pairs)
    assert stats["answers_simulated"] == 2 * len(pairs)
    for assignment in assignments:
        labels = set(parse_answers(assignment["Answer"]).values())
        assert labels <= {"0", "1"}


def test_blocked_original_workers_never_take_the_hit(replay: RunningEndpoint) -> None:
    client = make_client(replay.url)
    pairs = original_hits()["H0001"]
    recorded = real_answers()
    originals = sorted({w for (w, p) in recorded if p == pairs[0]})
    for worker in originals:
        client.create_worker_block(WorkerId=worker, Reason="Testing blocks")

    hit_id = client.create_hit(**hit_args(pairs))["HIT"]["HITId"]
    replay.advance(2 * 86_400)

    workers = {a["WorkerId"] for a in all_assignments(client, hit_id)}
    assert len(workers) == 3
    assert not workers & set(originals)
    assert replay.stats()["answers_replayed"] == 0


def test_unknown_items_and_labels_are_simulated(replay: RunningEndpoint) -> None:
    client = make_client(replay.url)
    form = question(["NEW1", "NEW2"], labels=("yes", "no", "unsure"))
    hit_id = client.create_hit(**hit_args(Question=form))["HIT"]["HITId"]
    replay.advance(2 * 86_400)

    for assignment in all_assignments(client, hit_id):
        answers = parse_answers(assignment["Answer"])
        assert set(answers) == {"item-NEW1", "item-NEW2"}
        assert set(answers.values()) <= {"yes", "no", "unsure"}
    assert replay.stats()["answers_simulated"] == 6


def test_same_seed_same_run() -> None:
    pairs = original_hits()["H0002"][:8]

    def run(seed: int) -> list[tuple[str, str, float]]:
        with replay_endpoint(seed) as running:
            client = make_client(running.url)
            hit = client.create_hit(**hit_args(pairs, MaxAssignments=6))["HIT"]
            running.advance(86_400)
            return [
                (a["WorkerId"], a["Answer"], a["SubmitTime"].timestamp())
                for a in all_assignments(client, hit["HITId"])
            ]

    first = run(11)
    assert first == run(11)
    assert first != run(12)


def test_confusion_matrices_leave_the_worker_out() -> None:
    crowd = ReplayCrowd(ANSWERS_CSV)
    assert crowd.labels == ("0", "1")
    assert len(crowd.workers) == 176

    # Recount one worker's matrix by hand: each of their answers against the
    # majority of the other answers on the same pair, skipping even splits,
    # then add one to every cell.
    recorded = real_answers()
    by_pair: dict[str, dict[str, str]] = {}
    for (worker, pair), answer in recorded.items():
        by_pair.setdefault(pair, {})[worker] = answer
    worker = "W169"
    counts = {(t, a): 0 for t in "01" for a in "01"}
    for row in by_pair.values():
        if worker not in row:
            continue
        others = [a for w, a in row.items() if w != worker]
        ones = others.count("1")
        if not others or ones * 2 == len(others):
            continue
        counts[("1" if ones * 2 > len(others) else "0", row[worker])] += 1
    for truth in "01":
        total = counts[(truth, "0")] + counts[(truth, "1")]
        for answer in "01":
            expected = (counts[(truth, answer)] + 1) / (total + 2)
            assert crowd.confusion[worker][truth][answer] == pytest.approx(expected)

    # The truth used for simulation is the majority of recorded answers.
    for pair, row in list(by_pair.items())[:200]:
        ones = list(row.values()).count("1")
        if ones * 2 != len(row):
            assert crowd.truth[pair] == ("1" if ones * 2 > len(row) else "0")
