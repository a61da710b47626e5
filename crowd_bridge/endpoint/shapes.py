"""Records written as the JSON shapes of botocore's MTurk model.

Timestamps go out as epoch seconds (numbers), which is how the JSON protocol
carries them and how botocore parses them into datetimes.
"""

from __future__ import annotations

import base64
import binascii
from typing import Any

from crowd_bridge.errors import EndpointRequestError

from .model import (
    HIT,
    Assignment,
    BonusPayment,
    Qualification,
    QualificationType,
    WorkerBlock,
)
from .money import format_cents
from .qualifications import SYSTEM_TYPES

DEFAULT_PAGE_SIZE = 100


def ts(value: float) -> float:
    """Epoch seconds at millisecond precision, as MTurk reports them."""
    return round(value, 3)


def hit(record: HIT) -> dict[str, Any]:
    shaped: dict[str, Any] = {
        "HITId": record.hit_id,
        "HITTypeId": record.hit_type_id,
        "HITGroupId": record.hit_type_id,
        "CreationTime": ts(record.creation_time),
        "Title": record.title,
        "Description": record.description,
        "Question": record.question,
        "Keywords": record.keywords,
        "HITStatus": record.status,
        "MaxAssignments": record.max_assignments,
        "Reward": format_cents(record.reward_cents),
        "AutoApprovalDelayInSeconds": record.auto_approval_delay_s,
        "Expiration": ts(record.expiration),
        "AssignmentDurationInSeconds": record.assignment_duration_s,
        "QualificationRequirements": record.qualification_requirements,
        "HITReviewStatus": "NotReviewed",
        "NumberOfAssignmentsPending": record.pending,
        "NumberOfAssignmentsAvailable": (
            record.available if record.status == "Assignable" else 0
        ),
        "NumberOfAssignmentsCompleted": record.completed,
    }
    if record.requester_annotation is not None:
        shaped["RequesterAnnotation"] = record.requester_annotation
    return shaped


def assignment(record: Assignment) -> dict[str, Any]:
    shaped: dict[str, Any] = {
        "AssignmentId": record.assignment_id,
        "WorkerId": record.worker_id,
        "HITId": record.hit_id,
        "AssignmentStatus": record.status,
        "AcceptTime": ts(record.accept_time),
        "Deadline": ts(record.deadline),
    }
    optional = {
        "AutoApprovalTime": record.auto_approval_time,
        "SubmitTime": record.submit_time,
        "ApprovalTime": record.approval_time,
        "RejectionTime": record.rejection_time,
    }
    for name, value in optional.items():
        if value is not None:
            shaped[name] = ts(value)
    if record.answer is not None:
        shaped["Answer"] = record.answer
    if record.requester_feedback is not None:
        shaped["RequesterFeedback"] = record.requester_feedback
    return shaped


def bonus(record: BonusPayment) -> dict[str, Any]:
    return {
        "WorkerId": record.worker_id,
        "BonusAmount": format_cents(record.amount_cents),
        "AssignmentId": record.assignment_id,
        "Reason": record.reason,
        "GrantTime": ts(record.grant_time),
    }


def block(record: WorkerBlock) -> dict[str, Any]:
    return {"WorkerId": record.worker_id, "Reason": record.reason}


def qualification_type(record: QualificationType) -> dict[str, Any]:
    shaped: dict[str, Any] = {
        "QualificationTypeId": record.qualification_type_id,
        "CreationTime": ts(record.creation_time),
        "Name": record.name,
        "Description": record.description,
        "QualificationTypeStatus": record.status,
        "IsRequestable": True,
        "AutoGranted": record.auto_granted,
    }
    optional = {
        "Keywords": record.keywords,
        "Test": record.test,
        "AnswerKey": record.answer_key,
        "TestDurationInSeconds": record.test_duration_s,
        "RetryDelayInSeconds": record.retry_delay_s,
        "AutoGrantedValue": record.auto_granted_value,
    }
    shaped.update({k: v for k, v in optional.items() if v is not None})
    return shaped


def system_qualification_type(type_id: str) -> dict[str, Any]:
    system = SYSTEM_TYPES[type_id]
    return {
        "QualificationTypeId": type_id,
        "CreationTime": 0,
        "Name": system.name,
        "Description": system.description,
        "QualificationTypeStatus": "Active",
        "IsRequestable": False,
        "AutoGranted": False,
    }


def qualification(record: Qualification) -> dict[str, Any]:
    shaped: dict[str, Any] = {
        "QualificationTypeId": record.qualification_type_id,
        "WorkerId": record.worker_id,
        "GrantTime": ts(record.grant_time),
        "Status": record.status,
    }
    if record.integer_value is not None:
        shaped["IntegerValue"] = record.integer_value
    if record.locale is not None:
        shaped["LocaleValue"] = record.locale
    return shaped


def encode_token(operation: str, stamp: int) -> str:
    raw = f"{operation}:{stamp}".encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def decode_token(operation: str, token: str | None) -> int:
    """The stamp a NextToken resumes after (-1 for the first page)."""
    if token is None:
        return -1

    try:
        padded = token + "=" * (-len(token) % 4)
        name, _, stamp = base64.urlsafe_b64decode(padded).decode().partition(":")
        if name != operation:
            raise ValueError(name)
        return int(stamp)
    except (ValueError, UnicodeDecodeError, binascii.Error):
        raise EndpointRequestError(
            f"The NextToken {token!r} was not issued by {operation}; pass the "
            "token from the previous page of the same call.",
            "AWS.MechanicalTurk.InvalidParameterValue",
        ) from None


def page_size(params: dict[str, Any]) -> int:
    return int(params.get("MaxResults") or DEFAULT_PAGE_SIZE)
