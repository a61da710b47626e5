"""Shared shape of every aggregator: integer-coded answers in, posteriors out.

An aggregator turns the answers that workers gave on HITs into one label per
item. All of them take the same integer-coded arrays, one entry per answer:

* ``item_index``: which item (0 .. n_items - 1) the answer is about,
* ``worker_index``: which worker (0 .. n_workers - 1) gave it,
* ``label_index``: which class (0 .. n_classes - 1) the worker chose,

and may clamp gold items (items whose true class the requester knows) to their
known class. Learned state ends in ``_`` as in scikit-learn: ``labels_``,
``probas_`` and, where the model has them, ``confusions_`` or ``skills_``.

``encode_answers`` turns a DataFrame with ``item_id``, ``worker_id`` and
``answer`` columns into those arrays, and every aggregator offers
``fit_frame`` as the pandas convenience on top of it.
"""

from __future__ import annotations

import logging
from abc import ABC, abstractmethod
from collections.abc import Hashable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, TypeVar

import numpy as np
import pandas as pd
import scipy.sparse as sp

from crowd_bridge.errors import InputDataError

logger = logging.getLogger(__name__)

ANSWER_COLUMNS = ("item_id", "worker_id", "answer")

A = TypeVar("A", bound="Aggregator")


@dataclass(frozen=True)
class EncodedAnswers:
    """Answers coded as integers, with the ids each integer stands for."""

    item_index: np.ndarray
    worker_index: np.ndarray
    label_index: np.ndarray
    items: pd.Index
    workers: pd.Index
    classes: list[Any]

    @property
    def n_items(self) -> int:
        return len(self.items)

    @property
    def n_workers(self) -> int:
        return len(self.workers)

    @property
    def n_classes(self) -> int:
        return len(self.classes)

    def gold_arrays(
        self, gold: Mapping[Any, Any] | None
    ) -> tuple[np.ndarray, np.ndarray]:
        """Code a ``{item_id: class}`` mapping; gold items nobody answered drop out.

        A gold item without answers teaches nothing about workers, so it is
        skipped rather than added as an item of its own.
        """
        if not gold:
            return np.empty(0, dtype=np.int64), np.empty(0, dtype=np.int64)
        class_pos = {c: k for k, c in enumerate(self.classes)}
        unknown = sorted({str(v) for v in gold.values() if v not in class_pos})
        if unknown:
            raise InputDataError(
                f"Gold labels {unknown[:5]} are not among the classes "
                f"{[str(c) for c in self.classes]}; fix the gold file or the "
                "class list."
            )
        positions = self.items.get_indexer(list(gold.keys()))
        keep = positions >= 0
        labels = np.array([class_pos[v] for v in gold.values()], dtype=np.int64)
        return positions[keep].astype(np.int64), labels[keep]


def encode_answers(
    answers: pd.DataFrame,
    classes: Sequence[Any] | None = None,
    items: Sequence[Hashable] | None = None,
) -> EncodedAnswers:
    """Code an answers table with ``item_id``, ``worker_id`` and ``answer``.

    ``classes`` fixes the class order (and rejects answers outside it); without
    it the sorted distinct answers are the classes. ``items`` lists item ids to
    keep even when nobody answered them, in that order, followed by any other
    answered item.
    """
    missing = [c for c in ANSWER_COLUMNS if c not in answers.columns]
    if missing:
        raise InputDataError(
            f"The answers table lacks the column(s) {missing}; it needs "
            f"{list(ANSWER_COLUMNS)}."
        )
    if classes is None:
        classes = sorted(pd.unique(answers["answer"]).tolist())
    classes = list(classes)
    if len(set(classes)) != len(classes):
        raise InputDataError(f"The class list {classes} repeats a class.")
    class_pos = pd.Index(classes)
    label_index = class_pos.get_indexer(answers["answer"])
    if (label_index < 0).any():
        bad = np.flatnonzero(label_index < 0)
        shown = answers["answer"].iloc[bad[:5]].tolist()
        raise InputDataError(
            f"{len(bad)} answer(s) are outside the classes {classes}, e.g. "
            f"{shown} at row(s) {bad[:5].tolist()}; fix the answers or pass "
            "the full class list."
        )
    item_codes, answered_items = pd.factorize(answers["item_id"], sort=False)
    if items is not None:
        listed = pd.Index(list(items))
        extra = answered_items[~answered_items.isin(listed)]
        all_items = listed.append(extra)
        item_codes = all_items.get_indexer(answers["item_id"])
    else:
        all_items = pd.Index(answered_items)
    worker_codes, workers = pd.factorize(answers["worker_id"], sort=False)
    return EncodedAnswers(
        item_index=np.asarray(item_codes, dtype=np.int64),
        worker_index=np.asarray(worker_codes, dtype=np.int64),
        label_index=np.asarray(label_index, dtype=np.int64),
        items=all_items,
        workers=pd.Index(workers),
        classes=classes,
    )


