"""HIT event notifications, delivered to SQS queues and SNS topics.

A requester asks for notifications per HIT type with
UpdateNotificationSettings. When a HIT of that type changes (created,
extended, reviewable, expired, deleted) or one of its assignments does
(accepted, abandoned, submitted, approved, rejected), the state records an
:class:`OutboxEvent` holding the JSON document MTurk would send. The
document is kept with the rest of the state, handed to the
:class:`Notifier` once the request that caused it is stored, and removed
once SQS or SNS took it: delivery is at least once, across restarts too.
Each message carries one event; receivers should treat ``EventDocId`` as
the key for spotting a message delivered twice, as MTurk asks.
"""

from __future__ import annotations

import hashlib
import json
import logging
import queue
import re
import threading
import time
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import TYPE_CHECKING, Any

import boto3
from botocore.config import Config
from botocore.exceptions import BotoCoreError, ClientError

from crowd_bridge.errors import ConfigError, EndpointRequestError

from .model import HIT, OutboxEvent

if TYPE_CHECKING:
    from .state import EndpointState

logger = logging.getLogger(__name__)

SQS = "SQS"
SNS = "SNS"
PING = "Ping"
HIT_EVENTS = ("HITCreated", "HITExtended", "HITDisposed", "HITReviewable", "HITExpired")
ASSIGNMENT_EVENTS = (
    "AssignmentAccepted",
    "AssignmentAbandoned",
    "AssignmentReturned",
    "AssignmentSubmitted",
    "AssignmentRejected",
    "AssignmentApproved",
)
EVENT_TYPES = ASSIGNMENT_EVENTS + HIT_EVENTS
# 2006-05-05 is what older clients (and boto3's own examples) send; the
# current documentation names 2014-08-15. The message echoes the version
# asked for as its EventDocVersion, as MTurk does.
VERSIONS = ("2006-05-05", "2014-08-15")
_QUEUE_URL = re.compile(r"^https?://[^\s/]+/[^\s]+$")
_TOPIC_ARN = re.compile(
    r"^arn:aws[a-zA-Z-]*:sns:[a-z0-9-]+:\d{12}:[A-Za-z0-9_-]{1,256}$"
)
DELIVERY_FAILED = "AWS.MechanicalTurk.NotificationDeliveryFailed"


@dataclass(frozen=True)
class NotifyConfig:
    """Where the endpoint's boto3 SQS and SNS clients send notifications.

    Leave the endpoint URLs unset to reach AWS itself (credentials then come
    from these fields or boto3's usual chain); point them at a local
    SQS/SNS look-alike for tests. ``attempts`` deliveries are tried per
    message, ``backoff_s`` apart and doubling, before the message waits in
    the store for the next start.
    """

    region: str = "us-east-1"
    sqs_endpoint_url: str | None = None
    sns_endpoint_url: str | None = None
    access_key_id: str | None = None
    secret_access_key: str | None = None
    attempts: int = 5
    backoff_s: float = 0.5
    timeout_s: float = 10.0

    def __post_init__(self) -> None:
        if self.attempts < 1 or self.backoff_s < 0 or self.timeout_s <= 0:
            raise ConfigError(
                "Notification delivery needs attempts >= 1, backoff_s >= 0 and "
                "timeout_s > 0."
            )


