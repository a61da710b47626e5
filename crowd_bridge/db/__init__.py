"""State of campaigns, HITs, assignments, actions and the ledger."""

from crowd_bridge.db.session import create_state_engine, migrate, session_scope

__all__ = ["create_state_engine", "migrate", "session_scope"]
