"""Fetch submitted assignments and store their answers.

One ListHITs pass tells which HITs received work since the last run; only
those are listed assignment by assignment. Answers are parsed from the
QuestionFormAnswers XML; a radio group named ``item-<item id>`` carries the
label of that item.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import func
from sqlmodel import Session, col, select

from crowd_bridge.db.models import Action, Answer, Assignment, Hit, HitItem, Item
from crowd_bridge.db.session import session_scope
from crowd_bridge.errors import InputDataError
from crowd_bridge.mturk.answers import parse_question_form_answers
from crowd_bridge.pipeline.context import CampaignContext
from crowd_bridge.timeutil import as_utc

logger = logging.getLogger(__name__)

ITEM_FIELD_PREFIX = "item-"


@dataclass
class CollectReport:
    new_assignments: int = 0
    new_answers: int = 0
    status_changes: int = 0
    unreadable: int = 0
    hits_done: int = 0


def collect(ctx: CampaignContext) -> CollectReport:
    """Store new assignments and answers; mark finished HITs done."""
    report = CollectReport()
    with session_scope(ctx.engine) as session:
        hits = {
            hit.mturk_hit_id: hit
            for hit in session.exec(
                select(Hit).where(
                    Hit.campaign_id == ctx.campaign_id, Hit.status == "published"
                )
            )
        }
        known: dict[int | None, int] = {}
        decided: dict[int | None, int] = {}
        for hit_pk, status, count in session.exec(
            select(Assignment.hit_pk, Assignment.status, func.count())
            .where(Assignment.campaign_id == ctx.campaign_id)
            .group_by(col(Assignment.hit_pk), col(Assignment.status))
        ).all():
            known[hit_pk] = known.get(hit_pk, 0) + count
            if status != "Submitted":
                decided[hit_pk] = decided.get(hit_pk, 0) + count
    if not hits:
        return report

    now = ctx.clock.now()
    for remote in ctx.client.list_hits():
        hit = hits.get(remote["HITId"])
        if hit is None:
            continue
        # Completed counts approved and rejected assignments: more of them
        # remotely than here means a decision we have not seen (auto-approval,
        # another tool, or our own call whose reply was lost).
        completed = remote.get("NumberOfAssignmentsCompleted", 0)
        submitted = completed + _pending_review(remote)
        if submitted > known.get(hit.id, 0) or completed > decided.get(hit.id, 0):
            _collect_hit(ctx, hit, report)
        if _finished(remote, now):
            _mark_done_if_decided(ctx, hit, report)
    if report.new_assignments:
        logger.info(
            "campaign %s: collected %d assignments with %d answers",
            ctx.campaign_id,
            report.new_assignments,
            report.new_answers,
        )
    return report


def _pending_review(remote: dict[str, Any]) -> int:
    # ListHITs counts submitted-but-unreviewed assignments in neither
    # "Completed" nor "Available"; derive them from the totals.
    total = remote.get("MaxAssignments", 0)
    return max(
        0,
        total
        - remote.get("NumberOfAssignmentsAvailable", 0)
        - remote.get("NumberOfAssignmentsPending", 0)
        - remote.get("NumberOfAssignmentsCompleted", 0),
    )


def _collect_hit(ctx: CampaignContext, hit: Hit, report: CollectReport) -> None:
    assert hit.mturk_hit_id is not None
    remote_assignments = ctx.client.list_assignments(hit.mturk_hit_id)
    with session_scope(ctx.engine) as session:
        item_pks = {
            item_id: pk
            for item_id, pk in session.exec(
                select(Item.item_id, Item.id)
                .join(HitItem, col(HitItem.item_pk) == col(Item.id))
                .where(HitItem.hit_id == hit.id)
            ).all()
        }
        classes = set(ctx.campaign.classes)
        for remote in remote_assignments:
            stored = session.get(Assignment, remote["AssignmentId"])
            if stored is not None:
                if stored.status != remote["AssignmentStatus"]:
                    stored.status = remote["AssignmentStatus"]
                    _record_outside_decision(session, stored)
                    session.add(stored)
                    report.status_changes += 1
                continue
            assert hit.id is not None
            assignment = Assignment(
                id=remote["AssignmentId"],
                hit_pk=hit.id,
                campaign_id=ctx.campaign_id,
                worker_id=remote["WorkerId"],
                status=remote["AssignmentStatus"],
                accept_time=as_utc(remote.get("AcceptTime")),
                submit_time=as_utc(remote.get("SubmitTime")),
                answer_xml=remote.get("Answer", ""),
            )
            if assignment.accept_time and assignment.submit_time:
                elapsed = assignment.submit_time - assignment.accept_time
                assignment.work_time_seconds = elapsed.total_seconds()
            session.add(assignment)
            session.flush()  # answers refer to it
            _record_outside_decision(session, assignment)
            report.new_assignments += 1
            try:
                fields = parse_question_form_answers(assignment.answer_xml)
            except InputDataError as error:
                report.unreadable += 1
                logger.warning(
                    "assignment %s of HIT %s by worker %s has an unreadable answer: %s",
                    assignment.id,
                    hit.mturk_hit_id,
                    assignment.worker_id,
                    error,
                )
                continue
            for name, value in fields.items():
                if not name.startswith(ITEM_FIELD_PREFIX):
                    continue
                item_id = name[len(ITEM_FIELD_PREFIX) :]
                pk = item_pks.get(item_id)
                if pk is None or value not in classes:
                    logger.warning(
                        "assignment %s by worker %s: field %s=%r is not an item of "
                        "HIT %s with a known label; ignored",
                        assignment.id,
                        assignment.worker_id,
                        name,
                        value,
                        hit.mturk_hit_id,
                    )
                    continue
                session.add(
                    Answer(
                        assignment_id=assignment.id,
                        item_pk=pk,
                        campaign_id=ctx.campaign_id,
                        worker_id=assignment.worker_id,
                        value=value,
                    )
                )
                report.new_answers += 1


def _record_outside_decision(session: Session, assignment: Assignment) -> None:
    """Account for a decision the endpoint shows that we have not booked.

    Auto-approval after the delay pays the worker, and so does a decision of
    ours whose reply was lost. Either way the matching action is left in the
    ``sent`` state (created if there is none, revived if it failed), so that
    the action runner confirms it on the endpoint and books the reward and
    fee exactly once.
    """
    if assignment.status == "Submitted":
        return
    kind = "approve" if assignment.status == "Approved" else "reject"
    key = f"{kind}:{assignment.id}"
    action = session.exec(
        select(Action).where(
            Action.campaign_id == assignment.campaign_id, Action.key == key
        )
    ).first()
    if action is not None:
        if action.state == "failed":
            action.state = "sent"
            session.add(action)
        return
    assignment.decision = kind
    session.add(
        Action(
            campaign_id=assignment.campaign_id,
            key=key,
            kind=kind,
            state="sent",
            hit_pk=assignment.hit_pk,
            assignment_id=assignment.id,
            worker_id=assignment.worker_id,
            evidence=(
                f"{assignment.status} on the endpoint before crowd_bridge decided "
                "(auto-approval delay passed, or decided in another tool)."
            ),
            reason="Approved."
            if kind == "approve"
            else "Rejected outside crowd_bridge.",
        )
    )
    logger.info(
        "assignment %s by worker %s was %s on the endpoint without us; recorded",
        assignment.id,
        assignment.worker_id,
        assignment.status,
    )


def _finished(remote: dict[str, Any], now: datetime) -> bool:
    """No more work can arrive: every slot submitted, or the HIT expired."""
    if remote.get("NumberOfAssignmentsPending", 0):
        return False
    if remote.get("NumberOfAssignmentsAvailable", 0) == 0:
        return True
    expiration = as_utc(remote.get("Expiration"))
    return expiration is not None and expiration <= now


def _mark_done_if_decided(
    ctx: CampaignContext, hit: Hit, report: CollectReport
) -> None:
    with session_scope(ctx.engine) as session:
        undecided = session.exec(
            select(func.count()).where(
                Assignment.hit_pk == hit.id, Assignment.status == "Submitted"
            )
        ).one()
        if undecided:
            return
        stored = session.get(Hit, hit.id)
        assert stored is not None
        stored.status = "done"
        session.add(stored)
    report.hits_done += 1
    logger.debug("HIT %s is done", hit.mturk_hit_id)
