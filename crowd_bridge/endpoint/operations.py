"""Every Requester API operation the endpoint answers, and the dispatcher.

Operations are checked against botocore's model first, then handled by the
module for their area. The few operations the endpoint cannot honour
answer a RequestError that says why, never a server fault.
"""

from __future__ import annotations

from typing import Any

from crowd_bridge.errors import EndpointRequestError

from . import ops_assignments, ops_hits, ops_workers
from .context import Call, Handler, unsupported
from .state import EndpointState
from .validation import RequestValidator

OPERATIONS: dict[str, Handler] = {
    **ops_hits.registry.handlers,
    **ops_assignments.registry.handlers,
    **ops_workers.registry.handlers,
}

NOT_SUPPORTED: dict[str, str] = {
    "GetFileUploadURL": "workers here cannot upload files",
    "UpdateNotificationSettings": (
        "notifications would go to SQS or SNS, which this endpoint does not reach"
    ),
    "SendTestEventNotification": (
        "notifications would go to SQS or SNS, which this endpoint does not reach"
    ),
}


def dispatch(
    state: EndpointState,
    validator: RequestValidator,
    operation: str,
    requester: str,
    now: float,
    params: Any,
) -> dict[str, Any]:
    """Check and carry out one call; raises EndpointRequestError when refused."""
    if operation not in validator.operations:
        raise EndpointRequestError(
            f"{operation!r} is not an operation of the MTurk Requester API 2017-01-17.",
            "AWS.MechanicalTurk.UnknownOperation",
        )

    checked = validator.validate(operation, params)
    handler = OPERATIONS.get(operation)
    if handler is None:
        reason = NOT_SUPPORTED.get(operation, "it is not implemented yet")
        raise unsupported(operation, reason)
    return handler(Call(state, requester, now, operation, checked))
