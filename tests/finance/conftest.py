"""Fixtures over the known ledger of ``finance_ledger``."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from finance_ledger import Known, write_known_ledger
from sqlalchemy.engine import Engine


@pytest.fixture
def known() -> Known:
    return Known()


@pytest.fixture
def ledger_engine(engine: Engine) -> Iterator[Engine]:
    """The shared ``engine`` fixture (SQLite, and PostgreSQL when reachable)."""
    write_known_ledger(engine)
    yield engine
