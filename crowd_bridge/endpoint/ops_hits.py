"""Requester API operations on HITs and HIT types."""

from __future__ import annotations

import logging
from typing import Any

from crowd_bridge.errors import EndpointRequestError

from . import shapes
from .context import (
    DUPLICATE_REQUEST,
    HIT_ALREADY_EXISTS,
    INVALID_HIT_STATE,
    Call,
    Registry,
    unsupported,
)
from .forms import parse_question
from .ledger import hold_needed, require_funds, sync_hold
from .model import DISPOSED, HIT, REVIEWABLE, REVIEWING, SUBMITTED, HITType
from .money import MINIMUM_PAYMENT_CENTS, parse_amount
from .qualifications import SYSTEM_TYPES, requires_masters, validate_requirements
from .validation import require_length, require_range

logger = logging.getLogger(__name__)
registry = Registry()

# MTurk's documented limits.
MIN_SECONDS = 30
MAX_LIFETIME_S = 31_536_000
MAX_AUTO_APPROVAL_DELAY_S = 2_592_000
MAX_ASSIGNMENTS = 1_000_000
MAX_QUESTION_BYTES = 65_535
LARGE_HIT_ASSIGNMENTS = 10


def _check_hit_type_fields(call: Call) -> dict[str, Any]:
    """Check the fields CreateHIT and CreateHITType share; return them clean."""
    p = call.params
    reward = parse_amount(p["Reward"], "Reward")
    if reward < MINIMUM_PAYMENT_CENTS:
        raise EndpointRequestError(
            f"The Reward {p['Reward']!r} is below MTurk's minimum of $0.01.",
            "AWS.ParameterOutOfRange",
        )

    duration = p["AssignmentDurationInSeconds"]
    require_range("AssignmentDurationInSeconds", duration, MIN_SECONDS, MAX_LIFETIME_S)
    delay = p.get("AutoApprovalDelayInSeconds", MAX_AUTO_APPROVAL_DELAY_S)
    require_range("AutoApprovalDelayInSeconds", delay, 0, MAX_AUTO_APPROVAL_DELAY_S)
    require_length("Title", p["Title"], 128)
    require_length("Description", p["Description"], 2000)
    require_length("Keywords", p.get("Keywords"), 1000)

    requirements = p.get("QualificationRequirements") or []
    validate_requirements(requirements, lambda type_id: _usable_type(call, type_id))
    return {
        "title": p["Title"],
        "description": p["Description"],
        "keywords": p.get("Keywords") or "",
        "reward_cents": reward,
        "assignment_duration_s": duration,
        "auto_approval_delay_s": delay,
        "requirements": requirements,
    }


def _usable_type(call: Call, type_id: str) -> bool:
    if type_id in SYSTEM_TYPES:
        return True
    found = call.state.qualification_types.get(type_id)
    return found is not None and not found.deleted and found.status == "Active"


def _publish(call: Call, hit_type: HITType) -> dict[str, Any]:
    """Create a HIT of ``hit_type`` from the call's per-HIT fields."""
    p = call.params
    state = call.state
    if p.get("HITLayoutId") or p.get("HITLayoutParameters"):
        raise unsupported(call.operation, "HIT layouts are not kept; send a Question")
    if p.get("AssignmentReviewPolicy") or p.get("HITReviewPolicy"):
        raise unsupported(call.operation, "review policies are not run")

    question = p.get("Question")
    if question is None:
        raise EndpointRequestError("The parameter Question is required.")
    require_length("Question", question, MAX_QUESTION_BYTES, in_bytes=True)
    try:
        parse_question(question)
    except ValueError as exc:
        raise EndpointRequestError(
            f"The Question is invalid: {exc}.", "AWS.MechanicalTurk.XMLParseError"
        ) from None

    lifetime = p["LifetimeInSeconds"]
    require_range("LifetimeInSeconds", lifetime, MIN_SECONDS, MAX_LIFETIME_S)
    max_assignments = p.get("MaxAssignments", 1)
    require_range("MaxAssignments", max_assignments, 1, MAX_ASSIGNMENTS)
    require_length("RequesterAnnotation", p.get("RequesterAnnotation"), 255)

    token = p.get("UniqueRequestToken")
    existing = state.token_result(call.requester, "CreateHIT", token, call.now)
    if existing is not None:
        raise EndpointRequestError(
            f"The HIT with ID `{existing}` already exists.", HIT_ALREADY_EXISTS
        )

    masters = requires_masters(hit_type.qualification_requirements)
    cost = max_assignments * state.assignment_cost(
        hit_type.reward_cents, max_assignments, masters
    )
    require_funds(state, call.requester, cost, "this HIT's assignments")

    created = state.create_hit(
        call.requester,
        hit_type,
        question=question,
        lifetime_s=lifetime,
        max_assignments=max_assignments,
        annotation=p.get("RequesterAnnotation"),
        now=call.now,
    )
    # Tokens of CreateHIT and CreateHITWithHITType share one namespace, as
    # both protect against the same duplicate: a second HIT.
    state.remember_token(call.requester, "CreateHIT", token, call.now, created.hit_id)
    return {"HIT": shapes.hit(created)}


