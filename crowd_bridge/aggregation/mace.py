"""MACE: each worker is either answering with care or spamming.

D. Hovy, T. Berg-Kirkpatrick, A. Vaswani and E. Hovy, "Learning Whom to
Trust with MACE", NAACL-HLT 2013.

On each answer a worker is competent with probability ``theta_w`` and then
gives the true class; otherwise they spam, drawing a class from their own
distribution ``xi_w``. Spammers who always click the same class get
``theta`` near zero however often their click happens to be right.
Parameters are fitted by EM with Beta/Dirichlet pseudo-counts (maximum a
posteriori rather than the paper's variational Bayes).
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


class MACE(Aggregator):
    """Multi-Annotator Competence Estimation, MAP-EM version.

    ``prior_competent`` / ``prior_spam``: Beta pseudo-counts on ``theta``;
    ``prior_spam_class``: Dirichlet pseudo-count per class of ``xi``.
    Learned state: ``labels_``, ``probas_``, ``skills_`` (``theta`` per
    worker), ``spam_distributions_`` (workers x classes), ``confusions_``
    (the implied matrices), ``class_prior_`` and ``n_iter_``.
    """

    def __init__(
        self,
        max_iter: int = 100,
        tol: float = 1e-7,
        prior_competent: float = 2.0,
        prior_spam: float = 1.0,
        prior_spam_class: float = 1.0,
    ) -> None:
        self.max_iter = max_iter
        self.tol = tol
        self.prior_competent = prior_competent
        self.prior_spam = prior_spam
        self.prior_spam_class = prior_spam_class

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
        theta = np.full(n_workers, 0.8)
        spam = np.full((n_workers, n_classes), 1.0 / n_classes)
        previous = -np.inf
        for n_iter in range(1, self.max_iter + 1):
            self.n_iter_ = n_iter
            # Share of each answer explained by competence rather than spam,
            # given the current item posteriors.
            theta_a, spam_a = theta[workers], spam[workers, labels]
            competent = posteriors[items, labels] * theta_a
            competent /= np.maximum(theta_a + (1 - theta_a) * spam_a, 1e-12)
            spammed = 1.0 - competent
            theta = (
                np.bincount(workers, weights=competent, minlength=n_workers)
                + self.prior_competent
            ) / (n_answers + self.prior_competent + self.prior_spam)
            theta = np.clip(theta, 1e-6, 1 - 1e-6)
            spam_counts: np.ndarray = (
                np.bincount(
                    workers * n_classes + labels,
                    weights=spammed,
                    minlength=n_workers * n_classes,
                ).reshape(n_workers, n_classes)
                + self.prior_spam_class
            )
            spam = spam_counts / spam_counts.sum(axis=1, keepdims=True)
            confusions = np.repeat(
                (1 - theta)[:, None, None] * spam[:, None, :], n_classes, axis=1
            )
            idx = np.arange(n_classes)
            confusions[:, idx, idx] += theta[:, None]
            class_prior = posteriors.sum(axis=0) + 1.0
            class_prior /= class_prior.sum()
            log_joint = answer_log_evidence(answers, np.log(confusions))
            posteriors, evidence = normalise_log(log_joint + np.log(class_prior))
            posteriors[gold_items] = gold
            if abs(evidence - previous) <= self.tol * abs(evidence):
                break
            previous = evidence
        self.skills_ = theta
        self.spam_distributions_ = spam
        self.confusions_ = confusions
        self.class_prior_ = class_prior
        self.probas_ = posteriors
        self.labels_ = break_ties(posteriors, class_prior)
        logger.info("MACE converged in %d rounds", self.n_iter_)
