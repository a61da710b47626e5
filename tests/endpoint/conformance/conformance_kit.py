"""What the conformance tests share: the target, clients, signed raw calls."""

from __future__ import annotations

import uuid
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any

import boto3
import httpx
import pytest
from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.config import Config
from botocore.credentials import Credentials
from botocore.exceptions import ClientError

TARGET_PREFIX = "MTurkRequesterServiceV20170117"
JSON_TYPE = "application/x-amz-json-1.1"


@dataclass
class Target:
    """The endpoint under test and the requester keys to call it with.

    ``local`` is the bundled endpoint when the suite runs against it, for
    the tests marked ``simulated``; None against any other endpoint.
    """

    url: str
    key: tuple[str, str]
    second_key: tuple[str, str] | None = None
    region: str = "us-east-1"
    local: Any = None
    # One HTTP client for every raw call: building one per call costs more
    # than the call itself.
    http: httpx.Client = field(
        default_factory=lambda: httpx.Client(trust_env=False, timeout=60)
    )

    def client(self, *, second: bool = False, validate: bool = True) -> Any:
        if second and self.second_key is None:
            pytest.skip("needs a second requester's key")
        key_id, secret = self.second_key if second else self.key  # type: ignore[misc]
        return boto3.client(
            "mturk",
            endpoint_url=self.url,
            region_name=self.region,
            aws_access_key_id=key_id,
            aws_secret_access_key=secret,
            config=Config(
                parameter_validation=validate,
                retries={"total_max_attempts": 1},
            ),
        )

    def post(
        self,
        operation: str,
        body: bytes,
        *,
        secret: str | None = None,
        target: str | None = None,
    ) -> httpx.Response:
        """POST a raw body, SigV4-signed as botocore signs (or not at all)."""
        headers = {
            "X-Amz-Target": target or f"{TARGET_PREFIX}.{operation}",
            "Content-Type": JSON_TYPE,
        }
        request = AWSRequest(
            method="POST", url=self.url + "/", data=body, headers=headers
        )
        credentials = Credentials(self.key[0], secret or self.key[1])
        SigV4Auth(credentials, "mturk-requester", self.region).add_auth(request)
        return self.http.post(
            self.url + "/", headers=dict(request.headers.items()), content=body
        )

    # -- the bundled endpoint's simulation ------------------------------------

    def advance(self, seconds: float) -> None:
        self.local.advance(seconds)

    def work(self, hit_id: str, worker_id: str, answers: dict[str, str]) -> str:
        """Accept a HIT as ``worker_id`` and submit its form; the assignment id."""
        assignment_id = self.accept(hit_id, worker_id)
        posted = self.http.post(
            f"{self.url}/mturk/externalSubmit",
            data={"assignmentId": assignment_id, **answers},
        )
        posted.raise_for_status()
        return assignment_id

    def accept(self, hit_id: str, worker_id: str) -> str:
        accepted = self.try_accept(hit_id, worker_id)
        assert accepted.status_code == 200, accepted.text
        return str(accepted.json()["assignment_id"])

    def try_accept(self, hit_id: str, worker_id: str) -> httpx.Response:
        return self.http.post(
            f"{self.url}/_sim/accept", json={"worker_id": worker_id, "hit_id": hit_id}
        )


def unique(prefix: str) -> str:
    """A name no earlier run against the same endpoint has used."""
    return f"{prefix} {uuid.uuid4().hex[:10]}"


def question(items: Sequence[str] = ("P1",)) -> str:
    groups = "".join(
        f'<p>{item}</p><input type="radio" name="item-{item}" value="1">'
        f'<input type="radio" name="item-{item}" value="0">'
        for item in items
    )
    html = (
        '<form method="post" action="https://www.mturk.com/mturk/externalSubmit">'
        f'<input type="hidden" name="assignmentId" value="">{groups}</form>'
    )
    return (
        '<HTMLQuestion xmlns="http://mechanicalturk.amazonaws.com/'
        'AWSMechanicalTurkDataSchemas/2011-11-11/HTMLQuestion.xsd">'
        f"<HTMLContent><![CDATA[<!DOCTYPE html><html><body>{html}</body></html>]]>"
        "</HTMLContent><FrameHeight>400</FrameHeight></HTMLQuestion>"
    )


def hit_args(**overrides: Any) -> dict[str, Any]:
    args: dict[str, Any] = {
        "MaxAssignments": 3,
        "LifetimeInSeconds": 86_400,
        "AssignmentDurationInSeconds": 600,
        "AutoApprovalDelayInSeconds": 3 * 86_400,
        "Reward": "0.10",
        "Title": "Conformance: do these product records match?",
        "Description": "Compare two product records.",
        "Keywords": "conformance",
        "Question": question(),
    }
    args.update(overrides)
    return args


def refusal(call: Any, **kwargs: Any) -> dict[str, Any]:
    """The error response of a call that must be refused as a RequestError."""
    with pytest.raises(ClientError) as error:
        call(**kwargs)
    response: dict[str, Any] = error.value.response
    assert response["ResponseMetadata"]["HTTPStatusCode"] == 400, response
    assert response["Error"]["Code"] == "RequestError", response
    return response


def pages(client: Any, operation: str, key: str, **kwargs: Any) -> Iterator[list[Any]]:
    """Every page of a list operation, following NextToken by hand."""
    token = None
    while True:
        call = getattr(client, operation)
        page = call(**kwargs, **({"NextToken": token} if token else {}))
        assert page["NumResults"] == len(page[key])
        assert page["NumResults"] <= kwargs.get("MaxResults", 100)
        yield page[key]
        token = page.get("NextToken")
        if not token:
            return


def cents(amount: str) -> int:
    whole, _, fraction = amount.partition(".")
    return int(whole) * 100 + int((fraction + "00")[:2])
