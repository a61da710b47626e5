"""Worker scores with their uncertainty, and detectors for bad work.

Per worker: accuracy on gold items as a Beta posterior (mean and 90%
interval), agreement with peers (Dawid-Skene confusion matrix and agreement
with the consensus posterior), agreement with the cross-fitted model, answer
speed, and four detectors:

* constant answering: one answer for everything although the consensus
  expects other classes among the worker's items;
* random clicking: answers statistically independent of the consensus;
* adversarial answering: systematically the opposite of the consensus;
* copied patterns: two workers agreeing on shared items far more often than
  two independent workers of their skill would.

Each row ends with an ``evidence`` sentence a requester can read before
blocking a worker or paying a bonus.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
import scipy.sparse as sp
from scipy import stats

from crowd_bridge.aggregation.base import EncodedAnswers
from crowd_bridge.errors import InputDataError

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class DetectorConfig:
    """Thresholds of the bad-work detectors.

    ``min_answers``: below this many answers no detector fires (too little
    evidence). ``constant_expected_other``: how many of a constant worker's
    items the consensus must expect in another class. ``random_p_value``:
    an independence test above this p-value, with ``random_max_skill``,
    flags random clicking. ``adversarial_skill``: skill below this (the
    negative side of chance) flags adversarial answers. ``copy_*``: shared
    items, agreement rate and z-score for copied patterns.
    """

    min_answers: int = 10
    constant_expected_other: float = 3.0
    random_p_value: float = 0.1
    random_max_skill: float = 0.3
    adversarial_skill: float = -0.2
    copy_min_shared: int = 10
    copy_min_agreement: float = 0.9
    copy_min_z: float = 4.0
    copy_max_p: float = 1e-4


def beta_interval(
    correct: np.ndarray, total: np.ndarray, level: float = 0.9
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Posterior mean and central interval of accuracy under a uniform prior."""
    a = correct + 1.0
    b = total - correct + 1.0
    tail = (1.0 - level) / 2.0
    return a / (a + b), stats.beta.ppf(tail, a, b), stats.beta.ppf(1.0 - tail, a, b)


def skill_of(confusions: np.ndarray) -> np.ndarray:
    """Balanced accuracy rescaled so chance is 0, perfect 1, always-wrong negative.

    A random clicker's confusion rows are all the same distribution, whose
    mean diagonal is exactly 1/K whatever it favours, so the score does not
    reward a worker for clicking the frequent class.
    """
    n_classes = confusions.shape[1]
    if n_classes < 2:
        return np.zeros(len(confusions))
    balanced = np.trace(confusions, axis1=1, axis2=2) / n_classes
    return (balanced - 1.0 / n_classes) / (1.0 - 1.0 / n_classes)


