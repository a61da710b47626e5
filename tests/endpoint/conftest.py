"""Fixtures for the endpoint tests: a running endpoint and a client of it."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from endpoint_helpers import START, make_client

from crowd_bridge.endpoint import EndpointConfig, RunningEndpoint


@pytest.fixture
def endpoint() -> Iterator[RunningEndpoint]:
    """A virtual-clock endpoint with no crowd."""
    with RunningEndpoint(EndpointConfig(clock="virtual", start_time=START)) as running:
        yield running


@pytest.fixture
def client(endpoint: RunningEndpoint) -> Any:
    return make_client(endpoint.url)
