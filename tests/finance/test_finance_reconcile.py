"""Reconciliation finds each planted difference and nothing in a clean state."""

from __future__ import annotations

from types import SimpleNamespace
from typing import Any

import pytest
from botocore.exceptions import ClientError
from finance_ledger import LedgerWriter
from rich.console import Console
from sqlalchemy.engine import Engine

from crowd_bridge.errors import ConfigError, MTurkError
from crowd_bridge.finance.bonuses import read_payments
from crowd_bridge.finance.reconcile import ReconcileReport, reconcile, reconcile_table
from crowd_bridge.mturk.client import MTurkClient
from crowd_bridge.settings import Settings


def _error(operation: str, code: str, message: str) -> ClientError:
    return ClientError({"Error": {"Code": code, "Message": message}}, operation)


class FakeMTurk:
    """The boto3 ``mturk`` calls reconciliation makes, two results a page.

    Wrapped in the real :class:`MTurkClient`, so error translation and
    NextToken paging are the product's own code.
    """

    PAGE = 2

    def __init__(self) -> None:
        self.meta = SimpleNamespace(
            method_to_api_mapping={
                "list_assignments_for_hit": "ListAssignmentsForHIT",
                "get_assignment": "GetAssignment",
                "list_bonus_payments": "ListBonusPayments",
                "get_account_balance": "GetAccountBalance",
            }
        )
        self.assignments: dict[str, list[dict[str, str]]] = {
            "HA1": [
                self.row("A1", "W1", "Approved"),
                self.row("A2", "W2", "Approved"),
                self.row("A3", "W3", "Rejected"),
            ],
            "HA2": [
                self.row("A4", "W1", "Approved"),
                self.row("A5", "W2", "Submitted"),
                self.row("A6", "W3", "Submitted"),
            ],
            "HB1": [
                self.row("B1", "W1", "Approved"),
                self.row("B2", "W4", "Submitted"),
            ],
        }
        self.bonuses: list[dict[str, str]] = [
            self.bonus("HA2", "A4", "W1", "0.10"),
            self.bonus("HB1", "B1", "W1", "0.50"),
        ]
        self.balance = "123.45"
        self.throttle = False
        self.calls: list[tuple[str, dict[str, Any]]] = []

    @staticmethod
    def row(assignment_id: str, worker: str, status: str) -> dict[str, str]:
        return {
            "AssignmentId": assignment_id,
            "WorkerId": worker,
            "AssignmentStatus": status,
        }

    @staticmethod
    def bonus(hit: str, assignment: str, worker: str, amount: str) -> dict[str, str]:
        return {
            "HITId": hit,
            "AssignmentId": assignment,
            "WorkerId": worker,
            "BonusAmount": amount,
            "Reason": "test",
        }

    def _page(self, rows: list[Any], key: str, token: str | None) -> dict[str, Any]:
        start = int(token or 0)
        page: dict[str, Any] = {key: rows[start : start + self.PAGE]}
        if start + self.PAGE < len(rows):
            page["NextToken"] = str(start + self.PAGE)
        return page

    def list_assignments_for_hit(self, **params: Any) -> dict[str, Any]:
        self.calls.append(("ListAssignmentsForHIT", params))
        if self.throttle:
            raise _error("ListAssignmentsForHIT", "ThrottlingException", "slow down")
        if params["HITId"] not in self.assignments:
            raise _error("ListAssignmentsForHIT", "RequestError", "HIT does not exist")
        rows = [
            row
            for row in self.assignments[params["HITId"]]
            if row["AssignmentStatus"] in params["AssignmentStatuses"]
        ]
        return self._page(rows, "Assignments", params.get("NextToken"))

    def get_assignment(self, **params: Any) -> dict[str, Any]:
        self.calls.append(("GetAssignment", params))
        for rows in self.assignments.values():
            for row in rows:
                if row["AssignmentId"] == params["AssignmentId"]:
                    return {"Assignment": row}
        raise _error("GetAssignment", "RequestError", "Assignment does not exist")

    def list_bonus_payments(self, **params: Any) -> dict[str, Any]:
        self.calls.append(("ListBonusPayments", params))
        if "HITId" in params and params["HITId"] not in self.assignments:
            raise _error("ListBonusPayments", "RequestError", "HIT does not exist")
        rows = [
            bonus
            for bonus in self.bonuses
            if bonus["HITId"] == params.get("HITId")
            or bonus["AssignmentId"] == params.get("AssignmentId")
        ]
        return self._page(rows, "BonusPayments", params.get("NextToken"))

    def get_account_balance(self, **params: Any) -> dict[str, Any]:
        self.calls.append(("GetAccountBalance", params))
        return {"AvailableBalance": self.balance}

    def called(self, operation: str) -> list[dict[str, Any]]:
        return [params for name, params in self.calls if name == operation]


def client_for(fake: FakeMTurk) -> MTurkClient:
    return MTurkClient(Settings(), client=fake)


def found(report: ReconcileReport) -> set[tuple[str, str | None]]:
    return {(d.kind, d.assignment_id) for d in report.differences}


def test_clean_state_is_consistent(ledger_engine: Engine) -> None:
    fake = FakeMTurk()
    report = reconcile(ledger_engine, client_for(fake))

    assert report.differences == []
    assert report.consistent
    assert report.balance_cents == 12345
    assert report.pending_cents == 199
    assert report.balance_short_cents == 0
    assert (report.hits_checked, report.assignments_checked) == (3, 8)
    assert report.bonuses_checked == 2
    # HA1's third assignment is on the second page; nothing needed GetAssignment.
    listed = fake.called("ListAssignmentsForHIT")
    second_pages = sorted(
        (p["HITId"], p["NextToken"]) for p in listed if "NextToken" in p
    )
    assert second_pages == [("HA1", "2"), ("HA2", "2")]
    assert fake.called("GetAssignment") == []


