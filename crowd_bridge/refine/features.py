"""Lexical features of an item's texts, above all of a pair of records.

Whether two product records describe the same product hinges on model
numbers and codes ("KX-TG4321B" against "KXTG4321B", but not "TH50PZ80U"
against "TH50PZ85U"), which sentence embeddings blur. These features look at
characters instead: character n-gram TF-IDF cosine per field, code tokens
found on both sides (after removing dashes and case), numbers, prices, and
how an item compares with the other candidate pairs that share one of its
records (a product usually matches at most one record of the other shop).

A pair item has ``2 * k`` texts: ``k`` fields of the left record followed by
the same ``k`` fields of the right record. Nothing here is specific to one
data set; field names only label the feature columns.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Sequence
from difflib import SequenceMatcher

import numpy as np
import pandas as pd
import scipy.sparse as sp
from sklearn.decomposition import TruncatedSVD
from sklearn.feature_extraction.text import TfidfVectorizer
from sklearn.preprocessing import normalize

logger = logging.getLogger(__name__)

_TOKEN = re.compile(r"[A-Za-z0-9][A-Za-z0-9\-/.]*[A-Za-z0-9]|[A-Za-z0-9]")
_PRICE = re.compile(r"\$\s*([0-9][0-9,]*(?:\.[0-9]+)?)")
_NUMBER_ONLY = re.compile(r"^\s*\$?\s*([0-9][0-9,]*(?:\.[0-9]+)?)\s*$")
_NOT_ALNUM = re.compile(r"[^a-z0-9]")
_MIN_CODE = 4


def codes_of(text: str) -> set[str]:
    """Model numbers and codes: tokens mixing letters and digits, or long numbers.

    Separators inside a token are dropped and case folded, so "DSC-W170" and
    "dscw170" are the same code.
    """
    found = set()
    for token in _TOKEN.findall(text):
        code = _NOT_ALNUM.sub("", token.lower())
        if len(code) < _MIN_CODE:
            continue
        has_digit = any(c.isdigit() for c in code)
        has_alpha = any(c.isalpha() for c in code)
        if (has_digit and has_alpha) or (has_digit and len(code) >= 5):
            found.add(code)
    return found


def numbers_of(text: str) -> set[str]:
    """Plain numbers (sizes, capacities, wattages) as strings."""
    return set(re.findall(r"\d+(?:\.\d+)?", text.replace(",", "")))


def price_of(fields: Sequence[str]) -> float:
    """First price in the record: a ``$`` amount, or a field that is only a number."""
    for text in fields:
        match = _NUMBER_ONLY.match(text) or _PRICE.search(text)
        if match:
            try:
                value = float(match.group(1).replace(",", ""))
            except ValueError:
                continue
            if value > 0:
                return value
    return float("nan")


def _squash(text: str) -> str:
    return _NOT_ALNUM.sub("", text.lower())


def _jaccard(a: set[str], b: set[str]) -> float:
    if not a and not b:
        return 0.0
    return len(a & b) / len(a | b)


def _tfidf_rows(analyzer: str, distinct: list[str]) -> sp.csr_matrix | None:
    """L2-normalised TF-IDF rows of the distinct texts; None if all are empty."""
    kwargs: dict[str, object] = {"sublinear_tf": True, "lowercase": True}
    if analyzer == "char":
        kwargs.update(analyzer="char_wb", ngram_range=(2, 5), max_features=200_000)
    else:
        kwargs.update(analyzer="word", token_pattern=r"[A-Za-z0-9][A-Za-z0-9\-]*")
    if not any(t.strip() for t in distinct):
        return None
    try:
        rows = TfidfVectorizer(**kwargs).fit_transform(distinct)
    except ValueError:  # only stop words or punctuation
        return None
    return normalize(rows).tocsr()


def _row_cosine(
    rows: sp.csr_matrix, position: dict[str, int], left: list[str], right: list[str]
) -> np.ndarray:
    """Cosine of each left text with its right text; empty texts give zero."""
    a = rows[[position[t] for t in left]]
    b = rows[[position[t] for t in right]]
    return np.asarray(a.multiply(b).sum(axis=1)).ravel()


class _TextFacts:
    """Codes, numbers and squashed form of each distinct text, computed once."""

    def __init__(self) -> None:
        self._facts: dict[str, tuple[set[str], set[str], str, set[str]]] = {}

    def __call__(self, text: str) -> tuple[set[str], set[str], str, set[str]]:
        facts = self._facts.get(text)
        if facts is None:
            words = set(_TOKEN.findall(text.lower()))
            facts = (codes_of(text), numbers_of(text), _squash(text), words)
            self._facts[text] = facts
        return facts


def _code_features(
    codes_l: set[str], codes_r: set[str], squash_l: str, squash_r: str
) -> list[float]:
    """Shared codes, codes of one side found in the other, nearest code similarity."""
    shared = codes_l & codes_r
    l_in_r = [c for c in codes_l if c in squash_r]
    r_in_l = [c for c in codes_r if c in squash_l]
    longest = max((len(c) for c in [*l_in_r, *r_in_l]), default=0)
    # How close the best pair of distinct codes is tells "same family, other
    # model" (TH50PZ80U vs TH50PZ85U) apart from unrelated products.
    near = 0.0
    for a in codes_l - shared:
        for b in codes_r - shared:
            if abs(len(a) - len(b)) <= 3 and a[:2] == b[:2]:
                near = max(near, SequenceMatcher(None, a, b).ratio())
    return [
        float(len(shared)),
        _jaccard(codes_l, codes_r),
        len(l_in_r) / len(codes_l) if codes_l else 0.0,
        len(r_in_l) / len(codes_r) if codes_r else 0.0,
        float(longest),
        near,
        float(bool(codes_l)) + float(bool(codes_r)),
    ]


_CODE_COLUMNS = (
    "codes_shared",
    "codes_jaccard",
    "codes_left_in_right",
    "codes_right_in_left",
    "code_match_length",
    "code_near_miss",
    "codes_present",
)


def pair_features(
    left: Sequence[Sequence[str]],
    right: Sequence[Sequence[str]],
    field_names: Sequence[str] | None = None,
) -> pd.DataFrame:
    """Lexical comparison of each left record with its right record.

    ``left[i]`` and ``right[i]`` are the fields of the two records of item
    ``i``, in the same field order. Returns one row per item; every column
    is a number and missing texts give zeros, never NaN (except the price
    ratio, which is NaN when either price is unknown).
    """
    n_items = len(left)
    n_fields = len(left[0]) if n_items else 0
    names = list(field_names) if field_names else [f"f{j}" for j in range(n_fields)]
    columns: dict[str, np.ndarray] = {}
    full_left = [" ".join(f for f in rec if f) for rec in left]
    full_right = [" ".join(f for f in rec if f) for rec in right]
    fields = [
        (names[j], [r[j] for r in left], [r[j] for r in right]) for j in range(n_fields)
    ]
    fields.append(("all", full_left, full_right))

    # One vectoriser per field, fitted on the distinct texts of both sides,
    # so a record repeated across many pairs neither skews document
    # frequencies nor gets vectorised twice.
    for name, lt, rt in fields:
        distinct = list(dict.fromkeys(lt + rt))
        position = {text: k for k, text in enumerate(distinct)}
        for analyzer in ("char", "word"):
            rows = _tfidf_rows(analyzer, distinct)
            key = f"{analyzer}_cos_{name}"
            columns[key] = (
                np.zeros(n_items)
                if rows is None
                else _row_cosine(rows, position, lt, rt)
            )
        empty = [not a.strip() or not b.strip() for a, b in zip(lt, rt, strict=True)]
        columns[f"missing_{name}"] = np.asarray(empty, dtype=float)

    facts = _TextFacts()
    code_rows = np.zeros((n_items, len(_CODE_COLUMNS)))
    numbers = np.zeros(n_items)
    words = np.zeros(n_items)
    for i, (a, b) in enumerate(zip(full_left, full_right, strict=True)):
        codes_l, numbers_l, squash_l, words_l = facts(a)
        codes_r, numbers_r, squash_r, words_r = facts(b)
        code_rows[i] = _code_features(codes_l, codes_r, squash_l, squash_r)
        numbers[i] = _jaccard(numbers_l, numbers_r)
        words[i] = _jaccard(words_l, words_r)
    for k, key in enumerate(_CODE_COLUMNS):
        columns[key] = code_rows[:, k]
    columns["numbers_jaccard"] = numbers
    columns["words_jaccard"] = words
    price_l = np.array([price_of(r) for r in left])
    price_r = np.array([price_of(r) for r in right])
    columns["price_log_ratio"] = np.abs(np.log(price_l) - np.log(price_r))
    columns["length_log_ratio"] = np.abs(
        np.log1p([len(t) for t in full_left]) - np.log1p([len(t) for t in full_right])
    )
    frame = pd.DataFrame(columns)
    logger.info("Computed %d lexical features for %d pairs", frame.shape[1], n_items)
    return frame


def group_relative(
    scores: np.ndarray, groups: Sequence[str], name: str
) -> dict[str, np.ndarray]:
    """How an item's score compares with the other items sharing a record.

    For each item: its score minus the best score among the *other* items of
    its group (1.0 for an item alone in its group), and its rank in the group
    (0 = best). A candidate pair that is clearly the best for its left record
    is far more likely a match than an equally similar pair that loses to a
    sibling.
    """
    codes, _ = pd.factorize(pd.Index(groups))
    n_groups = codes.max() + 1 if len(codes) else 0
    order = np.lexsort((-scores, codes))
    sorted_codes = codes[order]
    first = np.r_[True, sorted_codes[1:] != sorted_codes[:-1]]
    start = np.flatnonzero(first)
    size = np.diff(np.r_[start, len(order)])
    top = np.full(n_groups, -np.inf)
    second = np.full(n_groups, -np.inf)
    top[sorted_codes[start]] = scores[order[start]]
    has_second = size > 1
    second[sorted_codes[start[has_second]]] = scores[order[start[has_second] + 1]]
    own_top, own_second = top[codes], second[codes]
    best_other = np.where(scores >= own_top, own_second, own_top)
    margin = np.where(np.isfinite(best_other), scores - best_other, 1.0)
    rank_sorted = np.arange(len(order)) - np.repeat(start, size)
    rank = np.empty(len(order))
    rank[order] = rank_sorted
    return {f"{name}_margin": margin, f"{name}_rank": rank}


def single_features(texts: Sequence[Sequence[str]], dims: int = 32) -> pd.DataFrame:
    """Features of single-text items: shape, and a low-rank character n-gram view.

    The truncated SVD of character n-gram TF-IDF gives the head the words and
    spellings without needing the transformer, and keeps the column count
    small enough for a few hundred noisy targets.
    """
    full = [" ".join(f for f in rec if f) for rec in texts]
    frame = pd.DataFrame(
        {
            "length_log": np.log1p([len(t) for t in full]),
            "words_log": np.log1p([len(t.split()) for t in full]),
            "digits_share": [
                sum(c.isdigit() for c in t) / max(len(t), 1) for t in full
            ],
            "codes_count": [float(len(codes_of(t))) for t in full],
        }
    )
    distinct = list(dict.fromkeys(full))
    rows = _tfidf_rows("char", distinct)
    k = min(dims, len(distinct) - 1, rows.shape[1] - 1) if rows is not None else 0
    if k >= 1:
        reduced = TruncatedSVD(n_components=k, random_state=0).fit_transform(rows)
        position = {text: j for j, text in enumerate(distinct)}
        picked = reduced[[position[t] for t in full]]
        for j in range(k):
            frame[f"text_svd_{j}"] = picked[:, j]
    return frame
