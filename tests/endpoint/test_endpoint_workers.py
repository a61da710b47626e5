"""Blocks, qualification requirements and worker messages."""

from __future__ import annotations

from typing import Any

import pytest
from botocore.exceptions import ClientError
from endpoint_helpers import START, hit_args, make_client, submit_as

from crowd_bridge.endpoint import (
    EndpointConfig,
    RunningEndpoint,
    SyntheticCrowd,
    SyntheticSpec,
)
from crowd_bridge.endpoint.qualifications import LOCALE, Score, meets

PERCENT_APPROVED = "000000000000000000L0"
HITS_APPROVED = "00000000000000000040"
MASTERS = "2F1QJWKUDD8XADTFD2Q0G6UTO95ALH"


def crowd_endpoint(workers: int = 40) -> RunningEndpoint:
    crowd = SyntheticCrowd(SyntheticSpec(workers=workers, arrival_mean_s=300.0))
    return RunningEndpoint(
        EndpointConfig(clock="virtual", start_time=START, crowd=crowd, seed=2)
    )


def takers(client: Any, hit_id: str) -> set[str]:
    pages = client.get_paginator("list_assignments_for_hit").paginate(HITId=hit_id)
    return {a["WorkerId"] for page in pages for a in page["Assignments"]}


def test_worker_blocks_page_past_one_hundred(client: Any) -> None:
    workers = [f"AW{n:04d}" for n in range(150)]
    for worker in workers:
        client.create_worker_block(WorkerId=worker, Reason=f"Block {worker}")
    client.create_worker_block(WorkerId=workers[0], Reason="Updated reason")

    pages = list(client.get_paginator("list_worker_blocks").paginate())
    assert [p["NumResults"] for p in pages] == [100, 50]
    listed = [b for page in pages for b in page["WorkerBlocks"]]
    assert [b["WorkerId"] for b in listed] == workers
    assert listed[0]["Reason"] == "Updated reason"

    client.delete_worker_block(WorkerId=workers[3])
    client.delete_worker_block(WorkerId=workers[3])  # unblocking twice is fine
    remaining = client.list_worker_blocks(MaxResults=100)
    second = client.list_worker_blocks(NextToken=remaining["NextToken"])
    assert remaining["NumResults"] + second["NumResults"] == 149


def test_blocked_workers_never_take_hits() -> None:
    with crowd_endpoint(workers=8) as endpoint:
        client = make_client(endpoint.url)
        everyone = sorted(endpoint.runtime.state.workers)
        allowed = everyone[:3]
        for worker in everyone[3:]:
            client.create_worker_block(WorkerId=worker, Reason="Not this one")

        hit_id = client.create_hit(**hit_args(MaxAssignments=5))["HIT"]["HITId"]
        endpoint.advance(20 * 3600)
        assert takers(client, hit_id) == set(allowed)
        hit = client.get_hit(HITId=hit_id)["HIT"]
        assert hit["HITStatus"] == "Assignable"
        assert hit["NumberOfAssignmentsAvailable"] == 2


def test_custom_qualification_limits_who_takes_the_hit() -> None:
    with crowd_endpoint() as endpoint:
        client = make_client(endpoint.url)
        qual = client.create_qualification_type(
            Name="Product matching skill",
            Description="Score on the matching test",
            QualificationTypeStatus="Active",
        )["QualificationType"]
        type_id = qual["QualificationTypeId"]
        everyone = sorted(endpoint.runtime.state.workers)
        scores = {everyone[0]: 95, everyone[1]: 80, everyone[2]: 79, everyone[3]: 99}
        for worker, score in scores.items():
            client.associate_qualification_with_worker(
                QualificationTypeId=type_id, WorkerId=worker, IntegerValue=score
            )
        client.disassociate_qualification_from_worker(
            QualificationTypeId=type_id, WorkerId=everyone[3], Reason="Retest"
        )

        requirement = {
            "QualificationTypeId": type_id,
            "Comparator": "GreaterThanOrEqualTo",
            "IntegerValues": [80],
        }
        args = hit_args(MaxAssignments=3, QualificationRequirements=[requirement])
        hit_id = client.create_hit(**args)["HIT"]["HITId"]
        endpoint.advance(3 * 86_400)
        assert takers(client, hit_id) == {everyone[0], everyone[1]}

        granted = client.list_workers_with_qualification_type(
            QualificationTypeId=type_id, Status="Granted"
        )
        assert {
            q["WorkerId"]: q["IntegerValue"] for q in granted["Qualifications"]
        } == {
            everyone[0]: 95,
            everyone[1]: 80,
            everyone[2]: 79,
        }
        revoked = client.list_workers_with_qualification_type(
            QualificationTypeId=type_id, Status="Revoked"
        )
        assert [q["WorkerId"] for q in revoked["Qualifications"]] == [everyone[3]]
        score = client.get_qualification_score(
            QualificationTypeId=type_id, WorkerId=everyone[1]
        )["Qualification"]
        assert score["IntegerValue"] == 80 and score["Status"] == "Granted"


