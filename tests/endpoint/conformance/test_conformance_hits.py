"""HITs and HIT types: shapes, paging, states, deletion and extension rules."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

from conformance_kit import Target, hit_args, pages, question, refusal, unique


def test_create_and_get_hit(target: Target) -> None:
    client = target.client()
    args = hit_args(Title=unique("Conformance HIT"), RequesterAnnotation="batch-7")
    hit = client.create_hit(**args)["HIT"]

    assert hit["HITStatus"] == "Assignable"
    assert hit["MaxAssignments"] == 3
    assert hit["Reward"] == "0.10"
    assert hit["Title"] == args["Title"]
    assert hit["RequesterAnnotation"] == "batch-7"
    assert hit["NumberOfAssignmentsAvailable"] == 3
    assert hit["NumberOfAssignmentsPending"] == 0
    assert hit["NumberOfAssignmentsCompleted"] == 0
    lifetime = hit["Expiration"] - hit["CreationTime"]
    assert abs(lifetime - timedelta(seconds=86_400)) < timedelta(seconds=2)

    again = client.get_hit(HITId=hit["HITId"])["HIT"]
    assert again["HITId"] == hit["HITId"]
    assert again["Question"] == args["Question"]

    # Equal properties always give the same HIT type.
    twin = client.create_hit(**args)["HIT"]
    assert twin["HITTypeId"] == hit["HITTypeId"]
    response = refusal(client.get_hit, HITId="3NOSUCHHIT00000000000000000000")
    assert response["TurkErrorCode"] == "AWS.MechanicalTurk.HITDoesNotExist"


def test_list_hits_pages_through_250(target: Target) -> None:
    client = target.client()
    fields = hit_args(Title=unique("Paged HIT"))
    type_id = client.create_hit_type(
        **{
            k: fields[k]
            for k in (
                "Title",
                "Description",
                "Reward",
                "AssignmentDurationInSeconds",
                "AutoApprovalDelayInSeconds",
                "Keywords",
            )
        }
    )["HITTypeId"]
    created = [
        client.create_hit_with_hit_type(
            HITTypeId=type_id,
            MaxAssignments=1,
            LifetimeInSeconds=3600,
            Question=question(),
        )["HIT"]["HITId"]
        for _ in range(250)
    ]

    sizes, listed = [], []
    for page in pages(client, "list_hits", "HITs"):
        sizes.append(len(page))
        listed += [h["HITId"] for h in page]
    assert len(listed) == len(set(listed))
    assert set(created) <= set(listed)
    assert max(sizes) == 100
    if target.local is not None:
        assert sizes == [100, 100, 50]
        assert listed == created


def test_delete_hit_rules(target: Target) -> None:
    client = target.client()
    hit_id = client.create_hit(**hit_args())["HIT"]["HITId"]

    response = refusal(client.delete_hit, HITId=hit_id)
    assert response["TurkErrorCode"] == "AWS.MechanicalTurk.InvalidHITState"

    # Expiring a HIT with nothing submitted makes it reviewable at once.
    client.update_expiration_for_hit(HITId=hit_id, ExpireAt=datetime(2015, 1, 1))
    hit = client.get_hit(HITId=hit_id)["HIT"]
    assert hit["HITStatus"] == "Reviewable"
    assert hit["NumberOfAssignmentsAvailable"] == 0
    reviewable = [
        h["HITId"]
        for page in pages(client, "list_reviewable_hits", "HITs")
        for h in page
    ]
    assert hit_id in reviewable

    client.delete_hit(HITId=hit_id)
    listed = [h["HITId"] for page in pages(client, "list_hits", "HITs") for h in page]
    assert hit_id not in listed


def test_expiration_can_move_both_ways(target: Target) -> None:
    client = target.client()
    hit_id = client.create_hit(**hit_args())["HIT"]["HITId"]
    client.update_expiration_for_hit(HITId=hit_id, ExpireAt=datetime(2015, 1, 1))
    assert client.get_hit(HITId=hit_id)["HIT"]["HITStatus"] == "Reviewable"

    created = client.get_hit(HITId=hit_id)["HIT"]["CreationTime"]
    later = (created + timedelta(hours=5)).astimezone(timezone.utc)
    client.update_expiration_for_hit(HITId=hit_id, ExpireAt=later)
    hit = client.get_hit(HITId=hit_id)["HIT"]
    assert hit["HITStatus"] == "Assignable"
    assert abs(hit["Expiration"] - later) < timedelta(seconds=1)


def test_extending_below_ten_to_ten_or_more_is_refused(target: Target) -> None:
    client = target.client()
    small = client.create_hit(**hit_args(MaxAssignments=9))["HIT"]["HITId"]
    response = refusal(
        client.create_additional_assignments_for_hit,
        HITId=small,
        NumberOfAdditionalAssignments=1,
    )
    assert response["TurkErrorCode"] == (
        "AWS.MechanicalTurk.InvalidMaximumAssignmentsIncrease"
    )

    token = unique("extend").replace(" ", "-")
    three = client.create_hit(**hit_args(MaxAssignments=3))["HIT"]["HITId"]
    client.create_additional_assignments_for_hit(
        HITId=three, NumberOfAdditionalAssignments=6, UniqueRequestToken=token
    )
    assert client.get_hit(HITId=three)["HIT"]["MaxAssignments"] == 9
    response = refusal(
        client.create_additional_assignments_for_hit,
        HITId=three,
        NumberOfAdditionalAssignments=6,
        UniqueRequestToken=token,
    )
    assert response["TurkErrorCode"] == "AWS.MechanicalTurk.DuplicateRequest"

    large = client.create_hit(**hit_args(MaxAssignments=10))["HIT"]["HITId"]
    client.create_additional_assignments_for_hit(
        HITId=large, NumberOfAdditionalAssignments=15
    )
    assert client.get_hit(HITId=large)["HIT"]["MaxAssignments"] == 25


def test_create_hit_remembers_its_token(target: Target) -> None:
    client = target.client()
    token = unique("create").replace(" ", "-")
    first = client.create_hit(**hit_args(UniqueRequestToken=token))["HIT"]["HITId"]
    response = refusal(client.create_hit, **hit_args(UniqueRequestToken=token))
    assert response["TurkErrorCode"] == "AWS.MechanicalTurk.HitAlreadyExists"
    assert first in response["Error"]["Message"]


def test_review_status_and_hit_type_changes(target: Target) -> None:
    client = target.client()
    hit_id = client.create_hit(**hit_args())["HIT"]["HITId"]
    response = refusal(client.update_hit_review_status, HITId=hit_id)
    assert response["TurkErrorCode"] == "AWS.MechanicalTurk.InvalidHITState"

    client.update_expiration_for_hit(HITId=hit_id, ExpireAt=datetime(2015, 1, 1))
    client.update_hit_review_status(HITId=hit_id)
    assert client.get_hit(HITId=hit_id)["HIT"]["HITStatus"] == "Reviewing"
    reviewing = client.list_reviewable_hits(Status="Reviewing", MaxResults=100)
    assert hit_id in [h["HITId"] for h in reviewing["HITs"]]
    client.update_hit_review_status(HITId=hit_id, Revert=True)
    assert client.get_hit(HITId=hit_id)["HIT"]["HITStatus"] == "Reviewable"

    other_type = client.create_hit_type(
        Title=unique("Retyped"),
        Description="Another type",
        Reward="0.20",
        AssignmentDurationInSeconds=300,
    )["HITTypeId"]
    live = client.create_hit(**hit_args())["HIT"]["HITId"]
    client.update_hit_type_of_hit(HITId=live, HITTypeId=other_type)
    hit = client.get_hit(HITId=live)["HIT"]
    assert (hit["HITTypeId"], hit["Reward"]) == (other_type, "0.20")


def test_review_policy_results_are_empty(target: Target) -> None:
    client = target.client()
    hit_id = client.create_hit(**hit_args())["HIT"]["HITId"]
    result = client.list_review_policy_results_for_hit(HITId=hit_id)
    assert result["HITId"] == hit_id
    for report in ("AssignmentReviewReport", "HITReviewReport"):
        assert result.get(report, {}).get("ReviewResults", []) == []


def test_requesters_see_only_their_own_hits(target: Target) -> None:
    mine, theirs = target.client(), target.client(second=True)
    hit_id = mine.create_hit(**hit_args())["HIT"]["HITId"]
    response = refusal(theirs.get_hit, HITId=hit_id)
    assert response["TurkErrorCode"] == "AWS.MechanicalTurk.HITDoesNotExist"
    refusal(theirs.list_assignments_for_hit, HITId=hit_id)
    refusal(theirs.update_expiration_for_hit, HITId=hit_id, ExpireAt=datetime.now())
    listed = [h["HITId"] for page in pages(theirs, "list_hits", "HITs") for h in page]
    assert hit_id not in listed
