"""Requester API operations on assignments, bonuses and the balance."""

from __future__ import annotations

import logging
from typing import Any

from crowd_bridge.errors import EndpointRequestError

from . import ledger, shapes
from .context import (
    ASSIGNMENT_DOES_NOT_EXIST,
    DUPLICATE_REQUEST,
    INVALID_ASSIGNMENT_STATE,
    Call,
    Registry,
)
from .model import (
    DISPOSED,
    HIT,
    REJECTED,
    SUBMITTED,
    VISIBLE_ASSIGNMENT_STATUSES,
    Assignment,
)
from .money import MINIMUM_PAYMENT_CENTS, format_cents, parse_amount
from .state import not_found
from .validation import require_length

logger = logging.getLogger(__name__)
registry = Registry()

MAX_FEEDBACK = 1024
# A rejection can be overridden for assignments submitted this recently.
OVERRIDE_WINDOW_S = 30 * 86_400


def _assignment(call: Call, assignment_id: str) -> Assignment:
    """A submitted assignment of one of the caller's HITs."""
    state = call.state
    found = state.assignments.get(assignment_id)
    if (
        found is None
        or found.status not in VISIBLE_ASSIGNMENT_STATUSES
        or state.hits[found.hit_id].requester != call.requester
    ):
        raise not_found("The assignment", assignment_id, ASSIGNMENT_DOES_NOT_EXIST)
    return found


def _wrong_state(found: Assignment, allowed: str) -> EndpointRequestError:
    return EndpointRequestError(
        f"Assignment {found.assignment_id} is {found.status}. This operation can "
        f"be called with a status of: {allowed}",
        INVALID_ASSIGNMENT_STATE,
    )


@registry.handles("ListAssignmentsForHIT")
def list_assignments_for_hit(call: Call) -> dict[str, Any]:
    p = call.params
    state = call.state
    found = state.requester_hit(call.requester, p["HITId"])
    wanted = set(p.get("AssignmentStatuses") or VISIBLE_ASSIGNMENT_STATUSES)
    after = shapes.decode_token(call.operation, p.get("NextToken"))
    ids, last = state.visible[found.hit_id].page(
        after,
        shapes.page_size(p),
        lambda i: state.assignments[i].status in wanted,
    )

    result: dict[str, Any] = {
        "NumResults": len(ids),
        "Assignments": [shapes.assignment(state.assignments[i]) for i in ids],
    }
    if last is not None:
        result["NextToken"] = shapes.encode_token(call.operation, last)
    return result


@registry.handles("GetAssignment")
def get_assignment(call: Call) -> dict[str, Any]:
    found = _assignment(call, call.params["AssignmentId"])
    return {
        "Assignment": shapes.assignment(found),
        "HIT": shapes.hit(call.state.hits[found.hit_id]),
    }


@registry.handles("ApproveAssignment")
def approve_assignment(call: Call) -> dict[str, Any]:
    p = call.params
    found = _assignment(call, p["AssignmentId"])
    override = bool(p.get("OverrideRejection", False))
    feedback = p.get("RequesterFeedback")
    require_length("RequesterFeedback", feedback, MAX_FEEDBACK)

    if found.status == REJECTED and not override:
        raise _wrong_state(found, "Submitted (or Rejected with OverrideRejection)")
    if found.status not in (SUBMITTED, REJECTED):
        raise _wrong_state(found, SUBMITTED)

    hit = call.state.hits[found.hit_id]
    if found.status == REJECTED:
        _check_override(call, found, hit)
    ledger.pay_assignment(call.state, found, hit, call.now, automatic=False)
    if feedback is not None:
        found.requester_feedback = feedback
    logger.info(
        "Requester %s approved assignment %s of worker %s on HIT %s",
        call.requester,
        found.assignment_id,
        found.worker_id,
        hit.hit_id,
    )
    return {}


def _check_override(call: Call, found: Assignment, hit: HIT) -> None:
    """MTurk overrides a rejection only on recent work of a live HIT."""
    if hit.status == DISPOSED:
        raise EndpointRequestError(
            f"Assignment {found.assignment_id} belongs to HIT {hit.hit_id}, which "
            "was deleted; its rejection can no longer be overridden.",
            INVALID_ASSIGNMENT_STATE,
        )
    assert found.submit_time is not None
    if call.now - found.submit_time > OVERRIDE_WINDOW_S:
        raise EndpointRequestError(
            f"Assignment {found.assignment_id} was submitted more than 30 days ago; "
            "its rejection can no longer be overridden.",
            INVALID_ASSIGNMENT_STATE,
        )


