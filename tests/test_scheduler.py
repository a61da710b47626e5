"""The APScheduler runner drives a campaign to the end on its own."""

from __future__ import annotations

import threading
from collections.abc import Callable
from pathlib import Path

import pytest
from sqlmodel import select

from crowd_bridge.db.models import Hit, LabelSnapshot
from crowd_bridge.db.session import session_scope
from crowd_bridge.endpoint.server import RunningEndpoint
from crowd_bridge.errors import ConfigError, StateError
from crowd_bridge.pipeline.context import CampaignContext
from crowd_bridge.scheduler import CampaignScheduler, load_schedule

ContextFactory = Callable[[str], CampaignContext]


def test_schedule_files_are_read_and_checked(tmp_path: Path) -> None:
    schedule = load_schedule("default.yaml")
    assert schedule["collect"] == 120
    assert schedule["publish"] == 300

    (tmp_path / "bad.yaml").write_text("jobs:\n  publish: {every: 5m}\n  paint: {}\n")
    with pytest.raises(ConfigError, match="unknown job"):
        load_schedule("bad.yaml", tmp_path)


def test_scheduler_runs_campaign_until_done(
    tmp_path: Path, endpoint: RunningEndpoint, make_context: ContextFactory
) -> None:
    ctx = make_context(f"sqlite:///{tmp_path / 'state.db'}")
    schedule = {"publish": 1, "collect": 1, "review": 1, "finalize": 1, "grace_time": 5}
    stop = threading.Event()

    def crowd_time_passes() -> None:
        # The endpoint's clock is virtual: move it while the jobs run.
        while not stop.wait(0.2):
            ctx.clock.current = endpoint.advance(20 * 60)  # type: ignore[attr-defined]

    mover = threading.Thread(target=crowd_time_passes, daemon=True)
    mover.start()
    try:
        done = CampaignScheduler(ctx, schedule).run(timeout=120)
    finally:
        stop.set()
        mover.join()

    assert done
    with session_scope(ctx.engine) as session:
        assert set(session.exec(select(Hit.status)).all()) == {"done"}
        assert len(session.exec(select(LabelSnapshot)).all()) == 1


def test_a_finalize_that_keeps_failing_stops_the_run(
    tmp_path: Path, make_context: ContextFactory, monkeypatch: pytest.MonkeyPatch
) -> None:
    ctx = make_context(f"sqlite:///{tmp_path / 'state.db'}")
    calls: list[int] = []

    def broken(_ctx: CampaignContext) -> None:
        calls.append(1)
        raise ValueError("bad data")

    monkeypatch.setattr("crowd_bridge.scheduler.campaign_complete", lambda _ctx: True)
    monkeypatch.setattr("crowd_bridge.scheduler.finalize", broken)
    schedule = {
        "publish": 60,
        "collect": 60,
        "review": 60,
        "finalize": 1,
        "grace_time": 5,
    }

    with pytest.raises(StateError, match="failed 3 times .*bad data"):
        CampaignScheduler(ctx, schedule).run(timeout=30)
    assert len(calls) == 3
