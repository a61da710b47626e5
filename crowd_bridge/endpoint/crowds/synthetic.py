"""A made-up crowd for dry runs of a campaign's cost and quality.

Each item gets a latent true label drawn from the class priors with a seed
derived from its id, so every run agrees on it. Workers are honest (right
with their own accuracy, or following a shared confusion matrix), random
spammers, constant spammers (always the same label) or adversaries (wrong
as often as an honest worker is right).
"""

from __future__ import annotations

import logging
import math
import random
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any

import yaml

from crowd_bridge.errors import ConfigError

from .base import Answers, HitView, Marketplace, ScheduledCrowd, WorkerProfile, pick

logger = logging.getLogger(__name__)

HONEST = "honest"
SPAMMER = "spammer"
CONSTANT = "constant"
ADVERSARY = "adversary"


@dataclass(frozen=True)
class SyntheticSpec:
    """What a synthetic crowd looks like; every field has a usable default.

    ``confusion`` (true label -> answer -> weight), when given, replaces the
    ``accuracy`` range for honest workers. Shares are fractions of
    ``workers``. ``seed``, when set, fixes who the workers are, the latent
    truth and the crowd's draws whatever seed the endpoint runs with (HIT
    ids, and so which worker takes which HIT, still follow the endpoint's
    seed); unset, the crowd follows the endpoint's seed. The same spec and
    endpoint seed always repeat a run exactly. In YAML the arrival rate
    may also be written ``arrival_mean_minutes`` or ``arrivals_per_hour``
    (per open assignment); see ``examples/crowds/synthetic_demo.yaml``.
    """

    workers: int = 50
    arrival_mean_s: float = 1800.0
    seconds_per_item: float = 12.0
    class_priors: dict[str, float] = field(default_factory=lambda: {"0": 0.8, "1": 0.2})
    accuracy: tuple[float, float] = (0.7, 0.95)
    confusion: dict[str, dict[str, float]] | None = None
    spammers: float = 0.0
    constant_spammers: float = 0.0
    adversaries: float = 0.0
    masters_share: float = 0.1
    locales: dict[str, float] = field(
        default_factory=lambda: {"US": 0.7, "IN": 0.2, "GB": 0.1}
    )
    seed: int | None = None

    def __post_init__(self) -> None:
        if self.workers < 1:
            raise ConfigError("A synthetic crowd needs at least one worker.")
        if self.arrival_mean_s <= 0 or self.seconds_per_item <= 0:
            raise ConfigError("Arrival delay and time per item must be positive.")
        low, high = self.accuracy
        if not 0 <= low <= high <= 1:
            raise ConfigError(f"The accuracy range {self.accuracy} is not within 0..1.")
        for truth, row in (self.confusion or {}).items():
            if not row or min(row.values()) < 0 or sum(row.values()) <= 0:
                raise ConfigError(
                    f"The confusion row for true label {truth!r} needs weights "
                    ">= 0 that are not all zero."
                )
        shares = self.spammers + self.constant_spammers + self.adversaries
        if (
            min(self.spammers, self.constant_spammers, self.adversaries) < 0
            or shares > 1
        ):
            raise ConfigError(
                "Spammer and adversary shares must be >= 0 and sum to <= 1."
            )

    @classmethod
    def from_mapping(cls, data: Mapping[str, Any]) -> SyntheticSpec:
        data = dict(data)
        if "arrival_mean_minutes" in data:
            data["arrival_mean_s"] = float(data.pop("arrival_mean_minutes")) * 60
        if "arrivals_per_hour" in data:
            rate = float(data.pop("arrivals_per_hour"))
            if rate <= 0:
                raise ConfigError("arrivals_per_hour must be positive.")
            data["arrival_mean_s"] = 3600.0 / rate
        known = {f.name for f in fields(cls)}
        unknown = sorted(set(data) - known)
        if unknown:
            raise ConfigError(
                f"Unknown synthetic crowd settings: {', '.join(unknown)}; known "
                f"settings are {', '.join(sorted(known))}, arrival_mean_minutes "
                "and arrivals_per_hour."
            )
        if "accuracy" in data:
            data["accuracy"] = tuple(data["accuracy"])
        if "class_priors" in data:
            data["class_priors"] = {
                str(k): float(v) for k, v in data["class_priors"].items()
            }
        if data.get("confusion") is not None:
            # YAML reads labels 0 and 1 as numbers; forms carry them as text.
            data["confusion"] = {
                str(truth): {str(k): float(v) for k, v in row.items()}
                for truth, row in data["confusion"].items()
            }
        if "locales" in data:
            data["locales"] = {str(k): float(v) for k, v in data["locales"].items()}
        return cls(**data)

    @classmethod
    def from_file(cls, path: str | Path) -> SyntheticSpec:
        try:
            loaded = yaml.safe_load(Path(path).read_text(encoding="utf-8")) or {}
        except (OSError, yaml.YAMLError) as exc:
            raise ConfigError(
                f"The synthetic crowd spec {path} cannot be read: {exc}."
            ) from exc
        if not isinstance(loaded, dict):
            raise ConfigError(f"The synthetic crowd spec {path} must be a mapping.")
        return cls.from_mapping(loaded)


