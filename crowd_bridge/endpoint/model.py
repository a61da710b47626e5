"""Records the endpoint keeps, the ordered indexes it pages through, and ids.

Every record is a plain dataclass. Fields listed in ``DERIVED`` are rebuilt
from other records when state is loaded, so they are never written to disk
and can never disagree with what they summarise.
"""

from __future__ import annotations

import hashlib
from bisect import bisect_right
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field, fields
from typing import Any, ClassVar, TypeVar

R = TypeVar("R", bound="Record")

# Statuses an assignment passes through. Only the last three are MTurk's
# public AssignmentStatus values; an accepted assignment is in a worker's
# hands and an abandoned one went past its deadline unsubmitted.
ACCEPTED = "Accepted"
SUBMITTED = "Submitted"
APPROVED = "Approved"
REJECTED = "Rejected"
ABANDONED = "Abandoned"
VISIBLE_ASSIGNMENT_STATUSES = (SUBMITTED, APPROVED, REJECTED)

ASSIGNABLE = "Assignable"
UNASSIGNABLE = "Unassignable"
REVIEWABLE = "Reviewable"
REVIEWING = "Reviewing"
DISPOSED = "Disposed"


class Record:
    """Mixin that turns a dataclass into a JSON-ready dict and back."""

    __slots__ = ()
    DERIVED: ClassVar[tuple[str, ...]] = ()

    def to_record(self) -> dict[str, Any]:
        return {
            f.name: getattr(self, f.name)
            for f in fields(self)  # type: ignore[arg-type]
            if f.name not in self.DERIVED
        }

    @classmethod
    def from_record(cls: type[R], data: dict[str, Any]) -> R:
        return cls(**data)


@dataclass(slots=True)
class Account(Record):
    """One requester, known by the access key id its calls are signed with."""

    access_key_id: str
    balance_cents: int
    paid_rewards_cents: int = 0
    paid_fees_cents: int = 0
    paid_bonuses_cents: int = 0
    # Held for assignments that may still be approved (the sum over HITs);
    # only the rest of the balance is available.
    held_cents: int = 0


@dataclass(slots=True)
class HITType(Record):
    """The properties HITs of one group share; equal properties share an id."""

    hit_type_id: str
    requester: str
    title: str
    description: str
    keywords: str
    reward_cents: int
    assignment_duration_s: int
    auto_approval_delay_s: int
    qualification_requirements: list[dict[str, Any]]
    # The NotificationSpecification set by UpdateNotificationSettings, and
    # whether events are sent for it.
    notification: dict[str, Any] | None = None
    notification_active: bool = False


@dataclass(slots=True)
class HIT(Record):
    """A HIT with its counters; ``status`` is kept current by the state."""

    DERIVED: ClassVar[tuple[str, ...]] = (
        "pending",
        "submitted",
        "completed",
        "worker_ids",
        "form_items",
    )

    hit_id: str
    requester: str
    hit_type_id: str
    seq: int
    creation_time: float
    expiration: float
    title: str
    description: str
    keywords: str
    question: str
    reward_cents: int
    max_assignments: int
    assignment_duration_s: int
    auto_approval_delay_s: int
    qualification_requirements: list[dict[str, Any]]
    requester_annotation: str | None
    status: str = ASSIGNABLE
    # Reward plus fee held for this HIT's outstanding assignments.
    held_cents: int = 0
    # Assignments accepted and not yet submitted or abandoned.
    pending: int = 0
    # Assignments submitted, whatever the requester did with them since.
    submitted: int = 0
    # Assignments approved or rejected.
    completed: int = 0
    # Workers who ever accepted this HIT; none may accept it twice.
    worker_ids: set[str] = field(default_factory=set)
    # Item id -> allowed labels, parsed from the question on first use.
    form_items: dict[str, tuple[str, ...]] | None = None

    @property
    def available(self) -> int:
        return max(0, self.max_assignments - self.pending - self.submitted)


@dataclass(slots=True)
class Assignment(Record):
    """One worker's go at one HIT."""

    assignment_id: str
    hit_id: str
    worker_id: str
    seq: int
    status: str
    accept_time: float
    deadline: float
    submit_time: float | None = None
    auto_approval_time: float | None = None
    approval_time: float | None = None
    rejection_time: float | None = None
    answer: str | None = None
    requester_feedback: str | None = None
    # Order in which assignments became visible to the requester.
    submit_seq: int | None = None
    paid_reward_cents: int = 0
    paid_fee_cents: int = 0


@dataclass(slots=True)
class Worker(Record):
    """A worker and the values of MTurk's system qualifications for them.

    ``base_*`` counts stand for work done for other requesters before the
    endpoint saw the worker; approvals and rejections here add to them.
    """

    worker_id: str
    country: str = "US"
    subdivision: str | None = None
    base_approved: int = 0
    base_rejected: int = 0
    approved: int = 0
    rejected: int = 0
    masters: bool = False
    adult: bool = True

    @property
    def hits_approved(self) -> int:
        return self.base_approved + self.approved

    @property
    def percent_approved(self) -> int:
        total = self.hits_approved + self.base_rejected + self.rejected
        # MTurk shows 100% until a worker has a track record.
        if total == 0:
            return 100
        return (100 * self.hits_approved) // total