def check_specification(spec: dict[str, Any], *, test: bool) -> dict[str, Any]:
    """Refuse a NotificationSpecification MTurk would refuse; return it clean."""
    transport = spec["Transport"]
    destination = spec["Destination"]
    if transport not in (SQS, SNS):
        raise EndpointRequestError(
            f"The Transport {transport!r} is not supported: use SQS (Destination "
            "a queue URL) or SNS (Destination a topic ARN)."
        )
    if transport == SQS and not _QUEUE_URL.match(destination):
        raise EndpointRequestError(
            f"The Destination {destination!r} is not an SQS queue URL such as "
            "https://sqs.us-east-1.amazonaws.com/123456789012/my-queue."
        )
    if transport == SNS and not _TOPIC_ARN.match(destination):
        raise EndpointRequestError(
            f"The Destination {destination!r} is not an SNS topic ARN such as "
            "arn:aws:sns:us-east-1:123456789012:my-topic."
        )
    if spec["Version"] not in VERSIONS:
        raise EndpointRequestError(
            f"The notification Version {spec['Version']!r} is not supported; use "
            + " or ".join(VERSIONS)
            + "."
        )

    events = list(dict.fromkeys(spec["EventTypes"]))
    if not events:
        raise EndpointRequestError("The notification needs at least one EventType.")
    if PING in events and not test:
        raise EndpointRequestError(
            "The Ping event can only be sent by SendTestEventNotification."
        )
    return {
        "Destination": destination,
        "Transport": transport,
        "Version": spec["Version"],
        "EventTypes": events,
    }


def customer_id(requester: str) -> str:
    """The MTurk-shaped customer id the endpoint gives a requester."""
    digest = hashlib.sha256(f"customer:{requester}".encode()).hexdigest()
    return "A" + digest[:13].upper()


def source_account(requester: str) -> str:
    """A stable twelve-digit AWS account number standing for the requester."""
    digest = hashlib.sha256(f"account:{requester}".encode()).digest()
    return f"{int.from_bytes(digest[:8], 'big') % 10**12:012d}"


