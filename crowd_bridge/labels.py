"""``labels aggregate``: answers CSV in, one refined label per item out.

Reads and checks the answers file (``item_id``, ``worker_id``, ``answer``,
optionally ``work_time_seconds``), an optional items file with the texts the
model reads, and an optional gold file (``item_id``, ``label``); runs the
chosen aggregator; writes ``item_id``, ``label``, ``confidence`` to the output
CSV through a temporary file renamed into place, so a reader never sees a
half-written file. Every problem with an input is reported as an
``InputDataError`` naming the file, the rows or columns, and the fix.
"""

from __future__ import annotations

import logging
import os
import tempfile
import time
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from crowd_bridge.aggregation import GLAD, MACE, DawidSkene, MajorityVote, OneCoin
from crowd_bridge.aggregation.base import Aggregator
from crowd_bridge.errors import InputDataError
from crowd_bridge.refine import RefineConfig, refine_labels

logger = logging.getLogger(__name__)

METHODS = ("refined", "dawid-skene", "majority", "one-coin", "mace", "glad")
ANSWER_COLUMNS = ("item_id", "worker_id", "answer")
OUTPUT_COLUMNS = ("item_id", "label", "confidence")


@dataclass
class AggregateSummary:
    """What ``aggregate_file`` did, for the CLI to print."""

    out_path: str
    method: str
    n_answers: int
    n_items: int
    n_workers: int
    n_gold: int
    classes: list[str]
    label_counts: dict[str, int]
    mean_confidence: float
    low_confidence_items: int
    flagged_workers: list[str] = field(default_factory=list)
    seconds: float = 0.0
    details: dict[str, Any] = field(default_factory=dict)

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def _line(row: int) -> int:
    """File line of a data row: line 1 is the header."""
    return row + 2


def _read_csv(path: Path, what: str) -> pd.DataFrame:
    if not path.is_file():
        raise InputDataError(f"The {what} file {path} does not exist.")
    if path.stat().st_size == 0:
        raise InputDataError(f"The {what} file {path} is empty; it needs a header row.")
    try:
        frame = pd.read_csv(path, dtype=str, keep_default_na=False)
    except pd.errors.EmptyDataError as exc:
        raise InputDataError(f"The {what} file {path} is empty.") from exc
    except (pd.errors.ParserError, UnicodeDecodeError) as exc:
        raise InputDataError(f"The {what} file {path} is not valid CSV: {exc}") from exc
    frame.columns = [c.strip() for c in frame.columns]
    return frame


def _require_columns(
    frame: pd.DataFrame, path: Path, needed: Sequence[str], what: str
) -> None:
    missing = [c for c in needed if c not in frame.columns]
    if missing:
        raise InputDataError(
            f"The {what} file {path} lacks the column(s) {missing}; it has "
            f"{list(frame.columns)}. Rename the columns or add them."
        )


def _rows_text(rows: np.ndarray) -> str:
    shown = ", ".join(str(_line(int(r))) for r in rows[:10])
    more = f" and {len(rows) - 10} more" if len(rows) > 10 else ""
    return f"line(s) {shown}{more}"


def read_answers(path: Path, classes: Sequence[str] | None = None) -> pd.DataFrame:
    """Answers table, checked; ids and answers stay strings."""
    frame = _read_csv(path, "answers")
    _require_columns(frame, path, ANSWER_COLUMNS, "answers")
    if frame.empty:
        raise InputDataError(f"The answers file {path} has a header but no answers.")
    for column in ANSWER_COLUMNS:
        frame[column] = frame[column].str.strip()
        blank = np.flatnonzero((frame[column] == "").to_numpy())
        if len(blank):
            raise InputDataError(
                f"The answers file {path} has an empty {column} on "
                f"{_rows_text(blank)}; fill it in or drop those rows."
            )
    duplicated = frame.duplicated(["worker_id", "item_id"], keep=False).to_numpy()
    if duplicated.any():
        rows = np.flatnonzero(duplicated)
        first = frame.iloc[rows[0]]
        raise InputDataError(
            f"The answers file {path} has more than one answer from the same worker "
            f"on the same item on {_rows_text(rows)} (e.g. worker {first['worker_id']} "
            f"on item {first['item_id']}); keep one answer per worker and item."
        )
    if classes is not None:
        outside = np.flatnonzero(~frame["answer"].isin(list(classes)).to_numpy())
        if len(outside):
            values = sorted(set(frame["answer"].iloc[outside]))[:5]
            raise InputDataError(
                f"The answers file {path} has answers {values} outside the classes "
                f"{list(classes)} on {_rows_text(outside)}; fix those answers or "
                "pass the full class list."
            )
    if "work_time_seconds" in frame.columns:
        raw = frame["work_time_seconds"].str.strip()
        seconds = pd.to_numeric(raw, errors="coerce")
        bad = np.flatnonzero(((raw != "") & seconds.isna()) | (seconds < 0))
        if len(bad):
            raise InputDataError(
                f"The answers file {path} has a work_time_seconds that is not a "
                f"non-negative number on {_rows_text(bad)}; fix or blank it."
            )
        frame["work_time_seconds"] = seconds
    return frame


def read_items(path: Path, text_columns: Sequence[str]) -> dict[str, tuple[str, ...]]:
    """Item id to its texts, in the order of ``text_columns``."""
    frame = _read_csv(path, "items")
    if not text_columns:
        raise InputDataError(
            f"No text columns were named for the items file {path}; pass them, "
            "e.g. --text-columns left_name,right_name."
        )
    _require_columns(frame, path, ["item_id", *text_columns], "items")
    frame["item_id"] = frame["item_id"].str.strip()
    duplicated = np.flatnonzero(frame["item_id"].duplicated(keep=False).to_numpy())
    if len(duplicated):
        raise InputDataError(
            f"The items file {path} lists the same item_id more than once on "
            f"{_rows_text(duplicated)}; keep one row per item."
        )
    texts = frame[list(text_columns)].to_numpy()
    return {item: tuple(row) for item, row in zip(frame["item_id"], texts, strict=True)}


