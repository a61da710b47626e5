"""HIT operations over boto3: shapes, HIT types, listing, expiry, deletion."""

from __future__ import annotations

from datetime import datetime, timezone
from typing import Any

import pytest
from botocore.exceptions import ClientError
from endpoint_helpers import START_EPOCH, hit_args, make_client, question

from crowd_bridge.endpoint import RunningEndpoint


def turk_code(error: pytest.ExceptionInfo[ClientError]) -> str:
    assert error.value.response["Error"]["Code"] == "RequestError"
    return str(error.value.response["TurkErrorCode"])


def test_create_hit_returns_the_modelled_shape(client: Any) -> None:
    hit = client.create_hit(**hit_args(RequesterAnnotation="batch-7"))["HIT"]

    assert len(hit["HITId"]) == 30 and hit["HITId"].isalnum()
    assert hit["HITStatus"] == "Assignable"
    assert hit["Reward"] == "0.12"
    assert hit["MaxAssignments"] == 3
    assert hit["NumberOfAssignmentsAvailable"] == 3
    assert hit["NumberOfAssignmentsPending"] == 0
    assert hit["NumberOfAssignmentsCompleted"] == 0
    assert hit["AutoApprovalDelayInSeconds"] == 86_400
    assert hit["AssignmentDurationInSeconds"] == 3_600
    assert hit["RequesterAnnotation"] == "batch-7"
    assert hit["HITReviewStatus"] == "NotReviewed"
    assert hit["Question"] == hit_args()["Question"]
    # botocore parsed the epoch-second timestamps into datetimes.
    assert hit["CreationTime"] == datetime.fromtimestamp(START_EPOCH, timezone.utc)
    assert (hit["Expiration"] - hit["CreationTime"]).total_seconds() == 86_400

    fetched = client.get_hit(HITId=hit["HITId"])["HIT"]
    assert fetched == hit


def test_equal_properties_share_a_hit_type(client: Any) -> None:
    type_args = {
        "AssignmentDurationInSeconds": 600,
        "Reward": "0.05",
        "Title": "Label products",
        "Description": "Say whether two listings match.",
    }
    first = client.create_hit_type(**type_args)["HITTypeId"]
    again = client.create_hit_type(**type_args)["HITTypeId"]
    other = client.create_hit_type(**{**type_args, "Reward": "0.06"})["HITTypeId"]
    assert first == again != other

    hit = client.create_hit_with_hit_type(
        HITTypeId=first,
        MaxAssignments=2,
        LifetimeInSeconds=3600,
        Question=question(["A"]),
    )["HIT"]
    assert hit["HITTypeId"] == first
    assert hit["Reward"] == "0.05"
    assert hit["Title"] == "Label products"

    with pytest.raises(ClientError) as error:
        client.create_hit_with_hit_type(
            HITTypeId="NOSUCHTYPE", LifetimeInSeconds=3600, Question=question(["A"])
        )
    assert turk_code(error) == "AWS.MechanicalTurk.HITTypeDoesNotExist"


def test_list_hits_pages_past_one_hundred(client: Any) -> None:
    created = [client.create_hit(**hit_args())["HIT"]["HITId"] for _ in range(130)]

    first = client.list_hits()
    assert first["NumResults"] == 100 and "NextToken" in first
    pages = list(
        client.get_paginator("list_hits").paginate(PaginationConfig={"PageSize": 40})
    )
    listed = [h["HITId"] for page in pages for h in page["HITs"]]
    assert listed == created
    assert [p["NumResults"] for p in pages] == [40, 40, 40, 10]


def test_requesters_see_only_their_own_hits(
    endpoint: RunningEndpoint, client: Any
) -> None:
    hit_id = client.create_hit(**hit_args())["HIT"]["HITId"]
    other = make_client(endpoint.url, "AKIDOTHERREQUESTER")

    assert other.list_hits()["NumResults"] == 0
    with pytest.raises(ClientError) as error:
        other.get_hit(HITId=hit_id)
    assert turk_code(error) == "AWS.MechanicalTurk.HITDoesNotExist"


