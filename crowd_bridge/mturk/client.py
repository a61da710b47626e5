"""A thin layer over boto3's ``mturk`` client.

It exists for three reasons: every ``ClientError`` is translated here, and
only here, into the project's errors; every List call is paginated to its
end; and retries of temporary failures use botocore's own retry modes, passed
to the client rather than reinvented.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Iterator
from typing import Any

import boto3
from botocore.config import Config
from botocore.exceptions import BotoCoreError, ClientError, NoCredentialsError

from crowd_bridge.errors import DuplicateRequest, InsufficientFunds, MTurkError
from crowd_bridge.money import cents_from_api, format_dollars
from crowd_bridge.settings import Settings

logger = logging.getLogger(__name__)

_RETRYABLE_CODES = {
    "ServiceFault",
    "ThrottlingException",
    "Throttling",
    "ServiceUnavailable",
}
_HIT_ID_IN_MESSAGE = re.compile(r"HIT with ID `?([A-Z0-9]+)`?")


class MTurkClient:
    """The Requester API calls crowd_bridge makes, with errors translated."""

    def __init__(self, settings: Settings, *, client: Any | None = None) -> None:
        if client is None:
            client = boto3.client(
                "mturk",
                endpoint_url=settings.endpoint_url,
                region_name=settings.region_name,
                aws_access_key_id=settings.aws_access_key_id,
                aws_secret_access_key=settings.aws_secret_access_key,
                config=Config(
                    retries={"max_attempts": settings.max_attempts, "mode": "standard"},
                    connect_timeout=10,
                    read_timeout=60,
                ),
            )
        self._client = client
        # botocore knows each operation's Python method name; ask it, not a regex.
        self._methods = {
            api: method for method, api in client.meta.method_to_api_mapping.items()
        }

    def call(self, operation: str, **params: Any) -> dict[str, Any]:
        """Call one operation by its API name, translating errors."""
        method = getattr(self._client, self._methods[operation])
        try:
            response: dict[str, Any] = method(**params)
        except ClientError as error:
            raise _translate(operation, error) from error
        except NoCredentialsError as error:
            raise MTurkError(
                operation,
                "no requester credentials: set CROWD_BRIDGE_AWS_ACCESS_KEY_ID and "
                "CROWD_BRIDGE_AWS_SECRET_ACCESS_KEY (or configure boto3's usual "
                "credential chain)",
                code="NoCredentials",
            ) from error
        except BotoCoreError as error:
            raise MTurkError(operation, str(error), retryable=True) from error
        return response

    def paginate(
        self, operation: str, result_key: str, **params: Any
    ) -> Iterator[dict]:
        """Yield every result of a List operation, following NextToken."""
        params.setdefault("MaxResults", 100)
        while True:
            page = self.call(operation, **params)
            yield from page.get(result_key, [])
            token = page.get("NextToken")
            if not token:
                return
            params["NextToken"] = token

    # The calls below are the ones the pipeline makes; each returns plain data.

    def create_hit(self, **params: Any) -> dict[str, Any]:
        return self.call("CreateHIT", **params)["HIT"]

    def get_hit(self, hit_id: str) -> dict[str, Any]:
        return self.call("GetHIT", HITId=hit_id)["HIT"]

    def list_hits(self) -> Iterator[dict[str, Any]]:
        return self.paginate("ListHITs", "HITs")

    def list_assignments(
        self,
        hit_id: str,
        statuses: tuple[str, ...] = ("Submitted", "Approved", "Rejected"),
    ) -> list[dict[str, Any]]:
        return list(
            self.paginate(
                "ListAssignmentsForHIT",
                "Assignments",
                HITId=hit_id,
                AssignmentStatuses=list(statuses),
            )
        )

    def get_assignment(self, assignment_id: str) -> dict[str, Any]:
        return self.call("GetAssignment", AssignmentId=assignment_id)["Assignment"]

    def approve(
        self,
        assignment_id: str,
        feedback: str | None = None,
        *,
        override_rejection: bool = False,
    ) -> None:
        params: dict[str, Any] = {"AssignmentId": assignment_id}
        if override_rejection:
            params["OverrideRejection"] = True
        if feedback:
            params["RequesterFeedback"] = feedback[:1024]
        self.call("ApproveAssignment", **params)

    def reject(self, assignment_id: str, feedback: str) -> None:
        self.call(
            "RejectAssignment",
            AssignmentId=assignment_id,
            RequesterFeedback=feedback[:1024],
        )

    def send_bonus(
        self, worker_id: str, assignment_id: str, cents: int, reason: str, token: str
    ) -> None:
        self.call(
            "SendBonus",
            WorkerId=worker_id,
            AssignmentId=assignment_id,
            BonusAmount=format_dollars(cents),
            Reason=reason,
            UniqueRequestToken=token,
        )

    def list_bonus_payments(self, assignment_id: str) -> list[dict[str, Any]]:
        return list(
            self.paginate(
                "ListBonusPayments", "BonusPayments", AssignmentId=assignment_id
            )
        )

    def block_worker(self, worker_id: str, reason: str) -> None:
        self.call("CreateWorkerBlock", WorkerId=worker_id, Reason=reason)

    def list_worker_blocks(self) -> list[dict[str, Any]]:
        return list(self.paginate("ListWorkerBlocks", "WorkerBlocks"))

    def add_assignments(self, hit_id: str, count: int, token: str) -> None:
        self.call(
            "CreateAdditionalAssignmentsForHIT",
            HITId=hit_id,
            NumberOfAdditionalAssignments=count,
            UniqueRequestToken=token,
        )

    def account_balance_cents(self) -> int:
        """The available balance, in cents."""
        return self.account_balances_cents()[0]

    def account_balances_cents(self) -> tuple[int, int]:
        """Available and on-hold balance, in cents."""
        response = self.call("GetAccountBalance")
        return (
            cents_from_api(response["AvailableBalance"]),
            cents_from_api(response.get("OnHoldBalance") or "0"),
        )


def _translate(operation: str, error: ClientError) -> MTurkError:
    details = error.response.get("Error", {})
    code = details.get("Code", "Unknown")
    message = details.get("Message", str(error))
    turk_code = error.response.get("TurkErrorCode") or _turk_code(error)
    retryable = code in _RETRYABLE_CODES
    if turk_code and "InsufficientFunds" in turk_code:
        return InsufficientFunds(operation, message, code=turk_code)
    if _is_duplicate(turk_code, message):
        return DuplicateRequest(operation, message, code=turk_code or code)
    logger.debug("%s failed with %s: %s", operation, turk_code or code, message)
    return MTurkError(operation, message, code=turk_code or code, retryable=retryable)


def _turk_code(error: ClientError) -> str | None:
    # botocore keeps unmodelled members of the error body in the parsed response.
    for key in ("TurkErrorCode",):
        value = error.response.get("Error", {}).get(key)
        if value:
            return str(value)
    return None


def _is_duplicate(turk_code: str | None, message: str) -> bool:
    if turk_code and ("AlreadyExists" in turk_code or "Duplicate" in turk_code):
        return True
    return "UniqueRequestToken" in message and "already" in message.lower()


def hit_id_from_duplicate(error: DuplicateRequest) -> str | None:
    """The existing HIT id when an endpoint names it in a duplicate error."""
    match = _HIT_ID_IN_MESSAGE.search(str(error))
    return match.group(1) if match else None
