"""One posterior per item from the crowd's answers and the model's prediction.

Two stages:

1. Joint EM. The model joins the workers as one more annotator: its
   "answer" on an item is the bin its cross-fitted prediction falls into
   (predicted class x confidence band), and its confusion matrix over those
   bins is estimated in the same EM as the workers' Dawid-Skene confusion
   matrices. That calibrates the model against the crowd without trusting
   its raw probabilities. Without (enough) gold items this is the answer.
2. Weights from gold. Three answers per item are not three independent
   witnesses (the pairs that fool one worker tend to fool the next) and the
   crowd-derived calibration inherits the crowd's tilt towards one class.
   With gold items, the posterior becomes
   ``softmax(a * crowd_evidence + b * log model_proba + class_offset)`` with
   ``a``, ``b`` and the offsets fitted by maximum likelihood of the gold
   labels. The model's predictions for gold items are cross-fitted, so this
   is an honest test of the model; the crowd's evidence on gold items comes
   from confusion matrices that saw those gold labels, which, if anything,
   flatters the crowd.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

import numpy as np
import scipy.sparse as sp
from scipy.optimize import minimize
from scipy.special import log_softmax

from crowd_bridge.aggregation.base import normalise_log, one_hot
from crowd_bridge.aggregation.dawid_skene import (
    answer_log_evidence,
    confusion_prior,
    expected_confusions,
)

logger = logging.getLogger(__name__)

MIN_GOLD_FOR_WEIGHTS = 30


@dataclass(frozen=True)
class CombinedPosterior:
    """Result of the joint EM over workers and the model.

    ``probas``: items x classes posterior. ``confusions``: workers x true x
    answered class. ``model_confusion``: classes x model bins.
    ``crowd_weight``, ``model_weight`` and ``class_offset``: the stage-two
    parameters (1, 1 and zeros when not fitted). ``n_iter``: EM rounds run.
    """

    probas: np.ndarray
    confusions: np.ndarray
    class_prior: np.ndarray
    model_confusion: np.ndarray
    model_bins: np.ndarray
    crowd_weight: float
    model_weight: float
    class_offset: np.ndarray
    n_iter: int


def model_bins(model_probas: np.ndarray, bands: int) -> np.ndarray:
    """Bin per item: predicted class times ``bands`` confidence quantile bands.

    Quantiles are taken within each predicted class so every bin holds
    items, however skewed the classes are.
    """
    n_items, n_classes = model_probas.shape
    predicted = model_probas.argmax(axis=1)
    confidence = model_probas.max(axis=1)
    band = np.zeros(n_items, dtype=np.int64)
    for k in range(n_classes):
        members = predicted == k
        if members.sum() < 2 or bands < 2:
            continue
        edges = np.quantile(confidence[members], np.linspace(0, 1, bands + 1)[1:-1])
        band[members] = np.searchsorted(edges, confidence[members], side="right")
    return predicted * bands + np.minimum(band, bands - 1)


def combine(
    answers: sp.csr_matrix,
    n_workers: int,
    model_probas: np.ndarray,
    *,
    gold_items: np.ndarray,
    gold_labels: np.ndarray,
    bands: int = 5,
    prior_correct: float = 2.0,
    prior_wrong: float = 1.0,
    max_iter: int = 100,
    tol: float = 1e-6,
    fit_weights: bool = True,
) -> CombinedPosterior:
    """Posterior per item from worker answers and the model (see module doc).

    ``answers`` is the items x (worker, label) matrix of ``answer_matrix``;
    ``model_probas`` the cross-fitted items x classes model prediction.
    Weights are fitted only with ``fit_weights`` and at least
    ``MIN_GOLD_FOR_WEIGHTS`` gold items covering two classes.
    """
    n_items, n_classes = model_probas.shape
    bins = model_bins(model_probas, bands)
    n_bins = n_classes * bands
    bin_matrix = sp.csr_matrix(
        (np.ones(n_items), (np.arange(n_items), bins)), shape=(n_items, n_bins)
    )
    answers_t = answers.T
    prior = confusion_prior(n_classes, prior_correct, prior_wrong)
    # Half a pseudo-count per cell keeps empty bins from giving log(0).
    bin_prior = np.full((n_classes, n_bins), 0.5)
    gold = one_hot(gold_labels, n_classes)

    # Stage 1: joint EM, starting from the model's own prediction.
    posteriors = model_probas.copy()
    posteriors[gold_items] = gold
    rounds = 0
    while rounds < max_iter:
        rounds += 1
        counts = expected_confusions(answers_t, posteriors, n_workers) + prior
        confusions = counts / counts.sum(axis=2, keepdims=True)
        model_counts = np.asarray(posteriors.T @ bin_matrix) + bin_prior
        model_conf = model_counts / model_counts.sum(axis=1, keepdims=True)
        class_prior = posteriors.sum(axis=0) + 1.0
        class_prior /= class_prior.sum()
        crowd_e = answer_log_evidence(answers, np.log(confusions))
        log_joint = crowd_e + np.log(model_conf[:, bins].T) + np.log(class_prior)
        updated, _ = normalise_log(log_joint)
        updated[gold_items] = gold
        change = float(np.abs(updated - posteriors).max())
        posteriors = updated
        if change < tol:
            break
    logger.info("Joint EM of crowd and model ran %d rounds", rounds)

    # Stage 2: weigh the two sources on the gold items.
    crowd_w, model_w, bias = 1.0, 1.0, np.zeros(n_classes)
    if fit_weights and _enough_gold(gold_labels, n_classes):
        # The raw log-probabilities, not the bins, carry the model's ranking
        # within a bin; gold items say how far to trust them.
        model_e = np.log(np.clip(model_probas, 1e-6, 1.0))
        crowd_w, model_w, bias = _fit_weights(
            crowd_e[gold_items], model_e[gold_items], gold_labels
        )
        posteriors, _ = normalise_log(crowd_w * crowd_e + model_w * model_e + bias)
        posteriors[gold_items] = gold
        logger.info(
            "Evidence weights fitted on %d gold items: crowd %.2f, model %.2f",
            len(gold_items),
            crowd_w,
            model_w,
        )
    return CombinedPosterior(
        probas=posteriors,
        confusions=confusions,
        class_prior=class_prior,
        model_confusion=model_conf,
        model_bins=bins,
        crowd_weight=crowd_w,
        model_weight=model_w,
        class_offset=bias,
        n_iter=rounds,
    )


def _enough_gold(gold_labels: np.ndarray, n_classes: int) -> bool:
    """Weights are only fitted on enough gold items covering two classes."""
    return len(gold_labels) >= MIN_GOLD_FOR_WEIGHTS and len(np.unique(gold_labels)) > 1


def _fit_weights(
    crowd_e: np.ndarray,
    model_e: np.ndarray,
    labels: np.ndarray,
) -> tuple[float, float, np.ndarray]:
    """Crowd and model weights and class offsets maximising the gold labels' likelihood.

    The class offsets correct a shared tilt: when workers tend to miss one
    class, the posteriors that calibrate the model's bins inherit that tilt.
    A weak Gaussian pull towards (1, 1, 0) keeps a few hundred gold items from
    pushing any parameter to an extreme.
    """
    rows = np.arange(len(labels))
    n_classes = crowd_e.shape[1]
    start = np.r_[1.0, 1.0, np.zeros(n_classes)]

    def loss(w: np.ndarray) -> float:
        scores = w[0] * crowd_e + w[1] * model_e + w[2:]
        nll = -float(log_softmax(scores, axis=1)[rows, labels].sum())
        return nll + 0.5 * float(((w - start) ** 2).sum())

    bounds = [(0.0, 5.0), (0.05, 5.0)] + [(-10.0, 10.0)] * n_classes
    fitted = minimize(loss, x0=start, method="L-BFGS-B", bounds=bounds)
    bias = fitted.x[2:] - fitted.x[2:].mean()
    return float(fitted.x[0]), float(fitted.x[1]), bias
