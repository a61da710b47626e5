"""Requester API operations on workers: blocks, qualifications, messages."""

from __future__ import annotations

import logging
from typing import Any

from crowd_bridge.errors import EndpointRequestError

from . import shapes
from .context import (
    PERMISSION_DENIED,
    QUALIFICATION_DOES_NOT_EXIST,
    QUALIFICATION_TYPE_DOES_NOT_EXIST,
    Call,
    Registry,
)
from .model import (
    Notification,
    OrderedIndex,
    Qualification,
    QualificationType,
    WorkerBlock,
)
from .qualifications import SYSTEM_TYPES
from .state import not_found
from .validation import require_length

logger = logging.getLogger(__name__)
registry = Registry()

MAX_SUBJECT = 200
MAX_MESSAGE = 4096
MAX_NOTIFIED = 100


def _page(
    call: Call, ids: list[str], last: int | None, key: str, items: list[Any]
) -> dict[str, Any]:
    result: dict[str, Any] = {"NumResults": len(ids), key: items}
    if last is not None:
        result["NextToken"] = shapes.encode_token(call.operation, last)
    return result


# -- blocks -------------------------------------------------------------------


@registry.handles("CreateWorkerBlock")
def create_worker_block(call: Call) -> dict[str, Any]:
    state = call.state
    worker_id, reason = call.params["WorkerId"], call.params["Reason"]
    key = (call.requester, worker_id)
    found = state.blocks.get(key)
    if found is not None:
        # Blocking twice only updates the reason, as on MTurk.
        found.reason = reason
    else:
        state.blocks[key] = WorkerBlock(
            call.requester, worker_id, state.next_seq(), reason
        )
        state.book(call.requester).blocks.add(worker_id)
    state.touch("block", f"{call.requester}|{worker_id}")
    logger.info("Requester %s blocked worker %s", call.requester, worker_id)
    return {}


@registry.handles("DeleteWorkerBlock")
def delete_worker_block(call: Call) -> dict[str, Any]:
    state = call.state
    worker_id = call.params["WorkerId"]
    if state.blocks.pop((call.requester, worker_id), None) is not None:
        state.book(call.requester).blocks.discard(worker_id)
        state.touch("block", f"{call.requester}|{worker_id}")
        logger.info("Requester %s unblocked worker %s", call.requester, worker_id)
    return {}


@registry.handles("ListWorkerBlocks")
def list_worker_blocks(call: Call) -> dict[str, Any]:
    state = call.state
    after = shapes.decode_token(call.operation, call.params.get("NextToken"))
    ids, last = state.book(call.requester).blocks.page(
        after, shapes.page_size(call.params)
    )
    blocks = [shapes.block(state.blocks[(call.requester, i)]) for i in ids]
    return _page(call, ids, last, "WorkerBlocks", blocks)


# -- qualification types -----------------------------------------------------


def _any_type(call: Call, type_id: str) -> QualificationType:
    found = call.state.qualification_types.get(type_id)
    if found is None or found.deleted:
        raise not_found(
            "The QualificationType", type_id, QUALIFICATION_TYPE_DOES_NOT_EXIST
        )
    return found


def _own_type(call: Call, type_id: str) -> QualificationType:
    if type_id in SYSTEM_TYPES:
        raise EndpointRequestError(
            f"QualificationType {type_id} is a system type; its values come from "
            "the workers' records and cannot be assigned or listed.",
            PERMISSION_DENIED,
        )
    found = _any_type(call, type_id)
    if found.owner != call.requester:
        raise EndpointRequestError(
            f"QualificationType {type_id} belongs to another requester.",
            PERMISSION_DENIED,
        )
    return found


def _check_test_fields(p: dict[str, Any]) -> None:
    require_length("Test", p.get("Test"), 65_535, in_bytes=True)
    require_length("AnswerKey", p.get("AnswerKey"), 65_535, in_bytes=True)
    if p.get("Test") is not None and p.get("TestDurationInSeconds") is None:
        raise EndpointRequestError("TestDurationInSeconds is required with a Test.")
    if p.get("Test") is not None and p.get("AutoGranted"):
        raise EndpointRequestError(
            "A QualificationType with a Test cannot be AutoGranted."
        )


