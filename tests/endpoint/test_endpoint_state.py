"""Persistence across restarts, the real clock, and injected faults."""

from __future__ import annotations

from pathlib import Path
from typing import Any
from urllib.error import HTTPError

import boto3
import httpx
import pytest
from botocore.config import Config
from botocore.exceptions import ClientError
from endpoint_helpers import START, hit_args, make_client, submit_as

from crowd_bridge.endpoint import (
    EndpointConfig,
    RunningEndpoint,
    SyntheticCrowd,
    SyntheticSpec,
)
from crowd_bridge.endpoint.faults import FaultPlan
from crowd_bridge.errors import ConfigError


def test_restart_loses_nothing(tmp_path: Path) -> None:
    path = tmp_path / "endpoint.db"

    def config() -> EndpointConfig:
        crowd = SyntheticCrowd(SyntheticSpec(workers=20, arrival_mean_s=300.0))
        return EndpointConfig(
            clock="virtual", start_time=START, crowd=crowd, seed=4, state_path=path
        )

    with RunningEndpoint(config()) as endpoint:
        client = make_client(endpoint.url)
        hit = client.create_hit(**hit_args(UniqueRequestToken="hit-1"))["HIT"]
        hit_id = hit["HITId"]
        endpoint.advance(4 * 3600)
        before = client.list_assignments_for_hit(HITId=hit_id)["Assignments"]
        assert len(before) == 3
        client.approve_assignment(AssignmentId=before[0]["AssignmentId"])
        client.reject_assignment(
            AssignmentId=before[1]["AssignmentId"], RequesterFeedback="No"
        )
        client.send_bonus(
            WorkerId=before[0]["WorkerId"],
            BonusAmount="0.30",
            AssignmentId=before[0]["AssignmentId"],
            Reason="Good",
            UniqueRequestToken="bonus-1",
        )
        client.create_worker_block(WorkerId="ABLOCKED", Reason="Spam")
        qual_id = client.create_qualification_type(
            Name="Skill", Description="d", QualificationTypeStatus="Active"
        )["QualificationType"]["QualificationTypeId"]
        client.associate_qualification_with_worker(
            QualificationTypeId=qual_id, WorkerId="AWORKER9", IntegerValue=7
        )
        other = client.create_hit(**hit_args(LifetimeInSeconds=7200))["HIT"]["HITId"]
        balance = client.get_account_balance()["AvailableBalance"]
        now = endpoint.now()
        stats = endpoint.stats()

    with RunningEndpoint(config()) as endpoint:
        client = make_client(endpoint.url)
        assert endpoint.now() == now
        assert client.get_account_balance()["AvailableBalance"] == balance
        after = client.list_assignments_for_hit(HITId=hit_id)["Assignments"]
        assert [a["AssignmentStatus"] for a in after] == [
            "Approved",
            "Rejected",
            "Submitted",
        ]
        assert [a["Answer"] for a in after] == [a["Answer"] for a in before]
        assert (
            client.get_hit(HITId=hit_id)["HIT"] == client.get_hit(HITId=hit_id)["HIT"]
        )
        assert client.list_bonus_payments(HITId=hit_id)["NumResults"] == 1
        assert client.list_worker_blocks()["WorkerBlocks"][0]["WorkerId"] == "ABLOCKED"
        score = client.get_qualification_score(
            QualificationTypeId=qual_id, WorkerId="AWORKER9"
        )
        assert score["Qualification"]["IntegerValue"] == 7
        assert endpoint.stats()["paid_rewards_cents"] == stats["paid_rewards_cents"]

        # Tokens survive too: neither the HIT nor the bonus repeats.
        with pytest.raises(ClientError) as error:
            client.create_hit(**hit_args(UniqueRequestToken="hit-1"))
        assert f"`{hit_id}`" in error.value.response["Error"]["Message"]

        # Time-driven work resumes: the open HIT fills and then expires.
        endpoint.advance(3 * 3600)
        assert client.get_hit(HITId=other)["HIT"]["HITStatus"] == "Reviewable"