@dataclass(slots=True)
class QualificationType(Record):
    """A qualification type a requester created (system types live elsewhere)."""

    qualification_type_id: str
    owner: str
    seq: int
    creation_time: float
    name: str
    description: str
    keywords: str | None
    status: str
    retry_delay_s: int | None = None
    test: str | None = None
    answer_key: str | None = None
    test_duration_s: int | None = None
    auto_granted: bool = False
    auto_granted_value: int | None = None
    deleted: bool = False


@dataclass(slots=True)
class Qualification(Record):
    """A worker's score for one qualification type."""

    qualification_type_id: str
    worker_id: str
    seq: int
    grant_time: float
    integer_value: int | None = None
    locale: dict[str, str] | None = None
    status: str = "Granted"


@dataclass(slots=True)
class WorkerBlock(Record):
    requester: str
    worker_id: str
    seq: int
    reason: str


@dataclass(slots=True)
class BonusPayment(Record):
    bonus_id: str
    requester: str
    worker_id: str
    assignment_id: str
    hit_id: str
    seq: int
    amount_cents: int
    fee_cents: int
    reason: str
    grant_time: float


@dataclass(slots=True)
class RequestToken(Record):
    """A UniqueRequestToken a requester used, and what the call produced."""

    requester: str
    operation: str
    token: str
    created: float
    result: str


@dataclass(slots=True)
class Notification(Record):
    """A NotifyWorkers message, kept for the worker portal to show."""

    notification_id: str
    requester: str
    worker_id: str
    seq: int
    sent_time: float
    subject: str
    message: str


@dataclass(slots=True)
class RequesterKey(Record):
    """An access key a requester signs its calls with, and its secret.

    Signature Version 4 is checked by recomputing the signature, which needs
    the secret itself; the store that keeps it must be readable only by the
    endpoint's operator.
    """

    access_key_id: str
    name: str
    secret: str
    created: float


@dataclass(slots=True)
class OutboxEvent(Record):
    """A notification message waiting to reach its SQS queue or SNS topic."""

    event_id: str
    requester: str
    hit_type_id: str
    seq: int
    transport: str
    destination: str
    document: str
    created: float


class OrderedIndex:
    """Keys in the order they were added, paged by a resumable stamp.

    Each add gets a rising stamp. A page resumes after the last stamp the
    caller saw, found by bisection, so paging through n keys costs
    O(log n + page) per page even while keys are removed: removals only mark
    entries dead, and dead entries are swept once they are the majority.
    """

    __slots__ = ("_stamps", "_keys", "_live", "_next", "_dead")

    def __init__(self) -> None:
        self._stamps: list[int] = []
        self._keys: list[str] = []
        self._live: dict[str, int] = {}
        self._next = 0
        self._dead = 0

    def __len__(self) -> int:
        return len(self._live)

    def __contains__(self, key: object) -> bool:
        return key in self._live

    def __iter__(self) -> Iterator[str]:
        return iter(list(self._live))

    def add(self, key: str) -> None:
        """Add ``key`` at the end; a key already present moves to the end."""
        if key in self._live:
            self._dead += 1
        self._live[key] = self._next
        self._stamps.append(self._next)
        self._keys.append(key)
        self._next += 1

    def discard(self, key: str) -> None:
        if self._live.pop(key, None) is None:
            return

        self._dead += 1
        if self._dead > 64 and self._dead > len(self._live):
            self._sweep()

    def page(
        self,
        after: int,
        limit: int,
        keep: Callable[[str], bool] | None = None,
    ) -> tuple[list[str], int | None]:
        """Up to ``limit`` live keys stamped after ``after``, and the next stamp.

        The returned stamp is None when no further key would pass ``keep``,
        so callers send NextToken only when another page has something.
        """
        keys: list[str] = []
        last = after
        i = bisect_right(self._stamps, after)
        while i < len(self._keys):
            key, stamp = self._keys[i], self._stamps[i]
            i += 1
            if self._live.get(key) != stamp or (keep is not None and not keep(key)):
                continue
            if len(keys) == limit:
                return keys, last
            keys.append(key)
            last = stamp
        return keys, None

    def _sweep(self) -> None:
        pairs = [
            (s, k)
            for s, k in zip(self._stamps, self._keys, strict=True)
            if self._live.get(k) == s
        ]
        self._stamps = [s for s, _ in pairs]
        self._keys = [k for _, k in pairs]
        self._dead = 0


_ALPHABET = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ"


class IdFactory:
    """MTurk-looking ids (30 characters of 0-9A-Z), repeatable for a seed.

    Ids come from a hash of the seed, the kind of thing and a counter, so two
    dry runs with the same seed and the same calls hand out the same ids.
    """

    def __init__(self, seed: int, counters: dict[str, int] | None = None) -> None:
        self.seed = seed
        self.counters: dict[str, int] = dict(counters or {})

    def new(self, kind: str, length: int = 30) -> str:
        n = self.counters.get(kind, 0) + 1
        self.counters[kind] = n
        digest = hashlib.sha256(f"{self.seed}:{kind}:{n}".encode()).digest()
        number = int.from_bytes(digest, "big")
        chars = []
        for _ in range(length):
            number, rest = divmod(number, 36)
            chars.append(_ALPHABET[rest])
        return "".join(chars)

    @staticmethod
    def stable(*parts: str, length: int = 30) -> str:
        """An id that depends only on ``parts`` (used for HIT type ids)."""
        digest = hashlib.sha256("\x1f".join(parts).encode()).digest()
        number = int.from_bytes(digest, "big")
        chars = []
        for _ in range(length):
            number, rest = divmod(number, 36)
            chars.append(_ALPHABET[rest])
        return "".join(chars)
