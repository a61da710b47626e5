"""Run a campaign's stages as APScheduler jobs until the campaign is done.

The intervals come from a schedule file in ``schedules/``. Each stage is a
job with one instance at a time and coalesced misfires, so a slow collect
never piles up behind itself. The scheduler stops once the campaign is
complete and its labels are exported.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any

import yaml
from apscheduler.events import EVENT_JOB_ERROR, JobExecutionEvent
from apscheduler.schedulers.background import BackgroundScheduler
from apscheduler.triggers.interval import IntervalTrigger

from crowd_bridge.campaign import SCHEDULE_DIR, parse_duration
from crowd_bridge.errors import ConfigError, StateError
from crowd_bridge.pipeline.actions import ActionReport, execute_actions
from crowd_bridge.pipeline.collect import CollectReport, collect
from crowd_bridge.pipeline.context import CampaignContext
from crowd_bridge.pipeline.cycle import attempt, campaign_complete, work_is_in
from crowd_bridge.pipeline.extend import request_more_work
from crowd_bridge.pipeline.finalize import finalize
from crowd_bridge.pipeline.publish import PublishReport, publish
from crowd_bridge.pipeline.review import review
from crowd_bridge.timeutil import utcnow

logger = logging.getLogger(__name__)

STAGES = ("publish", "collect", "review", "finalize")
FINALIZE_ATTEMPTS = 3


def load_schedule(name: str, directory: Path = SCHEDULE_DIR) -> dict[str, int]:
    """Seconds between runs of each stage, from ``schedules/<name>`` or a path."""
    path = directory / name
    if not path.is_file() and Path(name).is_file():
        path = Path(name)
    if not path.is_file():
        raise ConfigError(f"{path}: no such schedule file.")
    raw: dict[str, Any] = yaml.safe_load(path.read_text()) or {}
    jobs = raw.get("jobs") or {}
    unknown = sorted(set(jobs) - set(STAGES))
    if unknown:
        raise ConfigError(
            f"{path}: unknown job(s) {', '.join(unknown)}; the stages are "
            f"{', '.join(STAGES)}."
        )
    seconds: dict[str, int] = {}
    for stage in STAGES:
        spec = jobs.get(stage)
        if not isinstance(spec, dict) or "every" not in spec:
            raise ConfigError(f"{path}: field 'jobs.{stage}.every' is required.")
        seconds[stage] = parse_duration(
            spec["every"], field=f"{path}: jobs.{stage}.every"
        )
        if seconds[stage] < 1:
            raise ConfigError(f"{path}: jobs.{stage}.every must be at least 1s.")
    seconds["grace_time"] = parse_duration(
        raw.get("grace_time", "1m"), field="grace_time"
    )
    return seconds


class CampaignScheduler:
    """The stages of one campaign on an APScheduler background scheduler."""

    def __init__(self, ctx: CampaignContext, schedule: dict[str, int]) -> None:
        self._ctx = ctx
        self._done = threading.Event()
        self._failure: BaseException | None = None
        self._finalize_failures = 0
        self._scheduler = BackgroundScheduler(timezone="UTC")
        self._scheduler.add_listener(self._on_error, EVENT_JOB_ERROR)
        grace = schedule["grace_time"]
        jobs: dict[str, Callable[[], object]] = {
            "publish": lambda: attempt(ctx, "publish", publish, PublishReport),
            "collect": lambda: attempt(ctx, "collect", collect, CollectReport),
            "review": self._review,
            "finalize": self._finalize,
        }
        for stage, job in jobs.items():
            # Collecting stages start at once; finalize waits one interval.
            first_run = {} if stage == "finalize" else {"next_run_time": utcnow()}
            self._scheduler.add_job(
                job,
                IntervalTrigger(seconds=schedule[stage]),
                id=f"{ctx.campaign_id}:{stage}",
                name=f"{stage} {ctx.campaign_id}",
                max_instances=1,
                coalesce=True,
                misfire_grace_time=grace,
                **first_run,
            )

    def _review(self) -> None:
        review(self._ctx, final=work_is_in(self._ctx))
        request_more_work(self._ctx)
        attempt(self._ctx, "execute_actions", execute_actions, ActionReport)

    def _finalize(self) -> None:
        if not campaign_complete(self._ctx):
            return
        try:
            finalize(self._ctx)
        except Exception as error:  # counted, then re-raised for the job log
            # Finalizing is local work: failing again and again is a bug or
            # bad data, not a passing fault, and retrying it forever would
            # hide it. Stop the run and report it.
            self._finalize_failures += 1
            if self._finalize_failures >= FINALIZE_ATTEMPTS:
                self._failure = error
                self._done.set()
            raise
        self._done.set()

    def _on_error(self, event: JobExecutionEvent) -> None:
        logger.error(
            "job %s of campaign %s failed: %r",
            event.job_id,
            self._ctx.campaign_id,
            event.exception,
        )

    def run(self, timeout: float | None = None) -> bool:
        """Run until the campaign is done (True) or ``timeout`` seconds pass."""
        self._scheduler.start()
        try:
            done = self._done.wait(timeout)
        finally:
            self._scheduler.shutdown(wait=True)
        if self._failure is not None:
            raise StateError(
                f"campaign {self._ctx.campaign_id}: aggregating and exporting the "
                f"labels failed {FINALIZE_ATTEMPTS} times ({self._failure!r}); the "
                "collected answers are stored, fix the cause and run again."
            ) from self._failure
        return done
