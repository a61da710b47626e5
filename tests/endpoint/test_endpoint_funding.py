"""Requesters' prepaid balances can be topped up, offline or in a simulation."""

from __future__ import annotations

from pathlib import Path

import boto3
import pytest

from crowd_bridge.endpoint.server import (
    EndpointConfig,
    RunningEndpoint,
    add_requester,
    fund_requester,
)
from crowd_bridge.errors import ConfigError


def balance(url: str, key_id: str, secret: str) -> str:
    client = boto3.client(
        "mturk",
        endpoint_url=url,
        region_name="us-east-1",
        aws_access_key_id=key_id,
        aws_secret_access_key=secret,
    )
    return client.get_account_balance()["AvailableBalance"]


def test_offline_funding_survives_into_the_next_start(tmp_path: Path) -> None:
    state = tmp_path / "endpoint.db"
    key_id, secret = add_requester(state, "alice")

    assert fund_requester(state, key_id, 25_050) == 1_025_050
    with pytest.raises(ConfigError, match="No requester has the access key AKIANO"):
        fund_requester(state, "AKIANO", 100)

    config = EndpointConfig(clock="virtual", auth="sigv4", state_path=state)
    with RunningEndpoint(config) as endpoint:
        assert balance(endpoint.url, key_id, secret) == "10250.50"


def test_a_simulation_is_funded_through_its_route() -> None:
    with RunningEndpoint(EndpointConfig(clock="virtual", auth="open")) as endpoint:
        assert balance(endpoint.url, "AKIDSIM", "x") == "10000.00"
        answer = endpoint._call(  # the admin route, as a dry-run script calls it
            "POST", "/_sim/fund", {"access_key_id": "AKIDSIM", "cents": 500}
        )

        assert answer["balance_cents"] == 1_000_500
        assert balance(endpoint.url, "AKIDSIM", "x") == "10005.00"