def iso_time(epoch: float) -> str:
    return datetime.fromtimestamp(epoch, timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def event_document(
    *,
    doc_id: str,
    requester: str,
    version: str,
    event_type: str,
    at: float,
    hit_type_id: str | None = None,
    hit_id: str | None = None,
    assignment_id: str | None = None,
    worker_id: str | None = None,
) -> str:
    """The JSON body MTurk sends for one event."""
    event: dict[str, Any] = {"EventType": event_type, "EventTimestamp": iso_time(at)}
    optional = {
        "HITTypeId": hit_type_id,
        "HITId": hit_id,
        "AssignmentId": assignment_id,
        "WorkerId": worker_id,
    }
    event.update({name: value for name, value in optional.items() if value})
    document = {
        "Events": [event],
        "EventDocId": doc_id,
        "SourceAccount": source_account(requester),
        "CustomerId": customer_id(requester),
        "EventDocVersion": version,
    }
    return json.dumps(document, separators=(",", ":"))


def notify(
    state: EndpointState,
    event_type: str,
    hit: HIT,
    at: float,
    *,
    assignment_id: str | None = None,
    worker_id: str | None = None,
) -> None:
    """Queue a notification if the HIT's type asks for ``event_type``."""
    hit_type = state.hit_types.get(hit.hit_type_id)
    if hit_type is None or not hit_type.notification_active:
        return
    spec = hit_type.notification
    if spec is None or event_type not in spec["EventTypes"]:
        return

    event_id = state.ids.new("event")
    document = event_document(
        doc_id=event_id,
        requester=hit.requester,
        version=spec["Version"],
        event_type=event_type,
        at=at,
        hit_type_id=hit.hit_type_id,
        hit_id=hit.hit_id,
        assignment_id=assignment_id,
        worker_id=worker_id,
    )
    state.queue_event(
        OutboxEvent(
            event_id=event_id,
            requester=hit.requester,
            hit_type_id=hit.hit_type_id,
            seq=state.next_seq(),
            transport=spec["Transport"],
            destination=spec["Destination"],
            document=document,
            created=at,
        )
    )
    logger.debug(
        "Queued %s for HIT %s (assignment %s) to %s",
        event_type,
        hit.hit_id,
        assignment_id,
        spec["Destination"],
    )


class DeliveryError(Exception):
    """SQS or SNS refused or could not be reached; the message was not sent."""


class Notifier:
    """Sends notification messages with boto3, from one background thread.

    Requests never wait for SQS or SNS: events are queued after the request
    is stored, and the ids of delivered events come back through
    :meth:`delivered` for the request loop to remove from the store.
    """

    def __init__(self, config: NotifyConfig | None = None) -> None:
        self.config = config or NotifyConfig()
        self._clients: dict[str, Any] = {}
        self._client_lock = threading.Lock()
        self._queue: queue.Queue[OutboxEvent | None] = queue.Queue()
        self._done: queue.Queue[str] = queue.Queue()
        self._queued: set[str] = set()
        self._thread: threading.Thread | None = None
        self._closed = threading.Event()
        self.sent = 0
        self.failed = 0

    # -- the request loop's side ----------------------------------------------

    def enqueue(self, events: list[OutboxEvent]) -> None:
        """Hand events over for delivery (each at most once per process)."""
        fresh = [e for e in events if e.event_id not in self._queued]
        if not fresh or self._closed.is_set():
            return
        self._start()
        for event in fresh:
            self._queued.add(event.event_id)
            self._queue.put(event)

    def delivered(self) -> list[str]:
        """Ids of events delivered since the last call."""
        done = []
        while True:
            try:
                done.append(self._done.get_nowait())
            except queue.Empty:
                return done

    def wait_idle(self, timeout: float) -> bool:
        """Wait until every queued event was tried; False on timeout."""
        deadline = time.monotonic() + timeout
        while self._queue.unfinished_tasks:
            if time.monotonic() > deadline:
                return False
            time.sleep(0.01)
        return True

    def close(self, timeout: float = 5.0) -> None:
        """Stop the delivery thread; undelivered events stay in the store."""
        self._closed.set()
        if self._thread is not None:
            self._queue.put(None)
            self._thread.join(timeout=timeout)
            self._thread = None

    def send_now(self, transport: str, destination: str, document: str) -> None:
        """Deliver one message at once, raising DeliveryError if it fails."""
        try:
            if transport == SQS:
                self._client("sqs").send_message(
                    QueueUrl=destination, MessageBody=document
                )
            else:
                self._client("sns").publish(TopicArn=destination, Message=document)
        except (BotoCoreError, ClientError) as exc:
            raise DeliveryError(str(exc)) from exc

    # -- the delivery thread ---------------------------------------------------

    def _start(self) -> None:
        if self._thread is None:
            self._thread = threading.Thread(
                target=self._run, name="mturk-notifier", daemon=True
            )
            self._thread.start()

    def _run(self) -> None:
        while True:
            event = self._queue.get()
            try:
                if event is None:
                    return
                self._deliver(event)
            finally:
                self._queue.task_done()

    def _deliver(self, event: OutboxEvent) -> None:
        delay = self.config.backoff_s
        for attempt in range(1, self.config.attempts + 1):
            try:
                self.send_now(event.transport, event.destination, event.document)
            except DeliveryError as exc:
                if attempt == self.config.attempts or self._closed.is_set():
                    self.failed += 1
                    logger.error(
                        "Notification %s of requester %s could not reach %s after "
                        "%d attempts (%s); it stays stored and is retried on the "
                        "next start.",
                        event.event_id,
                        event.requester,
                        event.destination,
                        attempt,
                        exc,
                    )
                    return
                logger.warning(
                    "Notification %s to %s failed (%s); retrying in %.1fs",
                    event.event_id,
                    event.destination,
                    exc,
                    delay,
                )
                self._closed.wait(delay)
                delay *= 2
                continue
            self.sent += 1
            self._queued.discard(event.event_id)
            self._done.put(event.event_id)
            return

    def _client(self, service: str) -> Any:
        with self._client_lock:
            client = self._clients.get(service)
            if client is None:
                config = self.config
                endpoint = (
                    config.sqs_endpoint_url
                    if service == "sqs"
                    else config.sns_endpoint_url
                )
                client = boto3.client(
                    service,
                    region_name=config.region,
                    endpoint_url=endpoint,
                    aws_access_key_id=config.access_key_id,
                    aws_secret_access_key=config.secret_access_key,
                    config=Config(
                        connect_timeout=config.timeout_s,
                        read_timeout=config.timeout_s,
                        retries={"total_max_attempts": 2, "mode": "standard"},
                    ),
                )
                self._clients[service] = client
            return client
