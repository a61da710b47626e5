"""Model-assisted refinement: features, cross-fitting, combination, the API."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest

from crowd_bridge.aggregation import DawidSkene, encode_answers
from crowd_bridge.aggregation.base import answer_matrix
from crowd_bridge.refine import RefineConfig, refine_labels
from crowd_bridge.refine.combine import combine, model_bins
from crowd_bridge.refine.features import (
    codes_of,
    group_relative,
    pair_features,
    price_of,
)
from crowd_bridge.refine.model import GradientBoostingHead, HeadConfig, cross_fit

LEXICAL = RefineConfig(use_encoder=False, head="gbm", n_folds=3)


def test_codes_ignore_case_and_separators() -> None:
    assert codes_of("Sony Cyber-shot DSC-W170 Camera - Silver - DSCW170") == {"dscw170"}
    assert codes_of("Garmin nuvi 205 - 010-00717-40 42' TV") == {"0100071740"}
    assert codes_of("Panasonic TH-50PZ85U 50' Plasma") == {"th50pz85u"}
    assert codes_of("plain words only") == set()


def test_price_of_reads_dollars_and_bare_numbers() -> None:
    assert price_of(["TV", "", "$1,599.99"]) == 1599.99
    assert price_of(["Cable", "12.50"]) == 12.5
    assert math.isnan(price_of(["no price", ""]))


def test_pair_features_see_codes_and_near_misses() -> None:
    left = [("Sony Camera - DSCW170", "$100"), ("Panasonic Plasma - TH50PZ80U", "")]
    right = [("Sony Cyber-shot DSC-W170", "$110"), ("Panasonic TH-50PZ85U", "")]
    frame = pair_features(left, right, ["name", "price"])
    assert frame.loc[0, "codes_shared"] == 1
    assert frame.loc[0, "code_match_length"] == 7
    assert frame.loc[1, "codes_shared"] == 0
    assert frame.loc[1, "code_near_miss"] == pytest.approx(8 / 9)
    assert frame.loc[0, "price_log_ratio"] == pytest.approx(abs(math.log(100 / 110)))
    assert math.isnan(frame.loc[1, "price_log_ratio"])
    assert frame.loc[1, "missing_price"] == 1.0
    assert frame.notna().sum().sum() == frame.size - 1


def test_group_relative_margin_and_rank() -> None:
    out = group_relative(
        np.array([0.5, 0.9, 0.1, 0.3, 0.7]), ["a", "a", "a", "b", "a"], "s"
    )
    np.testing.assert_allclose(out["s_margin"], [-0.4, 0.2, -0.8, 1.0, -0.2])
    np.testing.assert_array_equal(out["s_rank"], [2, 0, 3, 0, 1])


def test_cross_fitting_never_lets_an_item_see_its_own_answers() -> None:
    rng = np.random.default_rng(0)
    n_items = 120
    features = rng.normal(size=(n_items, 4))
    truth = (features[:, 0] > 0).astype(int)
    items = np.repeat(np.arange(n_items), 3)
    workers = rng.integers(0, 10, size=len(items))
    labels = np.where(rng.random(len(items)) < 0.8, truth[items], 1 - truth[items])
    config = HeadConfig(head="gbm", n_folds=4, gbm_iterations=30)

    def run(answer_labels: np.ndarray) -> np.ndarray:
        return cross_fit(
            lambda: GradientBoostingHead(features, 2, config),
            items,
            workers,
            answer_labels,
            n_items,
            10,
            2,
            np.empty(0, dtype=int),
            np.empty(0, dtype=int),
            config,
        )

    before = run(labels)
    flipped = labels.copy()
    flipped[items == 7] = 1 - flipped[items == 7]
    after = run(flipped)
    # Item 7's own answers changed; its prediction must not.
    np.testing.assert_array_equal(before[7], after[7])
    assert not np.array_equal(before, after)
    assert ((before[:, 1] > 0.5) == truth).mean() > 0.85


def test_model_bins_split_each_predicted_class_by_confidence() -> None:
    probas = np.array([[0.9, 0.1], [0.6, 0.4], [0.2, 0.8], [0.45, 0.55]])
    np.testing.assert_array_equal(model_bins(probas, 2), [1, 0, 3, 2])


def test_combine_fits_weights_on_gold_and_clamps_gold() -> None:
    rng = np.random.default_rng(1)
    n_items = 400
    truth = rng.integers(0, 2, n_items)
    items = np.repeat(np.arange(n_items), 3)
    workers = rng.integers(0, 20, size=len(items))
    labels = np.where(rng.random(len(items)) < 0.7, truth[items], 1 - truth[items])
    matrix = answer_matrix(items, workers, labels, n_items, 20, 2)
    # A sharp model that is right 95% of the time.
    right = rng.random(n_items) < 0.95
    p1 = np.where(right == (truth == 1), 0.9, 0.1)
    model = np.c_[1 - p1, p1]
    gold_items = np.arange(100)
    out = combine(matrix, 20, model, gold_items=gold_items, gold_labels=truth[:100])
    np.testing.assert_array_equal(out.probas[:100].argmax(axis=1), truth[:100])
    assert out.model_weight > 0.5
    crowd_only = DawidSkene().fit(items, workers, labels)
    rest = slice(100, None)
    combined_acc = (out.probas[rest].argmax(axis=1) == truth[rest]).mean()
    crowd_acc = (crowd_only.labels_[rest] == truth[rest]).mean()
    assert combined_acc > crowd_acc


def _pair_campaign(n_products: int = 60, seed: int = 5) -> tuple:
    """Product pairs: each left record has one true match among three candidates;
    the crowd is right 75% of the time, so the texts carry extra information."""
    rng = np.random.default_rng(seed)
    brands = ["Sony", "Canon", "Nikon", "Bose", "LG", "Panasonic"]
    kinds = ["Camera", "Speaker", "Television", "Headphones"]
    rows, texts, truth = [], {}, {}
    for p in range(n_products):
        code = f"{rng.choice(list('ABCDXYZ'))}{rng.integers(100, 999)}{p}"
        brand, kind = rng.choice(brands), rng.choice(kinds)
        left = (f"{brand} {kind} - {code}", f"${rng.integers(20, 900)}")
        others = [f"Q{rng.integers(1000, 9999)}{p}", f"{code[:-1]}{(p + 1) % 10}9"]
        for c, (cand, match) in enumerate([(code, 1), (others[0], 0), (others[1], 0)]):
            item = f"p{p}-{c}"
            texts[item] = left + (f"{brand} {cand} {kind}", left[1] if match else "")
            truth[item] = match
            for w in range(3):
                worker = f"w{rng.integers(0, 12)}"
                answer = match if rng.random() < 0.75 else 1 - match
                rows.append((item, f"{worker}-{w}", answer))
    answers = pd.DataFrame(rows, columns=["item_id", "worker_id", "answer"])
    return answers, texts, truth


def test_refined_pairs_beat_the_crowd_alone() -> None:
    answers, texts, truth = _pair_campaign()
    out = refine_labels(answers, texts, None, [0, 1], LEXICAL)
    labels = out.labels.set_index("item_id")
    truth_s = pd.Series(truth)
    refined_acc = (labels["label"].reindex(truth_s.index) == truth_s).mean()
    crowd_acc = (labels["crowd_label"].reindex(truth_s.index) == truth_s).mean()
    assert refined_acc > crowd_acc
    assert refined_acc > 0.9
    assert out.info["method"] == "refined"
    assert set(out.labels.columns) >= {
        "item_id",
        "label",
        "confidence",
        "crowd_label",
        "crowd_confidence",
        "model_proba_0",
        "model_proba_1",
    }
    assert len(out.workers) == answers["worker_id"].nunique()


def test_without_texts_refinement_is_dawid_skene_with_gold() -> None:
    answers, _, truth = _pair_campaign(20)
    gold = {k: truth[k] for k in list(truth)[:10]}
    out = refine_labels(answers, None, gold, [0, 1], LEXICAL)
    encoded = encode_answers(answers, [0, 1], items=list(gold))
    gold_i, gold_l = encoded.gold_arrays(gold)
    ds = DawidSkene().fit(
        encoded.item_index,
        encoded.worker_index,
        encoded.label_index,
        gold_items=gold_i,
        gold_labels=gold_l,
    )
    assert out.info["method"] == "crowd"
    np.testing.assert_array_equal(out.labels["label"].to_numpy(), ds.labels_)
    assert out.labels["model_proba_0"].isna().all()
    assert out.labels.loc[out.labels["item_id"].isin(gold), "is_gold"].all()


def test_single_text_three_classes_items_and_workers_with_one_answer() -> None:
    rng = np.random.default_rng(2)
    colours = ["red", "green", "blue"]
    rows, texts, truth = [], {}, {}
    for i in range(90):
        k = i % 3
        item = f"t{i}"
        texts[item] = (f"a {colours[k]} thing number {rng.integers(0, 99)}",)
        truth[item] = colours[k]
        n_answers = 1 if i % 10 == 0 else 3
        for a in range(n_answers):
            answer = colours[k] if rng.random() < 0.7 else colours[(k + 1) % 3]
            rows.append((item, f"w{(i + a) % 7}", answer))
    rows.append(("t1", "lonely", "green"))
    answers = pd.DataFrame(rows, columns=["item_id", "worker_id", "answer"])
    out = refine_labels(answers, texts, None, colours, LEXICAL)
    labels = out.labels.set_index("item_id")["label"]
    accuracy = (labels.reindex(list(truth)) == pd.Series(truth)).mean()
    assert accuracy > 0.9
    assert [c for c in out.labels.columns if c.startswith("model_proba_")] == [
        "model_proba_red",
        "model_proba_green",
        "model_proba_blue",
    ]
    lonely = out.workers.set_index("worker_id").loc["lonely"]
    assert lonely["n_answers"] == 1
    assert not lonely["random"]
    np.testing.assert_allclose(
        out.labels[["model_proba_red", "model_proba_green", "model_proba_blue"]].sum(
            axis=1
        ),
        1.0,
    )