def test_expiring_a_hit_makes_it_reviewable_and_deletable(client: Any) -> None:
    hit_id = client.create_hit(**hit_args())["HIT"]["HITId"]

    with pytest.raises(ClientError) as error:
        client.delete_hit(HITId=hit_id)
    assert turk_code(error) == "AWS.MechanicalTurk.InvalidHITState"
    assert "Assignable" in error.value.response["Error"]["Message"]

    # A time in the past expires the HIT at once, as on MTurk.
    client.update_expiration_for_hit(HITId=hit_id, ExpireAt=datetime(2015, 1, 1))
    hit = client.get_hit(HITId=hit_id)["HIT"]
    assert hit["HITStatus"] == "Reviewable"
    assert hit["NumberOfAssignmentsAvailable"] == 0
    reviewable = client.list_reviewable_hits()["HITs"]
    assert [h["HITId"] for h in reviewable] == [hit_id]

    client.update_hit_review_status(HITId=hit_id)
    assert client.get_hit(HITId=hit_id)["HIT"]["HITStatus"] == "Reviewing"
    assert client.list_reviewable_hits(Status="Reviewing")["NumResults"] == 1
    client.update_hit_review_status(HITId=hit_id, Revert=True)
    assert client.get_hit(HITId=hit_id)["HIT"]["HITStatus"] == "Reviewable"

    client.delete_hit(HITId=hit_id)
    client.delete_hit(HITId=hit_id)  # deleting twice is harmless
    assert client.get_hit(HITId=hit_id)["HIT"]["HITStatus"] == "Disposed"
    assert client.list_hits()["NumResults"] == 0
    assert client.list_reviewable_hits()["NumResults"] == 0


def test_extending_an_expired_hit_reopens_it(client: Any) -> None:
    hit_id = client.create_hit(**hit_args())["HIT"]["HITId"]
    client.update_expiration_for_hit(HITId=hit_id, ExpireAt=datetime(2015, 1, 1))
    later = datetime.fromtimestamp(START_EPOCH + 7200, timezone.utc)
    client.update_expiration_for_hit(HITId=hit_id, ExpireAt=later)

    hit = client.get_hit(HITId=hit_id)["HIT"]
    assert hit["HITStatus"] == "Assignable"
    assert hit["Expiration"] == later


def test_additional_assignments_follow_mturk_rules(client: Any) -> None:
    small = client.create_hit(**hit_args())["HIT"]["HITId"]
    client.create_additional_assignments_for_hit(
        HITId=small, NumberOfAdditionalAssignments=2, UniqueRequestToken="extend-1"
    )
    assert client.get_hit(HITId=small)["HIT"]["MaxAssignments"] == 5

    with pytest.raises(ClientError) as error:
        client.create_additional_assignments_for_hit(
            HITId=small, NumberOfAdditionalAssignments=2, UniqueRequestToken="extend-1"
        )
    assert turk_code(error) == "AWS.MechanicalTurk.DuplicateRequest"
    assert client.get_hit(HITId=small)["HIT"]["MaxAssignments"] == 5

    # Fewer than ten assignments can never be extended to ten or more.
    with pytest.raises(ClientError) as error:
        client.create_additional_assignments_for_hit(
            HITId=small, NumberOfAdditionalAssignments=5
        )
    assert turk_code(error) == "AWS.MechanicalTurk.InvalidMaximumAssignmentsIncrease"

    large = client.create_hit(**hit_args(MaxAssignments=10))["HIT"]["HITId"]
    client.create_additional_assignments_for_hit(
        HITId=large, NumberOfAdditionalAssignments=5
    )
    assert client.get_hit(HITId=large)["HIT"]["MaxAssignments"] == 15


def test_review_status_changes_only_from_the_right_state(client: Any) -> None:
    hit_id = client.create_hit(**hit_args())["HIT"]["HITId"]
    with pytest.raises(ClientError) as error:
        client.update_hit_review_status(HITId=hit_id)
    assert turk_code(error) == "AWS.MechanicalTurk.InvalidHITState"
