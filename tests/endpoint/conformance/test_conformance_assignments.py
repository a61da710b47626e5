"""Assignments, review, payment and time: these need workers and a clock."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from conformance_kit import Target, cents, hit_args, pages, refusal

from crowd_bridge.endpoint.crowds import WorkerProfile

pytestmark = pytest.mark.simulated

DAY = 86_400
LOCALE = "00000000000000000071"
HITS_APPROVED = "00000000000000000040"


def balance(client: Any) -> int:
    return cents(client.get_account_balance()["AvailableBalance"])


def test_an_assignment_goes_through_every_state(target: Target) -> None:
    client = target.client()
    hit_id = client.create_hit(**hit_args(MaxAssignments=2))["HIT"]["HITId"]

    pending = target.accept(hit_id, "AWORKERONE")
    hit = client.get_hit(HITId=hit_id)["HIT"]
    assert (hit["NumberOfAssignmentsPending"], hit["NumberOfAssignmentsAvailable"]) == (
        1,
        1,
    )
    # Accepted work is not the requester's to see until it is submitted.
    assert client.list_assignments_for_hit(HITId=hit_id)["NumResults"] == 0
    refusal(client.get_assignment, AssignmentId=pending)

    second = target.work(hit_id, "AWORKERTWO", {"item-P1": "0"})
    assert client.get_hit(HITId=hit_id)["HIT"]["HITStatus"] == "Unassignable"
    target.http.post(
        f"{target.url}/mturk/externalSubmit",
        data={"assignmentId": pending, "item-P1": "1"},
    ).raise_for_status()
    assert client.get_hit(HITId=hit_id)["HIT"]["HITStatus"] == "Reviewable"
    refusal(client.delete_hit, HITId=hit_id)  # submitted work awaits review

    got = client.get_assignment(AssignmentId=pending)
    assert got["Assignment"]["AssignmentStatus"] == "Submitted"
    assert "<FreeText>1</FreeText>" in got["Assignment"]["Answer"]
    assert got["HIT"]["HITId"] == hit_id

    client.approve_assignment(AssignmentId=pending, RequesterFeedback="Thanks")
    response = refusal(client.approve_assignment, AssignmentId=pending)
    assert response["TurkErrorCode"] == "AWS.MechanicalTurk.InvalidAssignmentState"
    refusal(client.reject_assignment, AssignmentId=pending, RequesterFeedback="No")
    client.reject_assignment(AssignmentId=second, RequesterFeedback="Wrong")
    refusal(client.approve_assignment, AssignmentId=second)

    statuses = {
        a["AssignmentId"]: a["AssignmentStatus"]
        for a in client.list_assignments_for_hit(HITId=hit_id)["Assignments"]
    }
    assert statuses == {pending: "Approved", second: "Rejected"}
    only_rejected = client.list_assignments_for_hit(
        HITId=hit_id, AssignmentStatuses=["Rejected"]
    )
    assert [a["AssignmentId"] for a in only_rejected["Assignments"]] == [second]
    assert client.get_hit(HITId=hit_id)["HIT"]["NumberOfAssignmentsCompleted"] == 2
    client.delete_hit(HITId=hit_id)
    response = refusal(
        client.approve_assignment, AssignmentId=second, OverrideRejection=True
    )
    assert "deleted" in response["Error"]["Message"]


def test_rejections_can_be_overridden_for_thirty_days(target: Target) -> None:
    client = target.client()
    hit_id = client.create_hit(
        **hit_args(LifetimeInSeconds=60 * DAY, AutoApprovalDelayInSeconds=30 * DAY)
    )["HIT"]["HITId"]
    early = target.work(hit_id, "AEARLY", {"item-P1": "1"})
    late = target.work(hit_id, "ALATE", {"item-P1": "1"})
    for assignment_id in (early, late):
        client.reject_assignment(AssignmentId=assignment_id, RequesterFeedback="No")

    target.advance(29 * DAY)
    before = balance(client)
    client.approve_assignment(AssignmentId=early, OverrideRejection=True)
    assert balance(client) == before - 12  # 10 cents and a 2 cent fee

    target.advance(2 * DAY)
    response = refusal(
        client.approve_assignment, AssignmentId=late, OverrideRejection=True
    )
    assert "30 days" in response["Error"]["Message"]


def test_auto_approval_expiry_and_abandonment(target: Target) -> None:
    client = target.client()
    hit = client.create_hit(
        **hit_args(
            MaxAssignments=2,
            LifetimeInSeconds=DAY,
            AssignmentDurationInSeconds=600,
            AutoApprovalDelayInSeconds=3600,
        )
    )["HIT"]
    hit_id = hit["HITId"]
    target.accept(hit_id, "ASLOWPOKE")
    done = target.work(hit_id, "APROMPT", {"item-P1": "1"})
    before = balance(client)  # both assignments' 12 cents are held already

    target.advance(601)
    # The slow worker ran past the deadline: the slot is open again.
    reopened = client.get_hit(HITId=hit_id)["HIT"]
    assert reopened["NumberOfAssignmentsPending"] == 0
    assert reopened["NumberOfAssignmentsAvailable"] == 1

    target.advance(3600)
    approved = client.get_assignment(AssignmentId=done)["Assignment"]
    assert approved["AssignmentStatus"] == "Approved"
    assert approved["ApprovalTime"] - approved["SubmitTime"] == timedelta(hours=1)
    assert balance(client) == before

    target.advance(DAY)
    expired = client.get_hit(HITId=hit_id)["HIT"]
    assert expired["HITStatus"] == "Reviewable"
    assert expired["NumberOfAssignmentsAvailable"] == 0
    # The slot nobody filled is released when the HIT expires.
    assert balance(client) == before + 12
    refusal(target.client().approve_assignment, AssignmentId="3NOSUCHASSIGNMENT")


def test_261_assignments_page_in_hundreds(target: Target) -> None:
    client = target.client()
    hit_id = client.create_hit(**hit_args(MaxAssignments=261))["HIT"]["HITId"]
    submitted = [
        target.work(hit_id, f"AW{n:05d}", {"item-P1": str(n % 2)}) for n in range(261)
    ]
    sizes, listed = [], []
    for page in pages(client, "list_assignments_for_hit", "Assignments", HITId=hit_id):
        sizes.append(len(page))
        listed += [a["AssignmentId"] for a in page]
    assert sizes == [100, 100, 61]
    assert listed == submitted
    assert client.get_hit(HITId=hit_id)["HIT"]["HITStatus"] == "Reviewable"


def test_fees_are_charged_on_approval_and_bonuses(target: Target) -> None:
    client = target.client()
    start = balance(client)
    large = client.create_hit(**hit_args(MaxAssignments=10, Reward="0.50"))["HIT"]
    # Publishing holds 50 cents, plus 20% and another 20% on a HIT of ten or
    # more assignments, for each assignment.
    before = start - 10 * 70
    assert balance(client) == before
    assignment_id = target.work(large["HITId"], "AFEES", {"item-P1": "1"})
    client.approve_assignment(AssignmentId=assignment_id)
    assert balance(client) == before

    token = "conformance-bonus-1"
    for n in range(150):
        client.send_bonus(
            WorkerId="AFEES",
            BonusAmount="0.05",
            AssignmentId=assignment_id,
            Reason=f"Bonus {n}",
            UniqueRequestToken=f"{token}-{n}",
        )
    # 5 cents each and a 1 cent minimum fee.
    assert balance(client) == before - 150 * 6
    response = refusal(
        client.send_bonus,
        WorkerId="AFEES",
        BonusAmount="0.05",
        AssignmentId=assignment_id,
        Reason="Again",
        UniqueRequestToken=f"{token}-0",
    )
    assert response["TurkErrorCode"] == "AWS.MechanicalTurk.DuplicateRequest"

    for key, value in (("HITId", large["HITId"]), ("AssignmentId", assignment_id)):
        reasons = [
            b["Reason"]
            for page in pages(
                client, "list_bonus_payments", "BonusPayments", **{key: value}
            )
            for b in page
        ]
        assert reasons == [f"Bonus {n}" for n in range(150)]

    # A day later the tokens are forgotten and may be used again.
    target.advance(DAY)
    client.send_bonus(
        WorkerId="AFEES",
        BonusAmount="0.05",
        AssignmentId=assignment_id,
        Reason="Again",
        UniqueRequestToken=f"{token}-0",
    )


def test_requirements_decide_who_may_accept_and_preview(target: Target) -> None:
    state = target.local.runtime.state
    state.register_worker(WorkerProfile("AUSWA", country="US", subdivision="WA"))
    state.register_worker(WorkerProfile("AUSNY", country="US", subdivision="NY"))
    state.register_worker(WorkerProfile("AFRANCE", country="FR", hits_approved=5000))
    client = target.client()

    def takers(requirement: dict[str, Any]) -> set[str]:
        hit_id = client.create_hit(
            **hit_args(MaxAssignments=5, QualificationRequirements=[requirement])
        )["HIT"]["HITId"]
        return {
            worker
            for worker in ("AUSWA", "AUSNY", "AFRANCE")
            if target.try_accept(hit_id, worker).status_code == 200
        }

    def on(type_id: str, comparator: str, **values: Any) -> dict[str, Any]:
        return {"QualificationTypeId": type_id, "Comparator": comparator, **values}

    washington = {"Country": "US", "Subdivision": "WA"}
    assert takers(on(LOCALE, "EqualTo", LocaleValues=[{"Country": "US"}])) == {
        "AUSWA",
        "AUSNY",
    }
    assert takers(on(LOCALE, "In", LocaleValues=[washington])) == {"AUSWA"}
    assert takers(on(LOCALE, "NotEqualTo", LocaleValues=[{"Country": "US"}])) == {
        "AFRANCE"
    }
    assert takers(on(LOCALE, "NotIn", LocaleValues=[washington])) == {
        "AUSNY",
        "AFRANCE",
    }
    assert takers(on(HITS_APPROVED, "GreaterThan", IntegerValues=[1000])) == {"AFRANCE"}
    assert takers(on(HITS_APPROVED, "LessThanOrEqualTo", IntegerValues=[0])) == {
        "AUSWA",
        "AUSNY",
    }
    assert takers(on(HITS_APPROVED, "NotIn", IntegerValues=[0])) == {"AFRANCE"}

    skill = client.create_qualification_type(
        Name="Conformance grader", Description="d", QualificationTypeStatus="Active"
    )["QualificationType"]["QualificationTypeId"]
    client.associate_qualification_with_worker(
        QualificationTypeId=skill, WorkerId="AUSNY", IntegerValue=3
    )
    assert takers(on(skill, "Exists")) == {"AUSNY"}
    assert takers(on(skill, "DoesNotExist")) == {"AUSWA", "AFRANCE"}
    assert takers(on(skill, "GreaterThanOrEqualTo", IntegerValues=[4])) == set()

    # Accept-only guards still let everyone preview; stricter guards do not.
    for guard, previews in (("Accept", 200), ("PreviewAndAccept", 403)):
        requirement = on(skill, "Exists", ActionsGuarded=guard)
        hit_id = client.create_hit(**hit_args(QualificationRequirements=[requirement]))[
            "HIT"
        ]["HITId"]
        preview = target.http.get(f"{target.url}/worker/tasks/{hit_id}?workerId=AUSWA")
        assert preview.status_code == previews, guard
        assert target.try_accept(hit_id, "AUSWA").status_code == 409

    client.create_worker_block(WorkerId="AUSNY", Reason="Careless")
    assert takers(on(LOCALE, "Exists")) == {"AUSWA", "AFRANCE"}


def test_messages_reach_workers_who_worked(target: Target) -> None:
    client = target.client()
    hit_id = client.create_hit(**hit_args())["HIT"]["HITId"]
    assignment_id = target.work(hit_id, "AHELPER", {"item-P1": "1"})
    answer = client.notify_workers(
        Subject="Thank you", MessageText="More HITs soon.", WorkerIds=["AHELPER"]
    )
    assert answer["NotifyWorkersFailureStatuses"] == []
    response = refusal(
        client.get_file_upload_url, AssignmentId=assignment_id, QuestionIdentifier="P1"
    )
    assert "FileUploadAnswer" in response["Error"]["Message"]
