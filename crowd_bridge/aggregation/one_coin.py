"""One-coin model: every worker has a single accuracy, errors spread evenly.

The "one-coin" simplification of Dawid-Skene (see e.g. Zhang, Chen, Zhou and
Jordan, "Spectral Methods Meet EM", NeurIPS 2014): a worker answers the true
class with probability ``a_w`` and each other class with ``(1 - a_w) /
(K - 1)``. With far fewer parameters than a full confusion matrix it suits
workers with few answers, at the cost of missing class-specific bias.
"""

from __future__ import annotations

import logging

import numpy as np

from crowd_bridge.aggregation.base import (
    Aggregator,
    answer_matrix,
    break_ties,
    normalise_log,
    one_hot,
)
from crowd_bridge.aggregation.dawid_skene import answer_log_evidence
from crowd_bridge.aggregation.majority import MajorityVote

logger = logging.getLogger(__name__)


def one_coin_confusions(accuracy: np.ndarray, n_classes: int) -> np.ndarray:
    """Workers x classes x classes matrices with ``accuracy`` on the diagonal."""
    if n_classes == 1:
        return np.ones((len(accuracy), 1, 1))
    off = (1.0 - accuracy) / (n_classes - 1)
    confusions = np.repeat(off[:, None, None], n_classes, axis=1)
    confusions = np.repeat(confusions, n_classes, axis=2)
    idx = np.arange(n_classes)
    confusions[:, idx, idx] = accuracy[:, None]
    return confusions


class OneCoin(Aggregator):
    """EM for the one-coin model with a Beta prior on each worker's accuracy.

    ``prior_correct`` and ``prior_wrong`` are pseudo-counts of right and
    wrong answers added to every worker. Learned state: ``labels_``,
    ``probas_``, ``skills_`` (accuracy per worker), ``confusions_`` (the
    implied matrices), ``class_prior_`` and ``n_iter_``.
    """

    def __init__(
        self,
        max_iter: int = 100,
        tol: float = 1e-7,
        prior_correct: float = 2.0,
        prior_wrong: float = 1.0,
    ) -> None:
        self.max_iter = max_iter
        self.tol = tol
        self.prior_correct = prior_correct
        self.prior_wrong = prior_wrong

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
        answers = answer_matrix(items, workers, labels, n_items, n_workers, n_classes)
        n_answers = np.bincount(workers, minlength=n_workers)
        gold = one_hot(gold_labels, n_classes)
        posteriors = (
            MajorityVote()
            .fit(
                items,
                workers,
                labels,
                n_items=n_items,
                n_workers=n_workers,
                n_classes=n_classes,
                gold_items=gold_items,
                gold_labels=gold_labels,
            )
            .probas_
        )
        previous = -np.inf
        for n_iter in range(1, self.max_iter + 1):
            self.n_iter_ = n_iter
            right = np.bincount(
                workers, weights=posteriors[items, labels], minlength=n_workers
            )
            accuracy = (right + self.prior_correct) / (
                n_answers + self.prior_correct + self.prior_wrong
            )
            accuracy = np.clip(accuracy, 1e-9, 1 - 1e-9)
            class_prior = posteriors.sum(axis=0) + 1.0
            class_prior /= class_prior.sum()
            confusions = one_coin_confusions(accuracy, n_classes)
            log_joint = answer_log_evidence(answers, np.log(confusions))
            posteriors, evidence = normalise_log(log_joint + np.log(class_prior))
            posteriors[gold_items] = gold
            if abs(evidence - previous) <= self.tol * abs(evidence):
                break
            previous = evidence
        self.skills_ = accuracy
        self.confusions_ = confusions
        self.class_prior_ = class_prior
        self.probas_ = posteriors
        self.labels_ = break_ties(posteriors, class_prior)
        logger.info("One-coin EM converged in %d rounds", self.n_iter_)
