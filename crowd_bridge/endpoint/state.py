"""The marketplace the endpoint hosts: HITs, assignments, workers and money.

All records live in dicts keyed by id, with per-requester ordered indexes
for the list operations, so each call costs O(1) or O(log n) however many
HITs exist. Every mutation marks the records it touched as dirty; the store
writes exactly those after each request.

Requesters are keyed by the access key id their calls are signed with: each
has its own balance, HITs, blocks, qualification types and bonuses. Workers
and the crowd are shared.
"""

from __future__ import annotations

import heapq
import logging
from dataclasses import dataclass, field
from typing import Any

from crowd_bridge.errors import EndpointRequestError

from . import ledger
from .model import (
    ABANDONED,
    ACCEPTED,
    ASSIGNABLE,
    DISPOSED,
    HIT,
    REVIEWABLE,
    REVIEWING,
    SUBMITTED,
    UNASSIGNABLE,
    Account,
    Assignment,
    BonusPayment,
    HITType,
    IdFactory,
    Notification,
    OrderedIndex,
    OutboxEvent,
    Qualification,
    QualificationType,
    RequesterKey,
    RequestToken,
    Worker,
    WorkerBlock,
)
from .money import FeeSchedule
from .notifications import notify
from .tokens import TokenMemory
from .worker_side import WorkerSide

logger = logging.getLogger(__name__)

STAT_NAMES = (
    "hits_created",
    "assignments_accepted",
    "assignments_submitted",
    "assignments_approved",
    "assignments_auto_approved",
    "assignments_rejected",
    "assignments_abandoned",
    "answers_replayed",
    "answers_simulated",
    "answers_external",
    "bonuses_paid",
)


@dataclass
class RequesterBook:
    """The indexes one requester's list operations page through."""

    hits: OrderedIndex = field(default_factory=OrderedIndex)
    by_status: dict[str, OrderedIndex] = field(
        default_factory=lambda: {REVIEWABLE: OrderedIndex(), REVIEWING: OrderedIndex()}
    )
    blocks: OrderedIndex = field(default_factory=OrderedIndex)
    bonuses_by_hit: dict[str, OrderedIndex] = field(default_factory=dict)
    bonuses_by_assignment: dict[str, OrderedIndex] = field(default_factory=dict)
    qualification_types: OrderedIndex = field(default_factory=OrderedIndex)
    # Workers who submitted work for this requester (NotifyWorkers needs it).
    workers_seen: set[str] = field(default_factory=set)


def not_found(what: str, ident: str, code: str) -> EndpointRequestError:
    return EndpointRequestError(f"{what} {ident} does not exist.", code)


