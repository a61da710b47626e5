"""Shared fixtures: state databases on SQLite and PostgreSQL."""

from __future__ import annotations

import os
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import create_engine, text
from sqlalchemy.engine import Engine

from crowd_bridge.campaign import load_campaign
from crowd_bridge.db.session import create_state_engine, migrate
from crowd_bridge.mturk.client import MTurkClient
from crowd_bridge.pipeline.context import CampaignContext, FollowingClock
from crowd_bridge.pipeline.register import register_campaign
from crowd_bridge.settings import Settings

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")

DATA = Path(__file__).resolve().parent / "data"
ROOT = Path(__file__).resolve().parent.parent
ANSWERS = ROOT / "examples" / "abt_buy" / "data" / "answers.csv"
START = datetime(2026, 10, 5, 9, 0)
POSTGRES_URL = os.environ.get(
    "CROWD_BRIDGE_TEST_POSTGRES", "postgresql+psycopg2://postgres@127.0.0.1:5432/test"
)


def _postgres_available() -> bool:
    try:
        with create_engine(POSTGRES_URL).connect() as connection:
            connection.execute(text("select 1"))
        return True
    except Exception:  # any failure to connect means: skip, with the reason shown
        return False


@contextmanager
def fresh_postgres_database() -> Iterator[str]:
    """A new, empty PostgreSQL database, dropped afterwards."""
    if not _postgres_available():
        if os.environ.get("CI"):
            pytest.fail(f"PostgreSQL is not reachable at {POSTGRES_URL}")
        pytest.skip(f"PostgreSQL is not reachable at {POSTGRES_URL}")
    # One database per test keeps tests independent and leaves nothing behind.
    name = f"cb_test_{uuid.uuid4().hex[:12]}"
    admin = create_engine(POSTGRES_URL, isolation_level="AUTOCOMMIT")
    with admin.connect() as connection:
        connection.execute(text(f'CREATE DATABASE "{name}"'))
    try:
        yield POSTGRES_URL.rsplit("/", 1)[0] + f"/{name}"
    finally:
        with admin.connect() as connection:
            connection.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def state_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """A fresh, empty state database URL on each backend."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'state.db'}"
        return
    with fresh_postgres_database() as url:
        yield url


@pytest.fixture
def postgres_url() -> Iterator[str]:
    """A fresh PostgreSQL database URL (skipped where PostgreSQL is absent)."""
    with fresh_postgres_database() as url:
        yield url


@pytest.fixture
def engine(state_url: str) -> Iterator[Engine]:
    engine = create_state_engine(state_url)
    migrate(engine)
    yield engine
    engine.dispose()


ContextFactory = Callable[[str], CampaignContext]


@pytest.fixture
def endpoint() -> Iterator[Any]:
    """The bundled endpoint with a virtual clock and the replayed real crowd."""
    from crowd_bridge.endpoint.server import EndpointConfig, RunningEndpoint

    config = EndpointConfig(
        clock="virtual", start_time=START, crowd=f"replay:{ANSWERS}", seed=3
    )
    with RunningEndpoint(config) as running:
        yield running


@pytest.fixture
def make_context(endpoint: Any, tmp_path: Path) -> Iterator[ContextFactory]:
    """Register the small Abt-Buy campaign in a state database, ready to run."""
    engines = []

    def build(state_url: str, campaign_file: Path = DATA / "small" / "campaign.yaml"):
        engine = create_state_engine(state_url)
        engines.append(engine)
        migrate(engine)
        settings = Settings(
            database_url=state_url,
            endpoint_url=endpoint.url,
            aws_access_key_id="AKIDTESTREQUESTER",
            aws_secret_access_key="secret",
            training_store=tmp_path / "store",
        )
        campaign = load_campaign(campaign_file)
        register_campaign(engine, campaign)
        return CampaignContext(
            campaign=campaign,
            engine=engine,
            client=MTurkClient(settings),
            settings=settings,
            clock=FollowingClock(START),
        )

    yield build
    for engine in engines:
        engine.dispose()
