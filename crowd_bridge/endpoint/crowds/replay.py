"""A crowd of the real workers behind a recorded MTurk labelling job.

The recording is a CSV of answers (pair_id, worker_id, hit_id,
assignment_id, answer). When a HIT appears, the recorded workers who
answered most of its items come first, so a campaign that groups items as
the original HITs did gets back nearly only real answers. Items a worker
never answered are simulated from that worker's confusion matrix, measured
against the majority of the other workers on each item (leave-one-out, with
Laplace smoothing); items unknown to the recording are drawn from the
worker's overall answer rates.
"""

from __future__ import annotations

import csv
import hashlib
import logging
import math
import random
import re
from collections import Counter, defaultdict
from collections.abc import Iterable, Iterator
from pathlib import Path

from crowd_bridge.errors import InputDataError

from .base import Answers, HitView, ScheduledCrowd, WorkerProfile, pick

logger = logging.getLogger(__name__)

REQUIRED_COLUMNS = ("pair_id", "worker_id", "answer")
_MTURK_SAFE = re.compile(r"^[A-Z0-9]+$")
_COUNTRIES = {"US": 0.72, "IN": 0.18, "GB": 0.04, "CA": 0.03, "PH": 0.03}
_US_STATES = ("CA", "TX", "NY", "FL", "WA", "OH", "PA", "IL", "GA", "MI")


def mturk_worker_id(recorded: str) -> str:
    """The MTurk-shaped worker id (``^A[A-Z0-9]+$``) for a recorded worker.

    Recorded ids that are upper-case alphanumerics keep their text behind
    the leading "A" ("W169" becomes "AW169"); others are hashed.
    """
    upper = recorded.strip().upper()
    if _MTURK_SAFE.match(upper):
        return "A" + upper
    digest = hashlib.sha256(recorded.encode()).hexdigest()[:13].upper()
    return "A" + digest


def recorded_worker_id(recorded: str) -> str:
    """The worker id the endpoint uses for a recorded worker: the same text.

    Keeping the recording's ids lets a campaign's results be joined back to
    the recording. Ids the endpoint could not accept (anything but
    upper-case letters and digits) fall back to :func:`mturk_worker_id`.
    """
    text = recorded.strip()
    return text if _MTURK_SAFE.match(text) else mturk_worker_id(text)


def _majority(counts: Counter[str], tie_key: str) -> str | None:
    """The most frequent label; ties are broken by a hash of ``tie_key``."""
    if not counts:
        return None
    top = max(counts.values())
    tied = sorted(label for label, n in counts.items() if n == top)
    if len(tied) == 1:
        return tied[0]
    return random.Random(tie_key).choice(tied)