def score_workers(
    encoded: EncodedAnswers,
    *,
    confusions: np.ndarray,
    consensus: np.ndarray,
    model_probas: np.ndarray | None = None,
    gold_items: np.ndarray | None = None,
    gold_labels: np.ndarray | None = None,
    work_seconds: np.ndarray | None = None,
    config: DetectorConfig | None = None,
) -> pd.DataFrame:
    """One row per worker; columns are listed in the module docstring and below.

    ``worker_id``, ``n_answers``, ``n_gold``, ``gold_correct``,
    ``gold_accuracy`` / ``gold_low`` / ``gold_high`` (Beta posterior mean and
    90% interval; NaN without gold), ``skill`` (from the confusion matrix),
    ``peer_accuracy`` (class-weighted diagonal of the confusion matrix),
    ``consensus_agreement`` (mean posterior of the answered class),
    ``model_agreement``, ``seconds_per_answer`` (median), ``constant``,
    ``random``, ``adversarial``, ``copied_from`` (comma-separated worker ids),
    ``evidence``.
    """
    config = config or DetectorConfig()
    items, workers, labels = (
        encoded.item_index,
        encoded.worker_index,
        encoded.label_index,
    )
    n_workers, n_classes = encoded.n_workers, encoded.n_classes
    if confusions.shape != (n_workers, n_classes, n_classes):
        raise InputDataError(
            f"Confusion matrices of shape {confusions.shape} do not fit "
            f"{n_workers} workers and {n_classes} classes; fit the aggregator "
            "with the same coding."
        )
    n_answers = np.bincount(workers, minlength=n_workers)
    rows = np.arange(n_workers)

    # Gold accuracy: only gold items answered by the worker count.
    gold_of = np.full(encoded.n_items, -1)
    if gold_items is not None and len(gold_items):
        gold_of[gold_items] = gold_labels
    on_gold = gold_of[items] >= 0
    n_gold = np.bincount(workers[on_gold], minlength=n_workers)
    gold_correct = np.bincount(
        workers[on_gold],
        weights=(labels[on_gold] == gold_of[items][on_gold]),
        minlength=n_workers,
    )
    mean, low, high = beta_interval(gold_correct, n_gold)
    no_gold = n_gold == 0
    mean, low, high = (np.where(no_gold, np.nan, x) for x in (mean, low, high))

    class_weight = consensus.mean(axis=0)
    peer_accuracy = (np.diagonal(confusions, axis1=1, axis2=2) * class_weight).sum(
        axis=1
    )
    skill = skill_of(confusions)
    agreement = _mean_by_worker(consensus[items, labels], workers, n_workers)
    model_agreement = (
        _mean_by_worker(model_probas[items, labels], workers, n_workers)
        if model_probas is not None
        else np.full(n_workers, np.nan)
    )
    speed = np.full(n_workers, np.nan)
    if work_seconds is not None:
        frame = pd.DataFrame({"w": workers, "s": work_seconds}).dropna()
        medians = frame.groupby("w")["s"].median()
        speed[medians.index.to_numpy()] = medians.to_numpy()

    hard = consensus.argmax(axis=1)
    tables = np.bincount(
        (workers * n_classes + hard[items]) * n_classes + labels,
        minlength=n_workers * n_classes * n_classes,
    ).reshape(n_workers, n_classes, n_classes)
    enough = n_answers >= config.min_answers
    distinct_answers = (tables.sum(axis=1) > 0).sum(axis=1)
    top_answer = tables.sum(axis=1).argmax(axis=1)
    # Expected number of the worker's items whose class differs from the one
    # answer they always give: how often they should have varied.
    other_mass = 1.0 - consensus[items, top_answer[workers]]
    expected_other = np.bincount(workers, weights=other_mass, minlength=n_workers)
    constant = (
        enough
        & (distinct_answers == 1)
        & (expected_other >= config.constant_expected_other)
    )
    p_independent = np.array([_independence_p(t) for t in tables])
    random = (
        enough
        & ~constant
        & (p_independent > config.random_p_value)
        & (skill < config.random_max_skill)
    )
    adversarial = enough & ~constant & (skill < config.adversarial_skill)
    random &= ~adversarial
    copied = _copied_pairs(encoded, consensus, confusions, config)

    ids = encoded.workers
    copied_from = [
        ",".join(str(ids[o]) for o in sorted(copied.get(int(w), set()))) for w in rows
    ]
    result = pd.DataFrame(
        {
            "worker_id": ids,
            "n_answers": n_answers,
            "n_gold": n_gold,
            "gold_correct": gold_correct.astype(int),
            "gold_accuracy": mean,
            "gold_low": low,
            "gold_high": high,
            "skill": skill,
            "peer_accuracy": peer_accuracy,
            "consensus_agreement": agreement,
            "model_agreement": model_agreement,
            "seconds_per_answer": speed,
            "constant": constant,
            "random": random,
            "adversarial": adversarial,
            "copied_from": copied_from,
        }
    )
    result["evidence"] = [
        _evidence(
            row, top_answer[w], encoded.classes, expected_other[w], p_independent[w]
        )
        for w, row in enumerate(result.itertuples(index=False))
    ]
    flagged = int((constant | random | adversarial).sum()) + len(copied)
    logger.info("Scored %d workers; %d flagged", n_workers, flagged)
    return result


def _mean_by_worker(
    values: np.ndarray, workers: np.ndarray, n_workers: int
) -> np.ndarray:
    totals = np.bincount(workers, weights=values, minlength=n_workers)
    counts = np.bincount(workers, minlength=n_workers)
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(counts > 0, totals / np.maximum(counts, 1), np.nan)


def _independence_p(table: np.ndarray) -> float:
    """Chi-square p-value that answers are independent of the consensus class.

    Rows or columns that are empty carry no information and are dropped; a
    table left with a single row or column cannot show dependence, so it
    gets p = 1 (the constant detector handles single-column tables).
    """
    table = table[table.sum(axis=1) > 0][:, table.sum(axis=0) > 0]
    if table.shape[0] < 2 or table.shape[1] < 2:
        return 1.0
    return float(stats.chi2_contingency(table)[1])


