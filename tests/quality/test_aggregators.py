"""Aggregators on small hand-made campaigns with known right answers."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from crowd_bridge.aggregation import (
    GLAD,
    MACE,
    DawidSkene,
    MajorityVote,
    OneCoin,
    encode_answers,
)
from crowd_bridge.aggregation.base import break_ties
from crowd_bridge.errors import InputDataError

ALL = [MajorityVote, DawidSkene, OneCoin, MACE, GLAD]


def spammer_campaign() -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """40 binary items; workers 0-2 always right, worker 3 answers at random."""
    rng = np.random.default_rng(7)
    truth = np.array([0, 1] * 20)
    items, workers, labels = [], [], []
    for i, t in enumerate(truth):
        for w in range(3):
            items.append(i)
            workers.append(w)
            labels.append(t)
        items.append(i)
        workers.append(3)
        labels.append(int(rng.integers(0, 2)))
    return np.array(items), np.array(workers), np.array(labels), truth


def adversary_campaign() -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Workers 0 and 1 are right except on two items each; worker 2 always lies.

    Items 0-29 are answered by all three; items 30-35 only by the liar, so
    only a model that has learned to flip the liar gets them right.
    """
    truth = np.array([0, 1, 1] * 12)
    items, workers, labels = [], [], []
    for i, t in enumerate(truth):
        if i < 30:
            for w in (0, 1):
                wrong = (w == 0 and i in (3, 17)) or (w == 1 and i in (8, 22))
                items.append(i)
                workers.append(w)
                labels.append(1 - t if wrong else t)
        items.append(i)
        workers.append(2)
        labels.append(1 - t)
    return np.array(items), np.array(workers), np.array(labels), truth


@pytest.mark.parametrize("cls", ALL)
def test_fit_returns_self_and_learned_state(cls: type) -> None:
    items, workers, labels, _ = spammer_campaign()
    model = cls()
    assert model.fit(items, workers, labels) is model
    assert model.labels_.shape == (40,)
    assert model.probas_.shape == (40, 2)
    np.testing.assert_allclose(model.probas_.sum(axis=1), 1.0)
    assert model.predict() is model.labels_
    assert model.predict_proba() is model.probas_


@pytest.mark.parametrize("cls", ALL)
def test_spammer_among_careful_workers_does_not_change_labels(cls: type) -> None:
    items, workers, labels, truth = spammer_campaign()
    model = cls().fit(items, workers, labels)
    np.testing.assert_array_equal(model.labels_, truth)


def test_dawid_skene_sees_spammer_as_uninformative() -> None:
    items, workers, labels, _ = spammer_campaign()
    model = DawidSkene().fit(items, workers, labels)
    careful = model.confusions_[0]
    spammer = model.confusions_[3]
    assert careful[0, 0] > 0.9 and careful[1, 1] > 0.9
    # Rows of a random clicker's matrix are alike: answers say little.
    assert abs(spammer[0, 1] - spammer[1, 1]) < 0.35


def test_dawid_skene_flips_an_adversary() -> None:
    items, workers, labels, truth = adversary_campaign()
    model = DawidSkene().fit(items, workers, labels)
    liar = model.confusions_[2]
    assert liar[0, 1] > 0.8 and liar[1, 0] > 0.8
    # Items 30-35 have only the liar's answer: DS turns it around.
    np.testing.assert_array_equal(model.labels_[30:], truth[30:])
    np.testing.assert_array_equal(model.labels_, truth)


def test_majority_vote_follows_the_adversary_on_items_it_alone_answered() -> None:
    items, workers, labels, truth = adversary_campaign()
    model = MajorityVote().fit(items, workers, labels)
    np.testing.assert_array_equal(model.labels_[30:], 1 - truth[30:])


def test_majority_ties_go_to_the_more_frequent_class_then_lower_index() -> None:
    # Class 1 is more frequent overall (3 of 5 answers); item 0 is a 1-1 tie.
    items = np.array([0, 0, 1, 2, 2])
    workers = np.array([0, 1, 0, 0, 1])
    labels = np.array([0, 1, 1, 1, 0])
    model = MajorityVote().fit(items, workers, labels)
    assert model.labels_[0] == 1
    np.testing.assert_allclose(model.probas_[0], [0.5, 0.5])
    # Equal class frequencies: the lower index wins.
    even = MajorityVote().fit(np.array([0, 0]), np.array([0, 1]), np.array([1, 0]))
    assert even.labels_[0] == 0


def test_break_ties_uses_prior_rank() -> None:
    scores = np.array([[0.4, 0.4, 0.2], [0.2, 0.4, 0.4], [0.5, 0.3, 0.2]])
    prior = np.array([0.2, 0.5, 0.3])
    np.testing.assert_array_equal(break_ties(scores, prior), [1, 1, 0])


def test_items_with_one_answer_take_that_answer() -> None:
    items = np.array([0, 0, 0, 1, 2])
    workers = np.array([0, 1, 2, 0, 1])
    labels = np.array([1, 1, 1, 1, 0])
    for cls in ALL:
        model = cls().fit(items, workers, labels)
        np.testing.assert_array_equal(model.labels_, [1, 1, 0], err_msg=cls.__name__)


