"""The model side of refinement: heads over item features, cross-fitted.

Every item's model prediction comes from a model that never saw that item's
crowd answers. Items are split into k folds; for each fold, Dawid-Skene is
run on the answers of the *other* folds only, its posteriors become soft
training targets (gold items of those folds become hard targets with a
higher weight), a head is trained on them, and it scores the held-out fold.

Heads:

* ``gbm``: scikit-learn histogram gradient boosting over the lexical and
  embedding-similarity features; strong on a few dozen numeric features.
* ``mlp``: a small torch network over the same features, trained with soft
  cross-entropy.
* ``both`` (default): the average of the two.
* ``cross-encoder``: fine-tunes the transformer itself over the two texts of
  an item (needs a GPU for real data sizes), averaged with ``gbm``.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

import numpy as np
from sklearn.ensemble import HistGradientBoostingClassifier
from threadpoolctl import threadpool_limits

from crowd_bridge.aggregation.dawid_skene import DawidSkene
from crowd_bridge.errors import ModelError
from crowd_bridge.refine.encoder import configure_torch, load_transformer

logger = logging.getLogger(__name__)

HEADS = ("gbm", "mlp", "both", "cross-encoder")


@dataclass(frozen=True)
class HeadConfig:
    """How the model is trained; see ``RefineConfig`` for the user-facing knobs."""

    head: str = "both"
    n_folds: int = 5
    gold_weight: float = 10.0
    seed: int = 0
    threads: int | None = None
    mlp_hidden: int = 64
    mlp_epochs: int = 30
    gbm_iterations: int = 200
    model_path: str | Path | None = None
    cross_epochs: int = 2
    cross_max_length: int = 128
    cross_batch_size: int = 16
    device: str | None = None


class Head(Protocol):
    def fit(self, rows: np.ndarray, targets: np.ndarray, weights: np.ndarray) -> None:
        """Train on row indices with soft targets (rows x classes) and weights."""

    def predict_proba(self, rows: np.ndarray) -> np.ndarray:
        """Rows x classes probabilities."""


class GradientBoostingHead:
    """Histogram gradient boosting; soft targets become one weighted row per class."""

    def __init__(
        self, features: np.ndarray, n_classes: int, config: HeadConfig
    ) -> None:
        # Missing values are fine for the trees, but a column with no value
        # at all breaks scikit-learn's weighted binning; it carries nothing.
        self.features = features.copy()
        self.features[:, np.isnan(self.features).all(axis=0)] = 0.0
        self.n_classes = n_classes
        self.config = config
        self._model: HistGradientBoostingClassifier | None = None
        self._seen: np.ndarray = np.arange(n_classes)

    def fit(self, rows: np.ndarray, targets: np.ndarray, weights: np.ndarray) -> None:
        # Expanding a soft target q into K rows of weight w * q_k gives the
        # same expected log-loss as training on q directly.
        row_idx = np.repeat(rows, self.n_classes)
        labels = np.tile(np.arange(self.n_classes), len(rows))
        sample_weight = (targets * weights[:, None]).ravel()
        keep = sample_weight > 1e-6
        self._seen = np.unique(labels[keep])
        self._model = HistGradientBoostingClassifier(
            max_iter=self.config.gbm_iterations,
            learning_rate=0.05,
            max_leaf_nodes=15,
            min_samples_leaf=20,
            l2_regularization=1.0,
            random_state=self.config.seed,
        )
        if len(self._seen) < 2:
            return
        # One OpenMP thread: on a few thousand rows it is as fast as two, and
        # it does not stall when other processes hold the cores (spin-waiting
        # OpenMP workers slowed small fits tenfold on a busy 2-core machine).
        with threadpool_limits(limits=1, user_api="openmp"):
            self._model.fit(
                self.features[row_idx[keep]],
                labels[keep],
                sample_weight=sample_weight[keep],
            )

    def predict_proba(self, rows: np.ndarray) -> np.ndarray:
        out = np.zeros((len(rows), self.n_classes))
        if len(self._seen) < 2 or self._model is None:
            out[:, self._seen] = 1.0 / len(self._seen)
            return out
        with threadpool_limits(limits=1, user_api="openmp"):
            predicted = self._model.predict_proba(self.features[rows])
        out[:, self._model.classes_] = predicted
        return out


class MLPHead:
    """Two-layer torch network with soft cross-entropy, on standardised features."""

    def __init__(
        self, features: np.ndarray, n_classes: int, config: HeadConfig
    ) -> None:
        filled = np.nan_to_num(features.astype(np.float32), nan=-1.0)
        mean, std = filled.mean(axis=0), filled.std(axis=0) + 1e-6
        self.features = (filled - mean) / std
        self.n_classes = n_classes
        self.config = config
        self._net: Any = None

    def fit(self, rows: np.ndarray, targets: np.ndarray, weights: np.ndarray) -> None:
        # Batches of 128 rows by a few dozen features are too small to gain
        # from intra-op threads; one thread avoids contention.
        torch = configure_torch(1, self.config.seed)
        nn = torch.nn
        generator = torch.Generator().manual_seed(self.config.seed)
        net = nn.Sequential(
            nn.Linear(self.features.shape[1], self.config.mlp_hidden),
            nn.ReLU(),
            nn.Dropout(0.2),
            nn.Linear(self.config.mlp_hidden, self.n_classes),
        )
        optimiser = torch.optim.AdamW(net.parameters(), lr=1e-3, weight_decay=1e-3)
        x = torch.from_numpy(self.features[rows])
        q = torch.from_numpy(targets.astype(np.float32))
        w = torch.from_numpy(weights.astype(np.float32))
        net.train()
        for _ in range(self.config.mlp_epochs):
            order = torch.randperm(len(rows), generator=generator)
            for start in range(0, len(rows), 128):
                batch = order[start : start + 128]
                log_p = torch.log_softmax(net(x[batch]), dim=1)
                loss = -(w[batch] * (q[batch] * log_p).sum(dim=1)).sum()
                loss = loss / w[batch].sum()
                optimiser.zero_grad()
                loss.backward()
                optimiser.step()
        net.eval()
        self._net = net

    def predict_proba(self, rows: np.ndarray) -> np.ndarray:
        import torch

        with torch.inference_mode():
            logits = self._net(torch.from_numpy(self.features[rows]))
            return torch.softmax(logits, dim=1).numpy().astype(np.float64)


class AverageHead:
    """Mean of several heads' probabilities."""

    def __init__(self, heads: Sequence[Head]) -> None:
        self.heads = list(heads)

    def fit(self, rows: np.ndarray, targets: np.ndarray, weights: np.ndarray) -> None:
        for head in self.heads:
            head.fit(rows, targets, weights)

    def predict_proba(self, rows: np.ndarray) -> np.ndarray:
        return np.mean([h.predict_proba(rows) for h in self.heads], axis=0)


