"""Integer cents and MTurk's fee schedule."""

from __future__ import annotations

from decimal import Decimal

import pytest

from crowd_bridge.errors import ConfigError
from crowd_bridge.money import FeeSchedule, format_dollars, parse_dollars


def test_dollars_round_trip_through_cents() -> None:
    assert parse_dollars("0.50", field="reward") == 50
    assert parse_dollars("$12", field="reward") == 1200
    assert parse_dollars("1.5", field="reward") == 150
    assert format_dollars(5) == "0.05"
    assert format_dollars(123456) == "1234.56"


@pytest.mark.parametrize("text", ["0.9752", "-1", "one", "1.2.3", ""])
def test_amounts_a_person_must_fix_are_refused(text: str) -> None:
    with pytest.raises(ConfigError, match="bonus"):
        parse_dollars(text, field="bonus")


def test_mturk_fee_schedule() -> None:
    fees = FeeSchedule()

    assert fees.reward_fee(50, 3) == 10
    assert fees.reward_fee(50, 10) == 20
    assert fees.reward_fee(50, 3, masters=True) == 13  # 25% of 50 = 12.5, half up
    assert fees.reward_fee(2, 3) == 1  # never under a cent
    assert fees.bonus_fee(5) == 1
    assert fees.bonus_fee(1234) == 247  # 246.8 rounds up
    assert fees.assignment_cost(50, 3) == 60


def test_fee_schedule_is_configurable() -> None:
    fees = FeeSchedule(base_percent=Decimal("7.5"), minimum_cents=0)

    assert fees.reward_fee(100, 3) == 8  # 7.5 rounds half up
    assert fees.bonus_fee(1) == 0