def _require_hold_increase(call: Call, hit: HIT, needed: int, what: str) -> None:
    """Refuse a change that would hold more than the available balance."""
    if needed > hit.held_cents:
        require_funds(call.state, call.requester, needed - hit.held_cents, what)


@registry.handles("CreateHIT")
def create_hit(call: Call) -> dict[str, Any]:
    fields = _check_hit_type_fields(call)
    hit_type = call.state.hit_type(call.requester, **fields)
    return _publish(call, hit_type)


@registry.handles("CreateHITType")
def create_hit_type(call: Call) -> dict[str, Any]:
    fields = _check_hit_type_fields(call)
    hit_type = call.state.hit_type(call.requester, **fields)
    return {"HITTypeId": hit_type.hit_type_id}


@registry.handles("CreateHITWithHITType")
def create_hit_with_hit_type(call: Call) -> dict[str, Any]:
    hit_type = call.state.requester_hit_type(call.requester, call.params["HITTypeId"])
    return _publish(call, hit_type)


@registry.handles("GetHIT")
def get_hit(call: Call) -> dict[str, Any]:
    found = call.state.requester_hit(call.requester, call.params["HITId"])
    return {"HIT": shapes.hit(found)}


@registry.handles("ListHITs")
def list_hits(call: Call) -> dict[str, Any]:
    state = call.state
    after = shapes.decode_token(call.operation, call.params.get("NextToken"))
    ids, last = state.book(call.requester).hits.page(
        after, shapes.page_size(call.params)
    )
    return _hit_page(call, ids, last)


def _hit_page(call: Call, ids: list[str], last: int | None) -> dict[str, Any]:
    result: dict[str, Any] = {
        "NumResults": len(ids),
        "HITs": [shapes.hit(call.state.hits[i]) for i in ids],
    }
    if last is not None:
        result["NextToken"] = shapes.encode_token(call.operation, last)
    return result


@registry.handles("ListReviewableHITs")
def list_reviewable_hits(call: Call) -> dict[str, Any]:
    p = call.params
    state = call.state
    status = p.get("Status", REVIEWABLE)
    type_id = p.get("HITTypeId")
    after = shapes.decode_token(call.operation, p.get("NextToken"))
    index = state.book(call.requester).by_status[status]
    keep = None if type_id is None else (lambda i: state.hits[i].hit_type_id == type_id)
    ids, last = index.page(after, shapes.page_size(p), keep)
    return _hit_page(call, ids, last)


@registry.handles("UpdateHITReviewStatus")
def update_hit_review_status(call: Call) -> dict[str, Any]:
    found = call.state.requester_hit(call.requester, call.params["HITId"])
    revert = bool(call.params.get("Revert", False))
    source, target = (REVIEWING, REVIEWABLE) if revert else (REVIEWABLE, REVIEWING)
    if found.status != source:
        raise EndpointRequestError(
            f"HIT {found.hit_id} is {found.status}; with Revert={revert} this "
            f"operation can be called with a status of: {source}.",
            INVALID_HIT_STATE,
        )
    call.state.set_status(found, target, call.now)
    return {}


@registry.handles("UpdateExpirationForHIT")
def update_expiration_for_hit(call: Call) -> dict[str, Any]:
    found = call.state.requester_hit(call.requester, call.params["HITId"])
    if found.status == DISPOSED:
        raise EndpointRequestError(
            f"HIT {found.hit_id} was deleted; its expiration cannot change.",
            INVALID_HIT_STATE,
        )
    expire_at = call.params["ExpireAt"]
    _require_hold_increase(
        call,
        found,
        hold_needed(call.state, found, call.now, expiration=expire_at),
        "reopening this HIT's assignments",
    )
    call.state.set_expiration(found, expire_at, call.now)
    logger.info(
        "Requester %s set the expiration of HIT %s to %s",
        call.requester,
        found.hit_id,
        found.expiration,
    )
    return {}


