"""The finance report totals a known ledger exactly, however it is grouped."""

from __future__ import annotations

import csv
import io
from datetime import date

import pytest
from finance_ledger import Known, LedgerWriter, day
from rich.console import Console
from sqlalchemy import func
from sqlalchemy.engine import Engine
from sqlmodel import select

from crowd_bridge.db.models import LedgerEntry
from crowd_bridge.db.session import session_scope
from crowd_bridge.errors import ConfigError, StateError
from crowd_bridge.finance.report import (
    FinanceRow,
    dollars_text,
    finance_report,
    to_csv,
    to_table,
)


def ledger_sum(engine: Engine, *where: object) -> int:
    with session_scope(engine) as session:
        total = session.exec(
            select(func.coalesce(func.sum(LedgerEntry.amount_cents), 0)).where(*where)
        ).one()
    return int(total)


def by_key(rows: list[FinanceRow]) -> dict[str, FinanceRow]:
    return {row.key: row for row in rows}


def test_totals_are_the_ledger_sums(ledger_engine: Engine, known: Known) -> None:
    report = finance_report(ledger_engine)
    totals = report.totals

    assert totals.rewards_cents == known.rewards
    assert totals.reward_fees_cents == known.reward_fees
    assert totals.bonuses_cents == known.bonuses
    assert totals.bonus_fees_cents == known.bonus_fees
    assert totals.fees_cents == known.reward_fees + known.bonus_fees
    assert totals.total_paid_cents == known.paid == ledger_sum(ledger_engine)
    assert report.ledger_cents == {
        "reward": 175,
        "reward_fee": 60,
        "bonus": 60,
        "bonus_fee": 15,
    }
    assert totals.approved_assignments == 4
    assert totals.bonuses == 2
    assert totals.rejected_assignments == known.rejected
    assert totals.rejected_reward_cents == known.rejected_reward
    assert totals.pending_assignments == 2
    assert totals.pending_bonuses == 1
    assert totals.pending_cents == known.pending


def test_rows_by_campaign(ledger_engine: Engine) -> None:
    rows = by_key(finance_report(ledger_engine).by_campaign)

    assert list(rows) == ["alpha", "beta"]
    alpha, beta = rows["alpha"], rows["beta"]
    assert (alpha.rewards_cents, alpha.bonuses_cents, alpha.fees_cents) == (75, 10, 17)
    assert alpha.total_paid_cents == 102
    assert (alpha.rejected_assignments, alpha.rejected_reward_cents) == (1, 25)
    # A5 at 25 + 5, the bonus of 20 on A2 at 20 + 4; A6 is being rejected.
    assert alpha.pending_cents == 54
    assert (beta.rewards_cents, beta.bonuses_cents, beta.fees_cents) == (100, 50, 58)
    assert beta.total_paid_cents == 208
    # Masters on a 10-assignment HIT: $1.00 plus 45%.
    assert beta.pending_cents == 145
    for campaign in ("alpha", "beta"):
        assert rows[campaign].total_paid_cents == ledger_sum(
            ledger_engine, LedgerEntry.campaign_id == campaign
        )


def test_rows_by_utc_day(ledger_engine: Engine) -> None:
    rows = by_key(finance_report(ledger_engine).by_day)

    assert list(rows) == ["2024-03-01", "2024-03-02", "2024-03-03"]
    # 23:59:59 belongs to its own day, 00:00:00 to the next.
    assert rows["2024-03-01"].total_paid_cents == 60
    assert rows["2024-03-02"].total_paid_cents == 42
    assert rows["2024-03-02"].rejected_assignments == 1
    assert rows["2024-03-03"].total_paid_cents == 208
    assert rows["2024-03-03"].pending_cents == 199
    assert sum(row.total_paid_cents for row in rows.values()) == 310


def test_rows_by_worker_with_hourly_pay(ledger_engine: Engine) -> None:
    rows = by_key(finance_report(ledger_engine).by_worker)

    assert list(rows) == ["W1", "W2", "W3", "W4"]
    w1, w2, w3, w4 = rows["W1"], rows["W2"], rows["W3"], rows["W4"]
    assert (w1.rewards_cents, w1.bonuses_cents, w1.fees_cents) == (150, 60, 70)
    assert w1.total_paid_cents == 280
    # (150 + 60) cents over 300 + 900 + 1800 seconds = 252 cents an hour.
    assert w1.work_seconds == 3000
    assert w1.hourly_cents == 252
    # 25 cents for 600 seconds; A5's 400 seconds are not approved yet.
    assert w2.hourly_cents == 150
    assert w2.pending_cents == 30 + 24
    assert (w3.rejected_assignments, w3.hourly_cents, w3.total_paid_cents) == (
        1,
        None,
        0,
    )
    assert (w4.pending_cents, w4.pending_assignments) == (145, 1)


