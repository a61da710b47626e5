"""Bad input is refused as a RequestError, never answered with a 500."""

from __future__ import annotations

import json
from typing import Any

import httpx
import pytest
from botocore.exceptions import ClientError
from endpoint_helpers import hit_args, make_client, question, signed_post

from crowd_bridge.endpoint import RunningEndpoint

TARGET = "MTurkRequesterServiceV20170117"
SIGNED = (
    "AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20260101/us-east-1/"
    "mturk-requester/aws4_request, SignedHeaders=host, Signature=00"
)


@pytest.fixture
def raw(endpoint: RunningEndpoint) -> Any:
    """A client without botocore's own checks, so bad input reaches the server."""
    return make_client(endpoint.url, validate=False)


def refused(call: Any, **kwargs: Any) -> dict[str, Any]:
    with pytest.raises(ClientError) as error:
        call(**kwargs)
    response: dict[str, Any] = error.value.response
    assert response["ResponseMetadata"]["HTTPStatusCode"] == 400
    assert response["Error"]["Code"] == "RequestError"
    return response


def test_missing_required_member(raw: Any) -> None:
    args = hit_args()
    del args["Reward"]
    response = refused(raw.create_hit, **args)
    assert response["Error"]["Message"] == "The parameter Reward is required."


@pytest.mark.parametrize("reward", ["abc", "0.123", "-1", "1,50", "$1"])
def test_malformed_reward(raw: Any, reward: str) -> None:
    response = refused(raw.create_hit, **hit_args(Reward=reward))
    assert "Reward" in response["Error"]["Message"]


def test_rewards_parse_as_mturk_writes_them(client: Any) -> None:
    for text, shown in [("1", "1.00"), ("1.5", "1.50"), ("0.01", "0.01")]:
        hit = client.create_hit(**hit_args(Reward=text))["HIT"]
        assert hit["Reward"] == shown
    response = refused(client.create_hit, **hit_args(Reward="0.00"))
    assert response["TurkErrorCode"] == "AWS.ParameterOutOfRange"


def test_question_over_65535_bytes(client: Any) -> None:
    filler = "x" * 65_536
    big = question(["A"]).replace("<form", f"<p>{filler}</p><form")
    response = refused(client.create_hit, **hit_args(Question=big))
    assert "65535 bytes" in response["Error"]["Message"]

    # Exactly at the limit is fine: the bound counts UTF-8 bytes.
    base = question(["A"])
    padded = base.replace("<form", "<p>" + "é" * 10 + "</p><form")
    room = 65_535 - len(padded.encode())
    at_limit = padded.replace("<form", "<p>" + "y" * (room - 7) + "</p><form")
    assert len(at_limit.encode()) == 65_535
    client.create_hit(**hit_args(Question=at_limit))


@pytest.mark.parametrize(
    ("member", "value"),
    [
        ("LifetimeInSeconds", 29),
        ("LifetimeInSeconds", 31_536_001),
        ("AssignmentDurationInSeconds", 29),
        ("AssignmentDurationInSeconds", 31_536_001),
        ("AutoApprovalDelayInSeconds", -1),
        ("AutoApprovalDelayInSeconds", 2_592_001),
        ("MaxAssignments", 0),
    ],
)
def test_out_of_range_numbers(raw: Any, member: str, value: int) -> None:
    response = refused(raw.create_hit, **hit_args(**{member: value}))
    assert response["TurkErrorCode"] == "AWS.ParameterOutOfRange"
    assert member in response["Error"]["Message"]


@pytest.mark.parametrize(("member", "value"), [("LifetimeInSeconds", 30)])
def test_range_bounds_are_inclusive(client: Any, member: str, value: int) -> None:
    assert client.create_hit(**hit_args(**{member: value}))["HIT"]["HITId"]


def test_wrong_types_and_enums(raw: Any) -> None:
    refused(raw.create_hit, **hit_args(MaxAssignments="three"))
    refused(raw.create_hit, **hit_args(Title=17))
    response = refused(
        raw.list_assignments_for_hit, HITId="ABC", AssignmentStatuses=["Done"]
    )
    assert "Submitted" in response["Error"]["Message"]
    refused(raw.list_hits, MaxResults=101)
    refused(raw.list_hits, MaxResults=0)


def test_question_that_is_not_xml(client: Any) -> None:
    response = refused(client.create_hit, **hit_args(Question="<p>not xml"))
    assert response["TurkErrorCode"] == "AWS.MechanicalTurk.XMLParseError"


def test_bad_qualification_requirements(client: Any) -> None:
    cases = [
        [{"QualificationTypeId": "00000000000000000040", "Comparator": "GreaterThan"}],
        [
            {
                "QualificationTypeId": "00000000000000000071",
                "Comparator": "EqualTo",
                "IntegerValues": [1],
            }
        ],
        [
            {
                "QualificationTypeId": "NOSUCHQUALIFICATION",
                "Comparator": "Exists",
            }
        ],
    ]
    for requirements in cases:
        refused(client.create_hit, **hit_args(QualificationRequirements=requirements))


def test_foreign_pagination_token(client: Any) -> None:
    client.create_hit(**hit_args())
    client.create_hit(**hit_args())
    token = client.list_hits(MaxResults=1)["NextToken"]
    refused(client.list_worker_blocks, NextToken=token)
    refused(client.list_hits, NextToken="garbage")


def test_file_uploads_and_unknown_operations(endpoint: RunningEndpoint) -> None:
    client = make_client(endpoint.url)
    response = refused(
        client.get_file_upload_url, AssignmentId="A1", QuestionIdentifier="q"
    )
    assert response["TurkErrorCode"] == "AWS.MechanicalTurk.AssignmentDoesNotExist"

    reply = httpx.post(
        endpoint.url,
        headers={"X-Amz-Target": f"{TARGET}.MakeCoffee", "Authorization": SIGNED},
        content=b"{}",
    )
    assert reply.status_code == 400
    assert reply.json()["__type"] == "RequestError"


def test_raw_http_garbage_is_a_request_error(endpoint: RunningEndpoint) -> None:
    headers = {"X-Amz-Target": f"{TARGET}.CreateHIT", "Authorization": SIGNED}
    for body in [b"{not json", b"[1, 2]", json.dumps({"Reward": None}).encode()]:
        reply = httpx.post(endpoint.url, headers=headers, content=body)
        assert reply.status_code == 400, body
        assert reply.json()["__type"] == "RequestError"

    unsigned = httpx.post(
        endpoint.url, headers={"X-Amz-Target": f"{TARGET}.ListHITs"}, content=b"{}"
    )
    assert unsigned.status_code == 403
    assert unsigned.json()["__type"] == "MissingAuthenticationTokenException"


def test_times_must_be_finite(endpoint: RunningEndpoint, client: Any) -> None:
    hit_id = client.create_hit(**hit_args())["HIT"]["HITId"]
    for expire_at in ("NaN", "Infinity", "1e300"):
        body = f'{{"HITId": "{hit_id}", "ExpireAt": {expire_at}}}'.encode()
        reply = signed_post(endpoint.url, "UpdateExpirationForHIT", body)
        assert reply.status_code == 400, expire_at
        assert reply.json()["__type"] == "RequestError"
    assert client.get_hit(HITId=hit_id)["HIT"]["HITStatus"] == "Assignable"


def test_oversized_form_posts_are_refused(endpoint: RunningEndpoint) -> None:
    reply = httpx.post(
        f"{endpoint.url}/mturk/externalSubmit",
        content=b"assignmentId=A&comments=" + b"x" * (3 * 1024 * 1024),
    )
    assert reply.status_code == 413
