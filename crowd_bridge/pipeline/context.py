"""Everything a stage needs to work on one campaign."""

from __future__ import annotations

import json
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Protocol

from sqlalchemy.engine import Engine

from crowd_bridge.campaign import Campaign
from crowd_bridge.errors import ConfigError
from crowd_bridge.money import FeeSchedule
from crowd_bridge.mturk.client import MTurkClient
from crowd_bridge.rendering import HitRenderer
from crowd_bridge.settings import Settings
from crowd_bridge.timeutil import as_utc, utcnow


class Clock(Protocol):
    def now(self) -> datetime: ...


class SystemClock:
    """Wall-clock time, timezone-aware UTC."""

    def now(self) -> datetime:
        return utcnow()


@dataclass
class FollowingClock:
    """A clock set from outside, for following a simulated endpoint's time."""

    current: datetime

    def now(self) -> datetime:
        now = as_utc(self.current)
        assert now is not None
        return now


class EndpointClock:
    """The simulated time of the bundled endpoint, for dry runs against it.

    A campaign rehearsed on the endpoint's virtual clock must judge delays and
    expiries by that clock, not by the wall clock; this reads it from the
    endpoint's health route on every call.
    """

    def __init__(self, endpoint_url: str, timeout: float = 10.0) -> None:
        self._url = endpoint_url.rstrip("/") + "/_sim/health"
        self._timeout = timeout

    def now(self) -> datetime:
        with urllib.request.urlopen(self._url, timeout=self._timeout) as response:
            epoch = json.load(response)["now"]
        return datetime.fromtimestamp(epoch, tz=timezone.utc)


def clock_for(settings: Settings) -> Clock:
    """The clock the settings ask for: the system's, or the endpoint's."""
    if settings.clock == "endpoint":
        if not settings.endpoint_url:
            raise ConfigError(
                "CROWD_BRIDGE_CLOCK=endpoint needs CROWD_BRIDGE_ENDPOINT_URL to name "
                "the endpoint whose simulated time to follow."
            )
        return EndpointClock(settings.endpoint_url)
    return SystemClock()


@dataclass
class CampaignContext:
    """One campaign's configuration with the services its stages use."""

    campaign: Campaign
    engine: Engine
    client: MTurkClient
    settings: Settings
    clock: Clock = field(default_factory=SystemClock)
    fees: FeeSchedule = field(default_factory=FeeSchedule)
    renderer: HitRenderer | None = None
    on_progress: Callable[[str], None] | None = None

    def __post_init__(self) -> None:
        if self.renderer is None:
            self.renderer = HitRenderer(self.campaign.config)

    @property
    def campaign_id(self) -> str:
        return self.campaign.name

    @property
    def assignment_cost_cents(self) -> int:
        """Reward plus fee for one assignment at the campaign's redundancy."""
        return self.fees.assignment_cost(
            self.campaign.reward_cents,
            self.campaign.config.assignments_per_hit,
            masters=self.campaign.masters,
        )
