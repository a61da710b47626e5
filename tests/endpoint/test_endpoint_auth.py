"""Requester keys, SigV4 checks and what each requester may see."""

from __future__ import annotations

import json
import os
import stat
from collections.abc import Iterator
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import httpx
import pytest
from botocore.exceptions import ClientError
from endpoint_helpers import START, hit_args, make_client, signed_post, submit_as

from crowd_bridge.endpoint import (
    EndpointConfig,
    RunningEndpoint,
    add_requester,
    build_app,
    list_requesters,
)
from crowd_bridge.errors import ConfigError

ALICE = ("AKIAALICE0000000TEST", "alice-secret-0123456789")
BOB = ("AKIABOB00000000TEST0", "bob-secret-0123456789")


@pytest.fixture
def signed() -> Iterator[RunningEndpoint]:
    """An endpoint that checks signatures, with two registered requesters."""
    config = EndpointConfig(
        clock="virtual", start_time=START, requesters=dict([ALICE, BOB])
    )
    with RunningEndpoint(config) as running:
        yield running


def aws_error(call: Any, **kwargs: Any) -> tuple[int, str, str]:
    with pytest.raises(ClientError) as error:
        call(**kwargs)
    response = error.value.response
    return (
        response["ResponseMetadata"]["HTTPStatusCode"],
        response["Error"]["Code"],
        response["Error"]["Message"],
    )


def test_defaults_sign_when_serving_and_stay_open_for_simulations() -> None:
    assert build_app(EndpointConfig()).state.runtime.auth.mode == "sigv4"
    with RunningEndpoint() as running:
        assert running.runtime.auth.mode == "open"
        assert make_client(running.url, "ANYKEY").list_hits()["NumResults"] == 0
    config = EndpointConfig(requesters=dict([ALICE]))
    assert build_app(config).state.runtime.auth.mode == "sigv4"


def test_only_correctly_signed_calls_get_through(signed: RunningEndpoint) -> None:
    alice = make_client(signed.url, ALICE[0], secret=ALICE[1])
    assert alice.get_account_balance()["AvailableBalance"] == "10000.00"

    wrong_secret = make_client(signed.url, ALICE[0], secret="not-the-secret")
    status, code, message = aws_error(wrong_secret.list_hits)
    assert (status, code) == (400, "InvalidSignatureException")
    assert "does not match" in message

    stranger = make_client(signed.url, "AKIANOBODY00000TEST0", secret="x")
    status, code, _ = aws_error(stranger.list_hits)
    assert (status, code) == (400, "UnrecognizedClientException")


def test_malformed_stale_and_tampered_signatures(signed: RunningEndpoint) -> None:
    url, body = signed.url, b"{}"
    ok = signed_post(url, "ListHITs", body, access_key=ALICE[0], secret=ALICE[1])
    assert ok.status_code == 200, ok.text

    tampered = signed_post(
        url,
        "ListHITs",
        body,
        access_key=ALICE[0],
        secret=ALICE[1],
        tamper=b'{"MaxResults": 1}',
    )
    assert tampered.status_code == 400
    assert tampered.json()["__type"] == "InvalidSignatureException"

    # The virtual clock sits in January 2026; freshness is judged on real time.
    stale = datetime.now(timezone.utc) - timedelta(minutes=16)
    old = signed_post(
        url, "ListHITs", body, access_key=ALICE[0], secret=ALICE[1], when=stale
    )
    assert old.status_code == 400
    assert old.json()["__type"] == "InvalidSignatureException"
    assert "Signature expired" in old.json()["message"]
    recent = datetime.now(timezone.utc) - timedelta(minutes=14)
    fine = signed_post(
        url, "ListHITs", body, access_key=ALICE[0], secret=ALICE[1], when=recent
    )
    assert fine.status_code == 200

    for authorization in [
        "AWS4-HMAC-SHA256 Credential=AKIAALICE0000000TEST/20260101/us-east-1",
        "Basic dXNlcjpwYXNz",
        f"AWS4-HMAC-SHA256 Credential={ALICE[0]}/x, SignedHeaders=host, Signature=0",
    ]:
        reply = httpx.post(
            url,
            headers={
                "X-Amz-Target": "MTurkRequesterServiceV20170117.ListHITs",
                "Authorization": authorization,
            },
            content=body,
        )
        assert reply.status_code == 400, authorization
        assert reply.json()["__type"] == "IncompleteSignatureException"

    missing = httpx.post(
        url, headers={"X-Amz-Target": "MTurkRequesterServiceV20170117.ListHITs"}
    )
    assert missing.status_code == 403
    assert missing.json()["__type"] == "MissingAuthenticationTokenException"