def test_planted_differences_are_each_found(ledger_engine: Engine) -> None:
    fake = FakeMTurk()
    ha2 = fake.assignments["HA2"]
    ha2[1]["AssignmentStatus"] = "Approved"  # A5 auto-approved on the endpoint
    ha2.append(fake.row("A7", "W5", "Approved"))  # never collected by us
    del ha2[2]  # A6 unknown to the endpoint
    fake.bonuses[0]["WorkerId"] = "W9"  # A4's bonus went to someone else
    fake.bonuses[1]["BonusAmount"] = "0.40"  # B1's bonus paid short
    fake.bonuses.append(fake.bonus("HA1", "A2", "W2", "0.20"))  # not in the ledger

    writer = LedgerWriter(ledger_engine)
    writer.campaign("gamma")
    writer.hit("gamma", "HX9", reward=10, size=1)  # the endpoint never had it
    reward_only = writer.action("approve", "A3")  # a rejected assignment "paid"
    writer.book(reward_only, "reward", 25, "2024-03-04T00:00:00")
    writer.bonus("A1", 15, 3, "2024-03-04T00:00:00")  # booked, never paid
    again = writer.action("approve", "B1", key="approve:B1:again")
    writer.book(again, "reward", 100, "2024-03-04T00:00:00")
    writer.book(again, "reward_fee", 45, "2024-03-04T00:00:00")

    report = reconcile(ledger_engine, client_for(fake))

    assert found(report) == {
        ("assignment_status", "A5"),
        ("reward_not_booked", "A5"),
        ("assignment_not_collected", "A7"),
        ("reward_not_booked", "A7"),
        ("assignment_missing", "A6"),
        ("reward_not_paid", "A3"),
        ("fee_missing", "A3"),
        ("reward_booked_twice", "B1"),
        ("bonus_worker", "A4"),
        ("bonus_amount", "B1"),
        ("bonus_not_booked", "A2"),
        ("bonus_not_paid", "A1"),
        ("hit_unreachable", None),
    }
    assert len(report.differences) == 13
    assert not report.consistent
    by = {(d.kind, d.assignment_id): d for d in report.differences}
    status = by[("assignment_status", "A5")]
    assert (status.ours, status.theirs, status.hit_id) == (
        "Submitted",
        "Approved",
        "HA2",
    )
    assert "auto-approval" in status.explanation
    amount = by[("bonus_amount", "B1")]
    assert (amount.ours, amount.theirs, amount.worker_id) == ("$0.50", "0.40", "W1")
    worker = by[("bonus_worker", "A4")]
    assert (worker.ours, worker.theirs) == ("W1", "W9")
    unbooked = by[("bonus_not_booked", "A2")]
    assert "still intended" in unbooked.explanation
    assert by[("bonus_not_paid", "A1")].ours == "$0.15"
    assert by[("fee_missing", "A3")].theirs == "no reward_fee"
    assert by[("hit_unreachable", None)].hit_id == "HX9"
    # A6 was looked up on its own before being called missing.
    assert {"AssignmentId": "A6"} in fake.called("GetAssignment")


def test_campaign_filter_and_balance_shortfall(ledger_engine: Engine) -> None:
    fake = FakeMTurk()
    fake.balance = "1.00"
    fake.assignments["HA1"][0]["AssignmentStatus"] = "Rejected"

    report = reconcile(ledger_engine, client_for(fake), campaign="beta")

    assert report.consistent  # alpha's difference is outside the filter
    assert report.hits_checked == 1
    assert [p["HITId"] for p in fake.called("ListAssignmentsForHIT")] == ["HB1"]
    assert (report.balance_cents, report.pending_cents) == (100, 145)
    assert report.balance_short_cents == 45


def test_unknown_campaign_and_throttling_are_errors(ledger_engine: Engine) -> None:
    fake = FakeMTurk()
    with pytest.raises(ConfigError, match="gamma"):
        reconcile(ledger_engine, client_for(fake), campaign="gamma")

    fake.throttle = True
    with pytest.raises(MTurkError) as raised:
        reconcile(ledger_engine, client_for(fake))
    assert raised.value.retryable


def test_table_and_dict_name_every_difference(ledger_engine: Engine) -> None:
    fake = FakeMTurk()
    fake.bonuses.append(fake.bonus("HB1", "B2", "W4", "1.00"))
    report = reconcile(ledger_engine, client_for(fake))

    console = Console(width=220, record=True)
    console.print(reconcile_table(report))
    text = console.export_text()
    assert "1 differences" in text
    assert "bonus_not_booked" in text and "B2" in text and "$123.45" in text
    data = report.to_dict()
    assert data["consistent"] is False
    assert data["differences"][0]["kind"] == "bonus_not_booked"
    assert data["differences"][0]["theirs"] == "1.00"


def test_bonus_amounts_are_read_as_whole_cents_or_not_at_all() -> None:
    raw = [{"BonusAmount": text} for text in ("0.07", "12", "0.005", "abc", "Inf")]
    assert [payment.cents for payment in read_payments(raw)] == [
        7,
        1200,
        None,
        None,
        None,
    ]
