"""The interface between the endpoint and a simulated crowd.

A crowd sees the marketplace only through :class:`Marketplace`: which HITs
have open slots, whether a worker may take one, and the accept and submit
actions a real worker would perform. :class:`ScheduledCrowd` holds what
every crowd shares (arrivals after a HIT appears, time at work, answers
submitted when done); a concrete crowd says who comes, how fast they work
and what they answer.
"""

from __future__ import annotations

import heapq
import logging
import random
from abc import ABC, abstractmethod
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Protocol

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class HitView:
    """What a worker browsing the marketplace can see of a HIT."""

    hit_id: str
    requester: str
    # Item id -> labels offered for it, in the order the form shows them.
    items: Mapping[str, tuple[str, ...]]
    available: int
    assignment_duration_s: int
    reward_cents: int


@dataclass(frozen=True)
class WorkerProfile:
    """A crowd member and the values of MTurk's system qualifications."""

    worker_id: str
    country: str = "US"
    subdivision: str | None = None
    hits_approved: int = 0
    hits_rejected: int = 0
    masters: bool = False
    adult: bool = True


class Marketplace(Protocol):
    """The endpoint state as a crowd may use it."""

    def register_worker(self, profile: WorkerProfile) -> None: ...

    def drain_hit_events(self) -> list[str]:
        """HIT ids whose open slots may have grown since the last call."""
        ...

    def hit_view(self, hit_id: str) -> HitView | None:
        """The HIT if a worker could accept it now, else None."""
        ...

    def form_view(self, hit_id: str) -> HitView | None:
        """The HIT whatever its status, or None if it does not exist."""
        ...

    def can_accept(self, worker_id: str, hit_id: str) -> bool: ...

    def accept(self, worker_id: str, hit_id: str, now: float) -> str | None:
        """Accept for ``worker_id``; the assignment id, or None if refused."""
        ...

    def assignment_open(self, assignment_id: str) -> bool:
        """Whether the assignment is accepted and not yet submitted."""
        ...

    def submit(
        self,
        assignment_id: str,
        fields: Mapping[str, str],
        now: float,
        *,
        replayed: int = 0,
        simulated: int = 0,
    ) -> bool: ...


class Crowd(ABC):
    """A pool of simulated workers that reacts to HITs as time passes."""

    name = "crowd"

    @abstractmethod
    def attach(self, market: Marketplace, seed: int) -> None:
        """Register the workers with ``market``; called once at start."""

    @abstractmethod
    def on_tick(
        self, market: Marketplace, now: float, dt: float, rng: random.Random
    ) -> None:
        """Do everything due at or before ``now`` (``dt`` after the last tick)."""

    @abstractmethod
    def next_event_time(self) -> float | None:
        """When the crowd next has something to do, if ever."""


@dataclass(frozen=True)
class Answers:
    """A worker's filled-in form and how many labels came from real data."""

    fields: dict[str, str]
    replayed: int = 0
    simulated: int = 0


# Visits to a HIT nobody may take back off exponentially, up to this many
# doublings of the mean arrival delay, until the HIT stops being assignable.
MAX_BACKOFF_DOUBLINGS = 10


