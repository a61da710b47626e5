"""The example synthetic crowd spec: it loads, repeats itself, and prices a run."""

from __future__ import annotations

from collections import Counter
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest
from endpoint_helpers import START, hit_args, make_client

from crowd_bridge.endpoint import (
    EndpointConfig,
    FeeSchedule,
    RunningEndpoint,
    SyntheticCrowd,
    SyntheticSpec,
)
from crowd_bridge.endpoint.crowds.synthetic import ADVERSARY, HONEST
from crowd_bridge.endpoint.forms import parse_answers
from crowd_bridge.errors import ConfigError

DEMO = Path(__file__).resolve().parents[2] / "examples/crowds/synthetic_demo.yaml"
HITS, ITEMS_PER_HIT, ASSIGNMENTS = 20, 5, 3
REWARD_CENTS = 8


def test_the_demo_spec_reads_as_documented() -> None:
    spec = SyntheticSpec.from_file(DEMO)
    assert spec.seed == 2026
    assert spec.workers == 60
    assert spec.arrival_mean_s == 600.0
    assert spec.seconds_per_item == 12
    assert spec.confusion == {
        "0": {"0": 0.92, "1": 0.08},
        "1": {"0": 0.25, "1": 0.75},
    }
    assert (spec.spammers, spec.constant_spammers, spec.adversaries) == (
        0.10,
        0.05,
        0.05,
    )
    same = SyntheticSpec.from_mapping({"arrivals_per_hour": 6})
    assert same.arrival_mean_s == spec.arrival_mean_s
    # Unquoted YAML labels are numbers; they become the text forms carry.
    numeric = SyntheticSpec.from_mapping({"confusion": {0: {0: 9, 1: 1}}})
    assert numeric.confusion == {"0": {"0": 9.0, "1": 1.0}}
    with pytest.raises(ConfigError):
        SyntheticSpec.from_mapping({"confusion": {"0": {"0": 0, "1": 0}}})
    with pytest.raises(ConfigError):
        SyntheticSpec.from_mapping({"arrivals_per_hour": 0})


def dry_run(spec: SyntheticSpec, endpoint_seed: int) -> dict[str, Any]:
    """Publish, let the crowd work two days, approve everything; what it cost."""
    crowd = SyntheticCrowd(spec)
    config = EndpointConfig(
        clock="virtual", start_time=START, crowd=crowd, seed=endpoint_seed
    )
    with RunningEndpoint(config) as endpoint:
        client = make_client(endpoint.url)
        hit_ids = []
        for n in range(HITS):
            items = [f"D{n:02d}x{i}" for i in range(ITEMS_PER_HIT)]
            args = hit_args(
                items,
                MaxAssignments=ASSIGNMENTS,
                Reward=f"0.{REWARD_CENTS:02d}",
                LifetimeInSeconds=2 * 86_400,
                AutoApprovalDelayInSeconds=7 * 86_400,
            )
            hit_ids.append(client.create_hit(**args)["HIT"]["HITId"])
        endpoint.advance(2 * 86_400)

        answers: list[tuple[str, str, str]] = []
        for hit_id in hit_ids:
            for a in client.list_assignments_for_hit(HITId=hit_id)["Assignments"]:
                client.approve_assignment(AssignmentId=a["AssignmentId"])
                for field, label in parse_answers(a["Answer"]).items():
                    if field.startswith("item-"):
                        answers.append((a["WorkerId"], field[5:], label))
        stats = endpoint.stats()
    return {"crowd": crowd, "answers": answers, "stats": stats}


def test_a_seeded_spec_repeats_its_run_exactly() -> None:
    spec = SyntheticSpec.from_file(DEMO)
    first, again = dry_run(spec, endpoint_seed=1), dry_run(spec, endpoint_seed=1)
    assert first["answers"] == again["answers"]
    assert len(first["answers"]) == HITS * ITEMS_PER_HIT * ASSIGNMENTS

    # The spec's seed, not the endpoint's, decides who the workers are and
    # the truth they are graded against.
    elsewhere = dry_run(spec, endpoint_seed=99)
    assert elsewhere["crowd"].members == first["crowd"].members
    items = {item for _, item, _ in first["answers"]}
    assert {i: first["crowd"].true_label(i, ("0", "1")) for i in items} == {
        i: elsewhere["crowd"].true_label(i, ("0", "1")) for i in items
    }

    other = dry_run(replace(spec, seed=7), endpoint_seed=1)
    assert other["answers"] != first["answers"]
    assert other["crowd"].members != first["crowd"].members


def test_a_dry_run_prices_and_grades_the_campaign() -> None:
    run = dry_run(SyntheticSpec.from_file(DEMO), endpoint_seed=1)
    crowd: SyntheticCrowd = run["crowd"]
    stats = run["stats"]

    # Cost: every assignment approved at reward plus MTurk's 20% fee.
    approved = HITS * ASSIGNMENTS
    per_assignment = FeeSchedule().assignment_cost(REWARD_CENTS, ASSIGNMENTS)
    assert stats["assignments_approved"] == approved
    assert stats["paid_rewards_cents"] == approved * REWARD_CENTS
    assert (
        stats["paid_rewards_cents"] + stats["paid_fees_cents"]
        == approved * per_assignment
    )

    # Quality: honest workers beat adversaries, and a majority of three is
    # better than a single answer.
    labels = ("0", "1")
    right: dict[str, list[bool]] = {HONEST: [], ADVERSARY: []}
    votes: dict[str, Counter[str]] = {}
    for worker_id, item, label in run["answers"]:
        truth = crowd.true_label(item, labels)
        kind = crowd.members[worker_id].kind
        if kind in right:
            right[kind].append(label == truth)
        votes.setdefault(item, Counter())[label] += 1
    honest = sum(right[HONEST]) / len(right[HONEST])
    assert honest > 0.8
    if right[ADVERSARY]:
        assert sum(right[ADVERSARY]) / len(right[ADVERSARY]) < honest
    majority = sum(
        count.most_common(1)[0][0] == crowd.true_label(item, labels)
        for item, count in votes.items()
    ) / len(votes)
    assert majority >= 0.8
