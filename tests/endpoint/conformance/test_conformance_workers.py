"""Worker blocks, qualification types and scores, requirements, messages."""

from __future__ import annotations

from typing import Any

import pytest
from conformance_kit import Target, hit_args, pages, refusal, unique

LOCALE = "00000000000000000071"
PERCENT_APPROVED = "000000000000000000L0"


def worker_ids(count: int, tag: str) -> list[str]:
    """MTurk-shaped worker ids, fresh for each run."""
    stem = unique("").strip().upper()
    return [f"A{tag}{stem}{n:04d}" for n in range(count)]


def test_worker_blocks_page_past_one_hundred(target: Target) -> None:
    client = target.client()
    blocked = worker_ids(150, "BLK")
    for worker in blocked:
        client.create_worker_block(WorkerId=worker, Reason=f"Block {worker}")
    # Blocking again only changes the reason.
    client.create_worker_block(WorkerId=blocked[0], Reason="Updated reason")

    listed = {
        block["WorkerId"]: block["Reason"]
        for page in pages(client, "list_worker_blocks", "WorkerBlocks")
        for block in page
    }
    assert set(blocked) <= set(listed)
    assert listed[blocked[0]] == "Updated reason"

    for worker in blocked:
        client.delete_worker_block(WorkerId=worker)
    client.delete_worker_block(WorkerId=blocked[0])  # twice is harmless
    remaining = {
        block["WorkerId"]
        for page in pages(client, "list_worker_blocks", "WorkerBlocks")
        for block in page
    }
    assert not remaining & set(blocked)


def test_qualification_types_page_and_filter(target: Target) -> None:
    client = target.client()
    tag = unique("Conformance skill")
    created = [
        client.create_qualification_type(
            Name=f"{tag} {n:03d}",
            Description="Shown to workers",
            Keywords="conformance",
            QualificationTypeStatus="Active",
        )["QualificationType"]["QualificationTypeId"]
        for n in range(110)
    ]
    response = refusal(
        client.create_qualification_type,
        Name=f"{tag} 000",
        Description="Same name again",
        QualificationTypeStatus="Active",
    )
    assert "already" in response["Error"]["Message"]

    found = [
        t["QualificationTypeId"]
        for page in pages(
            client,
            "list_qualification_types",
            "QualificationTypes",
            Query=tag,
            MustBeRequestable=False,
            MustBeOwnedByCaller=True,
        )
        for t in page
    ]
    assert sorted(found) == sorted(created)

    updated = client.update_qualification_type(
        QualificationTypeId=created[0],
        Description="New words",
        QualificationTypeStatus="Inactive",
    )["QualificationType"]
    assert (updated["Description"], updated["QualificationTypeStatus"]) == (
        "New words",
        "Inactive",
    )
    for type_id in created:
        client.delete_qualification_type(QualificationTypeId=type_id)


def test_workers_with_a_qualification_page_past_one_hundred(target: Target) -> None:
    client = target.client()
    type_id = client.create_qualification_type(
        Name=unique("Graded"), Description="d", QualificationTypeStatus="Active"
    )["QualificationType"]["QualificationTypeId"]
    workers = worker_ids(150, "QUA")
    for score, worker in enumerate(workers):
        client.associate_qualification_with_worker(
            QualificationTypeId=type_id,
            WorkerId=worker,
            IntegerValue=score,
            SendNotification=False,
        )

    listed = {
        q["WorkerId"]: q["IntegerValue"]
        for page in pages(
            client,
            "list_workers_with_qualification_type",
            "Qualifications",
            QualificationTypeId=type_id,
        )
        for q in page
    }
    assert listed == {worker: score for score, worker in enumerate(workers)}

    score = client.get_qualification_score(
        QualificationTypeId=type_id, WorkerId=workers[7]
    )["Qualification"]
    assert (score["IntegerValue"], score["Status"]) == (7, "Granted")

    client.disassociate_qualification_from_worker(
        QualificationTypeId=type_id, WorkerId=workers[7], Reason="Retest"
    )
    granted = [
        q["WorkerId"]
        for page in pages(
            client,
            "list_workers_with_qualification_type",
            "Qualifications",
            QualificationTypeId=type_id,
            Status="Granted",
        )
        for q in page
    ]
    assert len(granted) == 149 and workers[7] not in granted


def requirement(type_id: str, comparator: str, **values: Any) -> dict[str, Any]:
    return {"QualificationTypeId": type_id, "Comparator": comparator, **values}


