"""Worker scores and bad-work detectors on hand-made campaigns."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from scipy import stats

from crowd_bridge.aggregation import DawidSkene, encode_answers, score_workers
from crowd_bridge.aggregation.workers import beta_interval, skill_of


def campaign() -> tuple[pd.DataFrame, dict[str, int]]:
    """120 items; careful workers c1-c3, a constant clicker, a random clicker,
    an adversary, and a copier who repeats c1 answer for answer (mistakes too)."""
    rng = np.random.default_rng(11)
    truth = rng.integers(0, 2, 120)
    rows = []
    c1_mistakes = set(range(5, 120, 10))
    for i, t in enumerate(truth):
        item = f"i{i:02d}"
        c1 = 1 - t if i in c1_mistakes else t
        rows += [
            (item, "c1", c1, 10.0),
            (item, "c2", t if i % 20 else 1 - t, 12.0),
            (item, "c3", t, 15.0),
            (item, "constant", 0, 2.0),
            (item, "random", int(rng.integers(0, 2)), 1.0),
            (item, "liar", 1 - t, 8.0),
            (item, "copier", c1, 3.0),
        ]
    answers = pd.DataFrame(
        rows, columns=["item_id", "worker_id", "answer", "work_time_seconds"]
    )
    gold = {f"i{i:02d}": int(truth[i]) for i in range(10)}
    return answers, gold


def scored() -> pd.DataFrame:
    answers, gold = campaign()
    encoded = encode_answers(answers, [0, 1])
    gold_i, gold_l = encoded.gold_arrays(gold)
    model = DawidSkene().fit(
        encoded.item_index,
        encoded.worker_index,
        encoded.label_index,
        gold_items=gold_i,
        gold_labels=gold_l,
    )
    return score_workers(
        encoded,
        confusions=model.confusions_,
        consensus=model.probas_,
        model_probas=None,
        gold_items=gold_i,
        gold_labels=gold_l,
        work_seconds=answers["work_time_seconds"].to_numpy(),
    ).set_index("worker_id")


def test_beta_interval_matches_scipy() -> None:
    mean, low, high = beta_interval(np.array([9.0]), np.array([10.0]))
    assert mean[0] == pytest.approx(10 / 12)
    assert low[0] == pytest.approx(stats.beta.ppf(0.05, 10, 2))
    assert high[0] == pytest.approx(stats.beta.ppf(0.95, 10, 2))


def test_skill_is_zero_for_random_and_negative_for_liars() -> None:
    random = np.array([[[0.7, 0.3], [0.7, 0.3]]])
    perfect = np.array([[[1.0, 0.0], [0.0, 1.0]]])
    liar = np.array([[[0.0, 1.0], [1.0, 0.0]]])
    np.testing.assert_allclose(
        skill_of(np.concatenate([random, perfect, liar])), [0, 1, -1]
    )


def test_gold_accuracy_counts_only_gold_items() -> None:
    table = scored()
    assert table.loc["c3", "n_gold"] == 10
    assert table.loc["c3", "gold_correct"] == 10
    assert table.loc["liar", "gold_correct"] == 0
    assert table.loc["c3", "gold_accuracy"] == pytest.approx(11 / 12)
    assert table.loc["c3", "gold_low"] == pytest.approx(stats.beta.ppf(0.05, 11, 1))


def test_detectors_flag_the_right_workers() -> None:
    table = scored()
    assert table["constant"].tolist() == [
        False,
        False,
        False,
        True,
        False,
        False,
        False,
    ]
    assert table.index[table["random"]].tolist() == ["random"]
    assert table.index[table["adversarial"]].tolist() == ["liar"]
    assert table.loc["copier", "copied_from"] == "c1"
    assert table.loc["c1", "copied_from"] == "copier"
    assert table.loc["c2", "copied_from"] == ""
    assert table.loc["c3", "copied_from"] == ""


def test_careful_workers_score_high_and_speed_is_reported() -> None:
    table = scored()
    assert table.loc["c3", "skill"] > 0.8
    assert table.loc["c3", "consensus_agreement"] > 0.9
    assert table.loc["liar", "consensus_agreement"] < 0.1
    assert table.loc["c2", "seconds_per_answer"] == 12.0
    assert np.isnan(table.loc["c3", "model_agreement"])


def test_evidence_is_plain_words() -> None:
    table = scored()
    evidence = table.loc["constant", "evidence"]
    assert evidence.startswith("120 answers; ")
    assert "FLAG constant: always answered 0" in evidence
    assert "FLAG random" in table.loc["random", "evidence"]
    assert "FLAG adversarial" in table.loc["liar", "evidence"]
    assert "near-identical answers to worker(s) c1" in table.loc["copier", "evidence"]
    assert "10 of 10 gold items right" in table.loc["c3", "evidence"]
    assert "FLAG" not in table.loc["c3", "evidence"]


def test_few_answers_never_trigger_a_detector() -> None:
    answers = pd.DataFrame(
        {"item_id": ["a", "b", "c"], "worker_id": ["w", "w", "w"], "answer": [0, 0, 0]}
    )
    encoded = encode_answers(answers, [0, 1])
    model = DawidSkene().fit(
        encoded.item_index, encoded.worker_index, encoded.label_index, n_classes=2
    )
    table = score_workers(
        encoded, confusions=model.confusions_, consensus=model.probas_
    )
    row = table.iloc[0]
    assert not (row["constant"] or row["random"] or row["adversarial"])
    assert np.isnan(row["gold_accuracy"])
    assert "no gold items answered" in row["evidence"]


def test_a_gold_item_answered_twice_by_one_worker_is_scored() -> None:
    # Gold items recur across HITs, so one worker may answer one twice.
    answers, gold = campaign()
    repeats = answers[answers["item_id"].isin(["i00", "i01", "i02"])]
    answers = pd.concat([answers, repeats], ignore_index=True)
    encoded = encode_answers(answers, [0, 1])
    gold_i, gold_l = encoded.gold_arrays(gold)
    model = DawidSkene().fit(
        encoded.item_index,
        encoded.worker_index,
        encoded.label_index,
        gold_items=gold_i,
        gold_labels=gold_l,
    )

    table = score_workers(
        encoded,
        confusions=model.confusions_,
        consensus=model.probas_,
        model_probas=None,
        gold_items=gold_i,
        gold_labels=gold_l,
    ).set_index("worker_id")

    assert table.loc["copier", "copied_from"] == "c1"
    assert table.loc["c3", "copied_from"] == ""
