"""Reconciliation against the bundled MTurk-compatible endpoint, over HTTP.

Three workers submit a HIT on the endpoint; two are approved (one with a
bonus) and one rejected, through the real Requester API, and the same story
is written to the state database. Ledger, state and endpoint must agree to
the cent; a bonus then paid behind the ledger's back must be found.
"""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import pytest

endpoint_server = pytest.importorskip(
    "crowd_bridge.endpoint.server",
    reason="the bundled endpoint (crowd_bridge.endpoint.server) is not importable",
)

from finance_ledger import LedgerWriter  # noqa: E402
from sqlalchemy.engine import Engine  # noqa: E402

from crowd_bridge.finance.reconcile import reconcile  # noqa: E402
from crowd_bridge.finance.report import finance_report  # noqa: E402
from crowd_bridge.mturk.client import MTurkClient  # noqa: E402
from crowd_bridge.settings import Settings  # noqa: E402

FORM = (
    '<form method="post" action="https://www.mturk.com/mturk/externalSubmit">'
    '<input type="hidden" name="assignmentId" value="">'
    '<label><input type="radio" name="item-P1" value="1">same</label>'
    '<label><input type="radio" name="item-P1" value="0">different</label></form>'
)
QUESTION = (
    '<HTMLQuestion xmlns="http://mechanicalturk.amazonaws.com/'
    'AWSMechanicalTurkDataSchemas/2011-11-11/HTMLQuestion.xsd">'
    f"<HTMLContent><![CDATA[{FORM}]]></HTMLContent>"
    "<FrameHeight>0</FrameHeight></HTMLQuestion>"
)


@pytest.fixture
def running() -> Iterator[object]:
    """The endpoint with a virtual clock and no crowd: only our workers work."""
    with endpoint_server.RunningEndpoint() as endpoint:
        yield endpoint


def submit_as(url: str, hit_id: str, worker_id: str) -> str:
    """Accept the HIT as ``worker_id`` and post its form, as a browser would."""
    with httpx.Client(base_url=url, trust_env=False) as http:
        accepted = http.post(
            "/_sim/accept", json={"worker_id": worker_id, "hit_id": hit_id}
        )
        accepted.raise_for_status()
        assignment_id = str(accepted.json()["assignment_id"])
        http.post(
            "/mturk/externalSubmit",
            data={"assignmentId": assignment_id, "item-P1": "1"},
        ).raise_for_status()
    return assignment_id


def test_paid_hit_reconciles_to_the_cent(running: object, engine: Engine) -> None:
    url = running.url  # type: ignore[attr-defined]
    client = MTurkClient(
        Settings(
            endpoint_url=url,
            aws_access_key_id="AKIDFINANCETEST",
            aws_secret_access_key="secret",
            max_attempts=1,
        )
    )
    hit_id = client.create_hit(
        MaxAssignments=3,
        LifetimeInSeconds=86_400,
        AssignmentDurationInSeconds=3_600,
        AutoApprovalDelayInSeconds=86_400,
        Reward="0.25",
        Title="Do these two product records describe the same product?",
        Description="Compare two product records.",
        Question=QUESTION,
    )["HITId"]
    a1, a2, a3 = (submit_as(url, hit_id, worker) for worker in ("W1", "W2", "W3"))
    client.approve(a1)
    client.approve(a2)
    client.reject(a3, "The gold item was answered wrongly.")
    client.send_bonus("W1", a1, 10, "Accurate work.", "finance-bonus-a1")

    writer = LedgerWriter(engine)
    writer.campaign("live")
    writer.hit("live", hit_id, reward=25, size=3)
    for assignment_id, worker, status in (
        (a1, "W1", "Approved"),
        (a2, "W2", "Approved"),
        (a3, "W3", "Rejected"),
    ):
        writer.assignment(
            assignment_id, hit_id, worker, status, submitted="2024-03-01T10:00"
        )
    writer.approve(a1, 25, 5, "2024-03-01T11:00:00")
    writer.approve(a2, 25, 5, "2024-03-01T11:00:00")
    writer.action("reject", a3, at="2024-03-01T11:00:00")
    writer.bonus(a1, 10, 2, "2024-03-01T11:05:00")

    report = reconcile(engine, client)
    stats = running.stats()  # type: ignore[attr-defined]
    totals = finance_report(engine).totals

    assert report.differences == []
    assert (report.hits_checked, report.assignments_checked) == (1, 3)
    assert report.bonuses_checked == 1
    assert (
        totals.total_paid_cents
        == 72
        == (
            stats["paid_rewards_cents"]
            + stats["paid_bonuses_cents"]
            + stats["paid_fees_cents"]
        )
    )

    # A bonus paid straight through the API, never booked in the ledger.
    client.send_bonus("W2", a2, 7, "Extra thanks.", "finance-bonus-a2")
    after = reconcile(engine, client)
    assert [
        (d.kind, d.hit_id, d.assignment_id, d.worker_id, d.theirs)
        for d in after.differences
    ] == [("bonus_not_booked", hit_id, a2, "W2", "0.07")]
    # Seven cents and the one-cent minimum fee left the account.
    assert after.balance_cents == report.balance_cents - 8