def read_gold(path: Path, classes: Sequence[str] | None) -> dict[str, str]:
    """Gold items: item id to its known label."""
    frame = _read_csv(path, "gold")
    _require_columns(frame, path, ["item_id", "label"], "gold")
    frame["item_id"] = frame["item_id"].str.strip()
    frame["label"] = frame["label"].str.strip()
    conflicting = frame.groupby("item_id")["label"].transform("nunique") > 1
    if conflicting.any():
        rows = np.flatnonzero(conflicting.to_numpy())
        raise InputDataError(
            f"The gold file {path} gives different labels to the same item on "
            f"{_rows_text(rows)}; keep one label per gold item."
        )
    if classes is not None:
        outside = np.flatnonzero(~frame["label"].isin(list(classes)).to_numpy())
        if len(outside):
            raise InputDataError(
                f"The gold file {path} has labels outside the classes {list(classes)} "
                f"on {_rows_text(outside)}; fix those labels."
            )
    return dict(zip(frame["item_id"], frame["label"], strict=True))


def _aggregator(method: str) -> Aggregator:
    return {
        "dawid-skene": DawidSkene,
        "majority": MajorityVote,
        "one-coin": OneCoin,
        "mace": MACE,
        "glad": GLAD,
    }[method]()


def write_atomically(frame: pd.DataFrame, out_path: Path) -> None:
    """Write CSV to a temporary file beside ``out_path``, then rename it there."""
    out_path.parent.mkdir(parents=True, exist_ok=True)
    handle, temp_name = tempfile.mkstemp(
        prefix=f".{out_path.name}.", suffix=".tmp", dir=out_path.parent
    )
    try:
        with os.fdopen(handle, "w", newline="") as stream:
            frame.to_csv(stream, index=False)
            stream.flush()
            os.fsync(stream.fileno())
        os.replace(temp_name, out_path)
    except BaseException:
        Path(temp_name).unlink(missing_ok=True)
        raise


def aggregate_file(
    answers_path: str | Path,
    out_path: str | Path,
    items_path: str | Path | None = None,
    text_columns: Sequence[str] | None = None,
    gold_path: str | Path | None = None,
    method: str = "refined",
    *,
    classes: Sequence[str] | None = None,
    config: RefineConfig | None = None,
    workers_out_path: str | Path | None = None,
    low_confidence: float = 0.8,
) -> AggregateSummary:
    """Aggregate an answers CSV into ``item_id,label,confidence`` at ``out_path``.

    ``method`` is one of ``METHODS``. ``refined`` uses the items' texts when
    ``items_path`` and ``text_columns`` are given and otherwise falls back to
    the crowd alone (Dawid-Skene with gold clamped). ``classes`` fixes the
    class set (answers outside it are an error); without it the distinct
    answers are the classes. ``workers_out_path``, if given, receives the
    worker scores (refined method only).
    """
    started = time.perf_counter()
    if method not in METHODS:
        raise InputDataError(f"Unknown method {method!r}; use one of {list(METHODS)}.")
    answers_file, out_file = Path(answers_path), Path(out_path)
    class_list = [str(c) for c in classes] if classes is not None else None
    answers = read_answers(answers_file, class_list)
    gold = read_gold(Path(gold_path), class_list) if gold_path else None
    if class_list is None:
        seen = set(answers["answer"]) | set((gold or {}).values())
        class_list = sorted(seen)
    items = None
    if items_path is not None:
        items = read_items(Path(items_path), list(text_columns or []))
    elif text_columns:
        raise InputDataError("Text columns were given without an items file.")

    details: dict[str, Any] = {}
    flagged: list[str] = []
    if method == "refined":
        result = refine_labels(
            answers, items, gold, class_list, config or RefineConfig()
        )
        output = result.labels[list(OUTPUT_COLUMNS)]
        details = {k: v for k, v in result.info.items() if k != "method"}
        used = result.info["method"]
        workers = result.workers
        bad = workers["constant"] | workers["random"] | workers["adversarial"]
        bad |= workers["copied_from"] != ""
        flagged = workers.loc[bad, "worker_id"].astype(str).tolist()
        if workers_out_path:
            write_atomically(workers, Path(workers_out_path))
    else:
        model = _aggregator(method).fit_frame(answers, class_list, gold)
        output = model.result_frame()
        used = method
    write_atomically(output, out_file)
    counts = output["label"].astype(str).value_counts()
    summary = AggregateSummary(
        out_path=str(out_file),
        method=used,
        n_answers=len(answers),
        n_items=len(output),
        n_workers=int(answers["worker_id"].nunique()),
        n_gold=len(gold or {}),
        classes=list(class_list),
        label_counts={str(k): int(v) for k, v in counts.items()},
        mean_confidence=float(output["confidence"].mean()),
        low_confidence_items=int((output["confidence"] < low_confidence).sum()),
        flagged_workers=flagged,
        seconds=time.perf_counter() - started,
        details=details,
    )
    logger.info(
        "Aggregated %d answers into %d labels with %s in %.1f s",
        summary.n_answers,
        summary.n_items,
        used,
        summary.seconds,
    )
    return summary


__all__ = [
    "METHODS",
    "AggregateSummary",
    "aggregate_file",
    "read_answers",
    "read_gold",
    "read_items",
    "write_atomically",
]