def answer_matrix(
    item_index: np.ndarray,
    worker_index: np.ndarray,
    label_index: np.ndarray,
    n_items: int,
    n_workers: int,
    n_classes: int,
) -> sp.csr_matrix:
    """Items x (worker, label) count matrix, the workhorse of every E-step.

    Entry ``[i, w * n_classes + l]`` counts how often worker ``w`` answered
    ``l`` on item ``i``. Multiplying it by a (worker, label) x class table of
    log-likelihoods sums each item's evidence in one sparse product, and its
    transpose times the item posteriors gives every worker's expected
    confusion counts, so no per-answer dense arrays are ever built.
    """
    columns = worker_index * n_classes + label_index
    data = np.ones(len(item_index), dtype=np.float64)
    matrix = sp.csr_matrix(
        (data, (item_index, columns)), shape=(n_items, n_workers * n_classes)
    )
    matrix.sum_duplicates()
    return matrix


def one_hot(labels: np.ndarray, n_classes: int) -> np.ndarray:
    out = np.zeros((len(labels), n_classes))
    out[np.arange(len(labels)), labels] = 1.0
    return out


def row_max(values: np.ndarray) -> np.ndarray:
    """Maximum of each row.

    With a handful of classes, a loop over columns is several times faster
    than ``max(axis=1)``, whose inner loop would run over three elements.
    """
    if values.shape[1] > 16:
        return values.max(axis=1)
    top = values[:, 0].copy()
    for k in range(1, values.shape[1]):
        np.maximum(top, values[:, k], out=top)
    return top


def row_sum(values: np.ndarray) -> np.ndarray:
    """Sum of each row, column by column for the same reason as ``row_max``."""
    if values.shape[1] > 16:
        return values.sum(axis=1)
    total = values[:, 0].copy()
    for k in range(1, values.shape[1]):
        total += values[:, k]
    return total


def normalise_log(log_p: np.ndarray) -> tuple[np.ndarray, float]:
    """Row-normalise log scores; return probabilities and the log-evidence.

    Subtracting the row maximum before exponentiating keeps items with many
    confident answers from underflowing to all-zero rows.
    """
    top = row_max(log_p)
    p = log_p - top[:, None]
    np.exp(p, out=p)
    total = row_sum(p)
    p /= total[:, None]
    return p, float(np.log(total).sum() + top.sum())


