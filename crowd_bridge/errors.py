"""Every error crowd_bridge raises on purpose derives from CrowdBridgeError.

Messages are whole sentences that say what went wrong, where (file, row,
field, HIT or assignment id) and what to do about it.
"""

from __future__ import annotations


class CrowdBridgeError(Exception):
    """Root of the project's errors."""


class ConfigError(CrowdBridgeError):
    """A campaign, schedule or settings file is wrong; nothing was stored."""


class InputDataError(CrowdBridgeError):
    """An items, gold or answers file is wrong; nothing was stored."""


class TemplateError(CrowdBridgeError):
    """A HIT template is missing, fails to render or renders too large."""


class BudgetExceeded(CrowdBridgeError):
    """Publishing more work would spend past the campaign's budget cap."""


class StateError(CrowdBridgeError):
    """The state database disagrees with itself or with the workforce."""


class MTurkError(CrowdBridgeError):
    """The workforce endpoint refused or failed a Requester API call.

    ``code`` is MTurk's TurkErrorCode when the endpoint sent one, else the
    botocore error code. ``retryable`` says whether the same call may succeed
    later (throttling, service faults, lost connections).
    """

    def __init__(
        self,
        operation: str,
        message: str,
        *,
        code: str | None = None,
        retryable: bool = False,
    ) -> None:
        super().__init__(f"{operation} failed: {message}")
        self.operation = operation
        self.code = code
        self.retryable = retryable


class InsufficientFunds(MTurkError):
    """The requester's balance does not cover the call; top up and retry."""


class DuplicateRequest(MTurkError):
    """The endpoint already carried out a call with this UniqueRequestToken."""


class ModelError(CrowdBridgeError):
    """The text model cannot be loaded or trained."""


class EndpointRequestError(CrowdBridgeError):
    """The bundled MTurk-compatible endpoint refuses a call, as MTurk would.

    The endpoint answers it as an HTTP 400 ``RequestError`` whose
    ``TurkErrorCode`` is ``turk_code``, so boto3 clients see the same shape
    they would get from MTurk itself.
    """

    def __init__(
        self,
        message: str,
        turk_code: str = "AWS.MechanicalTurk.ParameterValidationError",
    ) -> None:
        super().__init__(message)
        self.message = message
        self.turk_code = turk_code


class EndpointAuthError(CrowdBridgeError):
    """The bundled endpoint cannot tell who sent a call, or the signature is wrong.

    Answered like AWS answers unsigned or badly signed calls: ``aws_type``
    is the error's ``__type`` (``IncompleteSignatureException``,
    ``InvalidSignatureException``, ``UnrecognizedClientException`` or
    ``MissingAuthenticationTokenException``) and ``status`` its HTTP status.
    """

    def __init__(self, aws_type: str, message: str, status: int = 400) -> None:
        super().__init__(message)
        self.aws_type = aws_type
        self.message = message
        self.status = status
