"""Helpers for the endpoint tests: boto3 clients, HIT forms, recorded data."""

from __future__ import annotations

import csv
from collections import defaultdict
from collections.abc import Sequence
from datetime import datetime
from pathlib import Path
from typing import Any
from unittest import mock

import boto3
import httpx
from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.config import Config
from botocore.credentials import Credentials

ANSWERS_CSV = Path(__file__).resolve().parents[2] / "examples/abt_buy/data/answers.csv"
START = "2026-01-01T00:00:00+00:00"
START_EPOCH = 1767225600.0
TARGET = "MTurkRequesterServiceV20170117"
JSON_TYPE = "application/x-amz-json-1.1"


def make_client(
    url: str,
    access_key: str = "AKIDEXAMPLE",
    *,
    secret: str = "x",
    validate: bool = True,
) -> Any:
    """A plain boto3 MTurk client pointed at the endpoint.

    ``validate=False`` turns off botocore's own parameter checks so bad
    input reaches the server, as it would from a non-Python client.
    """
    return boto3.client(
        "mturk",
        endpoint_url=url,
        region_name="us-east-1",
        aws_access_key_id=access_key,
        aws_secret_access_key=secret,
        config=Config(parameter_validation=validate, retries={"total_max_attempts": 1}),
    )


def signed_post(
    url: str,
    operation: str,
    body: bytes,
    *,
    access_key: str = "AKIDEXAMPLE",
    secret: str = "x",
    when: datetime | None = None,
    tamper: bytes | None = None,
) -> httpx.Response:
    """POST a raw body signed with SigV4 exactly as botocore signs it.

    ``when`` signs as of another instant (to test stale signatures);
    ``tamper`` replaces the body after signing.
    """
    request = AWSRequest(
        method="POST",
        url=url + "/",
        data=body,
        headers={"X-Amz-Target": f"{TARGET}.{operation}", "Content-Type": JSON_TYPE},
    )
    signer = SigV4Auth(Credentials(access_key, secret), "mturk-requester", "us-east-1")
    if when is None:
        signer.add_auth(request)
    else:
        with mock.patch("botocore.auth.get_current_datetime", return_value=when):
            signer.add_auth(request)
    return HTTP.post(
        url + "/",
        headers=dict(request.headers.items()),
        content=body if tamper is None else tamper,
    )


def question(items: Sequence[str], labels: Sequence[str] = ("0", "1")) -> str:
    """An HTMLQuestion with one radio group per item, as HIT templates make."""
    groups = "".join(
        f"<p>{item}</p>"
        + "".join(
            f'<label><input type="radio" name="item-{item}" value="{label}">'
            f"{label}</label>"
            for label in labels
        )
        for item in items
    )
    html = (
        '<form method="post" action="https://www.mturk.com/mturk/externalSubmit">'
        f'<input type="hidden" name="assignmentId" value="">{groups}'
        '<textarea name="comments"></textarea></form>'
    )
    return (
        '<HTMLQuestion xmlns="http://mechanicalturk.amazonaws.com/'
        'AWSMechanicalTurkDataSchemas/2011-11-11/HTMLQuestion.xsd">'
        f"<HTMLContent><![CDATA[{html}]]></HTMLContent>"
        "<FrameHeight>0</FrameHeight></HTMLQuestion>"
    )


def hit_args(items: Sequence[str] = ("X1", "X2"), **overrides: Any) -> dict[str, Any]:
    args: dict[str, Any] = {
        "MaxAssignments": 3,
        "LifetimeInSeconds": 86_400,
        "AssignmentDurationInSeconds": 3_600,
        "AutoApprovalDelayInSeconds": 86_400,
        "Reward": "0.12",
        "Title": "Do these two product records describe the same product?",
        "Description": "Compare pairs of product records.",
        "Keywords": "matching, products",
        "Question": question(items),
    }
    args.update(overrides)
    return args


def original_hits() -> dict[str, list[str]]:
    """Original HIT id -> its pair ids, in file order."""
    grouped: dict[str, list[str]] = defaultdict(list)
    with ANSWERS_CSV.open(newline="") as handle:
        for row in csv.DictReader(handle):
            if row["pair_id"] not in grouped[row["hit_id"]]:
                grouped[row["hit_id"]].append(row["pair_id"])
    return grouped


def real_answers() -> dict[tuple[str, str], str]:
    """(worker id, pair id) -> recorded answer; the crowd keeps recorded ids."""
    with ANSWERS_CSV.open(newline="") as handle:
        return {
            (row["worker_id"], row["pair_id"]): row["answer"]
            for row in csv.DictReader(handle)
        }


# One client for every test: creating one per request costs ~25 ms.
HTTP = httpx.Client(trust_env=False, timeout=60)


def submit_as(url: str, hit_id: str, worker_id: str, fields: dict[str, str]) -> str:
    """Accept a HIT as ``worker_id`` and post its form, as a worker's browser would."""
    accepted = HTTP.post(
        f"{url}/_sim/accept", json={"worker_id": worker_id, "hit_id": hit_id}
    )
    accepted.raise_for_status()
    assignment_id = str(accepted.json()["assignment_id"])
    posted = HTTP.post(
        f"{url}/mturk/externalSubmit", data={"assignmentId": assignment_id, **fields}
    )
    posted.raise_for_status()
    return assignment_id
