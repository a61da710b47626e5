"""Payments happen once, after the work, and survive repeated decisions."""

from __future__ import annotations

import shutil
from collections import Counter
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import yaml
from sqlalchemy import func
from sqlmodel import select

from crowd_bridge.db.models import Action, Assignment, Hit, LedgerEntry
from crowd_bridge.db.session import session_scope
from crowd_bridge.endpoint.server import fund_requester
from crowd_bridge.errors import MTurkError, StateError
from crowd_bridge.pipeline.actions import execute_actions, override_rejection
from crowd_bridge.pipeline.collect import collect
from crowd_bridge.pipeline.context import CampaignContext
from crowd_bridge.pipeline.publish import publish
from crowd_bridge.pipeline.register import request_token
from crowd_bridge.pipeline.review import review

ContextFactory = Callable[[str], CampaignContext]
DATA = Path(__file__).resolve().parent / "data"


def sqlite_context(make_context: ContextFactory, tmp_path: Any) -> CampaignContext:
    return make_context(f"sqlite:///{tmp_path / 'state.db'}")


def wait_for_all_work(ctx: CampaignContext, endpoint: Any) -> None:
    publish(ctx)
    for _ in range(100):
        ctx.clock.current = endpoint.advance(20 * 60)  # type: ignore[attr-defined]
        collect(ctx)
        with session_scope(ctx.engine) as session:
            if session.exec(select(func.count()).select_from(Assignment)).one() == 9:
                return
    raise AssertionError("the crowd did not submit all nine assignments")


def queue_rejection(ctx: CampaignContext) -> tuple[str, str]:
    """Decide to reject the first assignment; returns its id and worker."""
    with session_scope(ctx.engine) as session:
        assignment = session.exec(select(Assignment)).first()
        assert assignment is not None
        session.add(
            Action(
                campaign_id=ctx.campaign_id,
                key=f"reject:{assignment.id}",
                kind="reject",
                assignment_id=assignment.id,
                worker_id=assignment.worker_id,
                reason="Check items answered wrongly.",
            )
        )
        return assignment.id, assignment.worker_id


def ledger_by_kind(ctx: CampaignContext) -> Counter[str]:
    with session_scope(ctx.engine) as session:
        rows = session.exec(select(LedgerEntry.kind, LedgerEntry.amount_cents)).all()
    totals: Counter[str] = Counter()
    for kind, cents in rows:
        totals[kind] += cents
    return totals


def test_reviewing_and_paying_twice_pays_once(
    make_context: ContextFactory, endpoint: Any, tmp_path: Any
) -> None:
    ctx = sqlite_context(make_context, tmp_path)
    wait_for_all_work(ctx, endpoint)

    for _ in range(3):
        review(ctx, final=True)
        execute_actions(ctx)

    ledger = ledger_by_kind(ctx)
    with session_scope(ctx.engine) as session:
        actions = Counter(session.exec(select(Action.kind)).all())
    stats = endpoint.stats()
    assert actions["approve"] == 9
    assert ledger["reward"] == 9 * 50
    assert ledger["bonus"] == actions["bonus"] * 5
    assert stats["paid_rewards_cents"] == 9 * 50
    assert stats["paid_bonuses_cents"] == ledger["bonus"]


def test_approval_after_auto_approval_books_the_reward_once(
    make_context: ContextFactory, endpoint: Any, tmp_path: Any
) -> None:
    ctx = sqlite_context(make_context, tmp_path)
    wait_for_all_work(ctx, endpoint)

    # Four days pass with nobody reviewing: the endpoint approves on its own.
    ctx.clock.current = endpoint.advance(4 * 86400)  # type: ignore[attr-defined]
    collect(ctx)
    review(ctx, final=True)
    report = execute_actions(ctx)

    assert report.failed == 0
    assert report.done["approve"] == 9
    assert ledger_by_kind(ctx)["reward"] == 9 * 50
    assert endpoint.stats()["paid_rewards_cents"] == 9 * 50


def test_bonus_waits_until_the_assignment_is_approved(
    make_context: ContextFactory, endpoint: Any, tmp_path: Any
) -> None:
    ctx = sqlite_context(make_context, tmp_path)
    wait_for_all_work(ctx, endpoint)
    with session_scope(ctx.engine) as session:
        assignment = session.exec(select(Assignment)).first()
        assert assignment is not None
        key = f"bonus:{assignment.id}:manual"
        session.add(
            Action(
                campaign_id=ctx.campaign_id,
                key=key,
                kind="bonus",
                hit_pk=assignment.hit_pk,
                assignment_id=assignment.id,
                worker_id=assignment.worker_id,
                amount_cents=25,
                request_token=request_token(ctx.campaign_id, "bonus", key),
                reason="Thank you for the careful comparisons.",
            )
        )

    early = execute_actions(ctx)

    assert early.waiting == 1
    assert ledger_by_kind(ctx)["bonus"] == 0

    review(ctx, final=True)
    later = execute_actions(ctx)

    assert later.done["bonus"] >= 1
    with session_scope(ctx.engine) as session:
        paid = session.exec(
            select(LedgerEntry.amount_cents).where(
                LedgerEntry.kind == "bonus",
                LedgerEntry.assignment_id == assignment.id,
            )
        ).all()
    assert 25 in paid


