"""Money in integer cents, and MTurk's fee schedule.

MTurk takes the reward and the bonus as strings in dollars with two decimals
("0.25"). Everything inside crowd_bridge is integer cents; conversion happens
only at the API boundary, here.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal, InvalidOperation

from crowd_bridge.errors import ConfigError

_AMOUNT = re.compile(r"^\d+(\.\d{1,2})?$")


def parse_dollars(text: str | int | float | Decimal, *, field: str) -> int:
    """Turn a dollar amount written by a person into integer cents.

    Amounts with more than two decimals are refused rather than rounded: a
    requester who writes 0.9752 should decide the cent, not the service.
    """
    raw = str(text).strip().lstrip("$")
    if not _AMOUNT.match(raw):
        raise ConfigError(
            f"{field}: {text!r} is not a dollar amount with at most two decimals "
            "(write it like 0.25 or 12.50)."
        )
    try:
        cents = Decimal(raw) * 100
    except InvalidOperation as error:
        raise ConfigError(f"{field}: {text!r} is not a number.") from error
    return int(cents)


def format_dollars(cents: int) -> str:
    """Format cents the way the Requester API expects amounts: "12.34"."""
    if cents < 0:
        raise ValueError(f"amount of {cents} cents is negative")
    return f"{cents // 100}.{cents % 100:02d}"


def percent_of(cents: int, percent: Decimal) -> int:
    """``percent`` of ``cents``, rounded half-up to a whole cent."""
    share = Decimal(cents) * percent / Decimal(100)
    return int(share.quantize(Decimal(1), rounding=ROUND_HALF_UP))


@dataclass(frozen=True)
class FeeSchedule:
    """The platform's commission on rewards and bonuses.

    Defaults are MTurk's published schedule: 20% of reward and bonus, another
    20% of the reward on HITs with 10 or more assignments, 5% more for
    Masters, and at least one cent per assignment and per bonus.
    """

    base_percent: Decimal = Decimal(20)
    large_hit_percent: Decimal = Decimal(20)
    large_hit_assignments: int = 10
    masters_percent: Decimal = Decimal(5)
    minimum_cents: int = 1

    def reward_fee(
        self, reward_cents: int, max_assignments: int, *, masters: bool = False
    ) -> int:
        """Fee for one assignment of a HIT paying ``reward_cents``."""
        percent = self.base_percent
        if max_assignments >= self.large_hit_assignments:
            percent += self.large_hit_percent
        if masters:
            percent += self.masters_percent
        return max(self.minimum_cents, percent_of(reward_cents, percent))

    def bonus_fee(self, bonus_cents: int, *, masters: bool = False) -> int:
        """Fee for one bonus payment."""
        percent = self.base_percent + (self.masters_percent if masters else 0)
        return max(self.minimum_cents, percent_of(bonus_cents, percent))

    def assignment_cost(
        self, reward_cents: int, max_assignments: int, *, masters: bool = False
    ) -> int:
        """Reward plus fee: what one approved assignment costs the requester."""
        fee = self.reward_fee(reward_cents, max_assignments, masters=masters)
        return reward_cents + fee