class Aggregator(ABC):
    """Base class: ``fit`` learns from coded answers, then ``predict``."""

    labels_: np.ndarray
    probas_: np.ndarray

    def fit(
        self: A,
        item_index: np.ndarray,
        worker_index: np.ndarray,
        label_index: np.ndarray,
        *,
        n_items: int | None = None,
        n_workers: int | None = None,
        n_classes: int | None = None,
        gold_items: np.ndarray | None = None,
        gold_labels: np.ndarray | None = None,
    ) -> A:
        """Learn from answers; gold items, if given, are clamped to their class."""
        items = np.asarray(item_index, dtype=np.int64)
        workers = np.asarray(worker_index, dtype=np.int64)
        labels = np.asarray(label_index, dtype=np.int64)
        if not (len(items) == len(workers) == len(labels)):
            raise InputDataError(
                "item_index, worker_index and label_index differ in length "
                f"({len(items)}, {len(workers)}, {len(labels)})."
            )
        n_items = _size(n_items, items, "item")
        n_workers = _size(n_workers, workers, "worker")
        n_classes = _size(n_classes, labels, "class")
        if n_classes < 1 or n_items < 1:
            raise InputDataError("There are no answers and no items to aggregate.")
        gold_i = np.asarray(
            gold_items if gold_items is not None else [], dtype=np.int64
        )
        gold_l = np.asarray(
            gold_labels if gold_labels is not None else [], dtype=np.int64
        )
        if len(gold_i) != len(gold_l):
            raise InputDataError("gold_items and gold_labels differ in length.")
        if len(gold_i) and (
            gold_i.min() < 0
            or gold_i.max() >= n_items
            or gold_l.min() < 0
            or gold_l.max() >= n_classes
        ):
            raise InputDataError("A gold item or gold label index is out of range.")
        self._fit(items, workers, labels, n_items, n_workers, n_classes, gold_i, gold_l)
        return self

    @abstractmethod
    def _fit(
        self,
        items: np.ndarray,
        workers: np.ndarray,
        labels: np.ndarray,
        n_items: int,
        n_workers: int,
        n_classes: int,
        gold_items: np.ndarray,
        gold_labels: np.ndarray,
    ) -> None:
        """Set ``probas_``, ``labels_`` and the model's own learned state."""

    def predict(self) -> np.ndarray:
        """Class index per item, as learned by the last ``fit``."""
        return self.labels_

    def predict_proba(self) -> np.ndarray:
        """Items x classes posterior, as learned by the last ``fit``."""
        return self.probas_

    def fit_frame(
        self: A,
        answers: pd.DataFrame,
        classes: Sequence[Any] | None = None,
        gold: Mapping[Any, Any] | None = None,
    ) -> A:
        """Fit on a DataFrame with ``item_id``, ``worker_id`` and ``answer``.

        Afterwards ``encoded_`` holds the coding, and ``result_frame()`` gives
        the labels by item id.
        """
        encoded = encode_answers(answers, classes)
        gold_i, gold_l = encoded.gold_arrays(gold)
        self.fit(
            encoded.item_index,
            encoded.worker_index,
            encoded.label_index,
            n_items=encoded.n_items,
            n_workers=encoded.n_workers,
            n_classes=encoded.n_classes,
            gold_items=gold_i,
            gold_labels=gold_l,
        )
        self.encoded_ = encoded
        return self

    def result_frame(self) -> pd.DataFrame:
        """``item_id``, ``label`` and ``confidence`` after ``fit_frame``."""
        encoded: EncodedAnswers = self.encoded_
        classes = np.asarray(encoded.classes, dtype=object)
        return pd.DataFrame(
            {
                "item_id": encoded.items,
                "label": classes[self.labels_],
                "confidence": self.probas_[np.arange(len(self.labels_)), self.labels_],
            }
        )


def _size(given: int | None, codes: np.ndarray, what: str) -> int:
    seen = int(codes.max()) + 1 if len(codes) else 0
    if len(codes) and codes.min() < 0:
        raise InputDataError(f"A {what} index is negative.")
    if given is None:
        return seen
    if seen > given:
        raise InputDataError(
            f"A {what} index ({seen - 1}) is out of range for {given} {what}(s)."
        )
    return int(given)


def break_ties(scores: np.ndarray, prior: np.ndarray) -> np.ndarray:
    """Argmax per row where ties go to the more frequent class, then the lower index.

    Exact ties are common with three answers per item and two classes only when
    some answers are missing, but they must never depend on the order in which
    answers arrived, so they are settled by the overall class frequency
    ``prior`` and, failing that, by the lower class index.
    """
    n_classes = scores.shape[1]
    order = np.lexsort((np.arange(n_classes), -prior))
    rank = np.empty(n_classes)
    rank[order] = np.arange(n_classes, 0, -1)
    best = row_max(scores)[:, None]
    tied = scores >= best - 1e-12 * np.maximum(1.0, np.abs(best))
    return np.argmax(np.where(tied, rank, -1.0), axis=1)
