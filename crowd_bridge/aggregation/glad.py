"""GLAD: worker ability and item difficulty together.

J. Whitehill, P. Ruvolo, T. Wu, J. Bergsma and J. Movellan, "Whose Vote
Should Count More: Optimal Integration of Labels from Labelers of Unknown
Expertise", NIPS 2009.

A worker with ability ``alpha_w`` answers item ``i`` (inverse difficulty
``beta_i = exp(b_i) > 0``) correctly with probability
``sigmoid(alpha_w * beta_i)``, and otherwise picks one of the other classes
evenly. Negative ability means the worker is systematically wrong. The
M-step maximises the expected log-likelihood with Gaussian priors on
``alpha`` and ``b`` by L-BFGS, with an analytic gradient.
"""

from __future__ import annotations

import logging

import numpy as np
from scipy.optimize import minimize
from scipy.special import expit, log_expit

from crowd_bridge.aggregation.base import Aggregator, break_ties, normalise_log, one_hot
from crowd_bridge.aggregation.majority import MajorityVote

logger = logging.getLogger(__name__)


class GLAD(Aggregator):
    """GLAD by EM. Learned state: ``labels_``, ``probas_``, ``skills_`` (alpha),
    ``difficulties_`` (beta, larger is easier), ``class_prior_``, ``n_iter_``.

    ``alpha_prior`` and ``b_prior`` are the means of unit-variance Gaussian
    priors on ability and log inverse difficulty. ``learn_class_prior``:
    the paper keeps the class prior fixed (uniform), and so does the default;
    learning it lets a skewed campaign collapse onto its majority class,
    because with errors spread evenly a worker who always clicks the frequent
    class looks able.
    """

    def __init__(
        self,
        max_iter: int = 50,
        tol: float = 1e-6,
        alpha_prior: float = 1.0,
        b_prior: float = 1.0,
        m_step_iter: int = 25,
        learn_class_prior: bool = False,
    ) -> None:
        self.max_iter = max_iter
        self.tol = tol
        self.alpha_prior = alpha_prior
        self.b_prior = b_prior
        self.m_step_iter = m_step_iter
        self.learn_class_prior = learn_class_prior

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
        wrong_share = np.log(max(n_classes - 1, 1))
        params = np.r_[
            np.full(n_workers, self.alpha_prior), np.full(n_items, self.b_prior)
        ]
        previous = -np.inf
        for n_iter in range(1, self.max_iter + 1):
            self.n_iter_ = n_iter
            class_prior = np.full(n_classes, 1.0 / n_classes)
            if self.learn_class_prior:
                class_prior = posteriors.sum(axis=0) + 1.0
                class_prior /= class_prior.sum()
            right = posteriors[items, labels]
            fitted = minimize(
                self._negative_q,
                params,
                args=(items, workers, right, n_workers, wrong_share),
                jac=True,
                method="L-BFGS-B",
                options={"maxiter": self.m_step_iter},
            )
            params = fitted.x
            alpha, b = params[:n_workers], params[n_workers:]
            x = alpha[workers] * np.exp(b[items])
            log_right = log_expit(x)
            log_wrong = log_expit(-x) - wrong_share
            # Every answer adds log_wrong to all classes and, to the class it
            # names, the difference: two bincounts instead of a dense tensor.
            log_joint = np.repeat(
                np.bincount(items, weights=log_wrong, minlength=n_items)[:, None],
                n_classes,
                axis=1,
            )
            log_joint += np.bincount(
                items * n_classes + labels,
                weights=log_right - log_wrong,
                minlength=n_items * n_classes,
            ).reshape(n_items, n_classes)
            posteriors, evidence = normalise_log(log_joint + np.log(class_prior))
            posteriors[gold_items] = gold
            if abs(evidence - previous) <= self.tol * abs(evidence):
                break
            previous = evidence
        self.skills_ = params[:n_workers]
        self.difficulties_ = np.exp(params[n_workers:])
        self.class_prior_ = class_prior
        self.probas_ = posteriors
        self.labels_ = break_ties(posteriors, class_prior)
        logger.info("GLAD converged in %d rounds", self.n_iter_)

    def _negative_q(
        self,
        params: np.ndarray,
        items: np.ndarray,
        workers: np.ndarray,
        right: np.ndarray,
        n_workers: int,
        wrong_share: float,
    ) -> tuple[float, np.ndarray]:
        """Minus the expected complete log-likelihood plus priors, and its gradient."""
        alpha, b = params[:n_workers], params[n_workers:]
        beta = np.exp(b)
        x = alpha[workers] * beta[items]
        q = right * log_expit(x) + (1 - right) * (log_expit(-x) - wrong_share)
        q_total = q.sum() - 0.5 * ((alpha - self.alpha_prior) ** 2).sum()
        q_total -= 0.5 * ((b - self.b_prior) ** 2).sum()
        dx = right - expit(x)
        grad_alpha = np.bincount(
            workers, weights=dx * beta[items], minlength=n_workers
        ) - (alpha - self.alpha_prior)
        grad_b = np.bincount(items, weights=dx * x, minlength=len(b)) - (
            b - self.b_prior
        )
        return -float(q_total), -np.r_[grad_alpha, grad_b]
