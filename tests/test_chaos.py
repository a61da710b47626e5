"""The service is killed at random moments under injected faults, and recovers.

A real ``crowd-bridge run`` process drives a campaign against the bundled
endpoint, which throttles, fails and loses replies at seeded rates. The test
kills the process with SIGKILL fifty times at random moments and restarts it,
then lets it finish, and checks the books: every HIT exists once, every
submitted assignment is decided once, every bonus is paid once, and the ledger
equals the endpoint's records to the cent.
"""

from __future__ import annotations

import os
import random
import shutil
import signal
import subprocess
import sys
import threading
from collections import Counter
from datetime import datetime
from pathlib import Path

import pytest
import yaml
from sqlmodel import select

from crowd_bridge.campaign import load_campaign
from crowd_bridge.db.models import Action, Assignment, Hit, LedgerEntry
from crowd_bridge.db.session import create_state_engine, session_scope
from crowd_bridge.endpoint.faults import FaultPlan
from crowd_bridge.endpoint.server import EndpointConfig, RunningEndpoint
from crowd_bridge.mturk.client import MTurkClient
from crowd_bridge.pipeline.register import plan_hits
from crowd_bridge.settings import Settings

ROOT = Path(__file__).resolve().parent.parent
DATA = Path(__file__).resolve().parent / "data"
ANSWERS = ROOT / "examples" / "abt_buy" / "data" / "answers.csv"
START = datetime(2026, 10, 5, 9, 0)
KILLS = int(os.environ.get("CROWD_BRIDGE_CHAOS_KILLS", "50"))
FAULTS = "throttle=0.1,fault=0.02,lost=0.01"
KEY_ID = "AKIDCHAOSREQUESTER"


def chaos_campaign(folder: Path) -> Path:
    """The small campaign in HITs of two items to label and one gold item."""
    shutil.copytree(DATA / "small", folder)
    path = folder / "campaign.yaml"
    config = yaml.safe_load(path.read_text())
    config["name"] = "chaos"
    config["items_per_hit"] = 3
    config["budget"] = "60.00"
    del config["items"]["group_column"]
    path.write_text(yaml.safe_dump(config))
    (folder / "schedule.yaml").write_text(
        "jobs:\n"
        "  publish: {every: 1s}\n"
        "  collect: {every: 1s}\n"
        "  review: {every: 1s}\n"
        "  finalize: {every: 2s}\n"
        "grace_time: 2s\n"
    )
    return path


