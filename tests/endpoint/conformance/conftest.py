"""The conformance suite's target: any MTurk-compatible endpoint over HTTP.

Every test talks to the endpoint with plain boto3 (or raw SigV4-signed HTTP
for input boto3 would refuse to send). By default each test gets a fresh
bundled endpoint that checks signatures, on a virtual clock. To run the
suite against another endpoint, set

    CROWD_BRIDGE_CONFORMANCE_URL              the endpoint URL
    CROWD_BRIDGE_CONFORMANCE_ACCESS_KEY_ID    a requester's key
    CROWD_BRIDGE_CONFORMANCE_SECRET_ACCESS_KEY
    CROWD_BRIDGE_CONFORMANCE_SECOND_ACCESS_KEY_ID      (optional) another
    CROWD_BRIDGE_CONFORMANCE_SECOND_SECRET_ACCESS_KEY  requester's key

Tests marked ``simulated`` need the bundled endpoint's worker routes or
virtual clock (someone must do the work, or days must pass) and are skipped
against other endpoints; tests needing a second requester skip without one.
"""

from __future__ import annotations

import os
from collections.abc import Iterator

import pytest
from conformance_kit import Target

from crowd_bridge.endpoint import EndpointConfig, NotifyConfig, RunningEndpoint

ENV = "CROWD_BRIDGE_CONFORMANCE_"
START = "2026-01-01T00:00:00+00:00"
LOCAL_KEYS = {
    "AKIACONFORMANCE00001": "first-requester-secret-000000000000000000",
    "AKIACONFORMANCE00002": "second-requester-secret-00000000000000000",
}


def external_url() -> str | None:
    return os.environ.get(ENV + "URL") or None


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers",
        "simulated: needs the bundled endpoint's simulated workers or virtual "
        "clock; skipped against other endpoints",
    )


def pytest_collection_modifyitems(
    config: pytest.Config, items: list[pytest.Item]
) -> None:
    if external_url() is None:
        return
    skip = pytest.mark.skip(reason="needs the bundled endpoint's simulation")
    for item in items:
        if "simulated" in item.keywords:
            item.add_marker(skip)


@pytest.fixture
def target() -> Iterator[Target]:
    url = external_url()
    if url is not None:
        second = None
        if os.environ.get(ENV + "SECOND_ACCESS_KEY_ID"):
            second = (
                os.environ[ENV + "SECOND_ACCESS_KEY_ID"],
                os.environ[ENV + "SECOND_SECRET_ACCESS_KEY"],
            )
        external = Target(
            url=url.rstrip("/"),
            key=(
                os.environ[ENV + "ACCESS_KEY_ID"],
                os.environ[ENV + "SECRET_ACCESS_KEY"],
            ),
            second_key=second,
            region=os.environ.get(ENV + "REGION", "us-east-1"),
        )
        yield external
        external.http.close()
        return

    # Notifications the tests set up go to a closed local port, never to AWS.
    nowhere = "http://127.0.0.1:9"
    config = EndpointConfig(
        clock="virtual",
        start_time=START,
        seed=11,
        requesters=LOCAL_KEYS,
        notifications=NotifyConfig(
            sqs_endpoint_url=nowhere, sns_endpoint_url=nowhere, attempts=1
        ),
    )
    keys = list(LOCAL_KEYS.items())
    with RunningEndpoint(config) as running:
        local = Target(url=running.url, key=keys[0], second_key=keys[1], local=running)
        yield local
        local.http.close()
