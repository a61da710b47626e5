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
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from crowd_bridge.errors import EndpointRequestError

from . import ledger
from . import qualifications as quals
from .crowds.base import HitView, WorkerProfile
from .forms import answers_xml, form_items
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
    Qualification,
    QualificationType,
    RequestToken,
    Worker,
    WorkerBlock,
)
from .money import FeeSchedule

logger = logging.getLogger(__name__)

TOKEN_LIFETIME_S = 24 * 3600
# Expired tokens are swept whenever the table grows by this many.
TOKEN_SWEEP_EVERY = 1000
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


class EndpointState:
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

    def book(self, requester: str) -> RequesterBook:
        book = self.books.get(requester)
        if book is None:
            book = self.books[requester] = RequesterBook()
        return book

    # -- request tokens --------------------------------------------------------

    def token_result(
        self, requester: str, operation: str, token: str | None, now: float
    ) -> str | None:
        """What an earlier call with this UniqueRequestToken produced, if any."""
        if token is None:
            return None
        found = self.tokens.get((requester, operation, token))
        if found is None or now - found.created >= TOKEN_LIFETIME_S:
            return None
        return found.result

    def remember_token(
        self, requester: str, operation: str, token: str | None, now: float, result: str
    ) -> None:
        if token is None:
            return
        if len(self.tokens) % TOKEN_SWEEP_EVERY == TOKEN_SWEEP_EVERY - 1:
            self._forget_old_tokens(now)
        self.tokens[(requester, operation, token)] = RequestToken(
            requester, operation, token, now, result
        )
        self.touch("token", f"{requester}|{operation}|{token}")

    def _forget_old_tokens(self, now: float) -> None:
        expired = [
            key
            for key, found in self.tokens.items()
            if now - found.created >= TOKEN_LIFETIME_S
        ]
        for key in expired:
            del self.tokens[key]
            self.touch("token", "|".join(key))

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
        self.push_event(hit.expiration, "expire", hit.hit_id)
        self.announce(hit.hit_id)
        self.touch("hit", hit.hit_id)
        self.count("hits_created")
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
        fee = self.fees.assignment_fee(reward_cents, max_assignments, masters)
        return reward_cents + fee

    def refresh(self, hit: HIT, now: float) -> None:
        """Bring a HIT's status in line with its counters and expiration."""
        if hit.status == DISPOSED:
            return

        if now < hit.expiration and hit.available > 0:
            status = ASSIGNABLE
        elif hit.pending > 0:
            status = UNASSIGNABLE
        elif hit.status == REVIEWING:
            status = REVIEWING
        else:
            status = REVIEWABLE
        self.set_status(hit, status)

    def set_status(self, hit: HIT, status: str) -> None:
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
        hit.status = status
        self.touch("hit", hit.hit_id)

    def set_expiration(self, hit: HIT, expire_at: float, now: float) -> None:
        # A time in the past expires the HIT at once, as on MTurk.
        hit.expiration = max(expire_at, now)
        self.touch("hit", hit.hit_id)
        if hit.expiration > now:
            self.push_event(hit.expiration, "expire", hit.hit_id)
        self.refresh(hit, now)
        self.announce(hit.hit_id)

    def add_assignments(self, hit: HIT, extra: int, now: float) -> None:
        hit.max_assignments += extra
        self.touch("hit", hit.hit_id)
        self.refresh(hit, now)
        self.announce(hit.hit_id)
        logger.info(
            "HIT %s extended by %d to %d assignments",
            hit.hit_id,
            extra,
            hit.max_assignments,
        )

    # -- worker side -----------------------------------------------------------

    def register_worker(self, profile: WorkerProfile) -> None:
        if profile.worker_id in self.workers:
            return
        self.workers[profile.worker_id] = Worker(
            worker_id=profile.worker_id,
            country=profile.country,
            subdivision=profile.subdivision,
            base_approved=profile.hits_approved,
            base_rejected=profile.hits_rejected,
            masters=profile.masters,
            adult=profile.adult,
        )
        self.touch("worker", profile.worker_id)

    def worker(self, worker_id: str) -> Worker:
        """A worker, registered with neutral values on first sight."""
        found = self.workers.get(worker_id)
        if found is None:
            self.register_worker(WorkerProfile(worker_id))
            found = self.workers[worker_id]
        return found

    def score(self, qualification_type_id: str, worker: Worker) -> quals.Score:
        if qualification_type_id in quals.SYSTEM_TYPES:
            return quals.system_score(qualification_type_id, worker)
        found = self.qualifications.get((qualification_type_id, worker.worker_id))
        return quals.granted_score(found)

    def refusal(self, worker_id: str, hit_id: str) -> str | None:
        """Why ``worker_id`` may not accept ``hit_id`` now, or None if they may."""
        hit = self.hits.get(hit_id)
        if hit is None:
            return f"HIT {hit_id} does not exist"
        if hit.status != ASSIGNABLE or hit.available <= 0:
            return f"HIT {hit_id} is {hit.status} with no open assignment"
        if worker_id in hit.worker_ids:
            return f"worker {worker_id} already took HIT {hit_id}"
        if (hit.requester, worker_id) in self.blocks:
            return f"worker {worker_id} is blocked by the requester of HIT {hit_id}"

        worker = self.worker(worker_id)
        for requirement in hit.qualification_requirements:
            score = self.score(requirement["QualificationTypeId"], worker)
            if not quals.meets(requirement, score):
                return (
                    f"worker {worker_id} does not meet the requirement on "
                    f"{requirement['QualificationTypeId']} of HIT {hit_id}"
                )
        return None

    def can_accept(self, worker_id: str, hit_id: str) -> bool:
        return self.refusal(worker_id, hit_id) is None

    def accept(self, worker_id: str, hit_id: str, now: float) -> str | None:
        if not self.can_accept(worker_id, hit_id):
            return None

        hit = self.hits[hit_id]
        assignment = Assignment(
            assignment_id=self.ids.new("assignment"),
            hit_id=hit_id,
            worker_id=worker_id,
            seq=self.next_seq(),
            status=ACCEPTED,
            accept_time=now,
            deadline=now + hit.assignment_duration_s,
        )
        self.assignments[assignment.assignment_id] = assignment
        hit.pending += 1
        hit.worker_ids.add(worker_id)
        self.push_event(assignment.deadline, "deadline", assignment.assignment_id)
        self.refresh(hit, now)
        self.touch("assignment", assignment.assignment_id)
        self.count("assignments_accepted")
        logger.debug(
            "Worker %s accepted HIT %s as assignment %s",
            worker_id,
            hit_id,
            assignment.assignment_id,
        )
        return assignment.assignment_id

    def assignment_open(self, assignment_id: str) -> bool:
        found = self.assignments.get(assignment_id)
        return found is not None and found.status == ACCEPTED

    def submit(
        self,
        assignment_id: str,
        fields: Mapping[str, str],
        now: float,
        *,
        replayed: int = 0,
        simulated: int = 0,
        external: int = 0,
    ) -> bool:
        """Store a worker's answers; False if the assignment is not open."""
        assignment = self.assignments.get(assignment_id)
        if assignment is None or assignment.status != ACCEPTED:
            return False
        if now > assignment.deadline:
            return False

        hit = self.hits[assignment.hit_id]
        assignment.status = SUBMITTED
        assignment.answer = answers_xml(fields)
        assignment.submit_time = now
        assignment.auto_approval_time = now + hit.auto_approval_delay_s
        assignment.submit_seq = self.next_seq()
        hit.pending -= 1
        hit.submitted += 1
        self.visible[hit.hit_id].add(assignment_id)
        self.book(hit.requester).workers_seen.add(assignment.worker_id)
        self.touch("assignment", assignment_id)
        self.count("assignments_submitted")
        self.count("answers_replayed", replayed)
        self.count("answers_simulated", simulated)
        self.count("answers_external", external)
        logger.debug(
            "Worker %s submitted assignment %s of HIT %s",
            assignment.worker_id,
            assignment_id,
            hit.hit_id,
        )

        if hit.auto_approval_delay_s == 0:
            ledger.pay_assignment(self, assignment, hit, now, automatic=True)
        else:
            self.push_event(assignment.auto_approval_time, "approve", assignment_id)
        self.refresh(hit, now)
        return True

    def hit_view(self, hit_id: str) -> HitView | None:
        hit = self.hits.get(hit_id)
        if hit is None or hit.status != ASSIGNABLE or hit.available <= 0:
            return None
        return self._view(hit)

    def form_view(self, hit_id: str) -> HitView | None:
        hit = self.hits.get(hit_id)
        return None if hit is None else self._view(hit)

    def _view(self, hit: HIT) -> HitView:
        if hit.form_items is None:
            hit.form_items = form_items(hit.question)
        return HitView(
            hit_id=hit.hit_id,
            requester=hit.requester,
            items=hit.form_items,
            available=hit.available,
            assignment_duration_s=hit.assignment_duration_s,
            reward_cents=hit.reward_cents,
        )

    def drain_hit_events(self) -> list[str]:
        feed = list(self._hit_feed)
        self._hit_feed.clear()
        return feed

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