def test_duplicate_create_hit_names_the_existing_hit(client: Any) -> None:
    first = client.create_hit(**hit_args(UniqueRequestToken="token-1"))["HIT"]
    with pytest.raises(ClientError) as error:
        client.create_hit(**hit_args(UniqueRequestToken="token-1"))
    response = error.value.response
    assert response["Error"]["Code"] == "RequestError"
    assert response["TurkErrorCode"] == "AWS.MechanicalTurk.HitAlreadyExists"
    assert response["Error"]["Message"] == (
        f"The HIT with ID `{first['HITId']}` already exists."
    )
    assert client.list_hits()["NumResults"] == 1


def test_request_tokens_expire_after_a_day(
    endpoint: RunningEndpoint, client: Any
) -> None:
    client.create_hit(**hit_args(UniqueRequestToken="daily"))
    endpoint.advance(24 * 3600 - 1)
    with pytest.raises(ClientError):
        client.create_hit(**hit_args(UniqueRequestToken="daily"))
    endpoint.advance(1)
    client.create_hit(**hit_args(UniqueRequestToken="daily"))
    assert client.list_hits()["NumResults"] == 2


def test_real_clock_catches_up_on_each_request() -> None:
    with RunningEndpoint(EndpointConfig(clock="real")) as endpoint:
        client = make_client(endpoint.url)
        hit_id = client.create_hit(**hit_args(LifetimeInSeconds=30))["HIT"]["HITId"]
        submit_as(endpoint.url, hit_id, "AWORKER1", {"item-X1": "1"})
        assert client.get_hit(HITId=hit_id)["HIT"]["HITStatus"] == "Assignable"
        health = endpoint.stats()
        assert health["clock"] == "real"
        with pytest.raises(HTTPError) as refused:
            endpoint.advance(60)
        assert refused.value.code == 409


def fault_run(seed: int) -> tuple[list[str], int]:
    """Sixty CreateHIT calls through a faulty endpoint, without retries."""
    config = EndpointConfig(
        clock="virtual",
        start_time=START,
        seed=seed,
        faults="throttle=0.3,fault=0.2,lost=0.1",
    )
    with RunningEndpoint(config) as endpoint:
        client = boto3.client(
            "mturk",
            endpoint_url=endpoint.url,
            region_name="us-east-1",
            aws_access_key_id="AKIDEXAMPLE",
            aws_secret_access_key="x",
            config=Config(retries={"total_max_attempts": 1, "mode": "standard"}),
        )
        outcomes = []
        for n in range(60):
            try:
                client.create_hit(**hit_args(UniqueRequestToken=f"t{n}"))
                outcomes.append("ok")
            except ClientError as error:
                outcomes.append(error.response["Error"]["Code"])
        return outcomes, endpoint.runtime.state.counters["hits_created"]


def test_injected_faults_are_seeded() -> None:
    outcomes, created = fault_run(seed=8)
    assert (outcomes, created) == fault_run(seed=8)
    assert set(outcomes) == {"ok", "ThrottlingException", "ServiceFault"}
    # Throttled and faulted calls did nothing; lost answers did their work.
    assert outcomes.count("ok") < created < 60 - outcomes.count("ThrottlingException")


def test_fault_plans_are_checked() -> None:
    assert FaultPlan.parse("lost=0.5") == FaultPlan(lost=0.5)
    with pytest.raises(ConfigError):
        FaultPlan.parse("throttle=lots")
    with pytest.raises(ConfigError):
        FaultPlan.parse("throttle=0.8,fault=0.5")
    with pytest.raises(ConfigError):
        FaultPlan.parse("slow=0.1")


def test_admin_routes_refuse_bad_input(endpoint: RunningEndpoint) -> None:
    for body in ({"seconds": -1}, {"seconds": "soon"}, {}, {"seconds": 1e308}):
        reply = httpx.post(f"{endpoint.url}/_sim/advance", json=body)
        assert reply.status_code == 400, body
    health = httpx.get(f"{endpoint.url}/_sim/health").json()
    assert health == {
        "status": "ok",
        "clock": "virtual",
        "now": 1767225600.0,
        "crowd": None,
    }
    assert httpx.post(f"{endpoint.url}/_sim/accept", json={}).status_code == 400
    missing = httpx.get(f"{endpoint.url}/worker/tasks/NOSUCHHIT")
    assert missing.status_code == 404