@dataclass(frozen=True)
class SyntheticWorker:
    worker_id: str
    kind: str
    accuracy: float
    seconds_per_item: float
    constant_index: int


class SyntheticCrowd(ScheduledCrowd):
    """Workers drawn from a :class:`SyntheticSpec`, fixed for a given seed."""

    name = "synthetic"

    def __init__(self, spec: SyntheticSpec | Mapping[str, Any] | None = None) -> None:
        if spec is None:
            spec = SyntheticSpec()
        elif not isinstance(spec, SyntheticSpec):
            spec = SyntheticSpec.from_mapping(spec)
        super().__init__(spec.arrival_mean_s)
        self.spec = spec
        self.members: dict[str, SyntheticWorker] = {}
        self._ids: list[str] = []
        self._arrivals: dict[str, int] = {}

    def attach(self, market: Marketplace, seed: int) -> None:
        seed = seed if self.spec.seed is None else self.spec.seed
        self.seed = seed
        self._draw_members()
        super().attach(market, seed)

    def _draw_members(self) -> None:
        spec = self.spec
        n = spec.workers
        kinds = (
            [SPAMMER] * round(spec.spammers * n)
            + [CONSTANT] * round(spec.constant_spammers * n)
            + [ADVERSARY] * round(spec.adversaries * n)
        )[:n]
        kinds += [HONEST] * (n - len(kinds))
        random.Random(f"{self.seed}:kinds").shuffle(kinds)

        width = max(4, len(str(n)))
        for i, kind in enumerate(kinds, start=1):
            worker_id = f"ASYN{i:0{width}d}"
            rng = random.Random(f"{self.seed}:member:{worker_id}")
            pace = rng.lognormvariate(math.log(spec.seconds_per_item), 0.4)
            if kind in (SPAMMER, CONSTANT):
                pace *= 0.3  # spammers click through
            self.members[worker_id] = SyntheticWorker(
                worker_id=worker_id,
                kind=kind,
                accuracy=rng.uniform(*spec.accuracy),
                seconds_per_item=pace,
                constant_index=rng.randrange(1000),
            )
        self._ids = list(self.members)
        logger.info(
            "Synthetic crowd of %d workers (%d spammers, %d constant, %d adversaries)",
            n,
            kinds.count(SPAMMER),
            kinds.count(CONSTANT),
            kinds.count(ADVERSARY),
        )

    def profiles(self) -> Iterable[WorkerProfile]:
        spec = self.spec
        for worker_id in self._ids:
            rng = random.Random(f"{self.seed}:profile:{worker_id}")
            country = pick(spec.locales, tuple(spec.locales), rng)
            approved = 100 + int(rng.lognormvariate(math.log(1500), 1.2))
            share = rng.uniform(0.9, 1.0)
            yield WorkerProfile(
                worker_id=worker_id,
                country=country,
                hits_approved=approved,
                hits_rejected=round(approved * (1 - share) / share),
                masters=rng.random() < spec.masters_share,
            )

    def true_label(self, item_id: str, labels: tuple[str, ...]) -> str:
        """The latent label of an item, the same in every run with this seed."""
        rng = random.Random(f"{self.seed}:truth:{item_id}")
        return pick(self.spec.class_priors, labels, rng)

    def candidates(self, hit: HitView) -> Iterator[str]:
        # A few random picks find a free worker in O(1) on a large crowd;
        # a full shuffle after them makes sure no eligible worker is missed.
        k = self._arrivals.get(hit.hit_id, 0)
        self._arrivals[hit.hit_id] = k + 1
        rng = random.Random(f"{self.seed}:visit:{hit.hit_id}:{k}")
        for _ in range(8):
            yield self._ids[rng.randrange(len(self._ids))]
        everyone = list(self._ids)
        rng.shuffle(everyone)
        yield from everyone

    def work_seconds(self, worker_id: str, hit: HitView, rng: random.Random) -> float:
        median = self.members[worker_id].seconds_per_item
        items = max(1, len(hit.items))
        return 15.0 + sum(
            rng.lognormvariate(math.log(median), 0.5) for _ in range(items)
        )

    def answer(self, worker_id: str, hit: HitView, rng: random.Random) -> Answers:
        member = self.members[worker_id]
        fields_: dict[str, str] = {}
        for item, labels in hit.items.items():
            fields_[f"item-{item}"] = self._label(member, item, labels, rng)
        return Answers(fields_, simulated=len(fields_))

    def _label(
        self,
        member: SyntheticWorker,
        item: str,
        labels: tuple[str, ...],
        rng: random.Random,
    ) -> str:
        if member.kind == SPAMMER or len(labels) == 1:
            return rng.choice(labels)
        if member.kind == CONSTANT:
            return labels[member.constant_index % len(labels)]

        truth = self.true_label(item, labels)
        if member.kind == HONEST and self.spec.confusion is not None:
            row = self.spec.confusion.get(truth)
            if row is not None:
                return pick(row, labels, rng)

        right = rng.random() < member.accuracy
        if member.kind == ADVERSARY:
            right = not right
        if right:
            return truth
        return rng.choice([label for label in labels if label != truth])
