"""What an operation handler receives, and how handlers are registered."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from crowd_bridge.errors import EndpointRequestError

from .notifications import Notifier
from .state import EndpointState

# Error codes MTurk sends as TurkErrorCode, gathered so callers can match on them.
HIT_ALREADY_EXISTS = "AWS.MechanicalTurk.HitAlreadyExists"
DUPLICATE_REQUEST = "AWS.MechanicalTurk.DuplicateRequest"
INVALID_ASSIGNMENT_STATE = "AWS.MechanicalTurk.InvalidAssignmentState"
INVALID_HIT_STATE = "AWS.MechanicalTurk.InvalidHITState"
ASSIGNMENT_DOES_NOT_EXIST = "AWS.MechanicalTurk.AssignmentDoesNotExist"
QUALIFICATION_TYPE_DOES_NOT_EXIST = "AWS.MechanicalTurk.QualificationTypeDoesNotExist"
QUALIFICATION_DOES_NOT_EXIST = "AWS.MechanicalTurk.QualificationDoesNotExist"
NOT_SUPPORTED = "AWS.MechanicalTurk.OperationNotSupported"
PERMISSION_DENIED = "AWS.MechanicalTurk.PermissionDenied"


@dataclass
class Call:
    """One Requester API call: who made it, when, and its checked input."""

    state: EndpointState
    requester: str
    now: float
    operation: str
    params: dict[str, Any]
    # Sends test notifications; None where no delivery is set up.
    notifier: Notifier | None = None


Handler = Callable[[Call], dict[str, Any]]


class Registry:
    """Operation name -> handler, filled by the ``handles`` decorator."""

    def __init__(self) -> None:
        self.handlers: dict[str, Handler] = {}

    def handles(self, operation: str) -> Callable[[Handler], Handler]:
        def register(handler: Handler) -> Handler:
            self.handlers[operation] = handler
            return handler

        return register


def unsupported(operation: str, why: str) -> EndpointRequestError:
    return EndpointRequestError(
        f"{operation} is not supported by this endpoint: {why}.", NOT_SUPPORTED
    )
