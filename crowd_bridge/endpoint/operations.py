"""Every Requester API operation the endpoint answers, and the dispatcher.

Operations are checked against botocore's model first, then handled by the
module for their area. All 39 operations of the 2017-01-17 API answer; the
few whose feature the endpoint lacks (review policies, file uploads,
qualification requests from workers) answer as MTurk does when there is
nothing to show.
"""

from __future__ import annotations

from typing import Any

from crowd_bridge.errors import EndpointRequestError

from . import ops_assignments, ops_hits, ops_notifications, ops_workers
from .context import Call, Handler, unsupported
from .notifications import Notifier
from .state import EndpointState
from .validation import RequestValidator

OPERATIONS: dict[str, Handler] = {
    **ops_hits.registry.handlers,
    **ops_assignments.registry.handlers,
    **ops_workers.registry.handlers,
    **ops_notifications.registry.handlers,
}


def dispatch(
    state: EndpointState,
    validator: RequestValidator,
    operation: str,
    requester: str,
    now: float,
    params: Any,
    notifier: Notifier | None = None,
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
        raise unsupported(operation, "it is not implemented")
    return handler(Call(state, requester, now, operation, checked, notifier))