class CrossEncoderHead:
    """Fine-tunes the transformer over both texts of an item, plus a linear layer.

    A fresh copy of the pretrained model is tuned for every fold, so the
    cross-fitting guarantee holds here too. Meant for a GPU; on a CPU it is
    only practical for a few hundred short items.
    """

    def __init__(
        self,
        texts: Sequence[tuple[str, str | None]],
        n_classes: int,
        config: HeadConfig,
    ) -> None:
        self.texts = list(texts)
        self.n_classes = n_classes
        self.config = config
        self._model: Any = None
        self._tokenizer: Any = None

    def _device(self) -> str:
        import torch

        if self.config.device:
            return self.config.device
        return "cuda" if torch.cuda.is_available() else "cpu"

    def _batches(self, rows: np.ndarray) -> Any:
        for start in range(0, len(rows), self.config.cross_batch_size):
            chunk = rows[start : start + self.config.cross_batch_size]
            first = [self.texts[i][0] for i in chunk]
            second = [self.texts[i][1] for i in chunk]
            pairs = None if any(s is None for s in second) else second
            yield (
                chunk,
                self._tokenizer(
                    first,
                    pairs,
                    padding=True,
                    truncation=True,
                    max_length=self.config.cross_max_length,
                    return_tensors="pt",
                ),
            )

    def fit(self, rows: np.ndarray, targets: np.ndarray, weights: np.ndarray) -> None:
        torch = configure_torch(self.config.threads, self.config.seed)
        self._tokenizer, encoder = load_transformer(self.config.model_path)
        device = self._device()
        hidden = int(encoder.config.hidden_size)
        model = _CrossEncoder(torch, encoder, hidden, self.n_classes).to(device)
        optimiser = torch.optim.AdamW(model.parameters(), lr=3e-5, weight_decay=0.01)
        q_all = torch.from_numpy(targets.astype(np.float32))
        w_all = torch.from_numpy(weights.astype(np.float32))
        position = {int(r): k for k, r in enumerate(rows)}
        rng = np.random.default_rng(self.config.seed)
        model.train()
        for epoch in range(self.config.cross_epochs):
            order = rows[rng.permutation(len(rows))]
            for chunk, batch in self._batches(order):
                index = torch.tensor([position[int(r)] for r in chunk])
                logits = model(**{k: v.to(device) for k, v in batch.items()})
                log_p = torch.log_softmax(logits, dim=1).cpu()
                w = w_all[index]
                loss = -(w * (q_all[index] * log_p).sum(dim=1)).sum() / w.sum()
                optimiser.zero_grad()
                loss.backward()
                optimiser.step()
            logger.info(
                "Cross-encoder epoch %d of %d done", epoch + 1, self.config.cross_epochs
            )
        model.eval()
        self._model = model

    def predict_proba(self, rows: np.ndarray) -> np.ndarray:
        import torch

        device = self._device()
        out = np.zeros((len(rows), self.n_classes))
        with torch.inference_mode():
            start = 0
            for chunk, batch in self._batches(rows):
                logits = self._model(**{k: v.to(device) for k, v in batch.items()})
                out[start : start + len(chunk)] = torch.softmax(logits, 1).cpu().numpy()
                start += len(chunk)
        return out