def test_date_range_is_inclusive_utc_days(ledger_engine: Engine) -> None:
    report = finance_report(
        ledger_engine, date_from=date(2024, 3, 2), date_to=date(2024, 3, 2)
    )
    totals = report.totals

    assert [row.key for row in report.by_day] == ["2024-03-02"]
    assert totals.total_paid_cents == 42 == report.ledger_total_cents
    assert totals.rejected_assignments == 1
    assert totals.pending_cents == 0
    # W1 in that day: 25 reward + 10 bonus over A4's 900 seconds.
    assert by_key(report.by_worker)["W1"].hourly_cents == 140
    assert totals.total_paid_cents == ledger_sum(
        ledger_engine,
        LedgerEntry.booked_at >= day("2024-03-02T00:00:00"),
        LedgerEntry.booked_at < day("2024-03-03T00:00:00"),
    )


def test_open_ended_range_and_campaign_filter(ledger_engine: Engine) -> None:
    since = finance_report(ledger_engine, date_from=date(2024, 3, 2))
    assert since.totals.total_paid_cents == 42 + 208

    beta = finance_report(ledger_engine, campaign="beta", date_to=date(2024, 3, 31))
    assert [row.key for row in beta.by_campaign] == ["beta"]
    assert beta.totals.total_paid_cents == 208
    assert beta.totals.pending_cents == 145
    assert [row.key for row in beta.by_worker] == ["W1", "W4"]


def test_refuses_unknown_campaign_and_reversed_range(ledger_engine: Engine) -> None:
    with pytest.raises(ConfigError, match="no campaign named 'gamma'.*alpha, beta"):
        finance_report(ledger_engine, campaign="gamma")
    with pytest.raises(ConfigError, match="swap"):
        finance_report(
            ledger_engine, date_from=date(2024, 3, 3), date_to=date(2024, 3, 1)
        )


def test_refuses_to_total_an_unknown_ledger_kind(ledger_engine: Engine) -> None:
    writer = LedgerWriter(ledger_engine)
    action_id = writer.action("approve", "B2", key="approve:B2")
    writer.book(action_id, "refund", 7, "2024-03-04T00:00:00")

    with pytest.raises(StateError, match="kind 'refund'"):
        finance_report(ledger_engine)


def test_empty_database_reports_zero(engine: Engine) -> None:
    report = finance_report(engine)

    assert report.totals.total_paid_cents == 0
    assert report.by_campaign == report.by_day == report.by_worker == []
    assert report.totals.hourly_cents is None
    assert to_csv(report).splitlines()[-1].startswith("total,total,0,0")


def test_csv_totals_equal_ledger_sums(ledger_engine: Engine) -> None:
    text = to_csv(finance_report(ledger_engine))
    rows = list(csv.DictReader(io.StringIO(text)))
    ledger = ledger_sum(ledger_engine)

    for section in ("campaign", "day", "worker"):
        part = [row for row in rows if row["section"] == section]
        assert sum(int(row["total_paid_cents"]) for row in part) == ledger
        assert sum(int(row["rewards_cents"]) for row in part) == 175
        assert sum(int(row["fees_cents"]) for row in part) == 75
        assert sum(int(row["pending_cents"]) for row in part) == 199
    (total,) = [row for row in rows if row["section"] == "total"]
    assert int(total["total_paid_cents"]) == ledger == 310
    assert total["total_paid_dollars"] == "$3.10"
    assert total["pending_dollars"] == "$1.99"
    w1 = next(row for row in rows if row["section"] == "worker" and row["key"] == "W1")
    assert (w1["hourly_cents"], w1["hourly_dollars"]) == ("252", "$2.52")


def test_table_shows_every_section(ledger_engine: Engine) -> None:
    console = Console(width=200, record=True)
    console.print(to_table(finance_report(ledger_engine)))
    text = console.export_text()

    assert "Finance report: all campaigns" in text
    for shown in ("alpha", "beta", "2024-03-03", "W4", "$3.10", "$1.99", "$2.52"):
        assert shown in text


def test_dollars_text() -> None:
    assert dollars_text(0) == "$0.00"
    assert dollars_text(5) == "$0.05"
    assert dollars_text(123456789) == "$1,234,567.89"
    assert dollars_text(-110) == "-$1.10"
