"""Injected failures, so clients can be tested against an unreliable service.

A plan gives the share of Requester API calls that are throttled, that
fail with a service fault before doing anything, and whose answer is lost
after the call took effect (the client sees a service fault and cannot
tell whether the call happened, as after a dropped connection). Draws come
from their own seeded generator, so a dry run fails the same calls each
time it is repeated with the same calls.
"""

from __future__ import annotations

import random
from dataclasses import dataclass

from crowd_bridge.errors import ConfigError

THROTTLE = "throttle"
FAULT = "fault"
LOST = "lost"


@dataclass(frozen=True)
class FaultPlan:
    throttle: float = 0.0
    fault: float = 0.0
    lost: float = 0.0

    def __post_init__(self) -> None:
        shares = (self.throttle, self.fault, self.lost)
        if min(shares) < 0 or sum(shares) > 1:
            raise ConfigError(
                "Fault shares must be >= 0 and add up to at most 1; got "
                f"throttle={self.throttle}, fault={self.fault}, lost={self.lost}."
            )

    @classmethod
    def parse(cls, text: str | None) -> FaultPlan:
        """Read ``"throttle=0.1,fault=0.02,lost=0.01"`` (any subset, any order)."""
        if not text:
            return cls()

        shares: dict[str, float] = {}
        for part in text.split(","):
            name, sep, value = part.strip().partition("=")
            if not sep or name not in (THROTTLE, FAULT, LOST):
                raise ConfigError(
                    f"The fault setting {part.strip()!r} is not understood; use "
                    "throttle=, fault= and lost= with shares such as 0.05."
                )
            try:
                shares[name] = float(value)
            except ValueError:
                raise ConfigError(
                    f"The fault share {value!r} for {name} is not a number."
                ) from None
        return cls(**shares)

    @property
    def active(self) -> bool:
        return self.throttle > 0 or self.fault > 0 or self.lost > 0


class FaultInjector:
    """Decides, call by call, which failure (if any) a call meets."""

    def __init__(self, plan: FaultPlan, seed: int) -> None:
        self.plan = plan
        self._rng = random.Random(f"{seed}:faults")

    def before(self) -> str | None:
        """THROTTLE or FAULT if the call must fail before it runs."""
        if not self.plan.active:
            return None
        draw = self._rng.random()
        if draw < self.plan.throttle:
            return THROTTLE
        if draw < self.plan.throttle + self.plan.fault:
            return FAULT
        return None

    def lose_answer(self) -> bool:
        """Whether the answer to a call that ran is lost."""
        return self.plan.lost > 0 and self._rng.random() < self.plan.lost