def _CrossEncoder(torch: Any, encoder: Any, hidden: int, n_classes: int) -> Any:
    """Transformer plus a linear layer on the first token's hidden state."""

    class CrossEncoder(torch.nn.Module):  # type: ignore[misc,name-defined]
        def __init__(self) -> None:
            super().__init__()
            self.encoder = encoder
            self.classifier = torch.nn.Linear(hidden, n_classes)

        def forward(self, **batch: Any) -> Any:
            state = self.encoder(**batch).last_hidden_state[:, 0]
            return self.classifier(state)

    return CrossEncoder()


def cross_fit(
    make_head: Callable[[], Head],
    item_index: np.ndarray,
    worker_index: np.ndarray,
    label_index: np.ndarray,
    n_items: int,
    n_workers: int,
    n_classes: int,
    gold_items: np.ndarray,
    gold_labels: np.ndarray,
    config: HeadConfig,
    ds_params: dict[str, Any] | None = None,
) -> np.ndarray:
    """Items x classes model predictions, each from a model blind to the item's answers.

    Training targets per fold: Dawid-Skene posteriors computed from the
    training folds' answers alone (weight 1), and gold items of the training
    folds as hard labels (weight ``config.gold_weight``). Items with neither
    answers nor gold carry no target and are only scored.
    """
    if config.n_folds < 2:
        raise ModelError("Cross-fitting needs at least two folds.")
    rng = np.random.default_rng(config.seed)
    fold_of = rng.permutation(n_items) % config.n_folds
    answered = np.bincount(item_index, minlength=n_items) > 0
    is_gold = np.zeros(n_items, dtype=bool)
    is_gold[gold_items] = True
    predictions = np.zeros((n_items, n_classes))
    for fold in range(config.n_folds):
        held_out = np.flatnonzero(fold_of == fold)
        if not len(held_out):
            continue
        in_train = fold_of != fold
        answer_mask = in_train[item_index]
        gold_mask = in_train[gold_items]
        crowd = DawidSkene(**(ds_params or {}))
        crowd.fit(
            item_index[answer_mask],
            worker_index[answer_mask],
            label_index[answer_mask],
            n_items=n_items,
            n_workers=n_workers,
            n_classes=n_classes,
            gold_items=gold_items[gold_mask],
            gold_labels=gold_labels[gold_mask],
        )
        rows = np.flatnonzero(in_train & (answered | is_gold))
        if not len(rows):
            predictions[held_out] = crowd.class_prior_
            continue
        weights = np.where(is_gold[rows], config.gold_weight, 1.0)
        head = make_head()
        head.fit(rows, crowd.probas_[rows], weights)
        predictions[held_out] = head.predict_proba(held_out)
        logger.info(
            "Fold %d of %d: trained on %d items, scored %d",
            fold + 1,
            config.n_folds,
            len(rows),
            len(held_out),
        )
    return predictions