def test_each_requester_sees_only_its_own_work(signed: RunningEndpoint) -> None:
    alice = make_client(signed.url, ALICE[0], secret=ALICE[1])
    bob = make_client(signed.url, BOB[0], secret=BOB[1])
    hit_id = alice.create_hit(**hit_args())["HIT"]["HITId"]
    assignment_id = submit_as(signed.url, hit_id, "AWORKER1", {"item-X1": "1"})
    alice.approve_assignment(AssignmentId=assignment_id)
    alice.send_bonus(
        WorkerId="AWORKER1", BonusAmount="0.50", AssignmentId=assignment_id, Reason="+"
    )
    alice.create_worker_block(WorkerId="ASPAMMER", Reason="Spam")
    qual_id = alice.create_qualification_type(
        Name="Alice's skill", Description="d", QualificationTypeStatus="Active"
    )["QualificationType"]["QualificationTypeId"]
    alice.associate_qualification_with_worker(
        QualificationTypeId=qual_id, WorkerId="AWORKER1", IntegerValue=3
    )

    assert bob.list_hits()["NumResults"] == 0
    assert bob.list_worker_blocks()["NumResults"] == 0
    assert bob.get_account_balance()["AvailableBalance"] == "10000.00"
    # 14 cents paid, 28 held for the HIT's two open slots, a 60 cent bonus.
    assert alice.get_account_balance()["AvailableBalance"] == "9998.98"
    for call, kwargs, code in [
        (bob.get_hit, {"HITId": hit_id}, "HITDoesNotExist"),
        (bob.list_assignments_for_hit, {"HITId": hit_id}, "HITDoesNotExist"),
        (bob.list_bonus_payments, {"HITId": hit_id}, "HITDoesNotExist"),
        (bob.get_assignment, {"AssignmentId": assignment_id}, "AssignmentDoesNotExist"),
        (
            bob.reject_assignment,
            {"AssignmentId": assignment_id, "RequesterFeedback": "x"},
            "AssignmentDoesNotExist",
        ),
        (bob.delete_hit, {"HITId": hit_id}, "HITDoesNotExist"),
        (
            bob.get_qualification_score,
            {"QualificationTypeId": qual_id, "WorkerId": "AWORKER1"},
            "PermissionDenied",
        ),
    ]:
        with pytest.raises(ClientError) as error:
            call(**kwargs)
        assert error.value.response["TurkErrorCode"] == f"AWS.MechanicalTurk.{code}"


def test_keys_added_to_a_state_file_work_while_serving(tmp_path: Path) -> None:
    path = tmp_path / "endpoint.db"
    first_key, first_secret = add_requester(path, "Research lab")
    assert first_key.startswith("AKIA") and len(first_key) == 20
    assert len(first_secret) == 40
    # The file holds the secrets; only its owner may read it.
    assert stat.S_IMODE(os.stat(path).st_mode) == 0o600
    with pytest.raises(ConfigError, match="already has access key"):
        add_requester(path, "Research lab")

    with RunningEndpoint(EndpointConfig(state_path=path, auth="sigv4")) as running:
        lab = make_client(running.url, first_key, secret=first_secret)
        hit_id = lab.create_hit(**hit_args())["HIT"]["HITId"]
        # A key added by another process while serving is read on first use.
        late_key, late_secret = add_requester(str(path), "Late joiner")
        late = make_client(running.url, late_key, secret=late_secret)
        assert late.list_hits()["NumResults"] == 0
        same_key, same_secret = add_requester(running, "Same process")
        same = make_client(running.url, same_key, secret=same_secret)
        assert same.list_hits()["NumResults"] == 0
        assert lab.get_hit(HITId=hit_id)["HIT"]["HITStatus"] == "Assignable"

    listed = list_requesters(path)
    assert [r["name"] for r in listed] == [
        "Research lab",
        "Late joiner",
        "Same process",
    ]
    assert "secret" not in json.dumps(listed, default=str)