def _copied_pairs(
    encoded: EncodedAnswers,
    consensus: np.ndarray,
    confusions: np.ndarray,
    config: DetectorConfig,
) -> dict[int, set[int]]:
    """Worker pairs who agree beyond what their skill explains.

    Two independent workers agree on item i with probability
    ``sum_k P(k | consensus) * sum_l C1[k, l] C2[k, l]``. Two signs of
    copying are tested against that: the number of agreements over shared
    items (z-score, normal approximation to the Poisson-binomial), and the
    number of *shared mistakes*, answers both gave against the consensus
    (Poisson tail), which careful workers rarely share by chance.
    """
    items, workers, labels = (
        encoded.item_index,
        encoded.worker_index,
        encoded.label_index,
    )
    n_workers, n_classes, n_items = (
        encoded.n_workers,
        encoded.n_classes,
        encoded.n_items,
    )
    ones = np.ones(len(items))
    seen = sp.csr_matrix((ones, (workers, items)), shape=(n_workers, n_items))
    seen.data[:] = 1.0
    chosen = sp.csr_matrix(
        (ones, (workers, items * n_classes + labels)),
        shape=(n_workers, n_items * n_classes),
    )
    chosen.data[:] = 1.0
    shared = (seen @ seen.T).tocoo()
    agreed = (chosen @ chosen.T).tocsr()
    # Answer chosen by each worker on each item, for the shared-mistake count.
    # A worker can meet the same gold item in two HITs; keep one answer per
    # (worker, item), since a sparse matrix would add the two together.
    _, once = np.unique(workers * n_items + items, return_index=True)
    answer_of = sp.csr_matrix(
        (labels[once] + 1.0, (workers[once], items[once])),
        shape=(n_workers, n_items),
    )
    pairs: dict[int, set[int]] = {}
    candidates = (shared.row < shared.col) & (shared.data >= config.copy_min_shared)
    for a, b, n_shared in zip(
        shared.row[candidates],
        shared.col[candidates],
        shared.data[candidates],
        strict=True,
    ):
        observed = agreed[a, b]
        if observed < config.copy_min_agreement * n_shared:
            continue
        common = np.intersect1d(
            seen.indices[seen.indptr[a] : seen.indptr[a + 1]],
            seen.indices[seen.indptr[b] : seen.indptr[b + 1]],
        )
        joint = confusions[a] * confusions[b]
        p_agree = consensus[common] @ joint.sum(axis=1)
        p_shared_mistake = consensus[common] @ (joint.sum(axis=1) - np.diagonal(joint))
        expected, variance = p_agree.sum(), (p_agree * (1 - p_agree)).sum()
        z = (observed - expected) / np.sqrt(max(variance, 1e-9))
        answers_a = answer_of[a, common].toarray().ravel() - 1
        answers_b = answer_of[b, common].toarray().ravel() - 1
        same = answers_a == answers_b
        mistakes = float(
            (1.0 - consensus[common[same], answers_a[same].astype(int)]).sum()
        )
        p_mistakes = stats.poisson.sf(np.ceil(mistakes) - 1, p_shared_mistake.sum())
        if z >= config.copy_min_z or (mistakes >= 3 and p_mistakes < config.copy_max_p):
            pairs.setdefault(int(a), set()).add(int(b))
            pairs.setdefault(int(b), set()).add(int(a))
            logger.info(
                "Workers %s and %s agree on %d of %d shared items (%.1f expected) "
                "and share %.1f mistakes (%.2f expected)",
                encoded.workers[a],
                encoded.workers[b],
                int(observed),
                int(n_shared),
                expected,
                mistakes,
                p_shared_mistake.sum(),
            )
    return pairs


def _evidence(
    row: Any,
    top_answer: int,
    classes: list,
    expected_other: float,
    p_independent: float,
) -> str:
    """One plain-words sentence per worker."""
    r = row
    parts = [f"{r.n_answers} answers"]
    if r.n_gold:
        parts.append(
            f"{r.gold_correct} of {r.n_gold} gold items right (accuracy "
            f"{r.gold_accuracy:.2f}, 90% interval {r.gold_low:.2f}-{r.gold_high:.2f})"
        )
    else:
        parts.append("no gold items answered")
    parts.append(f"agrees with the consensus on {r.consensus_agreement:.0%} of answers")
    parts.append(f"estimated accuracy {r.peer_accuracy:.2f} (skill {r.skill:.2f})")
    if not np.isnan(r.model_agreement):
        parts.append(f"agrees with the model on {r.model_agreement:.0%}")
    if not np.isnan(r.seconds_per_answer):
        parts.append(f"median {r.seconds_per_answer:.0f} s per answer")
    if r.constant:
        parts.append(
            f"FLAG constant: always answered {classes[top_answer]!r} although about "
            f"{expected_other:.0f} of the items were expected to differ"
        )
    if r.random:
        parts.append(
            f"FLAG random: answers look independent of the consensus "
            f"(p = {p_independent:.2f})"
        )
    if r.adversarial:
        parts.append("FLAG adversarial: answers mostly the opposite of the consensus")
    if r.copied_from:
        parts.append(
            f"FLAG copied: near-identical answers to worker(s) {r.copied_from}"
        )
    return "; ".join(parts) + "."
