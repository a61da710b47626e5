"""Clocks the endpoint reads its time from.

The real clock serves live requesters. The virtual clock lets a campaign run
days of crowd work in seconds: it starts at a chosen instant and only moves
when the simulation driver moves it, so a dry run is repeatable.
"""

from __future__ import annotations

import time
from datetime import datetime, timezone
from typing import Protocol

from crowd_bridge.errors import ConfigError


class Clock(Protocol):
    """Source of epoch seconds for every timestamp the endpoint records."""

    @property
    def virtual(self) -> bool:
        """Whether time only moves when told to."""
        ...

    def now(self) -> float:
        """Current time as epoch seconds."""
        ...


class RealClock:
    """Wall-clock time."""

    virtual = False

    def now(self) -> float:
        return time.time()


class VirtualClock:
    """Time that stands still until :meth:`move_to` moves it forward."""

    virtual = True

    def __init__(self, start: float) -> None:
        self._now = float(start)

    def now(self) -> float:
        return self._now

    def move_to(self, instant: float) -> None:
        """Move to ``instant``; moving backwards would reorder recorded events."""
        if instant < self._now:
            raise ValueError(
                f"The virtual clock cannot move back from {self._now} to {instant}."
            )
        self._now = float(instant)


def to_epoch(value: datetime | float | int | str | None) -> float | None:
    """Read a start instant given as a datetime, ISO 8601 text or epoch seconds.

    Naive datetimes are taken as UTC, so a config file means the same instant
    on every machine.
    """
    if value is None:
        return None

    if isinstance(value, bool):
        raise ConfigError(f"A clock start of {value!r} is not a time.")

    if isinstance(value, (int, float)):
        return float(value)

    if isinstance(value, str):
        try:
            value = datetime.fromisoformat(value.replace("Z", "+00:00"))
        except ValueError as exc:
            raise ConfigError(
                f"The clock start {value!r} is not an ISO 8601 date and time."
            ) from exc

    if value.tzinfo is None:
        value = value.replace(tzinfo=timezone.utc)
    return value.timestamp()


def make_clock(mode: str, start: datetime | float | int | str | None) -> Clock:
    """Build the clock an endpoint config asks for ("real" or "virtual")."""
    if mode == "real":
        return RealClock()

    if mode == "virtual":
        epoch = to_epoch(start)
        # Whole seconds keep the timestamps a dry run reports easy to read.
        return VirtualClock(epoch if epoch is not None else float(int(time.time())))

    raise ConfigError(f"The clock mode {mode!r} is unknown; use 'real' or 'virtual'.")