def test_worker_with_one_answer_is_not_judged_perfect() -> None:
    items = np.array([0, 0, 1, 1, 2])
    workers = np.array([0, 1, 0, 1, 2])
    labels = np.array([0, 0, 1, 1, 1])
    model = DawidSkene().fit(items, workers, labels)
    lone = model.confusions_[2]
    # The lone answer (class 1) counts p toward row 1 and 1 - p toward row 0,
    # p being item 2's posterior of class 1, on top of the prior's
    # pseudo-counts (2 on the diagonal, 1 elsewhere). The matrices are from
    # the last M-step, the posterior from the E-step after it; at
    # convergence the two agree.
    p = model.probas_[2, 1]
    np.testing.assert_allclose(lone[1], [1 / (p + 3), (p + 2) / (p + 3)], rtol=1e-3)
    np.testing.assert_allclose(lone[0], [2 / (4 - p), (2 - p) / (4 - p)], rtol=1e-3)
    assert lone[1, 1] < 0.8
    classic = DawidSkene(prior_correct=0, prior_wrong=0).fit(items, workers, labels)
    assert classic.confusions_[2][1, 1] > 0.999


def test_gold_items_are_clamped_and_score_workers() -> None:
    items = np.array([0, 0, 1, 1, 2, 2])
    workers = np.array([0, 1, 0, 1, 0, 1])
    labels = np.array([1, 1, 0, 0, 1, 0])
    model = DawidSkene().fit(
        items, workers, labels, gold_items=np.array([0]), gold_labels=np.array([0])
    )
    assert model.labels_[0] == 0
    np.testing.assert_allclose(model.probas_[0], [1.0, 0.0])
    for cls in ALL:
        clamped = cls().fit(
            items, workers, labels, gold_items=np.array([2]), gold_labels=np.array([0])
        )
        assert clamped.labels_[2] == 0, cls.__name__


def test_three_classes_dawid_skene_beats_majority_on_biased_workers() -> None:
    rng = np.random.default_rng(3)
    n_items, n_classes = 300, 3
    truth = rng.integers(0, n_classes, n_items)
    # Workers 0-1 are good; workers 2-4 confuse class 2 with class 1 always.
    items, workers, labels = [], [], []
    for i, t in enumerate(truth):
        for w in range(5):
            if w < 2:
                answer = t if rng.random() < 0.85 else int(rng.integers(0, 3))
            else:
                answer = 1 if t == 2 else t
            items.append(i)
            workers.append(w)
            labels.append(answer)
    args = (np.array(items), np.array(workers), np.array(labels))
    ds = DawidSkene().fit(*args)
    mv = MajorityVote().fit(*args)
    assert (mv.labels_ == truth).mean() < 0.75
    assert (ds.labels_ == truth).mean() > 0.95
    assert ds.confusions_.shape == (5, 3, 3)


def test_items_nobody_answered_get_the_class_prior() -> None:
    model = DawidSkene().fit(
        np.array([0, 1, 2]), np.array([0, 0, 0]), np.array([0, 0, 1]), n_items=4
    )
    np.testing.assert_allclose(model.probas_[3], model.class_prior_)


def test_fit_frame_and_result_frame_keep_ids_and_classes() -> None:
    answers = pd.DataFrame(
        {
            "item_id": ["a", "a", "a", "b", "b", "b"],
            "worker_id": ["x", "y", "z", "x", "y", "z"],
            "answer": ["cat", "cat", "dog", "dog", "dog", "dog"],
        }
    )
    model = DawidSkene().fit_frame(answers, classes=["dog", "cat"], gold={"b": "dog"})
    out = model.result_frame()
    assert out["item_id"].tolist() == ["a", "b"]
    assert out["label"].tolist() == ["cat", "dog"]
    assert out["confidence"].iloc[1] == pytest.approx(1.0)


def test_encode_answers_rejects_bad_input() -> None:
    with pytest.raises(InputDataError, match="lacks the column"):
        encode_answers(pd.DataFrame({"item_id": [1], "answer": [0]}))
    frame = pd.DataFrame({"item_id": [1, 2], "worker_id": [1, 1], "answer": [0, 5]})
    with pytest.raises(InputDataError, match=r"outside the classes .* row\(s\) \[1\]"):
        encode_answers(frame, classes=[0, 1])


def test_fit_rejects_out_of_range_indices() -> None:
    with pytest.raises(InputDataError, match="out of range"):
        DawidSkene().fit(
            np.array([0, 5]), np.array([0, 0]), np.array([0, 1]), n_items=3
        )
    with pytest.raises(InputDataError, match="differ in length"):
        MajorityVote().fit(np.array([0, 1]), np.array([0]), np.array([0, 1]))


def test_glad_learns_negative_ability_for_an_adversary() -> None:
    items, workers, labels, truth = adversary_campaign()
    model = GLAD().fit(items, workers, labels)
    assert model.skills_[2] < 0 < model.skills_[0]
    np.testing.assert_array_equal(model.labels_[:30], truth[:30])


def test_mace_gives_spammer_low_competence() -> None:
    items, workers, labels, _ = spammer_campaign()
    model = MACE().fit(items, workers, labels)
    assert model.skills_[3] < 0.5 < model.skills_[0]


def test_one_coin_accuracy_estimates() -> None:
    items, workers, labels, _ = spammer_campaign()
    model = OneCoin().fit(items, workers, labels)
    assert model.skills_[0] > 0.9
    assert 0.3 < model.skills_[3] < 0.75
