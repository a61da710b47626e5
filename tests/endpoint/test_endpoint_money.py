"""Review and payment: approve, reject, bonuses, fees and the balance."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import httpx
import pytest
from botocore.exceptions import ClientError
from endpoint_helpers import START, START_EPOCH, hit_args, make_client, submit_as

from crowd_bridge.endpoint import EndpointConfig, FeeSchedule, RunningEndpoint
from crowd_bridge.endpoint.crowds import WorkerProfile
from crowd_bridge.errors import ConfigError


def balance_cents(client: Any, field: str = "AvailableBalance") -> int:
    dollars, cents = client.get_account_balance()[field].split(".")
    return int(dollars) * 100 + int(cents)


def account_cents(endpoint: RunningEndpoint, requester: str = "AKIDEXAMPLE") -> int:
    """The whole balance, held money included: it drops only when paying."""
    balance: int = endpoint.stats()["requesters"][requester]["balance_cents"]
    return balance


def error_of(call: Any, **kwargs: Any) -> dict[str, Any]:
    with pytest.raises(ClientError) as error:
        call(**kwargs)
    assert error.value.response["Error"]["Code"] == "RequestError"
    return {
        "code": error.value.response["TurkErrorCode"],
        "message": error.value.response["Error"]["Message"],
    }


def test_external_submit_stores_question_form_answers(
    endpoint: RunningEndpoint, client: Any
) -> None:
    hit_id = client.create_hit(**hit_args(["P1", "P2"]))["HIT"]["HITId"]
    page = httpx.get(f"{endpoint.url}/worker/tasks/{hit_id}")
    assert page.status_code == 200 and 'name="item-P1"' in page.text
    fields = {"item-P1": "1", "item-P2": "0", "comments": "a < b & c"}
    assignment_id = submit_as(endpoint.url, hit_id, "AWORKER1", fields)

    listed = client.list_assignments_for_hit(HITId=hit_id)
    assert listed["NumResults"] == 1
    assignment = listed["Assignments"][0]
    assert assignment["AssignmentId"] == assignment_id
    assert assignment["WorkerId"] == "AWORKER1"
    assert assignment["AssignmentStatus"] == "Submitted"
    assert "<QuestionIdentifier>item-P1</QuestionIdentifier>" in assignment["Answer"]
    assert "<FreeText>a &lt; b &amp; c</FreeText>" in assignment["Answer"]
    assert endpoint.stats()["answers_external"] == 2

    # The same worker cannot take the HIT twice, nor submit twice.
    again = httpx.post(
        f"{endpoint.url}/_sim/accept", json={"worker_id": "AWORKER1", "hit_id": hit_id}
    )
    assert again.status_code == 409
    resubmit = httpx.post(
        f"{endpoint.url}/mturk/externalSubmit", data={"assignmentId": assignment_id}
    )
    assert resubmit.status_code == 400


def test_approve_charges_reward_plus_fee_once(
    endpoint: RunningEndpoint, client: Any
) -> None:
    hit_id = client.create_hit(**hit_args(Reward="0.12"))["HIT"]["HITId"]
    assignment_id = submit_as(endpoint.url, hit_id, "AWORKER1", {"item-X1": "0"})
    before = account_cents(endpoint)

    client.approve_assignment(AssignmentId=assignment_id, RequesterFeedback="Thanks")
    # 12 cents reward and a 20% fee of 2.4 cents, rounded half up to 2.
    assert account_cents(endpoint) == before - 14
    got = client.get_assignment(AssignmentId=assignment_id)
    assert got["Assignment"]["AssignmentStatus"] == "Approved"
    assert got["Assignment"]["RequesterFeedback"] == "Thanks"
    assert got["HIT"]["NumberOfAssignmentsCompleted"] == 1

    failure = error_of(client.approve_assignment, AssignmentId=assignment_id)
    assert failure["code"] == "AWS.MechanicalTurk.InvalidAssignmentState"
    assert (
        "This operation can be called with a status of: Submitted"
        in (failure["message"])
    )
    assert account_cents(endpoint) == before - 14
    stats = endpoint.stats()
    assert (stats["paid_rewards_cents"], stats["paid_fees_cents"]) == (12, 2)


def test_reject_needs_feedback_and_can_be_overridden(
    endpoint: RunningEndpoint, client: Any
) -> None:
    hit_id = client.create_hit(**hit_args(Reward="0.50"))["HIT"]["HITId"]
    assignment_id = submit_as(endpoint.url, hit_id, "AWORKER1", {"item-X1": "0"})
    before = account_cents(endpoint)

    raw = make_client(endpoint.url, validate=False)
    error_of(raw.reject_assignment, AssignmentId=assignment_id)
    client.reject_assignment(AssignmentId=assignment_id, RequesterFeedback="Wrong")
    assert account_cents(endpoint) == before
    assert (
        client.list_assignments_for_hit(HITId=hit_id, AssignmentStatuses=["Rejected"])[
            "NumResults"
        ]
        == 1
    )

    failure = error_of(
        client.reject_assignment, AssignmentId=assignment_id, RequesterFeedback="again"
    )
    assert failure["code"] == "AWS.MechanicalTurk.InvalidAssignmentState"
    error_of(client.approve_assignment, AssignmentId=assignment_id)

    client.approve_assignment(AssignmentId=assignment_id, OverrideRejection=True)
    assert account_cents(endpoint) == before - 60
    hit = client.get_hit(HITId=hit_id)["HIT"]
    assert hit["NumberOfAssignmentsCompleted"] == 1


def test_bonus_arithmetic_and_duplicate_token(
    endpoint: RunningEndpoint, client: Any
) -> None:
    hit_id = client.create_hit(**hit_args())["HIT"]["HITId"]
    assignment_id = submit_as(endpoint.url, hit_id, "AWORKER1", {"item-X1": "0"})
    client.approve_assignment(AssignmentId=assignment_id)
    before = account_cents(endpoint)

    bonus = {
        "WorkerId": "AWORKER1",
        "BonusAmount": "0.05",
        "AssignmentId": assignment_id,
        "Reason": "Careful work",
        "UniqueRequestToken": "bonus-1",
    }
    client.send_bonus(**bonus)
    # 5 cents and the 1-cent minimum fee (20% would be 1 cent anyway).
    assert account_cents(endpoint) == before - 6

    failure = error_of(client.send_bonus, **bonus)
    assert failure["code"] == "AWS.MechanicalTurk.DuplicateRequest"
    assert account_cents(endpoint) == before - 6

    client.send_bonus(**{**bonus, "BonusAmount": "1.25", "UniqueRequestToken": "b-2"})
    # 125 cents plus a fee of 25 cents.
    assert account_cents(endpoint) == before - 6 - 150

    by_hit = client.list_bonus_payments(HITId=hit_id)
    by_assignment = client.list_bonus_payments(AssignmentId=assignment_id)
    assert by_hit["NumResults"] == by_assignment["NumResults"] == 2
    assert [b["BonusAmount"] for b in by_hit["BonusPayments"]] == ["0.05", "1.25"]
    assert by_hit["BonusPayments"][0]["Reason"] == "Careful work"
    stats = endpoint.stats()
    assert stats["paid_bonuses_cents"] == 130
    assert stats["paid_fees_cents"] == 2 + 1 + 25

    wrong_worker = error_of(
        client.send_bonus,
        **{**bonus, "WorkerId": "AOTHER", "UniqueRequestToken": "b-3"},
    )
    assert "AWORKER1" in wrong_worker["message"]


def test_large_hits_pay_the_extra_fee(endpoint: RunningEndpoint, client: Any) -> None:
    hit_id = client.create_hit(**hit_args(Reward="0.10", MaxAssignments=10))["HIT"][
        "HITId"
    ]
    assignment_id = submit_as(endpoint.url, hit_id, "AWORKER1", {"item-X1": "0"})
    before = account_cents(endpoint)
    client.approve_assignment(AssignmentId=assignment_id)
    # 10 cents plus 20% + 20% = 4 cents.
    assert account_cents(endpoint) == before - 14


def test_fee_schedule_is_configurable_and_rounds_half_up() -> None:
    fees = FeeSchedule(base_percent=Decimal(25), minimum_cents=3)
    assert fees.reward_fee(10, 1) == 3  # 2.5 cents, but at least 3
    assert fees.reward_fee(30, 1) == 8  # 7.5 rounds half up
    assert fees.reward_fee(30, 10) == 14  # 45% of 30 = 13.5
    assert fees.reward_fee(100, 1, masters=True) == 30  # 25% + 5%
    assert fees.bonus_fee(250) == 63  # 62.5 rounds half up
    # Masters pay more commission on rewards only, never on bonuses.
    assert fees.bonus_fee(250, masters=True) == 63
    assert FeeSchedule(base_percent="10").bonus_fee(250) == 25  # type: ignore[arg-type]


@pytest.mark.parametrize(
    "settings",
    [
        {"base_percent": 0.2},
        {"masters_percent": Decimal(-1)},
        {"large_hit_percent": "lots"},
        {"large_hit_percent": "NaN"},
        {"minimum_cents": -1},
        {"large_hit_assignments": 0},
    ],
)
def test_fee_schedules_refuse_inexact_or_negative_rates(
    settings: dict[str, Any],
) -> None:
    with pytest.raises(ConfigError):
        FeeSchedule(**settings)


def test_the_endpoint_and_the_pipeline_share_one_fee_schedule() -> None:
    from crowd_bridge import money

    assert FeeSchedule is money.FeeSchedule
    assert isinstance(EndpointConfig().fees, money.FeeSchedule)


def test_insufficient_funds() -> None:
    config = EndpointConfig(
        clock="virtual", start_time=START, starting_balance_cents=100
    )
    with RunningEndpoint(config) as endpoint:
        client = make_client(endpoint.url)
        assert client.get_account_balance()["AvailableBalance"] == "1.00"

        # Three assignments at 30 cents plus 6 cents fee need $1.08.
        failure = error_of(client.create_hit, **hit_args(Reward="0.30"))
        assert failure["code"] == "AWS.MechanicalTurk.InsufficientFunds"
        assert "1.08" in failure["message"]

        hit_id = client.create_hit(**hit_args(Reward="0.30", MaxAssignments=2))["HIT"][
            "HITId"
        ]
        # Two assignments' worth (72 cents) is held until they are reviewed.
        balance = client.get_account_balance()
        assert (balance["AvailableBalance"], balance["OnHoldBalance"]) == (
            "0.28",
            "0.72",
        )
        failure = error_of(
            client.create_hit, **hit_args(Reward="0.25", MaxAssignments=1)
        )
        assert failure["code"] == "AWS.MechanicalTurk.InsufficientFunds"
        assert "available balance is $0.28" in failure["message"]

        assignment_id = submit_as(endpoint.url, hit_id, "AWORKER1", {"item-X1": "0"})
        client.approve_assignment(AssignmentId=assignment_id)
        assert balance_cents(client) == 28
        assert balance_cents(client, "OnHoldBalance") == 36
        assert account_cents(endpoint) == 64
        failure = error_of(
            client.send_bonus,
            WorkerId="AWORKER1",
            BonusAmount="0.30",
            AssignmentId=assignment_id,
            Reason="More than what is available",
        )
        assert failure["code"] == "AWS.MechanicalTurk.InsufficientFunds"
        assert account_cents(endpoint) == 64


def test_holds_follow_the_outstanding_assignments(
    endpoint: RunningEndpoint, client: Any
) -> None:
    start = balance_cents(client)
    hit_id = client.create_hit(
        **hit_args(Reward="0.20", MaxAssignments=3, LifetimeInSeconds=3600)
    )["HIT"]["HITId"]
    # 20 cents and a 4 cent fee for each of three assignments.
    assert balance_cents(client) == start - 72
    assert balance_cents(client, "OnHoldBalance") == 72

    first = submit_as(endpoint.url, hit_id, "AWORKER1", {"item-X1": "0"})
    second = submit_as(endpoint.url, hit_id, "AWORKER2", {"item-X1": "1"})
    client.approve_assignment(AssignmentId=first)
    # Approval pays out of the hold: nothing more leaves the available balance.
    assert balance_cents(client) == start - 72
    assert balance_cents(client, "OnHoldBalance") == 48
    client.reject_assignment(AssignmentId=second, RequesterFeedback="Wrong")
    assert balance_cents(client) == start - 48

    # The third slot is released when the HIT expires unfilled.
    endpoint.advance(3600)
    assert balance_cents(client) == start - 24
    assert balance_cents(client, "OnHoldBalance") == 0

    # Reopening the HIT holds its open slot again; an override is paid from
    # what is available.
    later = START_EPOCH + 7200
    client.update_expiration_for_hit(HITId=hit_id, ExpireAt=later)
    assert balance_cents(client, "OnHoldBalance") == 24
    assert balance_cents(client) == start - 48
    client.approve_assignment(AssignmentId=second, OverrideRejection=True)
    assert balance_cents(client) == start - 72
    client.update_expiration_for_hit(HITId=hit_id, ExpireAt=START_EPOCH)
    client.delete_hit(HITId=hit_id)
    assert balance_cents(client) == start - 48
    assert account_cents(endpoint) == start - 48


def test_masters_hits_pay_the_masters_fee(
    endpoint: RunningEndpoint, client: Any
) -> None:
    endpoint.runtime.state.register_worker(WorkerProfile("AMASTER", masters=True))
    masters = {
        "QualificationTypeId": "2F1QJWKUDD8XADTFD2Q0G6UTO95ALH",
        "Comparator": "Exists",
    }
    args = hit_args(Reward="1.00", QualificationRequirements=[masters])
    hit_id = client.create_hit(**args)["HIT"]["HITId"]
    refused = httpx.post(
        f"{endpoint.url}/_sim/accept", json={"worker_id": "AWORKER1", "hit_id": hit_id}
    )
    assert refused.status_code == 409
    assignment_id = submit_as(endpoint.url, hit_id, "AMASTER", {"item-X1": "1"})
    before = account_cents(endpoint)
    client.approve_assignment(AssignmentId=assignment_id)
    # $1.00 reward, 20% fee and 5% for Masters.
    assert account_cents(endpoint) == before - 125

    client.send_bonus(
        WorkerId="AMASTER",
        BonusAmount="1.00",
        AssignmentId=assignment_id,
        Reason="Careful work",
    )
    # A bonus pays the base 20% even on a Masters HIT.
    assert account_cents(endpoint) == before - 125 - 120
