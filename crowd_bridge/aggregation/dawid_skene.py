"""Dawid-Skene: one confusion matrix per worker, learned by EM.

A. P. Dawid and A. M. Skene, "Maximum Likelihood Estimation of Observer
Error-Rates Using the EM Algorithm", Applied Statistics 28(1), 1979.

This version puts a Dirichlet prior on every row of every confusion matrix
and on the class prior (maximum a posteriori EM), so a worker seen on three
items is shrunk towards "better than chance" instead of being judged perfect
or useless from so little evidence. Gold items are clamped to their known
class, which anchors the classes and scores the workers who answered them.
"""

from __future__ import annotations

import logging

import numpy as np
import scipy.sparse as sp

from crowd_bridge.aggregation.base import (
    Aggregator,
    answer_matrix,
    break_ties,
    normalise_log,
    one_hot,
)
from crowd_bridge.aggregation.majority import MajorityVote

logger = logging.getLogger(__name__)


def confusion_prior(n_classes: int, correct: float, wrong: float) -> np.ndarray:
    """Pseudo-counts for one confusion matrix: ``correct`` on the diagonal."""
    prior = np.full((n_classes, n_classes), float(wrong))
    np.fill_diagonal(prior, float(correct))
    return prior


def expected_confusions(
    answers_t: sp.spmatrix, posteriors: np.ndarray, n_workers: int
) -> np.ndarray:
    """Soft confusion counts ``[worker, true class, answered class]``.

    ``answers_t`` is ``answer_matrix(...).T``, left in CSC form on purpose:
    its product walks the items in order and scatters into the small
    (worker, label) table, about five times faster than converting it to
    CSR, whose product would gather posteriors at random. One sparse product
    sums each worker's answers weighted by the posteriors of the items they
    were given.
    """
    n_classes = posteriors.shape[1]
    flat = np.asarray(answers_t @ posteriors)
    return flat.reshape(n_workers, n_classes, n_classes).transpose(0, 2, 1)


def answer_log_evidence(
    answers: sp.csr_matrix, log_confusions: np.ndarray
) -> np.ndarray:
    """Items x classes sum of ``log P(answer | true class)`` over item answers."""
    n_workers, n_classes, _ = log_confusions.shape
    table = log_confusions.transpose(0, 2, 1).reshape(n_workers * n_classes, n_classes)
    return np.asarray(answers @ table)


class DawidSkene(Aggregator):
    """Dawid-Skene with Dirichlet priors and clamped gold items.

    Parameters
    ----------
    max_iter:
        Upper bound on EM rounds.
    tol:
        Stop when the log posterior improves by less than this fraction.
    prior_correct, prior_wrong:
        Pseudo-counts added to every confusion row: ``prior_correct`` on the
        diagonal, ``prior_wrong`` elsewhere. The defaults say "a new worker
        is probably better than chance" with the weight of about three
        answers; zero for both gives the classic maximum-likelihood EM.
    prior_class:
        Pseudo-count added to every class of the class prior.

    Learned state: ``labels_``, ``probas_``, ``confusions_`` (workers x true
    class x answered class, rows sum to one), ``class_prior_``, ``n_iter_``
    and ``log_posterior_``.
    """

    def __init__(
        self,
        max_iter: int = 100,
        tol: float = 1e-7,
        prior_correct: float = 2.0,
        prior_wrong: float = 1.0,
        prior_class: float = 1.0,
    ) -> None:
        self.max_iter = max_iter
        self.tol = tol
        self.prior_correct = prior_correct
        self.prior_wrong = prior_wrong
        self.prior_class = prior_class

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
        answers_t = answers.T
        prior = confusion_prior(n_classes, self.prior_correct, self.prior_wrong)
        gold = one_hot(gold_labels, n_classes)

        # Start from the vote shares: EM from there reaches the same optimum
        # as crowd-kit's and needs few rounds when workers mostly agree.
        vote = MajorityVote().fit(
            items,
            workers,
            labels,
            n_items=n_items,
            n_workers=n_workers,
            n_classes=n_classes,
            gold_items=gold_items,
            gold_labels=gold_labels,
        )
        posteriors = vote.probas_
        previous = -np.inf
        objective = -np.inf
        for n_iter in range(1, self.max_iter + 1):
            self.n_iter_ = n_iter
            confusions, class_prior = self._m_step(
                answers_t, posteriors, n_workers, prior
            )
            log_conf = np.log(confusions)
            log_joint = answer_log_evidence(answers, log_conf) + np.log(class_prior)
            posteriors, evidence = normalise_log(log_joint)
            posteriors[gold_items] = gold
            objective = (
                evidence
                + float((prior * log_conf).sum())
                + self.prior_class * float(np.log(class_prior).sum())
            )
            if abs(objective - previous) <= self.tol * abs(objective):
                break
            previous = objective
        self.confusions_ = confusions
        self.class_prior_ = class_prior
        self.probas_ = posteriors
        self.labels_ = break_ties(posteriors, class_prior)
        self.log_posterior_ = objective
        logger.info(
            "Dawid-Skene converged in %d rounds over %d answers from %d workers",
            self.n_iter_,
            len(items),
            n_workers,
        )

    def _m_step(
        self,
        answers_t: sp.spmatrix,
        posteriors: np.ndarray,
        n_workers: int,
        prior: np.ndarray,
    ) -> tuple[np.ndarray, np.ndarray]:
        counts = expected_confusions(answers_t, posteriors, n_workers) + prior
        counts = np.maximum(counts, 1e-12)
        confusions = counts / counts.sum(axis=2, keepdims=True)
        class_counts = posteriors.sum(axis=0) + self.prior_class
        class_counts = np.maximum(class_counts, 1e-12)
        return confusions, class_counts / class_counts.sum()