ACCEPTED_REQUIREMENTS = [
    requirement(PERCENT_APPROVED, "GreaterThanOrEqualTo", IntegerValues=[95]),
    requirement(PERCENT_APPROVED, "LessThan", IntegerValues=[100]),
    requirement(PERCENT_APPROVED, "In", IntegerValues=list(range(85, 100))),
    requirement(PERCENT_APPROVED, "NotEqualTo", IntegerValues=[0]),
    requirement(LOCALE, "EqualTo", LocaleValues=[{"Country": "US"}]),
    requirement(LOCALE, "In", LocaleValues=[{"Country": "US", "Subdivision": "WA"}]),
    requirement(LOCALE, "NotIn", LocaleValues=[{"Country": "FR"}]),
    requirement(LOCALE, "Exists", ActionsGuarded="DiscoverPreviewAndAccept"),
    requirement(PERCENT_APPROVED, "Exists", ActionsGuarded="PreviewAndAccept"),
]
REFUSED_REQUIREMENTS = [
    requirement(PERCENT_APPROVED, "Exists", IntegerValues=[1]),
    requirement(PERCENT_APPROVED, "In", IntegerValues=list(range(16))),
    requirement(PERCENT_APPROVED, "GreaterThan", IntegerValues=[1, 2]),
    requirement(PERCENT_APPROVED, "EqualTo", LocaleValues=[{"Country": "US"}]),
    requirement(LOCALE, "EqualTo", IntegerValues=[1]),
    requirement(
        LOCALE,
        "In",
        LocaleValues=[{"Country": "US"}] * 31,
    ),
    requirement("3NOSUCHQUALIFICATIONTYPE000000", "Exists"),
]


@pytest.mark.parametrize("accepted", ACCEPTED_REQUIREMENTS)
def test_requirements_mturk_accepts(target: Target, accepted: dict[str, Any]) -> None:
    client = target.client()
    hit = client.create_hit(**hit_args(QualificationRequirements=[accepted]))["HIT"]
    assert hit["QualificationRequirements"][0]["Comparator"] == accepted["Comparator"]
    if "ActionsGuarded" in accepted:
        guarded = hit["QualificationRequirements"][0]["ActionsGuarded"]
        assert guarded == accepted["ActionsGuarded"]


@pytest.mark.parametrize("refused", REFUSED_REQUIREMENTS)
def test_requirements_mturk_refuses(target: Target, refused: dict[str, Any]) -> None:
    client = target.client()
    refusal(client.create_hit, **hit_args(QualificationRequirements=[refused]))


def test_notify_workers_limits(target: Target) -> None:
    client = target.client()
    workers = worker_ids(101, "MSG")
    refusal(client.notify_workers, Subject="s", MessageText="m", WorkerIds=workers)
    refusal(
        client.notify_workers, Subject="s" * 201, MessageText="m", WorkerIds=workers[:1]
    )
    refusal(
        client.notify_workers,
        Subject="s",
        MessageText="m" * 4097,
        WorkerIds=workers[:1],
    )
    answer = client.notify_workers(
        Subject="s" * 200, MessageText="m" * 4096, WorkerIds=workers[:100]
    )
    # None of these workers ever worked for this requester.
    failures = answer["NotifyWorkersFailureStatuses"]
    assert {f["WorkerId"] for f in failures} == set(workers[:100])


def test_system_types_and_qualification_requests(target: Target) -> None:
    client = target.client()
    system = client.get_qualification_type(QualificationTypeId=LOCALE)
    assert system["QualificationType"]["QualificationTypeStatus"] == "Active"
    refusal(
        client.associate_qualification_with_worker,
        QualificationTypeId=LOCALE,
        WorkerId="AWORKER",
        IntegerValue=1,
    )
    type_id = client.create_qualification_type(
        Name=unique("Requestable"), Description="d", QualificationTypeStatus="Active"
    )["QualificationType"]["QualificationTypeId"]
    requests = client.list_qualification_requests(QualificationTypeId=type_id)
    assert requests["NumResults"] == 0
    refusal(client.accept_qualification_request, QualificationRequestId="3NOSUCH")
    refusal(client.reject_qualification_request, QualificationRequestId="3NOSUCH")

    hit_id = client.create_hit(
        **hit_args(QualificationRequirements=[requirement(type_id, "Exists")])
    )["HIT"]["HITId"]
    with_type = client.list_hits_for_qualification_type(
        QualificationTypeId=type_id, MaxResults=100
    )
    assert [h["HITId"] for h in with_type["HITs"]] == [hit_id]


def test_scores_of_another_requesters_type_stay_private(target: Target) -> None:
    mine, theirs = target.client(), target.client(second=True)
    type_id = mine.create_qualification_type(
        Name=unique("Private"), Description="d", QualificationTypeStatus="Active"
    )["QualificationType"]["QualificationTypeId"]
    worker = worker_ids(1, "PRV")[0]
    mine.associate_qualification_with_worker(
        QualificationTypeId=type_id, WorkerId=worker, IntegerValue=5
    )
    refusal(
        theirs.get_qualification_score, QualificationTypeId=type_id, WorkerId=worker
    )
    refusal(theirs.list_workers_with_qualification_type, QualificationTypeId=type_id)
    refusal(
        theirs.associate_qualification_with_worker,
        QualificationTypeId=type_id,
        WorkerId=worker,
        IntegerValue=1,
    )
    refusal(theirs.delete_qualification_type, QualificationTypeId=type_id)