class EndpointState(TokenMemory, WorkerSide):
    """Everything the endpoint knows, and every change it can make."""

    def __init__(
        self,
        *,
        seed: int = 0,
        starting_balance_cents: int = 1_000_000,
        fees: FeeSchedule | None = None,
    ) -> None:
        self.starting_balance_cents = starting_balance_cents
        self.fees = fees or FeeSchedule()
        self.ids = IdFactory(seed)
        self.seq = 0
        self.clock_now: float | None = None
        self.counters: dict[str, int] = dict.fromkeys(STAT_NAMES, 0)

        self.accounts: dict[str, Account] = {}
        self.books: dict[str, RequesterBook] = {}
        self.hit_types: dict[str, HITType] = {}
        self.hits: dict[str, HIT] = {}
        self.assignments: dict[str, Assignment] = {}
        self.visible: dict[str, OrderedIndex] = {}
        self.workers: dict[str, Worker] = {}
        self.qualification_types: dict[str, QualificationType] = {}
        self.all_qualification_types = OrderedIndex()
        self.qualifications: dict[tuple[str, str], Qualification] = {}
        self.qualified: dict[str, OrderedIndex] = {}
        self.blocks: dict[tuple[str, str], WorkerBlock] = {}
        self.bonuses: dict[str, BonusPayment] = {}
        self.tokens: dict[tuple[str, str, str], RequestToken] = {}
        self.notifications: dict[str, Notification] = {}
        self.requester_keys: dict[str, RequesterKey] = {}
        self.outbox: dict[str, OutboxEvent] = {}
        self.new_events: list[OutboxEvent] = []

        self.dirty: set[tuple[str, str]] = set()
        self._events: list[tuple[float, int, str, str]] = []
        self._event_order = 0
        self._hit_feed: dict[str, None] = {}

    # -- bookkeeping ---------------------------------------------------------

    def next_seq(self) -> int:
        self.seq += 1
        self.dirty.add(("meta", "state"))
        return self.seq

    def touch(self, kind: str, key: str) -> None:
        self.dirty.add((kind, key))

    def count(self, name: str, amount: int = 1) -> None:
        self.counters[name] += amount
        self.dirty.add(("meta", "state"))

    def push_event(self, at: float, kind: str, key: str) -> None:
        self._event_order += 1
        heapq.heappush(self._events, (at, self._event_order, kind, key))

    def announce(self, hit_id: str) -> None:
        """Tell the crowd a HIT may have open slots it has not seen."""
        self._hit_feed[hit_id] = None

    def account(self, requester: str) -> Account:
        account = self.accounts.get(requester)
        if account is None:
            account = Account(requester, self.starting_balance_cents)
            self.accounts[requester] = account
            self.touch("account", requester)
            logger.info(
                "New requester %s with a balance of %d cents",
                requester,
                account.balance_cents,
            )
        return account

    def add_requester_key(self, key: RequesterKey) -> None:
        self.requester_keys[key.access_key_id] = key
        self.touch("requester", key.access_key_id)

    def queue_event(self, event: OutboxEvent) -> None:
        """Keep a notification until SQS or SNS has taken it."""
        self.outbox[event.event_id] = event
        self.new_events.append(event)
        self.touch("outbox", event.event_id)

    def take_new_events(self) -> list[OutboxEvent]:
        taken, self.new_events = self.new_events, []
        return taken

    def forget_event(self, event_id: str) -> None:
        if self.outbox.pop(event_id, None) is not None:
            self.touch("outbox", event_id)

    def book(self, requester: str) -> RequesterBook:
        book = self.books.get(requester)
        if book is None:
            book = self.books[requester] = RequesterBook()
        return book

    # -- HIT lifecycle ---------------------------------------------------------

    def hit_type(
        self,
        requester: str,
        *,
        title: str,
        description: str,
        keywords: str,
        reward_cents: int,
        assignment_duration_s: int,
        auto_approval_delay_s: int,
        requirements: list[dict[str, Any]],
    ) -> HITType:
        """The HIT type with these properties, created on first use.

        Like MTurk, equal properties always give the same HIT type id.
        """
        type_id = IdFactory.stable(
            requester,
            title,
            description,
            keywords,
            str(reward_cents),
            str(assignment_duration_s),
            str(auto_approval_delay_s),
            repr(sorted(repr(sorted(r.items())) for r in requirements)),
        )
        found = self.hit_types.get(type_id)
        if found is not None:
            return found

        created = HITType(
            type_id,
            requester,
            title,
            description,
            keywords,
            reward_cents,
            assignment_duration_s,
            auto_approval_delay_s,
            requirements,
        )
        self.hit_types[type_id] = created
        self.touch("hittype", type_id)
        return created

    def requester_hit_type(self, requester: str, hit_type_id: str) -> HITType:
        found = self.hit_types.get(hit_type_id)
        if found is None or found.requester != requester:
            raise not_found(
                "The HIT type", hit_type_id, "AWS.MechanicalTurk.HITTypeDoesNotExist"
            )
        return found

    def create_hit(
        self,
        requester: str,
        hit_type: HITType,
        *,
        question: str,
        lifetime_s: int,
        max_assignments: int,
        annotation: str | None,
        now: float,
    ) -> HIT:
        self.account(requester)
        hit = HIT(
            hit_id=self.ids.new("hit"),
            requester=requester,
            hit_type_id=hit_type.hit_type_id,
            seq=self.next_seq(),
            creation_time=now,
            expiration=now + lifetime_s,
            title=hit_type.title,
            description=hit_type.description,
            keywords=hit_type.keywords,
            question=question,
            reward_cents=hit_type.reward_cents,
            max_assignments=max_assignments,
            assignment_duration_s=hit_type.assignment_duration_s,
            auto_approval_delay_s=hit_type.auto_approval_delay_s,
            qualification_requirements=hit_type.qualification_requirements,
            requester_annotation=annotation,
        )
        self.index_hit(hit)
        ledger.sync_hold(self, hit, now)
        self.push_event(hit.expiration, "expire", hit.hit_id)
        self.announce(hit.hit_id)
        self.touch("hit", hit.hit_id)
        self.count("hits_created")
        notify(self, "HITCreated", hit, now)
        logger.info(
            "Requester %s created HIT %s (%d assignments, %d cents each)",
            requester,
            hit.hit_id,
            max_assignments,
            hit.reward_cents,
        )
        return hit

    def index_hit(self, hit: HIT) -> None:
        self.hits[hit.hit_id] = hit
        self.visible[hit.hit_id] = OrderedIndex()
        if hit.status == DISPOSED:
            return
        book = self.book(hit.requester)
        book.hits.add(hit.hit_id)
        if hit.status in book.by_status:
            book.by_status[hit.status].add(hit.hit_id)

    def requester_hit(self, requester: str, hit_id: str) -> HIT:
        hit = self.hits.get(hit_id)
        if hit is None or hit.requester != requester:
            raise not_found("The HIT", hit_id, "AWS.MechanicalTurk.HITDoesNotExist")
        return hit

    def assignment_cost(
        self, reward_cents: int, max_assignments: int, masters: bool
    ) -> int:
        """Reward plus fee for one assignment of a HIT with these properties."""
        return self.fees.assignment_cost(reward_cents, max_assignments, masters=masters)

    def refresh(self, hit: HIT, now: float) -> None:
        """Bring a HIT's status and hold in line with its counters and time."""
        if hit.status == DISPOSED:
            ledger.sync_hold(self, hit, now)
            return

        if now < hit.expiration and hit.available > 0:
            status = ASSIGNABLE
        elif hit.pending > 0:
            status = UNASSIGNABLE
        elif hit.status == REVIEWING:
            status = REVIEWING
        else:
            status = REVIEWABLE
        self.set_status(hit, status, now)
        ledger.sync_hold(self, hit, now)

    def set_status(self, hit: HIT, status: str, at: float) -> None:
        if status == hit.status:
            return

        book = self.book(hit.requester)
        if hit.status in book.by_status:
            book.by_status[hit.status].discard(hit.hit_id)
        if status in book.by_status:
            book.by_status[status].add(hit.hit_id)
        if status == DISPOSED:
            book.hits.discard(hit.hit_id)
        logger.debug("HIT %s is now %s (was %s)", hit.hit_id, status, hit.status)
        was, hit.status = hit.status, status
        self.touch("hit", hit.hit_id)
        if status == DISPOSED:
            ledger.sync_hold(self, hit, at)
            notify(self, "HITDisposed", hit, at)
        elif status == REVIEWABLE and was in (ASSIGNABLE, UNASSIGNABLE):
            notify(self, "HITReviewable", hit, at)

    def set_expiration(self, hit: HIT, expire_at: float, now: float) -> None:
        # A time in the past expires the HIT at once, as on MTurk.
        was_open = hit.expiration > now
        extended = expire_at > hit.expiration
        hit.expiration = max(expire_at, now)
        self.touch("hit", hit.hit_id)
        if hit.expiration > now:
            self.push_event(hit.expiration, "expire", hit.hit_id)
        if extended:
            notify(self, "HITExtended", hit, now)
        elif was_open and hit.expiration <= now:
            notify(self, "HITExpired", hit, now)
        self.refresh(hit, now)
        self.announce(hit.hit_id)

    def add_assignments(self, hit: HIT, extra: int, now: float) -> None:
        hit.max_assignments += extra
        self.touch("hit", hit.hit_id)
        notify(self, "HITExtended", hit, now)
        self.refresh(hit, now)
        self.announce(hit.hit_id)
        logger.info(
            "HIT %s extended by %d to %d assignments",
            hit.hit_id,
            extra,
            hit.max_assignments,
        )

    # -- time ------------------------------------------------------------------

    def next_event_time(self) -> float | None:
        return self._events[0][0] if self._events else None

    def process_due(self, now: float) -> int:
        """Apply expirations, deadlines and auto-approvals due by ``now``."""
        done = 0
        while self._events and self._events[0][0] <= now:
            at, _, kind, key = heapq.heappop(self._events)
            if kind == "expire":
                hit = self.hits.get(key)
                if hit is not None and hit.expiration == at:
                    if hit.status != DISPOSED:
                        notify(self, "HITExpired", hit, at)
                    self.refresh(hit, at)
            elif kind == "deadline":
                self._abandon_if_open(key, at)
            elif kind == "approve":
                self._auto_approve(key, at)
            done += 1
        return done

    def _abandon_if_open(self, assignment_id: str, at: float) -> None:
        assignment = self.assignments.get(assignment_id)
        if assignment is None or assignment.status != ACCEPTED:
            return

        hit = self.hits[assignment.hit_id]
        assignment.status = ABANDONED
        hit.pending -= 1
        self.touch("assignment", assignment_id)
        self.count("assignments_abandoned")
        notify(
            self,
            "AssignmentAbandoned",
            hit,
            at,
            assignment_id=assignment_id,
            worker_id=assignment.worker_id,
        )
        self.refresh(hit, at)
        self.announce(hit.hit_id)
        logger.info(
            "Worker %s abandoned assignment %s of HIT %s at its deadline",
            assignment.worker_id,
            assignment_id,
            hit.hit_id,
        )

    def _auto_approve(self, assignment_id: str, at: float) -> None:
        assignment = self.assignments.get(assignment_id)
        if assignment is None or assignment.status != SUBMITTED:
            return
        if assignment.auto_approval_time != at:
            return
        hit = self.hits[assignment.hit_id]
        ledger.pay_assignment(self, assignment, hit, at, automatic=True)
        logger.debug("Assignment %s of HIT %s auto-approved", assignment_id, hit.hit_id)

    def index_bonus(self, bonus: BonusPayment) -> None:
        self.bonuses[bonus.bonus_id] = bonus
        book = self.book(bonus.requester)
        book.bonuses_by_hit.setdefault(bonus.hit_id, OrderedIndex()).add(bonus.bonus_id)
        book.bonuses_by_assignment.setdefault(bonus.assignment_id, OrderedIndex()).add(
            bonus.bonus_id
        )