def twenty_hit_campaign(tmp_path: Path) -> Path:
    """The small campaign cut to 40 items in 20 HITs of two, without gold."""
    folder = tmp_path / "twenty"
    shutil.copytree(DATA / "small", folder)
    items = (folder / "items.csv").read_text().splitlines()
    (folder / "items.csv").write_text("\n".join(items[:41]) + "\n")
    config = yaml.safe_load((folder / "campaign.yaml").read_text())
    config["name"] = "twenty-hits"
    config["items_per_hit"] = 2
    config["budget"] = "100.00"
    del config["items"]["group_column"]
    del config["gold"]
    (folder / "campaign.yaml").write_text(yaml.safe_dump(config))
    return folder / "campaign.yaml"


def test_low_funds_publish_what_they_cover_and_resume_when_topped_up(
    make_context: Callable[..., CampaignContext], endpoint: Any, tmp_path: Path
) -> None:
    ctx = make_context(
        f"sqlite:///{tmp_path / 'state.db'}", twenty_hit_campaign(tmp_path)
    )
    per_hit = 3 * (50 + 10)
    account = endpoint.runtime.state.account("AKIDTESTREQUESTER")
    account.balance_cents = 12 * per_hit

    first = publish(ctx)

    assert first.published == 12
    assert first.held_for_funds == 8
    assert len(list(ctx.client.list_hits())) == 12
    with session_scope(ctx.engine) as session:
        statuses = Counter(session.exec(select(Hit.status)).all())
    assert statuses == {"published": 12, "planned": 8}

    fund_requester(endpoint, "AKIDTESTREQUESTER", 8 * per_hit)
    second = publish(ctx)

    assert second.published == 8
    assert len(list(ctx.client.list_hits())) == 20


def test_a_rejection_can_be_overridden_and_is_then_paid_once(
    make_context: ContextFactory, endpoint: Any, tmp_path: Any
) -> None:
    ctx = sqlite_context(make_context, tmp_path)
    wait_for_all_work(ctx, endpoint)
    assignment_id, worker_id = queue_rejection(ctx)
    assert execute_actions(ctx).done == {"reject": 1}

    override_rejection(ctx, assignment_id, "The known answer was wrong; sorry.")
    override_rejection(ctx, assignment_id, "Posted twice by mistake.")
    first = execute_actions(ctx)
    second = execute_actions(ctx)

    assert first.done["override"] == 1
    assert second.done == {}
    remote = ctx.client.get_assignment(assignment_id)
    assert remote["AssignmentStatus"] == "Approved"
    with session_scope(ctx.engine) as session:
        rewards = session.exec(
            select(LedgerEntry.amount_cents).where(
                LedgerEntry.assignment_id == assignment_id, LedgerEntry.kind == "reward"
            )
        ).all()
    assert rewards == [50]
    assert worker_id


def test_only_rejections_can_be_overridden(
    make_context: ContextFactory, endpoint: Any, tmp_path: Any
) -> None:
    ctx = sqlite_context(make_context, tmp_path)
    wait_for_all_work(ctx, endpoint)
    with session_scope(ctx.engine) as session:
        assignment_id = session.exec(select(Assignment.id)).first()

    with pytest.raises(StateError, match="is Submitted, not Rejected"):
        override_rejection(ctx, assignment_id, "no")  # type: ignore[arg-type]


class LostReplyClient:
    """Carries out a reject, then answers as a retried call would: an error."""

    def __init__(self, inner: Any) -> None:
        self._inner = inner

    def __getattr__(self, name: str) -> Any:
        return getattr(self._inner, name)

    def reject(self, assignment_id: str, feedback: str) -> None:
        self._inner.reject(assignment_id, feedback)
        raise MTurkError(
            "RejectAssignment",
            f"Assignment {assignment_id} is Rejected.",
            code="AWS.MechanicalTurk.InvalidAssignmentState",
        )


def test_a_rejection_whose_reply_was_lost_is_recorded_once(
    make_context: ContextFactory, endpoint: Any, tmp_path: Any
) -> None:
    ctx = sqlite_context(make_context, tmp_path)
    wait_for_all_work(ctx, endpoint)
    assignment_id, _ = queue_rejection(ctx)
    ctx.client = LostReplyClient(ctx.client)  # type: ignore[assignment]

    report = execute_actions(ctx)

    assert report.done == {"reject": 1}
    assert report.failed == 0
    with session_scope(ctx.engine) as session:
        stored = session.get(Assignment, assignment_id)
        assert stored is not None and stored.status == "Rejected"
