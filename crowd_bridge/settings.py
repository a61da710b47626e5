"""Service settings, read from the environment with embedded defaults.

Every setting has a default that runs the product on one machine: SQLite for
state, the bundled endpoint for the workforce, the MiniLM weights shipped as a
Python package for the text model. Production changes them by environment
variable, never by editing code.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path

ENV_PREFIX = "CROWD_BRIDGE_"


def _env(name: str, default: str | None = None) -> str | None:
    return os.environ.get(ENV_PREFIX + name, default)


@dataclass(frozen=True)
class Settings:
    """Where state lives and which workforce endpoint and model to use.

    ``database_url`` is any SQLAlchemy URL (``sqlite:///state.db`` or
    ``postgresql+psycopg2://user@host/db``). ``endpoint_url`` is the MTurk
    Requester API endpoint; the sandbox and production URLs work unchanged.
    ``clock`` is ``system``, or ``endpoint`` to follow the simulated time of a
    bundled endpoint during a dry run.
    """

    database_url: str = "sqlite:///crowd_bridge.db"
    endpoint_url: str | None = None
    region_name: str = "us-east-1"
    aws_access_key_id: str | None = None
    aws_secret_access_key: str | None = None
    training_store: Path = field(default_factory=lambda: Path("training-store"))
    model_path: str | None = None
    max_attempts: int = 5
    clock: str = "system"

    @classmethod
    def from_env(cls, **overrides: object) -> Settings:
        """Build settings from ``CROWD_BRIDGE_*`` variables, then overrides."""
        values: dict[str, object] = {}
        database_url = _env("DATABASE_URL")
        if database_url:
            values["database_url"] = database_url
        for name in (
            "endpoint_url",
            "region_name",
            "aws_access_key_id",
            "aws_secret_access_key",
            "model_path",
            "clock",
        ):
            value = _env(name.upper())
            if value:
                values[name] = value
        store = _env("TRAINING_STORE")
        if store:
            values["training_store"] = Path(store)
        attempts = _env("MAX_ATTEMPTS")
        if attempts:
            values["max_attempts"] = int(attempts)
        values.update({k: v for k, v in overrides.items() if v is not None})
        return cls(**values)  # type: ignore[arg-type]
