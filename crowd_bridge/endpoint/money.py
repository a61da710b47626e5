"""Money on the endpoint: amounts in integer cents and the commission schedule.

MTurk sends and takes amounts as decimal strings ("0.12"). They are turned
into integer cents at the edge so that balances, rewards, bonuses and fees
never pass through a float.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal

from crowd_bridge.errors import ConfigError, EndpointRequestError

# The pattern botocore's model gives for CurrencyAmount.
_AMOUNT = re.compile(r"^[0-9]+(\.)?[0-9]{0,2}$")

# MTurk never pays less than a cent for an assignment or a bonus.
MINIMUM_PAYMENT_CENTS = 1


def parse_amount(text: str, field: str) -> int:
    """Turn an MTurk amount such as "0.12", "3" or "1.5" into cents."""
    if not isinstance(text, str) or not _AMOUNT.match(text):
        raise EndpointRequestError(
            f"The value {text!r} is not valid for the parameter {field}: an amount "
            "in US dollars with at most two decimals, such as 0.12, is expected."
        )

    whole, _, fraction = text.partition(".")
    return int(whole) * 100 + int((fraction + "00")[:2])


def format_cents(cents: int) -> str:
    """Write cents the way MTurk writes amounts: "0.12", "-3.50"."""
    sign = "-" if cents < 0 else ""
    whole, fraction = divmod(abs(cents), 100)
    return f"{sign}{whole}.{fraction:02d}"


def _round_half_up(value: Decimal) -> int:
    return int(value.quantize(Decimal(1), rounding=ROUND_HALF_UP))


@dataclass(frozen=True)
class FeeSchedule:
    """MTurk's commission on rewards and bonuses.

    The defaults are MTurk's published schedule: 20% of each reward and bonus,
    another 20% of the reward on HITs with 10 or more assignments, another 5%
    of the reward on HITs that require the Masters qualification, and never
    less than a cent per assignment or bonus. Rates may be given as Decimal
    or as text ("0.25"); floats are refused so no rate is ever inexact.
    """

    reward_rate: Decimal = Decimal("0.20")
    large_hit_rate: Decimal = Decimal("0.20")
    large_hit_assignments: int = 10
    bonus_rate: Decimal = Decimal("0.20")
    masters_rate: Decimal = Decimal("0.05")
    minimum_fee_cents: int = 1

    def __post_init__(self) -> None:
        for name in ("reward_rate", "large_hit_rate", "bonus_rate", "masters_rate"):
            rate = getattr(self, name)
            if isinstance(rate, str):
                object.__setattr__(self, name, Decimal(rate))
            elif not isinstance(rate, Decimal):
                raise ConfigError(
                    f"The fee rate {name} must be a Decimal or text like '0.20', "
                    f"not {rate!r}."
                )
            if getattr(self, name) < 0:
                raise ConfigError(f"The fee rate {name} cannot be negative.")

        if self.minimum_fee_cents < 0 or self.large_hit_assignments < 1:
            raise ConfigError("The fee schedule's minimum and threshold must be >= 0.")

    def assignment_fee(
        self, reward_cents: int, max_assignments: int, requires_masters: bool = False
    ) -> int:
        """Commission for approving one assignment of a HIT, in cents."""
        rate = self.reward_rate
        if max_assignments >= self.large_hit_assignments:
            rate += self.large_hit_rate
        if requires_masters:
            rate += self.masters_rate
        return max(self.minimum_fee_cents, _round_half_up(reward_cents * rate))

    def bonus_fee(self, bonus_cents: int) -> int:
        """Commission for one bonus payment, in cents."""
        return max(
            self.minimum_fee_cents, _round_half_up(bonus_cents * self.bonus_rate)
        )