@registry.handles("DeleteHIT")
def delete_hit(call: Call) -> dict[str, Any]:
    state = call.state
    found = state.requester_hit(call.requester, call.params["HITId"])
    if found.status == DISPOSED:
        return {}

    if found.status not in (REVIEWABLE, REVIEWING):
        raise EndpointRequestError(
            f"HIT {found.hit_id} is currently in the state '{found.status}'. This "
            "operation can be called with a status of: Reviewing, Reviewable.",
            INVALID_HIT_STATE,
        )
    waiting = [
        i
        for i in state.visible[found.hit_id]
        if state.assignments[i].status == SUBMITTED
    ]
    if waiting:
        raise EndpointRequestError(
            f"HIT {found.hit_id} has {len(waiting)} submitted assignments not yet "
            "approved or rejected; review them before deleting the HIT.",
            INVALID_HIT_STATE,
        )

    state.set_status(found, DISPOSED, call.now)
    logger.info("Requester %s deleted HIT %s", call.requester, found.hit_id)
    return {}


@registry.handles("CreateAdditionalAssignmentsForHIT")
def create_additional_assignments(call: Call) -> dict[str, Any]:
    state = call.state
    p = call.params
    found = state.requester_hit(call.requester, p["HITId"])
    extra = p["NumberOfAdditionalAssignments"]
    require_range("NumberOfAdditionalAssignments", extra, 1, MAX_ASSIGNMENTS)
    if found.status == DISPOSED:
        raise EndpointRequestError(
            f"HIT {found.hit_id} was deleted and cannot be extended.",
            INVALID_HIT_STATE,
        )
    # A retry of a call that already worked is a duplicate, whatever else
    # would now refuse it.
    token = p.get("UniqueRequestToken")
    if state.token_result(call.requester, call.operation, token, call.now):
        raise EndpointRequestError(
            f"A request with UniqueRequestToken `{token}` already extended HIT "
            f"{found.hit_id}; it was not extended again.",
            DUPLICATE_REQUEST,
        )

    total = found.max_assignments + extra
    if found.max_assignments < LARGE_HIT_ASSIGNMENTS <= total:
        raise EndpointRequestError(
            f"HIT {found.hit_id} was created with fewer than {LARGE_HIT_ASSIGNMENTS} "
            f"assignments and cannot be extended to {LARGE_HIT_ASSIGNMENTS} or more.",
            "AWS.MechanicalTurk.InvalidMaximumAssignmentsIncrease",
        )

    masters = requires_masters(found.qualification_requirements)
    cost = extra * state.assignment_cost(found.reward_cents, total, masters)
    require_funds(state, call.requester, cost, f"{extra} more assignments")

    state.add_assignments(found, extra, call.now)
    state.remember_token(call.requester, call.operation, token, call.now, found.hit_id)
    return {}


@registry.handles("UpdateHITTypeOfHIT")
def update_hit_type_of_hit(call: Call) -> dict[str, Any]:
    state = call.state
    found = state.requester_hit(call.requester, call.params["HITId"])
    hit_type = state.requester_hit_type(call.requester, call.params["HITTypeId"])
    if found.status == DISPOSED:
        raise EndpointRequestError(
            f"HIT {found.hit_id} was deleted; its HIT type cannot change.",
            INVALID_HIT_STATE,
        )

    _require_hold_increase(
        call,
        found,
        hold_needed(state, found, call.now, reward_cents=hit_type.reward_cents),
        "this HIT's assignments at the new reward",
    )
    found.hit_type_id = hit_type.hit_type_id
    found.title = hit_type.title
    found.description = hit_type.description
    found.keywords = hit_type.keywords
    found.reward_cents = hit_type.reward_cents
    found.assignment_duration_s = hit_type.assignment_duration_s
    found.auto_approval_delay_s = hit_type.auto_approval_delay_s
    found.qualification_requirements = hit_type.qualification_requirements
    state.touch("hit", found.hit_id)
    sync_hold(state, found, call.now)
    state.announce(found.hit_id)
    return {}


@registry.handles("ListReviewPolicyResultsForHIT")
def list_review_policy_results(call: Call) -> dict[str, Any]:
    # CreateHIT refuses review policies, so no HIT here has results.
    found = call.state.requester_hit(call.requester, call.params["HITId"])
    empty: dict[str, list[Any]] = {"ReviewResults": [], "ReviewActions": []}
    return {
        "HITId": found.hit_id,
        "AssignmentReviewReport": dict(empty),
        "HITReviewReport": dict(empty),
    }