@registry.handles("RejectAssignment")
def reject_assignment(call: Call) -> dict[str, Any]:
    p = call.params
    found = _assignment(call, p["AssignmentId"])
    feedback = p["RequesterFeedback"]
    require_length("RequesterFeedback", feedback, MAX_FEEDBACK)
    if found.status != SUBMITTED:
        raise _wrong_state(found, SUBMITTED)

    hit = call.state.hits[found.hit_id]
    ledger.reject_assignment(call.state, found, hit, feedback, call.now)
    logger.info(
        "Requester %s rejected assignment %s of worker %s on HIT %s",
        call.requester,
        found.assignment_id,
        found.worker_id,
        hit.hit_id,
    )
    return {}


@registry.handles("SendBonus")
def send_bonus(call: Call) -> dict[str, Any]:
    p = call.params
    state = call.state
    found = _assignment(call, p["AssignmentId"])
    if found.worker_id != p["WorkerId"]:
        raise EndpointRequestError(
            f"Assignment {found.assignment_id} was done by worker {found.worker_id}, "
            f"not {p['WorkerId']}; a bonus goes to the assignment's worker.",
        )

    amount = parse_amount(p["BonusAmount"], "BonusAmount")
    if amount < MINIMUM_PAYMENT_CENTS:
        raise EndpointRequestError(
            f"The BonusAmount {p['BonusAmount']!r} is below the minimum of $0.01.",
            "AWS.ParameterOutOfRange",
        )

    token = p.get("UniqueRequestToken")
    earlier = state.token_result(call.requester, call.operation, token, call.now)
    if earlier is not None:
        raise EndpointRequestError(
            f"A bonus with UniqueRequestToken `{token}` was already paid (bonus "
            f"{earlier}); it was not paid again.",
            DUPLICATE_REQUEST,
        )

    bonus = ledger.pay_bonus(state, found, amount, p["Reason"], call.now)
    state.remember_token(
        call.requester, call.operation, token, call.now, bonus.bonus_id
    )
    return {}


@registry.handles("ListBonusPayments")
def list_bonus_payments(call: Call) -> dict[str, Any]:
    p = call.params
    state = call.state
    book = state.book(call.requester)
    hit_id, assignment_id = p.get("HITId"), p.get("AssignmentId")
    if (hit_id is None) == (assignment_id is None):
        raise EndpointRequestError(
            "ListBonusPayments needs exactly one of HITId or AssignmentId."
        )

    if hit_id is not None:
        state.requester_hit(call.requester, hit_id)
        index = book.bonuses_by_hit.get(hit_id)
    else:
        assert assignment_id is not None
        _assignment(call, assignment_id)
        index = book.bonuses_by_assignment.get(assignment_id)

    after = shapes.decode_token(call.operation, p.get("NextToken"))
    ids, last = index.page(after, shapes.page_size(p)) if index else ([], None)
    result: dict[str, Any] = {
        "NumResults": len(ids),
        "BonusPayments": [shapes.bonus(state.bonuses[i]) for i in ids],
    }
    if last is not None:
        result["NextToken"] = shapes.encode_token(call.operation, last)
    return result


@registry.handles("GetFileUploadURL")
def get_file_upload_url(call: Call) -> dict[str, Any]:
    # Workers here answer through HTML forms and QuestionFormAnswers; no
    # question takes a file, so there is never an upload to point to.
    found = _assignment(call, call.params["AssignmentId"])
    question = call.params["QuestionIdentifier"]
    raise EndpointRequestError(
        f"Question {question!r} of assignment {found.assignment_id} has no "
        "uploaded file: it is not a FileUploadAnswer question.",
        "AWS.MechanicalTurk.InvalidParameterValue",
    )


@registry.handles("GetAccountBalance")
def get_account_balance(call: Call) -> dict[str, Any]:
    account = call.state.account(call.requester)
    # What outstanding assignments may still cost is held, as on MTurk.
    return {
        "AvailableBalance": format_cents(ledger.available_cents(account)),
        "OnHoldBalance": format_cents(account.held_cents),
    }
