"""The synthetic crowd: spec files, worker kinds and a seeded truth."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from endpoint_helpers import START, hit_args, make_client, question

from crowd_bridge.endpoint import (
    EndpointConfig,
    RunningEndpoint,
    SyntheticCrowd,
    SyntheticSpec,
)
from crowd_bridge.endpoint.forms import parse_answers
from crowd_bridge.errors import ConfigError

ITEMS = [f"S{n:03d}" for n in range(30)]


def answers_by_worker(
    spec: dict[str, Any], seed: int = 3
) -> tuple[SyntheticCrowd, dict[str, dict[str, str]]]:
    crowd = SyntheticCrowd(spec)
    config = EndpointConfig(clock="virtual", start_time=START, crowd=crowd, seed=seed)
    with RunningEndpoint(config) as endpoint:
        client = make_client(endpoint.url)
        args = hit_args(
            ITEMS, MaxAssignments=spec["workers"], LifetimeInSeconds=5 * 86_400
        )
        hit_id = client.create_hit(**args)["HIT"]["HITId"]
        endpoint.advance(5 * 86_400)
        pages = client.get_paginator("list_assignments_for_hit").paginate(HITId=hit_id)
        found = {
            a["WorkerId"]: parse_answers(a["Answer"])
            for page in pages
            for a in page["Assignments"]
        }
    return crowd, found


def accuracy(crowd: SyntheticCrowd, answers: dict[str, str]) -> float:
    right = sum(
        answers[f"item-{item}"] == crowd.true_label(item, ("0", "1")) for item in ITEMS
    )
    return right / len(ITEMS)


def test_worker_kinds_answer_as_specified() -> None:
    spec = {
        "workers": 20,
        "arrival_mean_s": 600,
        "accuracy": [0.95, 1.0],
        "spammers": 0.2,
        "constant_spammers": 0.1,
        "adversaries": 0.2,
        "class_priors": {"0": 0.5, "1": 0.5},
    }
    crowd, found = answers_by_worker(spec)
    assert len(found) == 20
    kinds = {w: crowd.members[w].kind for w in found}
    assert sorted(kinds.values()).count("spammer") == 4
    assert sorted(kinds.values()).count("constant") == 2
    assert sorted(kinds.values()).count("adversary") == 4

    for worker, answers in found.items():
        score = accuracy(crowd, answers)
        if kinds[worker] == "honest":
            assert score >= 0.8, (worker, score)
        elif kinds[worker] == "adversary":
            assert score <= 0.2, (worker, score)
        elif kinds[worker] == "constant":
            assert len(set(answers.values())) == 1


def test_truth_follows_the_class_priors_and_the_seed() -> None:
    crowd = SyntheticCrowd({"class_priors": {"0": 0.9, "1": 0.1}})
    crowd.seed = 7
    labels = [crowd.true_label(f"I{n}", ("0", "1")) for n in range(2000)]
    assert 0.85 < labels.count("0") / len(labels) < 0.95
    assert labels == [crowd.true_label(f"I{n}", ("0", "1")) for n in range(2000)]
    # Labels a form offers that the priors do not know are drawn uniformly.
    odd = {crowd.true_label(f"I{n}", ("a", "b")) for n in range(50)}
    assert odd == {"a", "b"}


def test_a_shared_confusion_matrix_drives_honest_workers() -> None:
    spec = {
        "workers": 6,
        "arrival_mean_s": 600,
        "class_priors": {"0": 0.5, "1": 0.5},
        "confusion": {"0": {"0": 1.0}, "1": {"0": 1.0}},
    }
    _, found = answers_by_worker(spec)
    for answers in found.values():
        assert set(answers.values()) == {"0"}


def test_spec_files_and_bad_specs(tmp_path: Path) -> None:
    path = tmp_path / "crowd.yaml"
    path.write_text("workers: 12\narrival_mean_minutes: 5\naccuracy: [0.6, 0.7]\n")
    spec = SyntheticSpec.from_file(path)
    assert (spec.workers, spec.arrival_mean_s, spec.accuracy) == (12, 300.0, (0.6, 0.7))

    config = EndpointConfig(
        clock="virtual", start_time=START, crowd=f"synthetic:{path}"
    )
    with RunningEndpoint(config) as endpoint:
        assert endpoint.stats()["workers"] == 12

    with pytest.raises(ConfigError):
        SyntheticSpec.from_mapping({"worker": 3})
    with pytest.raises(ConfigError):
        SyntheticSpec.from_mapping({"spammers": 0.7, "adversaries": 0.5})
    with pytest.raises(ConfigError):
        SyntheticSpec.from_mapping({"accuracy": [0.9, 0.2]})


def test_labels_come_from_the_form() -> None:
    crowd = SyntheticCrowd({"workers": 3, "arrival_mean_s": 60})
    config = EndpointConfig(clock="virtual", start_time=START, crowd=crowd, seed=1)
    with RunningEndpoint(config) as endpoint:
        client = make_client(endpoint.url)
        form = question(["A", "B"], labels=("cat", "dog", "bird"))
        hit_id = client.create_hit(**hit_args(Question=form))["HIT"]["HITId"]
        endpoint.advance(86_400)
        for a in client.list_assignments_for_hit(HITId=hit_id)["Assignments"]:
            assert set(parse_answers(a["Answer"]).values()) <= {"cat", "dog", "bird"}
