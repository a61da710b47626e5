"""The worker's side of the marketplace: accepting and submitting HITs.

This is what a simulated crowd (through the :class:`Marketplace` protocol)
and the worker routes of the app can do: register workers, see open HITs,
check qualifications and blocks, accept an assignment and submit answers.
It is a mixin of :class:`crowd_bridge.endpoint.state.EndpointState`.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import TYPE_CHECKING, cast

from . import ledger
from . import qualifications as quals
from .crowds.base import HitView, WorkerProfile
from .forms import answers_xml, form_items
from .model import (
    ACCEPTED,
    ASSIGNABLE,
    HIT,
    SUBMITTED,
    Assignment,
    IdFactory,
    OrderedIndex,
    Qualification,
    Worker,
    WorkerBlock,
)
from .notifications import notify

if TYPE_CHECKING:
    from .state import EndpointState, RequesterBook

logger = logging.getLogger(__name__)


class WorkerSide:
    """Worker actions on the marketplace state."""

    workers: dict[str, Worker]
    hits: dict[str, HIT]
    assignments: dict[str, Assignment]
    blocks: dict[tuple[str, str], WorkerBlock]
    qualifications: dict[tuple[str, str], Qualification]
    visible: dict[str, OrderedIndex]
    ids: IdFactory
    _hit_feed: dict[str, None]

    if TYPE_CHECKING:

        def next_seq(self) -> int: ...

        def touch(self, kind: str, key: str) -> None: ...

        def count(self, name: str, amount: int = 1) -> None: ...

        def push_event(self, at: float, kind: str, key: str) -> None: ...

        def refresh(self, hit: HIT, now: float) -> None: ...

        def book(self, requester: str) -> RequesterBook: ...

    @property
    def _state(self) -> EndpointState:
        # Notifications and payments take the whole state this mixes into.
        return cast("EndpointState", self)

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

        unmet = self.unmet_requirement(worker_id, hit)
        if unmet is not None:
            return (
                f"worker {worker_id} does not meet the requirement on {unmet} "
                f"of HIT {hit_id}"
            )
        return None

    def unmet_requirement(
        self, worker_id: str, hit: HIT, *, preview: bool = False
    ) -> str | None:
        """The first qualification type ``worker_id`` falls short on, if any.

        Every requirement guards accepting; with ``preview`` only those that
        also guard previewing (ActionsGuarded PreviewAndAccept or
        DiscoverPreviewAndAccept, or the older RequiredToPreview) count.
        """
        worker = self.worker(worker_id)
        for requirement in hit.qualification_requirements:
            if preview and not quals.guards_preview(requirement):
                continue
            type_id = requirement["QualificationTypeId"]
            if not quals.meets(requirement, self.score(type_id, worker)):
                return str(type_id)
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
        notify(
            self._state,
            "AssignmentAccepted",
            hit,
            now,
            assignment_id=assignment.assignment_id,
            worker_id=worker_id,
        )
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
        notify(
            self._state,
            "AssignmentSubmitted",
            hit,
            now,
            assignment_id=assignment_id,
            worker_id=assignment.worker_id,
        )
        logger.debug(
            "Worker %s submitted assignment %s of HIT %s",
            assignment.worker_id,
            assignment_id,
            hit.hit_id,
        )

        if hit.auto_approval_delay_s == 0:
            ledger.pay_assignment(self._state, assignment, hit, now, automatic=True)
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
