"""Majority vote: the baseline every other aggregator must beat."""

from __future__ import annotations

import logging

import numpy as np

from crowd_bridge.aggregation.base import Aggregator, break_ties, one_hot

logger = logging.getLogger(__name__)


class MajorityVote(Aggregator):
    """Most frequent answer per item; the vote shares are the posterior.

    Ties are broken deterministically: first towards the class that is more
    frequent among all answers of the campaign, then towards the lower class
    index. An item nobody answered gets the overall answer distribution, and
    gold items are clamped to their known class.

    Learned state: ``labels_``, ``probas_``, ``counts_`` (items x classes
    vote counts) and ``class_prior_``.
    """

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
        counts = np.bincount(
            items * n_classes + labels, minlength=n_items * n_classes
        ).reshape(n_items, n_classes)
        totals = counts.sum(axis=1, keepdims=True)
        prior = np.bincount(labels, minlength=n_classes).astype(float)
        prior = (prior + 1.0) / (prior.sum() + n_classes)
        probas = np.where(totals > 0, counts / np.maximum(totals, 1), prior)
        probas[gold_items] = one_hot(gold_labels, n_classes)
        self.counts_ = counts
        self.class_prior_ = prior
        self.probas_ = probas
        self.labels_ = break_ties(probas, prior)
        logger.debug("Majority vote over %d answers on %d items", len(items), n_items)