class ScheduledCrowd(Crowd):
    """Arrivals, work and submissions as a queue of timed events.

    When a HIT gains open slots, one arrival per slot is scheduled after an
    exponential delay. An arriving worker is the first candidate the HIT
    would draw who may accept it; the worker submits after their time at
    work, or abandons the assignment if that overruns its deadline.
    """

    def __init__(self, arrival_mean_s: float) -> None:
        if arrival_mean_s <= 0:
            raise ValueError("The mean arrival delay must be positive.")
        self.arrival_mean_s = float(arrival_mean_s)
        self.seed = 0
        self._queue: list[tuple[float, int, str, str, int]] = []
        self._order = 0
        self._scheduled: dict[str, int] = {}
        self._working: dict[str, tuple[str, str]] = {}

    @abstractmethod
    def profiles(self) -> Iterable[WorkerProfile]:
        """Every worker of this crowd."""

    @abstractmethod
    def candidates(self, hit: HitView) -> Iterable[str]:
        """Workers in the order they would come to ``hit``."""

    @abstractmethod
    def work_seconds(self, worker_id: str, hit: HitView, rng: random.Random) -> float:
        """How long ``worker_id`` takes to fill in ``hit``."""

    @abstractmethod
    def answer(self, worker_id: str, hit: HitView, rng: random.Random) -> Answers:
        """The labels ``worker_id`` gives on ``hit``."""

    def attach(self, market: Marketplace, seed: int) -> None:
        self.seed = seed
        for profile in self.profiles():
            market.register_worker(profile)

    def next_event_time(self) -> float | None:
        return self._queue[0][0] if self._queue else None

    def on_tick(
        self, market: Marketplace, now: float, dt: float, rng: random.Random
    ) -> None:
        for hit_id in market.drain_hit_events():
            self._schedule_arrivals(market, hit_id, now, rng)

        while self._queue and self._queue[0][0] <= now:
            at, _, kind, key, attempt = heapq.heappop(self._queue)
            if kind == "arrive":
                self._arrive(market, key, at, attempt, rng)
            else:
                self._finish(market, key, at, rng)

    def _push(self, at: float, kind: str, key: str, attempt: int = 0) -> None:
        self._order += 1
        heapq.heappush(self._queue, (at, self._order, kind, key, attempt))

    def _schedule_arrivals(
        self, market: Marketplace, hit_id: str, now: float, rng: random.Random
    ) -> None:
        view = market.hit_view(hit_id)
        if view is None:
            return
        if not view.items:
            # No labelled radio groups (an ExternalQuestion, say): nothing a
            # simulated worker could fill in, so the crowd leaves it alone.
            logger.debug("HIT %s has no item fields; the crowd skips it", hit_id)
            return

        missing = view.available - self._scheduled.get(hit_id, 0)
        for _ in range(missing):
            self._push(
                now + rng.expovariate(1.0 / self.arrival_mean_s), "arrive", hit_id
            )
        if missing > 0:
            self._scheduled[hit_id] = self._scheduled.get(hit_id, 0) + missing

    def _arrive(
        self,
        market: Marketplace,
        hit_id: str,
        at: float,
        attempt: int,
        rng: random.Random,
    ) -> None:
        left = self._scheduled.get(hit_id, 0) - 1
        if left > 0:
            self._scheduled[hit_id] = left
        else:
            self._scheduled.pop(hit_id, None)

        view = market.hit_view(hit_id)
        if view is None or view.available <= 0:
            return

        for worker_id in self.candidates(view):
            if not market.can_accept(worker_id, hit_id):
                continue
            assignment_id = market.accept(worker_id, hit_id, at)
            if assignment_id is None:
                continue
            self._start_work(worker_id, view, assignment_id, at, rng)
            return

        # Nobody may take it now; blocks and qualifications may change, so
        # come back later, waiting twice as long after each fruitless visit.
        self._scheduled[hit_id] = self._scheduled.get(hit_id, 0) + 1
        backoff = 2 ** min(attempt + 1, MAX_BACKOFF_DOUBLINGS)
        delay = rng.expovariate(1.0 / self.arrival_mean_s) * backoff
        self._push(at + delay, "arrive", hit_id, attempt + 1)
        if attempt == 0:
            logger.debug("No %s worker may accept HIT %s yet", self.name, hit_id)

    def _start_work(
        self,
        worker_id: str,
        view: HitView,
        assignment_id: str,
        at: float,
        rng: random.Random,
    ) -> None:
        seconds = self.work_seconds(worker_id, view, rng)
        if seconds > view.assignment_duration_s:
            # The worker runs out of time; the endpoint abandons the
            # assignment at its deadline and the slot opens again.
            logger.debug(
                "Worker %s will overrun assignment %s of HIT %s",
                worker_id,
                assignment_id,
                view.hit_id,
            )
            return

        self._working[assignment_id] = (worker_id, view.hit_id)
        self._push(at + seconds, "submit", assignment_id)

    def _finish(
        self, market: Marketplace, assignment_id: str, at: float, rng: random.Random
    ) -> None:
        worker_id, hit_id = self._working.pop(assignment_id)
        if not market.assignment_open(assignment_id):
            return

        # The HIT may have expired while the worker was busy; answering
        # needs only its form, whatever its status now.
        view = market.form_view(hit_id)
        if view is None:
            return
        answers = self.answer(worker_id, view, rng)
        market.submit(
            assignment_id,
            answers.fields,
            at,
            replayed=answers.replayed,
            simulated=answers.simulated,
        )


def pick(
    weights: Mapping[str, float], labels: tuple[str, ...], rng: random.Random
) -> str:
    """Draw one of ``labels`` with the given weights (uniform if none apply)."""
    usable = [(label, weights.get(label, 0.0)) for label in labels]
    total = sum(weight for _, weight in usable)
    if total <= 0:
        return rng.choice(labels)

    point = rng.random() * total
    for label, weight in usable:
        point -= weight
        if point < 0:
            return label
    return usable[-1][0]