def test_system_qualifications_use_the_workers_records() -> None:
    with crowd_endpoint() as endpoint:
        client = make_client(endpoint.url)
        workers = endpoint.runtime.state.workers
        requirements = [
            {
                "QualificationTypeId": LOCALE,
                "Comparator": "In",
                "LocaleValues": [{"Country": "IN"}, {"Country": "GB"}],
            },
            {
                "QualificationTypeId": PERCENT_APPROVED,
                "Comparator": "GreaterThanOrEqualTo",
                "IntegerValues": [90],
            },
        ]
        args = hit_args(MaxAssignments=5, QualificationRequirements=requirements)
        hit_id = client.create_hit(**args)["HIT"]["HITId"]
        endpoint.advance(3 * 86_400)

        taken = takers(client, hit_id)
        assert len(taken) == 5
        for worker in taken:
            assert workers[worker].country in ("IN", "GB")
            assert workers[worker].percent_approved >= 90

        masters = client.get_qualification_type(QualificationTypeId=MASTERS)
        assert masters["QualificationType"]["Name"] == "Masters"


def test_assigning_system_or_foreign_qualifications_is_refused(
    endpoint: RunningEndpoint, client: Any
) -> None:
    with pytest.raises(ClientError) as error:
        client.associate_qualification_with_worker(
            QualificationTypeId=HITS_APPROVED, WorkerId="AWORKER1", IntegerValue=5
        )
    assert (
        error.value.response["TurkErrorCode"] == "AWS.MechanicalTurk.PermissionDenied"
    )

    type_id = client.create_qualification_type(
        Name="Mine", Description="d", QualificationTypeStatus="Active"
    )["QualificationType"]["QualificationTypeId"]
    with pytest.raises(ClientError) as error:
        client.create_qualification_type(
            Name="Mine", Description="again", QualificationTypeStatus="Active"
        )
    assert "already created" in error.value.response["Error"]["Message"]

    other = make_client(endpoint.url, "AKIDOTHERREQUESTER")
    with pytest.raises(ClientError):
        other.associate_qualification_with_worker(
            QualificationTypeId=type_id, WorkerId="AWORKER1"
        )


def test_notify_workers_reaches_only_workers_who_worked(
    endpoint: RunningEndpoint, client: Any
) -> None:
    hit_id = client.create_hit(**hit_args())["HIT"]["HITId"]
    submit_as(endpoint.url, hit_id, "AWORKER1", {"item-X1": "1"})

    result = client.notify_workers(
        Subject="New batch",
        MessageText="More HITs tomorrow.",
        WorkerIds=["AWORKER1", "ASTRANGER"],
    )
    failures = result["NotifyWorkersFailureStatuses"]
    assert [f["WorkerId"] for f in failures] == ["ASTRANGER"]
    assert failures[0]["NotifyWorkersFailureCode"] == "HardFailure"
    sent = list(endpoint.runtime.state.notifications.values())
    assert [(n.worker_id, n.subject) for n in sent] == [("AWORKER1", "New batch")]


def requirement(comparator: str, *values: int) -> dict[str, Any]:
    found: dict[str, Any] = {"QualificationTypeId": "Q", "Comparator": comparator}
    if values:
        found["IntegerValues"] = list(values)
    return found