@registry.handles("CreateQualificationType")
def create_qualification_type(call: Call) -> dict[str, Any]:
    p = call.params
    state = call.state
    _check_test_fields(p)
    for other in state.book(call.requester).qualification_types:
        if state.qualification_types[other].name == p["Name"]:
            raise EndpointRequestError(
                f"You have already created a QualificationType named {p['Name']!r} "
                f"({other}); names must be unique per requester.",
                "AWS.MechanicalTurk.QualificationTypeAlreadyExists",
            )

    created = QualificationType(
        qualification_type_id=state.ids.new("qualtype"),
        owner=call.requester,
        seq=state.next_seq(),
        creation_time=call.now,
        name=p["Name"],
        description=p["Description"],
        keywords=p.get("Keywords"),
        status=p["QualificationTypeStatus"],
        retry_delay_s=p.get("RetryDelayInSeconds"),
        test=p.get("Test"),
        answer_key=p.get("AnswerKey"),
        test_duration_s=p.get("TestDurationInSeconds"),
        auto_granted=bool(p.get("AutoGranted", False)),
        auto_granted_value=p.get("AutoGrantedValue"),
    )
    type_id = created.qualification_type_id
    state.qualification_types[type_id] = created
    state.book(call.requester).qualification_types.add(type_id)
    state.all_qualification_types.add(type_id)
    state.touch("qualtype", type_id)
    logger.info("Requester %s created qualification type %s", call.requester, type_id)
    return {"QualificationType": shapes.qualification_type(created)}


@registry.handles("GetQualificationType")
def get_qualification_type(call: Call) -> dict[str, Any]:
    type_id = call.params["QualificationTypeId"]
    if type_id in SYSTEM_TYPES:
        return {"QualificationType": shapes.system_qualification_type(type_id)}
    return {"QualificationType": shapes.qualification_type(_any_type(call, type_id))}


@registry.handles("UpdateQualificationType")
def update_qualification_type(call: Call) -> dict[str, Any]:
    p = call.params
    found = _own_type(call, p["QualificationTypeId"])
    _check_test_fields(p)
    updates = {
        "description": p.get("Description"),
        "status": p.get("QualificationTypeStatus"),
        "test": p.get("Test"),
        "answer_key": p.get("AnswerKey"),
        "test_duration_s": p.get("TestDurationInSeconds"),
        "retry_delay_s": p.get("RetryDelayInSeconds"),
        "auto_granted": p.get("AutoGranted"),
        "auto_granted_value": p.get("AutoGrantedValue"),
    }
    for name, value in updates.items():
        if value is not None:
            setattr(found, name, value)
    call.state.touch("qualtype", found.qualification_type_id)
    return {"QualificationType": shapes.qualification_type(found)}


@registry.handles("DeleteQualificationType")
def delete_qualification_type(call: Call) -> dict[str, Any]:
    found = _own_type(call, call.params["QualificationTypeId"])
    found.deleted = True
    found.status = "Inactive"
    call.state.book(call.requester).qualification_types.discard(
        found.qualification_type_id
    )
    call.state.all_qualification_types.discard(found.qualification_type_id)
    call.state.touch("qualtype", found.qualification_type_id)
    return {}


@registry.handles("ListQualificationTypes")
def list_qualification_types(call: Call) -> dict[str, Any]:
    p = call.params
    state = call.state
    query = (p.get("Query") or "").lower()
    owned_only = bool(p.get("MustBeOwnedByCaller", False))

    def keep(type_id: str) -> bool:
        found = state.qualification_types[type_id]
        if owned_only and found.owner != call.requester:
            return False
        text = f"{found.name} {found.description} {found.keywords or ''}".lower()
        return query in text

    # Types of every requester share one index so paging stays one pass.
    index = state.all_qualification_types
    after = shapes.decode_token(call.operation, p.get("NextToken"))
    ids, last = index.page(after, shapes.page_size(p), keep)
    items = [shapes.qualification_type(state.qualification_types[i]) for i in ids]
    return _page(call, ids, last, "QualificationTypes", items)


# -- qualifications of workers -----------------------------------------------


@registry.handles("AssociateQualificationWithWorker")
def associate_qualification(call: Call) -> dict[str, Any]:
    p = call.params
    state = call.state
    found = _own_type(call, p["QualificationTypeId"])
    type_id, worker_id = found.qualification_type_id, p["WorkerId"]
    value = p.get("IntegerValue", 1)
    key = (type_id, worker_id)
    qualification = state.qualifications.get(key)
    if qualification is None:
        qualification = Qualification(type_id, worker_id, state.next_seq(), call.now)
        state.qualifications[key] = qualification
        state.qualified.setdefault(type_id, OrderedIndex()).add(worker_id)
    qualification.integer_value = value
    qualification.status = "Granted"
    qualification.grant_time = call.now
    state.worker(worker_id)
    state.touch("qual", f"{type_id}|{worker_id}")
    logger.info(
        "Requester %s granted qualification %s = %s to worker %s",
        call.requester,
        type_id,
        value,
        worker_id,
    )
    return {}


@registry.handles("DisassociateQualificationFromWorker")
def disassociate_qualification(call: Call) -> dict[str, Any]:
    p = call.params
    state = call.state
    found = _own_type(call, p["QualificationTypeId"])
    key = (found.qualification_type_id, p["WorkerId"])
    qualification = state.qualifications.get(key)
    if qualification is None or qualification.status != "Granted":
        raise EndpointRequestError(
            f"Worker {p['WorkerId']} does not hold qualification "
            f"{found.qualification_type_id}.",
            QUALIFICATION_DOES_NOT_EXIST,
        )
    qualification.status = "Revoked"
    state.touch("qual", "|".join(key))
    logger.info(
        "Requester %s revoked qualification %s from worker %s",
        call.requester,
        key[0],
        key[1],
    )
    return {}


