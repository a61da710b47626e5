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
    """Write cents the way the Requester API writes amounts: "12.34", "-0.50"."""
    sign = "-" if cents < 0 else ""
    whole, fraction = divmod(abs(cents), 100)
    return f"{sign}{whole}.{fraction:02d}"


def cents_from_api(amount: str) -> int:
    """Cents of an amount the API wrote in dollars: "12.3", "4", "0.05".

    The text must already be known to be digits with at most two decimals.
    """
    whole, _, fraction = amount.partition(".")
    return int(whole or 0) * 100 + int((fraction + "00")[:2])


def percent_of(cents: int, percent: Decimal) -> int:
    """``percent`` of ``cents``, rounded half-up to a whole cent."""
    share = Decimal(cents) * percent / Decimal(100)
    return int(share.quantize(Decimal(1), rounding=ROUND_HALF_UP))


_PERCENT_FIELDS = ("base_percent", "large_hit_percent", "masters_percent")


@dataclass(frozen=True)
class FeeSchedule:
    """The platform's commission on rewards and bonuses.

    Defaults are MTurk's published schedule: 20% of reward and bonus, another
    20% of the reward on HITs with 10 or more assignments, another 5% of the
    reward on HITs that require Masters, and at least one cent per assignment
    and per bonus. The Masters commission applies to rewards only; bonuses
    pay the base rate whoever earned them.

    Percentages may be given as Decimal, int or text ("7.5"); floats are
    refused so that no rate is ever inexact. The pipeline, the finance
    report and the bundled endpoint all charge through this one schedule.
    """

    base_percent: Decimal = Decimal(20)
    large_hit_percent: Decimal = Decimal(20)
    large_hit_assignments: int = 10
    masters_percent: Decimal = Decimal(5)
    minimum_cents: int = 1

    def __post_init__(self) -> None:
        for name in _PERCENT_FIELDS:
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, (Decimal, int, str)):
                raise ConfigError(
                    f"The fee percentage {name} must be a Decimal, a whole number "
                    f"or text like '20', not {value!r}."
                )
            try:
                percent = Decimal(value)
            except InvalidOperation:
                raise ConfigError(
                    f"The fee percentage {name} is not a number: {value!r}."
                ) from None
            if not percent.is_finite() or percent < 0:
                raise ConfigError(
                    f"The fee percentage {name} must be a finite number >= 0, "
                    f"not {value!r}."
                )
            # The dataclass is frozen; normalising the type once here keeps
            # every later computation in Decimal.
            object.__setattr__(self, name, percent)

        if self.minimum_cents < 0:
            raise ConfigError("The fee schedule's minimum_cents cannot be negative.")
        if self.large_hit_assignments < 1:
            raise ConfigError(
                "The fee schedule's large_hit_assignments must be at least 1."
            )

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
        """Fee for one bonus payment.

        ``masters`` is accepted so callers that pass a campaign's Masters
        flag keep working; MTurk charges its Masters commission on rewards
        only, so it does not change a bonus fee.
        """
        del masters
        return max(self.minimum_cents, percent_of(bonus_cents, self.base_percent))

    def assignment_cost(
        self, reward_cents: int, max_assignments: int, *, masters: bool = False
    ) -> int:
        """Reward plus fee: what one approved assignment costs the requester."""
        fee = self.reward_fee(reward_cents, max_assignments, masters=masters)
        return reward_cents + fee
