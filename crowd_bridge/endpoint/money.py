"""Money on the endpoint: amounts in integer cents.

MTurk sends and takes amounts as decimal strings ("0.12"). They are turned
into integer cents at the edge so that balances, rewards, bonuses and fees
never pass through a float. The commission comes from the one
:class:`crowd_bridge.money.FeeSchedule` the pipeline and finance use too, so
the endpoint charges exactly what a campaign's ledger expects.
"""

from __future__ import annotations

import re

from crowd_bridge.errors import EndpointRequestError
from crowd_bridge.money import FeeSchedule, cents_from_api
from crowd_bridge.money import format_dollars as format_cents

__all__ = ["MINIMUM_PAYMENT_CENTS", "FeeSchedule", "format_cents", "parse_amount"]

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
    return cents_from_api(text)