@pytest.mark.slow
def test_killed_service_pays_everything_exactly_once(tmp_path: Path) -> None:
    rng = random.Random(20261204)
    campaign = chaos_campaign(tmp_path / "campaign")
    database = f"sqlite:///{tmp_path / 'state.db'}"
    config = EndpointConfig(
        clock="virtual",
        start_time=START,
        crowd=f"replay:{ANSWERS}",
        seed=11,
        faults=FAULTS,
    )
    with RunningEndpoint(config) as endpoint:
        env = {
            **os.environ,
            "CROWD_BRIDGE_DATABASE_URL": database,
            "CROWD_BRIDGE_ENDPOINT_URL": endpoint.url,
            "CROWD_BRIDGE_CLOCK": "endpoint",
            "CROWD_BRIDGE_AWS_ACCESS_KEY_ID": KEY_ID,
            "CROWD_BRIDGE_AWS_SECRET_ACCESS_KEY": "chaos",
            "CROWD_BRIDGE_TRAINING_STORE": str(tmp_path / "store"),
            "HF_HUB_OFFLINE": "1",
        }
        command = [
            sys.executable,
            "-m",
            "crowd_bridge.cli",
            "run",
            str(campaign),
            "--schedule",
            str(campaign.parent / "schedule.yaml"),
        ]
        stop = threading.Event()

        def crowd_time_passes() -> None:
            while not stop.wait(0.5):
                endpoint.advance(60)

        mover = threading.Thread(target=crowd_time_passes, daemon=True)
        mover.start()
        killed = 0
        try:
            for _ in range(KILLS):
                service = subprocess.Popen(
                    command,
                    env=env,
                    stdout=subprocess.DEVNULL,
                    stderr=subprocess.DEVNULL,
                )
                # Imports take about two seconds; kill somewhere in the work.
                try:
                    service.wait(timeout=rng.uniform(2.0, 6.0))
                except subprocess.TimeoutExpired:
                    service.send_signal(signal.SIGKILL)
                    service.wait()
                    killed += 1
            finished = subprocess.run(
                command, env=env, timeout=600, capture_output=True
            )
        finally:
            stop.set()
            mover.join()
        assert finished.returncode == 0, finished.stderr.decode()[-3000:]

        stats = endpoint.stats()["requesters"][KEY_ID]
        client = MTurkClient(
            Settings(
                endpoint_url=endpoint.url,
                aws_access_key_id=KEY_ID,
                aws_secret_access_key="chaos",
            )
        )
        # The checks must not be upset by the faults the service lived through.
        endpoint.runtime.faults.plan = FaultPlan()
        remote_hits = list(client.list_hits())
        remote_assignments = [
            assignment
            for hit in remote_hits
            for assignment in client.list_assignments(hit["HITId"])
        ]
        remote_bonuses = [
            payment
            for assignment in remote_assignments
            for payment in client.list_bonus_payments(assignment["AssignmentId"])
        ]

    engine = create_state_engine(database)
    with session_scope(engine) as session:
        hits = session.exec(select(Hit)).all()
        assignments = {a.id: a for a in session.exec(select(Assignment)).all()}
        ledger = session.exec(select(LedgerEntry)).all()
        bonus_actions = session.exec(
            select(Action).where(Action.kind == "bonus", Action.state == "done")
        ).all()

    remote_status = Counter(a["AssignmentStatus"] for a in remote_assignments)
    rewards = Counter(e.assignment_id for e in ledger if e.kind == "reward")
    bonuses_paid = Counter(p["AssignmentId"] for p in remote_bonuses)
    booked = Counter(e.kind for e in ledger)
    sums: Counter[str] = Counter()
    for entry in ledger:
        sums[entry.kind] += entry.amount_cents
    print(
        f"\nchaos: {killed} kills under {FAULTS}; {len(remote_hits)} HITs, "
        f"{len(remote_assignments)} assignments ({dict(remote_status)}), "
        f"{len(remote_bonuses)} bonuses; ledger {dict(sums)} cents; endpoint paid "
        f"{stats['paid_rewards_cents']} rewards, {stats['paid_fees_cents']} fees, "
        f"{stats['paid_bonuses_cents']} bonuses"
    )

    assert killed >= KILLS // 2
    # No HIT exists twice, and every HIT is ours.
    planned = len(plan_hits(load_campaign(campaign)))
    assert len(remote_hits) == len(hits) == planned
    assert len({h["RequesterAnnotation"] for h in remote_hits}) == planned
    assert {h.mturk_hit_id for h in hits} == {h["HITId"] for h in remote_hits}
    # Every submitted assignment was decided, once.
    assert set(remote_status) <= {"Approved", "Rejected"}
    assert len(remote_assignments) == len(assignments) == planned * 3
    for remote in remote_assignments:
        ours = assignments[remote["AssignmentId"]]
        assert ours.status == remote["AssignmentStatus"]
        expected = 1 if remote["AssignmentStatus"] == "Approved" else 0
        assert rewards[remote["AssignmentId"]] == expected
    # Every bonus was paid once, and only those we decided.
    assert all(count == 1 for count in bonuses_paid.values())
    assert len(remote_bonuses) == len(bonus_actions) == booked["bonus"]
    # The ledger equals the endpoint's records to the cent.
    assert sums["reward"] == stats["paid_rewards_cents"]
    assert sums["bonus"] == stats["paid_bonuses_cents"]
    assert sums["reward_fee"] + sums["bonus_fee"] == stats["paid_fees_cents"]