@registry.handles("GetQualificationScore")
def get_qualification_score(call: Call) -> dict[str, Any]:
    p = call.params
    found = _own_type(call, p["QualificationTypeId"])
    key = (found.qualification_type_id, p["WorkerId"])
    qualification = call.state.qualifications.get(key)
    if qualification is None:
        raise EndpointRequestError(
            f"Worker {p['WorkerId']} has no score for qualification "
            f"{found.qualification_type_id}.",
            QUALIFICATION_DOES_NOT_EXIST,
        )
    return {"Qualification": shapes.qualification(qualification)}


@registry.handles("ListWorkersWithQualificationType")
def list_workers_with_qualification_type(call: Call) -> dict[str, Any]:
    p = call.params
    state = call.state
    found = _own_type(call, p["QualificationTypeId"])
    type_id = found.qualification_type_id
    status = p.get("Status")
    index = state.qualified.get(type_id)
    after = shapes.decode_token(call.operation, p.get("NextToken"))

    def keep(worker_id: str) -> bool:
        return (
            status is None
            or state.qualifications[(type_id, worker_id)].status == status
        )

    ids, last = index.page(after, shapes.page_size(p), keep) if index else ([], None)
    items = [shapes.qualification(state.qualifications[(type_id, i)]) for i in ids]
    return _page(call, ids, last, "Qualifications", items)


@registry.handles("ListHITsForQualificationType")
def list_hits_for_qualification_type(call: Call) -> dict[str, Any]:
    p = call.params
    state = call.state
    type_id = p["QualificationTypeId"]
    if type_id not in SYSTEM_TYPES:
        _any_type(call, type_id)

    def keep(hit_id: str) -> bool:
        requirements = state.hits[hit_id].qualification_requirements
        return any(r["QualificationTypeId"] == type_id for r in requirements)

    after = shapes.decode_token(call.operation, p.get("NextToken"))
    ids, last = state.book(call.requester).hits.page(after, shapes.page_size(p), keep)
    items = [shapes.hit(state.hits[i]) for i in ids]
    return _page(call, ids, last, "HITs", items)


# -- qualification requests ---------------------------------------------------


@registry.handles("ListQualificationRequests")
def list_qualification_requests(call: Call) -> dict[str, Any]:
    # Workers here cannot request qualifications yet, so there are none.
    type_id = call.params.get("QualificationTypeId")
    if type_id is not None:
        _own_type(call, type_id)
    return {"NumResults": 0, "QualificationRequests": []}


@registry.handles("AcceptQualificationRequest")
@registry.handles("RejectQualificationRequest")
def answer_qualification_request(call: Call) -> dict[str, Any]:
    request_id = call.params["QualificationRequestId"]
    raise EndpointRequestError(
        f"QualificationRequest {request_id} does not exist.",
        "AWS.MechanicalTurk.QualificationRequestDoesNotExist",
    )


# -- messages -----------------------------------------------------------------


@registry.handles("NotifyWorkers")
def notify_workers(call: Call) -> dict[str, Any]:
    p = call.params
    state = call.state
    require_length("Subject", p["Subject"], MAX_SUBJECT)
    require_length("MessageText", p["MessageText"], MAX_MESSAGE)
    if not 1 <= len(p["WorkerIds"]) <= MAX_NOTIFIED:
        raise EndpointRequestError(
            f"NotifyWorkers takes 1 to {MAX_NOTIFIED} WorkerIds; "
            f"{len(p['WorkerIds'])} were given.",
            "AWS.ParameterOutOfRange",
        )

    seen = state.book(call.requester).workers_seen
    failures = []
    for worker_id in p["WorkerIds"]:
        if worker_id not in seen:
            failures.append(
                {
                    "NotifyWorkersFailureCode": "HardFailure",
                    "NotifyWorkersFailureMessage": (
                        f"Worker {worker_id} has not worked for this requester."
                    ),
                    "WorkerId": worker_id,
                }
            )
            continue
        notification = Notification(
            notification_id=state.ids.new("notification"),
            requester=call.requester,
            worker_id=worker_id,
            seq=state.next_seq(),
            sent_time=call.now,
            subject=p["Subject"],
            message=p["MessageText"],
        )
        state.notifications[notification.notification_id] = notification
        state.touch("notification", notification.notification_id)
    logger.info(
        "Requester %s notified %d workers (%d failed)",
        call.requester,
        len(p["WorkerIds"]) - len(failures),
        len(failures),
    )
    return {"NotifyWorkersFailureStatuses": failures}
