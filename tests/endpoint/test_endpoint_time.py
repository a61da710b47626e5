"""Virtual time: arrivals, auto-approval, expiry, abandonment, big HITs."""

from __future__ import annotations

from typing import Any

from endpoint_helpers import START, START_EPOCH, hit_args, make_client, question

from crowd_bridge.endpoint import (
    EndpointConfig,
    RunningEndpoint,
    SyntheticCrowd,
    SyntheticSpec,
)
from crowd_bridge.endpoint.forms import parse_answers


def synthetic(seed: int = 1, **spec: Any) -> RunningEndpoint:
    crowd = SyntheticCrowd(SyntheticSpec(**{"arrival_mean_s": 300.0, **spec}))
    return RunningEndpoint(
        EndpointConfig(clock="virtual", start_time=START, crowd=crowd, seed=seed)
    )


def assignments(client: Any, hit_id: str, **filters: Any) -> list[dict[str, Any]]:
    pages = client.get_paginator("list_assignments_for_hit").paginate(
        HITId=hit_id, **filters
    )
    return [a for page in pages for a in page["Assignments"]]


def test_advance_moves_time_and_brings_answers() -> None:
    with synthetic() as endpoint:
        client = make_client(endpoint.url)
        hit_id = client.create_hit(**hit_args(["I1", "I2", "I3"]))["HIT"]["HITId"]
        assert assignments(client, hit_id) == []

        report = endpoint.advance_report(6 * 3600)
        assert report["now"] == START_EPOCH + 6 * 3600
        assert report["assignments_submitted"] == 3
        assert endpoint.now().isoformat() == "2026-01-01T06:00:00+00:00"

        done = assignments(client, hit_id)
        assert len({a["WorkerId"] for a in done}) == 3
        for assignment in done:
            answers = parse_answers(assignment["Answer"])
            assert set(answers) == {"item-I1", "item-I2", "item-I3"}
            assert set(answers.values()) <= {"0", "1"}
            assert assignment["AcceptTime"] < assignment["SubmitTime"]
            assert assignment["Deadline"] > assignment["SubmitTime"]
        assert client.get_hit(HITId=hit_id)["HIT"]["HITStatus"] == "Reviewable"


def test_auto_approval_after_the_delay() -> None:
    with synthetic() as endpoint:
        client = make_client(endpoint.url)
        args = hit_args(AutoApprovalDelayInSeconds=3600, MaxAssignments=1)
        hit_id = client.create_hit(**args)["HIT"]["HITId"]
        endpoint.advance(2 * 3600)

        (assignment,) = assignments(client, hit_id)
        due = assignment["AutoApprovalTime"]
        assert (due - assignment["SubmitTime"]).total_seconds() == 3600
        if assignment["AssignmentStatus"] == "Submitted":
            endpoint.advance(3600)
        (assignment,) = assignments(client, hit_id)
        assert assignment["AssignmentStatus"] == "Approved"
        assert assignment["ApprovalTime"] == due

        stats = endpoint.stats()
        assert stats["assignments_auto_approved"] == 1
        assert stats["paid_rewards_cents"] == 12
        assert stats["paid_fees_cents"] == 2
        assert client.get_account_balance()["AvailableBalance"] == "9999.86"


def test_zero_delay_approves_on_submission() -> None:
    with synthetic() as endpoint:
        client = make_client(endpoint.url)
        args = hit_args(AutoApprovalDelayInSeconds=0, MaxAssignments=2)
        hit_id = client.create_hit(**args)["HIT"]["HITId"]
        endpoint.advance(3 * 3600)
        statuses = {a["AssignmentStatus"] for a in assignments(client, hit_id)}
        assert statuses == {"Approved"}


def test_hit_expires_at_its_expiration() -> None:
    with synthetic(arrival_mean_s=10 * 86_400) as endpoint:
        client = make_client(endpoint.url)
        hit = client.create_hit(**hit_args(LifetimeInSeconds=60))["HIT"]
        endpoint.advance(59)
        assert client.get_hit(HITId=hit["HITId"])["HIT"]["HITStatus"] == "Assignable"
        endpoint.advance(1)
        expired = client.get_hit(HITId=hit["HITId"])["HIT"]
        assert expired["HITStatus"] == "Reviewable"
        assert expired["NumberOfAssignmentsAvailable"] == 0
        endpoint.advance(30 * 86_400)
        assert assignments(client, hit["HITId"]) == []


def test_overrunning_workers_abandon_and_slots_reopen() -> None:
    with synthetic(seconds_per_item=20.0) as endpoint:
        client = make_client(endpoint.url)
        items = [f"I{n}" for n in range(40)]
        # Forty items take far longer than the 30 seconds allowed.
        args = hit_args(items, AssignmentDurationInSeconds=30, LifetimeInSeconds=3600)
        hit_id = client.create_hit(**args)["HIT"]["HITId"]
        endpoint.advance(3600)

        stats = endpoint.stats()
        assert stats["assignments_abandoned"] >= 3
        assert stats["assignments_submitted"] == 0
        hit = client.get_hit(HITId=hit_id)["HIT"]
        assert hit["HITStatus"] == "Reviewable"
        assert hit["NumberOfAssignmentsPending"] == 0


def test_hit_with_261_assignments_pages_in_hundreds() -> None:
    with synthetic(workers=300, arrival_mean_s=600.0) as endpoint:
        client = make_client(endpoint.url)
        args = hit_args(
            ["I1"], MaxAssignments=261, AutoApprovalDelayInSeconds=2 * 86_400
        )
        hit_id = client.create_hit(**args)["HIT"]["HITId"]
        endpoint.advance(86_400)

        first = client.list_assignments_for_hit(HITId=hit_id)
        assert first["NumResults"] == 100
        second = client.list_assignments_for_hit(
            HITId=hit_id, NextToken=first["NextToken"]
        )
        third = client.list_assignments_for_hit(
            HITId=hit_id, NextToken=second["NextToken"]
        )
        assert (second["NumResults"], third["NumResults"]) == (100, 61)
        assert "NextToken" not in third
        ids = [
            a["AssignmentId"]
            for page in (first, second, third)
            for a in page["Assignments"]
        ]
        assert len(set(ids)) == 261

        for assignment_id in ids[:7]:
            client.approve_assignment(AssignmentId=assignment_id)
        approved = assignments(client, hit_id, AssignmentStatuses=["Approved"])
        submitted = assignments(client, hit_id, AssignmentStatuses=["Submitted"])
        assert [a["AssignmentId"] for a in approved] == ids[:7]
        assert len(submitted) == 254
        hit = client.get_hit(HITId=hit_id)["HIT"]
        assert hit["NumberOfAssignmentsCompleted"] == 7
        assert hit["HITStatus"] == "Reviewable"


def test_hits_without_item_fields_are_left_alone() -> None:
    with synthetic() as endpoint:
        client = make_client(endpoint.url)
        external = (
            '<ExternalQuestion xmlns="http://mechanicalturk.amazonaws.com/'
            'AWSMechanicalTurkDataSchemas/2006-07-14/ExternalQuestion.xsd">'
            "<ExternalURL>https://tasks.example/label</ExternalURL>"
            "<FrameHeight>600</FrameHeight></ExternalQuestion>"
        )
        for form in (question([]), external):
            hit_id = client.create_hit(**hit_args(Question=form))["HIT"]["HITId"]
            endpoint.advance(86_400)
            assert assignments(client, hit_id) == []
        assert endpoint.stats()["assignments_accepted"] == 0