class ReplayCrowd(ScheduledCrowd):
    """Replays a recorded crowd, simulating only what it never answered.

    Workers keep their recorded ids ("W169") so results join back to the
    recording; ``mturk_ids=True`` gives them MTurk-shaped ids ("AW169").
    """

    name = "replay"

    def __init__(
        self,
        answers_csv: str | Path,
        *,
        arrival_mean_s: float = 1800.0,
        seconds_per_item: float = 12.0,
        mturk_ids: bool = False,
    ) -> None:
        super().__init__(arrival_mean_s)
        self.seconds_per_item = seconds_per_item
        self._worker_id = mturk_worker_id if mturk_ids else recorded_worker_id
        self.source = Path(answers_csv)
        # item id -> MTurk worker id -> recorded answer
        self.real: dict[str, dict[str, str]] = defaultdict(dict)
        self._load(self.source)
        self.labels = tuple(
            sorted({a for row in self.real.values() for a in row.values()})
        )
        self.workers = sorted({w for row in self.real.values() for w in row})
        self.truth = {
            item: label
            for item, row in self.real.items()
            if (label := _majority(Counter(row.values()), item)) is not None
        }
        self.confusion, self.marginal = self._fit_workers()
        self._ranked: dict[str, list[str]] = {}
        self._speed: dict[str, float] = {}
        logger.info(
            "Replay crowd: %d answers by %d workers on %d items from %s",
            sum(len(row) for row in self.real.values()),
            len(self.workers),
            len(self.real),
            self.source,
        )

    def _load(self, path: Path) -> None:
        try:
            handle = path.open(newline="", encoding="utf-8")
        except OSError as exc:
            raise InputDataError(
                f"The answers file {path} cannot be read: {exc}."
            ) from exc

        with handle:
            reader = csv.DictReader(handle)
            missing = [
                c for c in REQUIRED_COLUMNS if c not in (reader.fieldnames or [])
            ]
            if missing:
                raise InputDataError(
                    f"The answers file {path} lacks the columns {', '.join(missing)}; "
                    "it needs pair_id, worker_id and answer."
                )
            for line, row in enumerate(reader, start=2):
                item, worker, answer = (row[c].strip() for c in REQUIRED_COLUMNS)
                if not (item and worker and answer):
                    raise InputDataError(
                        f"Row {line} of {path} has an empty pair_id, worker_id "
                        "or answer."
                    )
                self.real[item][self._worker_id(worker)] = answer

        if not self.real:
            raise InputDataError(f"The answers file {path} has no answers.")

    def _fit_workers(
        self,
    ) -> tuple[dict[str, dict[str, dict[str, float]]], dict[str, dict[str, float]]]:
        """Each worker's confusion rows and overall answer rates, smoothed."""
        k = len(self.labels)
        against: dict[str, dict[str, Counter[str]]] = defaultdict(
            lambda: defaultdict(Counter)
        )
        overall: dict[str, Counter[str]] = defaultdict(Counter)
        for row in self.real.values():
            for worker, answer in row.items():
                overall[worker][answer] += 1
                others = Counter(a for w, a in row.items() if w != worker)
                if not others:
                    continue
                top = others.most_common(2)
                if len(top) > 1 and top[0][1] == top[1][1]:
                    # The others disagree evenly: no reference for this answer.
                    continue
                against[worker][top[0][0]][answer] += 1

        confusion: dict[str, dict[str, dict[str, float]]] = {}
        marginal: dict[str, dict[str, float]] = {}
        for worker in self.workers:
            rows = {}
            for truth in self.labels:
                counts = against[worker][truth]
                total = sum(counts.values())
                rows[truth] = {a: (counts[a] + 1) / (total + k) for a in self.labels}
            confusion[worker] = rows
            n = sum(overall[worker].values())
            marginal[worker] = {
                a: (overall[worker][a] + 1) / (n + k) for a in self.labels
            }
        return confusion, marginal

    def profiles(self) -> Iterable[WorkerProfile]:
        for worker in self.workers:
            rng = random.Random(f"{self.seed}:profile:{worker}")
            country = pick(_COUNTRIES, tuple(_COUNTRIES), rng)
            approved = 100 + int(rng.lognormvariate(math.log(1500), 1.2))
            share = rng.uniform(0.94, 1.0)
            yield WorkerProfile(
                worker_id=worker,
                country=country,
                subdivision=rng.choice(_US_STATES) if country == "US" else None,
                hits_approved=approved,
                hits_rejected=round(approved * (1 - share) / share),
                masters=rng.random() < 0.1,
                adult=rng.random() < 0.85,
            )

    def candidates(self, hit: HitView) -> Iterator[str]:
        ranked = self._ranked.get(hit.hit_id)
        if ranked is None:
            ranked = self._rank(hit)
            self._ranked[hit.hit_id] = ranked
        yield from ranked

        # Slots the recorded workers cannot fill go to the others, in an
        # order fixed per HIT so that repeated runs agree.
        chosen = set(ranked)
        rest = [w for w in self.workers if w not in chosen]
        random.Random(f"{self.seed}:rest:{hit.hit_id}").shuffle(rest)
        yield from rest

    def _rank(self, hit: HitView) -> list[str]:
        overlap: Counter[str] = Counter()
        for item in hit.items:
            overlap.update(self.real.get(item, {}).keys())
        tie = random.Random(f"{self.seed}:rank:{hit.hit_id}")
        order = {worker: tie.random() for worker in sorted(overlap)}
        return sorted(overlap, key=lambda w: (-overlap[w], order[w]))

    def work_seconds(self, worker_id: str, hit: HitView, rng: random.Random) -> float:
        median = self._speed.get(worker_id)
        if median is None:
            speed_rng = random.Random(f"{self.seed}:speed:{worker_id}")
            median = speed_rng.lognormvariate(math.log(self.seconds_per_item), 0.4)
            self._speed[worker_id] = median
        items = max(1, len(hit.items))
        # Reading the instructions, then each item at the worker's own pace.
        return 20.0 + sum(
            rng.lognormvariate(math.log(median), 0.5) for _ in range(items)
        )

    def answer(self, worker_id: str, hit: HitView, rng: random.Random) -> Answers:
        fields: dict[str, str] = {}
        replayed = simulated = 0
        for item, labels in hit.items.items():
            recorded = self.real.get(item)
            if recorded is not None and recorded.get(worker_id) in labels:
                fields[f"item-{item}"] = recorded[worker_id]
                replayed += 1
                continue

            if recorded is not None and worker_id in self.confusion:
                weights = self.confusion[worker_id][self.truth[item]]
            else:
                weights = self.marginal.get(worker_id, {})
            fields[f"item-{item}"] = pick(weights, labels, rng)
            simulated += 1
        return Answers(fields, replayed, simulated)
