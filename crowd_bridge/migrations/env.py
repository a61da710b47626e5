"""Alembic environment: runs on the connection handed in by ``migrate``."""

from __future__ import annotations

from alembic import context
from sqlmodel import SQLModel

import crowd_bridge.db.models  # noqa: F401  (registers the tables)

target_metadata = SQLModel.metadata


def run_migrations() -> None:
    connection = context.config.attributes.get("connection")
    if connection is None:
        raise RuntimeError("crowd_bridge runs migrations through db.migrate()")
    context.configure(
        connection=connection,
        target_metadata=target_metadata,
        render_as_batch=connection.dialect.name == "sqlite",
    )
    with context.begin_transaction():
        context.run_migrations()


run_migrations()
