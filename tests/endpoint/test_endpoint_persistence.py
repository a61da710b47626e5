"""State kept in SQLite or PostgreSQL: a restart loses nothing."""

from __future__ import annotations

from typing import Any

import pytest
from botocore.exceptions import ClientError
from endpoint_helpers import START, hit_args, make_client

from crowd_bridge.endpoint import (
    EndpointConfig,
    RunningEndpoint,
    SyntheticCrowd,
    SyntheticSpec,
)
from crowd_bridge.endpoint.state import EndpointState
from crowd_bridge.endpoint.store import StateStore
from crowd_bridge.errors import ConfigError

KEY = ("AKIAPERSIST000000000", "persisted-secret")


def memory(state: EndpointState) -> dict[str, Any]:
    """Every record the state holds, as plain data."""
    tables: dict[str, dict[Any, Any]] = {
        "accounts": state.accounts,
        "hit_types": state.hit_types,
        "hits": state.hits,
        "assignments": state.assignments,
        "workers": state.workers,
        "qualification_types": state.qualification_types,
        "qualifications": state.qualifications,
        "blocks": state.blocks,
        "bonuses": state.bonuses,
        "tokens": state.tokens,
        "notifications": state.notifications,
        "requester_keys": state.requester_keys,
        "outbox": state.outbox,
    }
    dumped: dict[str, Any] = {
        name: {str(key): record.to_record() for key, record in table.items()}
        for name, table in tables.items()
    }
    # Counters rebuilt on load rather than stored must come back the same.
    dumped["hit_counters"] = {
        hit_id: (h.pending, h.submitted, h.completed, sorted(h.worker_ids), h.status)
        for hit_id, h in state.hits.items()
    }
    dumped["visible"] = {hit_id: list(index) for hit_id, index in state.visible.items()}
    dumped["seq"] = state.seq
    dumped["ids"] = dict(state.ids.counters)
    dumped["counters"] = dict(state.counters)
    dumped["clock_now"] = state.clock_now
    return dumped


def seen_by_client(client: Any) -> dict[str, Any]:
    """What the requester can read back through the API."""
    hits = client.list_hits()["HITs"]
    return {
        "balance": client.get_account_balance(),
        "hits": hits,
        "assignments": {
            h["HITId"]: client.list_assignments_for_hit(HITId=h["HITId"]) for h in hits
        },
        "bonuses": {
            h["HITId"]: client.list_bonus_payments(HITId=h["HITId"]) for h in hits
        },
        "blocks": client.list_worker_blocks(),
        "types": client.list_qualification_types(
            MustBeRequestable=False, MustBeOwnedByCaller=True
        ),
    }


def without_metadata(seen: dict[str, Any]) -> Any:
    if isinstance(seen, dict):
        return {
            k: without_metadata(v) for k, v in seen.items() if k != "ResponseMetadata"
        }
    if isinstance(seen, list):
        return [without_metadata(v) for v in seen]
    return seen


def test_restart_loses_nothing_on_each_backend(state_url: str) -> None:
    def config() -> EndpointConfig:
        crowd = SyntheticCrowd(SyntheticSpec(workers=12, arrival_mean_s=300.0))
        return EndpointConfig(
            clock="virtual",
            start_time=START,
            crowd=crowd,
            seed=5,
            state_url=state_url,
            requesters=dict([KEY]),
        )

    with RunningEndpoint(config()) as endpoint:
        assert endpoint.runtime.auth.mode == "sigv4"
        client = make_client(endpoint.url, KEY[0], secret=KEY[1])
        first = client.create_hit(**hit_args(UniqueRequestToken="hit-a"))["HIT"]
        client.create_hit(**hit_args(("Y1",), MaxAssignments=2))
        endpoint.advance(3 * 3600)
        done = client.list_assignments_for_hit(HITId=first["HITId"])["Assignments"]
        assert len(done) == 3
        client.approve_assignment(AssignmentId=done[0]["AssignmentId"])
        client.reject_assignment(
            AssignmentId=done[1]["AssignmentId"], RequesterFeedback="Careless"
        )
        client.send_bonus(
            WorkerId=done[0]["WorkerId"],
            BonusAmount="0.25",
            AssignmentId=done[0]["AssignmentId"],
            Reason="Thorough",
            UniqueRequestToken="bonus-a",
        )
        client.create_worker_block(WorkerId=done[2]["WorkerId"], Reason="Too fast")
        qual = client.create_qualification_type(
            Name="Matcher",
            Description="Passed the test",
            QualificationTypeStatus="Active",
        )["QualificationType"]["QualificationTypeId"]
        client.associate_qualification_with_worker(
            QualificationTypeId=qual, WorkerId=done[0]["WorkerId"], IntegerValue=90
        )
        client.notify_workers(
            Subject="Thanks", MessageText="More soon.", WorkerIds=[done[0]["WorkerId"]]
        )
        before_state = memory(endpoint.runtime.state)
        before_seen = without_metadata(seen_by_client(client))
        now = endpoint.now()

    with RunningEndpoint(config()) as endpoint:
        client = make_client(endpoint.url, KEY[0], secret=KEY[1])
        assert memory(endpoint.runtime.state) == before_state
        assert without_metadata(seen_by_client(client)) == before_seen
        assert endpoint.now() == now

        # Token memory survived: the same tokens are still refused.
        with pytest.raises(ClientError) as error:
            client.create_hit(**hit_args(UniqueRequestToken="hit-a"))
        assert first["HITId"] in error.value.response["Error"]["Message"]
        with pytest.raises(ClientError) as error:
            client.send_bonus(
                WorkerId=done[0]["WorkerId"],
                BonusAmount="0.25",
                AssignmentId=done[0]["AssignmentId"],
                Reason="Thorough",
                UniqueRequestToken="bonus-a",
            )
        assert error.value.response["TurkErrorCode"] == (
            "AWS.MechanicalTurk.DuplicateRequest"
        )
        # Time goes on from where it stopped: the third assignment auto-approves.
        endpoint.advance(86_400)
        statuses = {
            a["AssignmentId"]: a["AssignmentStatus"]
            for a in client.list_assignments_for_hit(HITId=first["HITId"])[
                "Assignments"
            ]
        }
        assert statuses[done[2]["AssignmentId"]] == "Approved"


def test_state_locations_are_checked(tmp_path: Any) -> None:
    with pytest.raises(ConfigError):
        EndpointConfig(
            state_url="sqlite:///a.db", state_path=tmp_path / "b.db"
        ).store_url()
    with pytest.raises(ConfigError):
        StateStore("mysql://user@127.0.0.1/endpoint")
    with pytest.raises(ConfigError):
        StateStore("not a url")
