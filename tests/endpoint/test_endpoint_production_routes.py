"""A signed endpoint on real time exposes no simulation or worker routes."""

from __future__ import annotations

from pathlib import Path

from starlette.testclient import TestClient

from crowd_bridge.endpoint.server import EndpointConfig, build_app


def test_production_endpoint_hides_simulation_and_worker_routes(tmp_path: Path) -> None:
    config = EndpointConfig(clock="real", auth="sigv4", state_path=tmp_path / "ep.db")
    with TestClient(build_app(config)) as client:
        assert client.get("/_sim/health").status_code == 200
        assert client.get("/_sim/stats").status_code == 404
        assert client.post("/_sim/advance", json={"seconds": 60}).status_code == 404
        assert client.post("/_sim/accept", json={}).status_code == 404
        assert client.post("/mturk/externalSubmit", data={}).status_code == 404
        assert client.get("/worker/tasks/X").status_code == 404
        assert "balance" not in client.get("/_sim/health").text


def test_open_simulation_keeps_its_controls(tmp_path: Path) -> None:
    config = EndpointConfig(clock="virtual", auth="open")
    with TestClient(build_app(config)) as client:
        assert client.get("/_sim/stats").status_code == 200