@pytest.mark.parametrize(
    ("comparator", "values", "score", "expected"),
    [
        ("LessThan", (5,), 4, True),
        ("LessThan", (5,), 5, False),
        ("LessThanOrEqualTo", (5,), 5, True),
        ("LessThanOrEqualTo", (5,), 6, False),
        ("GreaterThan", (5,), 6, True),
        ("GreaterThan", (5,), 5, False),
        ("GreaterThanOrEqualTo", (5,), 5, True),
        ("GreaterThanOrEqualTo", (5,), 4, False),
        ("EqualTo", (5,), 5, True),
        ("EqualTo", (5,), 6, False),
        ("NotEqualTo", (5,), 6, True),
        ("NotEqualTo", (5,), 5, False),
        ("In", (1, 3, 5), 3, True),
        ("In", (1, 3, 5), 4, False),
        ("NotIn", (1, 3, 5), 4, True),
        ("NotIn", (1, 3, 5), 5, False),
        ("Exists", (), 0, True),
        ("DoesNotExist", (), 0, False),
    ],
)
def test_integer_comparators(
    comparator: str, values: tuple[int, ...], score: int, expected: bool
) -> None:
    assert (
        meets(requirement(comparator, *values), Score(True, integer=score)) is expected
    )


@pytest.mark.parametrize(
    "comparator", ["LessThan", "EqualTo", "NotEqualTo", "In", "NotIn", "Exists"]
)
def test_workers_without_the_qualification_fail_all_but_does_not_exist(
    comparator: str,
) -> None:
    missing = Score(has=False)
    values = () if comparator == "Exists" else (1,)
    assert meets(requirement(comparator, *values), missing) is False
    assert meets(requirement("DoesNotExist"), missing) is True


def test_locale_comparators() -> None:
    seattle = Score(True, locale={"Country": "US", "Subdivision": "WA"})

    def check(comparator: str, *locales: dict[str, str]) -> bool:
        return meets(
            {
                "QualificationTypeId": LOCALE,
                "Comparator": comparator,
                "LocaleValues": list(locales),
            },
            seattle,
        )

    assert check("EqualTo", {"Country": "US"})
    assert check("EqualTo", {"Country": "US", "Subdivision": "WA"})
    assert not check("EqualTo", {"Country": "US", "Subdivision": "NY"})
    assert check("NotEqualTo", {"Country": "GB"})
    assert check("In", {"Country": "GB"}, {"Country": "US"})
    assert not check("NotIn", {"Country": "GB"}, {"Country": "US"})


def test_qualification_type_lifecycle(client: Any) -> None:
    created = client.create_qualification_type(
        Name="Careful labeller",
        Description="Passed the product matching test",
        Keywords="products, matching",
        QualificationTypeStatus="Active",
    )["QualificationType"]
    type_id = created["QualificationTypeId"]
    assert created["QualificationTypeStatus"] == "Active"

    updated = client.update_qualification_type(
        QualificationTypeId=type_id, Description="New text"
    )["QualificationType"]
    assert updated["Description"] == "New text"

    found = client.list_qualification_types(
        Query="matching", MustBeRequestable=False, MustBeOwnedByCaller=True
    )
    assert [q["QualificationTypeId"] for q in found["QualificationTypes"]] == [type_id]

    requirement = {"QualificationTypeId": type_id, "Comparator": "Exists"}
    hit_id = client.create_hit(**hit_args(QualificationRequirements=[requirement]))[
        "HIT"
    ]["HITId"]
    client.create_hit(**hit_args())
    using = client.list_hits_for_qualification_type(QualificationTypeId=type_id)
    assert [h["HITId"] for h in using["HITs"]] == [hit_id]
    assert (
        client.list_qualification_requests(QualificationTypeId=type_id)["NumResults"]
        == 0
    )

    client.delete_qualification_type(QualificationTypeId=type_id)
    with pytest.raises(ClientError) as error:
        client.get_qualification_type(QualificationTypeId=type_id)
    code = error.value.response["TurkErrorCode"]
    assert code == "AWS.MechanicalTurk.QualificationTypeDoesNotExist"
    with pytest.raises(ClientError):
        client.create_hit(**hit_args(QualificationRequirements=[requirement]))


def test_changing_the_hit_type_of_a_hit(client: Any) -> None:
    hit_id = client.create_hit(**hit_args(Reward="0.10"))["HIT"]["HITId"]
    richer = client.create_hit_type(
        AssignmentDurationInSeconds=600,
        Reward="0.20",
        Title="Better paid",
        Description="Same work, better pay.",
    )["HITTypeId"]
    client.update_hit_type_of_hit(HITId=hit_id, HITTypeId=richer)
    hit = client.get_hit(HITId=hit_id)["HIT"]
    assert (hit["HITTypeId"], hit["Reward"], hit["Title"]) == (
        richer,
        "0.20",
        "Better paid",
    )
    assert client.list_review_policy_results_for_hit(HITId=hit_id)["HITId"] == hit_id
