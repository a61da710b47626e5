"""Moves time for the marketplace and its crowd, one event at a time.

Time-driven changes (expirations, assignment deadlines, auto-approvals) and
crowd actions (arrivals, submissions) are both queues of timed events. The
driver always runs whichever is due first, at the instant it is due, so an
advance of a week produces the same timestamps as a week of real waiting.
With the real clock the same catch-up runs before each request, so nothing
needs a background thread.
"""

from __future__ import annotations

import logging
import random

from .clock import Clock, VirtualClock
from .crowds.base import Crowd
from .state import EndpointState

logger = logging.getLogger(__name__)


class Simulation:
    """Runs state and crowd events in time order up to a target instant."""

    def __init__(
        self,
        state: EndpointState,
        clock: Clock,
        crowd: Crowd | None,
        seed: int,
    ) -> None:
        self.state = state
        self.clock = clock
        self.crowd = crowd
        self._last_tick = clock.now()
        if crowd is not None:
            crowd.attach(state, seed)
        # A crowd with a seed of its own (a spec file's) also decides its
        # draws, so the same spec gives the same run on any endpoint.
        self.rng = random.Random(getattr(crowd, "seed", seed))

    def _tick(self, at: float) -> None:
        if self.crowd is None:
            self.state.drain_hit_events()
            return
        self.crowd.on_tick(self.state, at, at - self._last_tick, self.rng)
        self._last_tick = max(self._last_tick, at)

    def run_until(self, target: float) -> int:
        """Apply everything due at or before ``target``; returns the step count."""
        done = 0
        self._tick(max(self.clock.now(), self._last_tick))
        while True:
            due = [self.state.next_event_time()]
            if self.crowd is not None:
                due.append(self.crowd.next_event_time())
            times = [t for t in due if t is not None]
            if not times or min(times) > target:
                break

            at = min(times)
            if isinstance(self.clock, VirtualClock) and at > self.clock.now():
                self.clock.move_to(at)
            done += self.state.process_due(at)
            self._tick(at)
            done += 1

        if isinstance(self.clock, VirtualClock):
            self.clock.move_to(max(target, self.clock.now()))
            if self.state.clock_now != self.clock.now():
                # Stored so that a restarted dry run resumes at the same instant.
                self.state.clock_now = self.clock.now()
                self.state.touch("meta", "state")
        return done

    def sync(self) -> None:
        """Catch up to the clock's present (a no-op for an idle virtual clock)."""
        self.run_until(self.clock.now())

    def advance(self, seconds: float) -> int:
        """Move a virtual clock forward by ``seconds``, running what falls due."""
        if not isinstance(self.clock, VirtualClock):
            raise ValueError("Only a virtual clock can be advanced.")
        if seconds < 0:
            raise ValueError("Time cannot be advanced by a negative amount.")
        events = self.run_until(self.clock.now() + seconds)
        logger.info(
            "Advanced the virtual clock by %ss to %s (%d events)",
            seconds,
            self.clock.now(),
            events,
        )
        return events
