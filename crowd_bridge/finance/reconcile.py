"""Compare what the ledger and the state database say with what the endpoint says.

For every HIT we published, the endpoint's assignments (all pages) are matched
against ours: same worker, same status, and a reward in the ledger exactly when
the endpoint shows the assignment approved. Bonus payments the endpoint lists
are matched against the ledger's bonuses by assignment, worker and amount, in
both directions, so a bonus paid twice or paid without a ledger row shows up as
well as one booked but never paid. The account balance is read and reported.

Nothing is written: reconciliation only reads, so it is safe to run at any time,
also while a campaign is running (a difference that a running cycle is about to
settle says so in its explanation).
"""

from __future__ import annotations

import logging
from collections import defaultdict
from dataclasses import asdict, dataclass, field
from typing import Any

from rich.table import Table
from sqlalchemy.engine import Engine
from sqlmodel import select

from crowd_bridge.db.models import Action, Assignment, Campaign, Hit, LedgerEntry
from crowd_bridge.db.session import session_scope
from crowd_bridge.errors import ConfigError, MTurkError
from crowd_bridge.finance.bonuses import Payment, match_bonuses, read_payments
from crowd_bridge.finance.differences import (
    ASSIGNMENT_MISSING,
    ASSIGNMENT_NOT_COLLECTED,
    ASSIGNMENT_STATUS,
    ASSIGNMENT_WORKER,
    FEE_MISSING,
    HIT_UNREACHABLE,
    REWARD_AMOUNT,
    REWARD_BOOKED_TWICE,
    REWARD_NOT_BOOKED,
    REWARD_NOT_PAID,
    Difference,
)
from crowd_bridge.finance.render import dollars_text
from crowd_bridge.finance.report import finance_report
from crowd_bridge.mturk.client import MTurkClient

logger = logging.getLogger(__name__)

__all__ = ["Difference", "ReconcileReport", "reconcile", "reconcile_table"]

_FEE_OF = {"reward": "reward_fee", "bonus": "bonus_fee"}


@dataclass
class ReconcileReport:
    """Every difference found; none means ledger, state and endpoint agree.

    ``balance_cents`` is the endpoint's available balance, ``on_hold_cents``
    what it already holds for published assignments (MTurk's assignment
    liability), and ``pending_cents`` what submitted work and decided bonuses
    will still cost (reward plus fee), so a reader sees at once whether
    workers can be paid on time.
    """

    campaign: str | None
    balance_cents: int
    pending_cents: int
    on_hold_cents: int = 0
    hits_checked: int = 0
    assignments_checked: int = 0
    bonuses_checked: int = 0
    differences: list[Difference] = field(default_factory=list)

    @property
    def consistent(self) -> bool:
        return not self.differences

    @property
    def balance_short_cents(self) -> int:
        """How much the balance falls short of pending liabilities (0 if none)."""
        return max(0, self.pending_cents - self.balance_cents - self.on_hold_cents)

    def by_kind(self) -> dict[str, int]:
        counts: dict[str, int] = defaultdict(int)
        for difference in self.differences:
            counts[difference.kind] += 1
        return dict(sorted(counts.items()))

    def to_dict(self) -> dict[str, Any]:
        return {
            "campaign": self.campaign,
            "consistent": self.consistent,
            "balance_cents": self.balance_cents,
            "pending_cents": self.pending_cents,
            "on_hold_cents": self.on_hold_cents,
            "balance_short_cents": self.balance_short_cents,
            "hits_checked": self.hits_checked,
            "assignments_checked": self.assignments_checked,
            "bonuses_checked": self.bonuses_checked,
            "differences": [asdict(difference) for difference in self.differences],
        }


@dataclass
class _Ours:
    """Our view of one campaign (or all): HITs, assignments and ledger."""

    hits: dict[int, Hit]
    assignments: dict[str, Assignment]
    entries: list[LedgerEntry]
    open_actions: list[Action]

    def hit_id(self, hit_pk: int | None) -> str | None:
        hit = self.hits.get(hit_pk) if hit_pk is not None else None
        return hit.mturk_hit_id if hit else None

    def entries_of(self, kind: str) -> dict[str, list[LedgerEntry]]:
        found: dict[str, list[LedgerEntry]] = defaultdict(list)
        for entry in self.entries:
            if entry.kind == kind and entry.assignment_id:
                found[entry.assignment_id].append(entry)
        return found

    def open_action(self, kind: str, assignment_id: str) -> Action | None:
        for action in self.open_actions:
            if action.kind == kind and action.assignment_id == assignment_id:
                return action
        return None


def reconcile(
    engine: Engine, client: MTurkClient, campaign: str | None = None
) -> ReconcileReport:
    """Check ledger and state against the endpoint; read-only on both sides.

    Raises :class:`ConfigError` for an unknown campaign and lets retryable
    :class:`MTurkError` through: a reconciliation cut short by throttling must
    not look like a clean one.
    """
    ours = _load(engine, campaign)
    pending = finance_report(engine, campaign).totals.pending_cents
    available, on_hold = client.account_balances_cents()
    report = ReconcileReport(
        campaign=campaign,
        balance_cents=available,
        pending_cents=pending,
        on_hold_cents=on_hold,
    )
    theirs_status = _check_assignments(client, ours, report)
    _check_rewards(ours, theirs_status, report)
    _check_fees(ours, report)
    _check_bonuses(client, ours, report)
    logger.info(
        "reconciled campaign %s: %d HITs, %d assignments, %d bonuses checked, "
        "%d differences, balance %d cents",
        campaign or "(all)",
        report.hits_checked,
        report.assignments_checked,
        report.bonuses_checked,
        len(report.differences),
        report.balance_cents,
    )
    for difference in report.differences:
        logger.debug(
            "%s on HIT %s, assignment %s, worker %s: ours %s, theirs %s",
            difference.kind,
            difference.hit_id,
            difference.assignment_id,
            difference.worker_id,
            difference.ours,
            difference.theirs,
        )
    return report


def _load(engine: Engine, campaign: str | None) -> _Ours:
    with session_scope(engine) as session:
        if campaign is not None and session.get(Campaign, campaign) is None:
            raise ConfigError(
                f"There is no campaign named {campaign!r} in the state database."
            )

        def rows(model: Any, *where: Any) -> list[Any]:
            query = select(model).where(*where)
            if campaign is not None:
                query = query.where(model.campaign_id == campaign)
            return list(session.exec(query).all())

        hits = rows(Hit)
        return _Ours(
            hits={hit.id: hit for hit in hits},
            assignments={a.id: a for a in rows(Assignment)},
            entries=rows(LedgerEntry),
            open_actions=rows(
                Action,
                Action.state.in_(("intended", "sent")),  # type: ignore[attr-defined]
            ),
        )


def _check_assignments(
    client: MTurkClient, ours: _Ours, report: ReconcileReport
) -> dict[str, str]:
    """Statuses on the endpoint, by assignment id; records every mismatch."""
    theirs: dict[str, str] = {}
    seen_on_endpoint: set[str] = set()
    for hit in ours.hits.values():
        if hit.mturk_hit_id is None:
            continue
        try:
            remote = client.list_assignments(hit.mturk_hit_id)
        except MTurkError as error:
            if error.retryable:
                raise
            report.differences.append(
                Difference(
                    kind=HIT_UNREACHABLE,
                    campaign_id=hit.campaign_id,
                    hit_id=hit.mturk_hit_id,
                    ours=hit.status,
                    theirs=str(error),
                    explanation="The endpoint would not list this HIT's assignments, "
                    "so none of them could be checked.",
                )
            )
            continue
        report.hits_checked += 1
        for assignment in remote:
            assignment_id = assignment["AssignmentId"]
            seen_on_endpoint.add(assignment_id)
            _compare_assignment(ours, hit, assignment, theirs, report)

    # Assignments the HIT listings did not show: ask for each one directly.
    for assignment_id, stored in ours.assignments.items():
        if assignment_id in seen_on_endpoint:
            continue
        owner = ours.hits.get(stored.hit_pk)
        if owner is None:
            continue
        try:
            remote_one = client.get_assignment(assignment_id)
        except MTurkError as error:
            if error.retryable:
                raise
            report.assignments_checked += 1
            report.differences.append(
                Difference(
                    kind=ASSIGNMENT_MISSING,
                    campaign_id=stored.campaign_id,
                    hit_id=owner.mturk_hit_id,
                    assignment_id=assignment_id,
                    worker_id=stored.worker_id,
                    ours=stored.status,
                    theirs=f"not found ({error.code or 'error'})",
                    explanation="We hold this assignment but the endpoint does not "
                    "know it; it may belong to another account or endpoint.",
                )
            )
            continue
        _compare_assignment(ours, owner, remote_one, theirs, report)
    return theirs


def _compare_assignment(
    ours: _Ours,
    hit: Hit,
    remote: dict[str, Any],
    theirs: dict[str, str],
    report: ReconcileReport,
) -> None:
    assignment_id = remote["AssignmentId"]
    status = remote.get("AssignmentStatus", "")
    worker = remote.get("WorkerId", "")
    theirs[assignment_id] = status
    report.assignments_checked += 1
    stored = ours.assignments.get(assignment_id)
    common: dict[str, Any] = {
        "campaign_id": hit.campaign_id,
        "hit_id": hit.mturk_hit_id,
        "assignment_id": assignment_id,
    }
    if stored is None:
        report.differences.append(
            Difference(
                kind=ASSIGNMENT_NOT_COLLECTED,
                worker_id=worker,
                ours="absent",
                theirs=status,
                explanation="The endpoint has this assignment but we never "
                "collected it; the next collect cycle should pick it up."
                + (
                    " It is already approved there, so its reward was paid "
                    "without a ledger row."
                    if status == "Approved"
                    else ""
                ),
                **common,
            )
        )
        return
    if stored.worker_id != worker:
        report.differences.append(
            Difference(
                kind=ASSIGNMENT_WORKER,
                worker_id=stored.worker_id,
                ours=stored.worker_id,
                theirs=worker,
                explanation="The endpoint says a different worker did this "
                "assignment; payments would go to the wrong person.",
                **common,
            )
        )
    if stored.status != status:
        report.differences.append(
            Difference(
                kind=ASSIGNMENT_STATUS,
                worker_id=stored.worker_id,
                ours=stored.status,
                theirs=status,
                explanation=_status_explanation(stored.status, status),
                **common,
            )
        )


def _status_explanation(ours: str, theirs: str) -> str:
    said = f"We hold this assignment as {ours} but the endpoint has it {theirs}."
    if ours == "Submitted" and theirs == "Approved":
        return (
            said + " It was approved there (by auto-approval or an approval whose "
            "answer was lost); the next collect cycle records it and books the reward."
        )
    if ours == "Submitted" and theirs == "Rejected":
        return said + " The worker was not paid; the next collect cycle records it."
    if ours == "Approved" and theirs != "Approved":
        return said + " We booked a reward that the endpoint never paid."
    return said


def _check_rewards(
    ours: _Ours, theirs_status: dict[str, str], report: ReconcileReport
) -> None:
    """A reward is booked once for each assignment the endpoint approved."""
    rewards = ours.entries_of("reward")
    for assignment_id in sorted(set(rewards) | set(theirs_status)):
        booked = rewards.get(assignment_id, [])
        status = theirs_status.get(assignment_id)
        stored = ours.assignments.get(assignment_id)
        hit_pk = stored.hit_pk if stored else (booked[0].hit_pk if booked else None)
        hit = ours.hits.get(hit_pk) if hit_pk is not None else None
        campaign_id = (
            stored.campaign_id if stored else booked[0].campaign_id if booked else ""
        )
        common: dict[str, Any] = {
            "campaign_id": campaign_id or (hit.campaign_id if hit else ""),
            "hit_id": hit.mturk_hit_id if hit else None,
            "assignment_id": assignment_id,
            "worker_id": stored.worker_id if stored else None,
        }
        amounts = ", ".join(dollars_text(e.amount_cents) for e in booked) or "none"
        if len(booked) > 1:
            report.differences.append(
                Difference(
                    kind=REWARD_BOOKED_TWICE,
                    ours=f"{len(booked)} rewards: {amounts}",
                    theirs=status or "unknown",
                    explanation="The ledger books this assignment's reward more "
                    "than once; the endpoint pays a reward only once.",
                    **common,
                )
            )
        if hit is not None:
            for entry in booked:
                if entry.amount_cents != hit.reward_cents:
                    report.differences.append(
                        Difference(
                            kind=REWARD_AMOUNT,
                            ours=dollars_text(entry.amount_cents),
                            theirs=dollars_text(hit.reward_cents),
                            explanation="The ledger books a reward that is not "
                            "the HIT's reward.",
                            **common,
                        )
                    )
        if status == "Approved" and not booked:
            report.differences.append(
                Difference(
                    kind=REWARD_NOT_BOOKED,
                    ours="no reward booked",
                    theirs="Approved",
                    explanation=_not_booked_explanation(ours, assignment_id),
                    **common,
                )
            )
        elif status is not None and status != "Approved" and booked:
            report.differences.append(
                Difference(
                    kind=REWARD_NOT_PAID,
                    ours=f"reward booked: {amounts}",
                    theirs=status,
                    explanation="The ledger books a reward for an assignment the "
                    "endpoint has not approved, so the worker was not paid it.",
                    **common,
                )
            )


def _not_booked_explanation(ours: _Ours, assignment_id: str) -> str:
    said = "The endpoint approved and paid this assignment but the ledger has no "
    said += "reward for it."
    action = ours.open_action("approve", assignment_id)
    if action is not None:
        return (
            said + f" Its approval is still {action.state}; the next cycle "
            "confirms it and books the reward."
        )
    return said


def _check_fees(ours: _Ours, report: ReconcileReport) -> None:
    """Every reward and bonus in the ledger is booked with its fee."""
    kinds: dict[int, dict[str, LedgerEntry]] = defaultdict(dict)
    for entry in ours.entries:
        kinds[entry.action_id][entry.kind] = entry
    for booked in kinds.values():
        for money, fee in _FEE_OF.items():
            if (money in booked) == (fee in booked):
                continue
            present = booked.get(money) or booked[fee]
            report.differences.append(
                Difference(
                    kind=FEE_MISSING,
                    campaign_id=present.campaign_id,
                    hit_id=ours.hit_id(present.hit_pk),
                    assignment_id=present.assignment_id,
                    worker_id=present.worker_id,
                    ours=f"{present.kind} {dollars_text(present.amount_cents)}",
                    theirs=f"no {fee if money in booked else money}",
                    explanation=f"The ledger books a {present.kind} without its "
                    f"{fee if money in booked else money}; the ledger understates or "
                    "overstates what the platform charged.",
                )
            )


def _check_bonuses(client: MTurkClient, ours: _Ours, report: ReconcileReport) -> None:
    """Bonuses in the ledger against bonus payments on the endpoint, both ways."""
    booked = ours.entries_of("bonus")
    paid: dict[str, list[Payment]] = defaultdict(list)
    listed: set[str] = set()
    for hit in ours.hits.values():
        if hit.mturk_hit_id is None:
            continue
        try:
            payments = client.paginate(
                "ListBonusPayments", "BonusPayments", HITId=hit.mturk_hit_id
            )
            for payment in read_payments(payments):
                paid[payment.assignment_id].append(payment)
        except MTurkError as error:
            if error.retryable:
                raise
            logger.warning(
                "bonus payments of HIT %s could not be listed: %s",
                hit.mturk_hit_id,
                error,
            )
            continue
        listed.update(a.id for a in ours.assignments.values() if a.hit_pk == hit.id)

    # Bonuses booked on assignments outside the listed HITs: ask per assignment.
    for assignment_id in booked:
        if assignment_id not in listed:
            listed.add(assignment_id)
            by_assignment = client.list_bonus_payments(assignment_id)
            paid[assignment_id].extend(read_payments(by_assignment))

    for assignment_id in sorted(set(booked) | set(paid)):
        ours_here, theirs_here = booked.get(assignment_id, []), paid[assignment_id]
        report.bonuses_checked += max(len(ours_here), len(theirs_here))
        stored = ours.assignments.get(assignment_id)
        first = ours_here[0] if ours_here else None
        hit_pk = stored.hit_pk if stored else first.hit_pk if first else None
        campaign_id = stored.campaign_id if stored else ""
        campaign_id = campaign_id or (first.campaign_id if first else "")
        report.differences.extend(
            match_bonuses(
                assignment_id,
                ours_here,
                theirs_here,
                campaign_id=campaign_id,
                hit_id=ours.hit_id(hit_pk),
                open_bonus=ours.open_action("bonus", assignment_id),
            )
        )


def reconcile_table(report: ReconcileReport) -> Table:
    """The differences as a rich table, with the balance in the caption."""
    caption = (
        f"Balance {dollars_text(report.balance_cents)}; pending liabilities "
        f"{dollars_text(report.pending_cents)}"
    )
    if report.balance_short_cents:
        caption += f" (short by {dollars_text(report.balance_short_cents)})"
    verdict = (
        "consistent" if report.consistent else f"{len(report.differences)} differences"
    )
    table = Table(
        title=f"Reconciliation of {report.campaign or 'all campaigns'}: {verdict} "
        f"({report.hits_checked} HITs, {report.assignments_checked} assignments, "
        f"{report.bonuses_checked} bonuses checked)",
        caption=caption,
    )
    for header in ("Kind", "HIT", "Assignment", "Worker", "Ours", "Theirs"):
        table.add_column(header, overflow="fold")
    table.add_column("What it means", overflow="fold", ratio=2)
    for difference in report.differences:
        table.add_row(
            difference.kind,
            difference.hit_id or "",
            difference.assignment_id or "",
            difference.worker_id or "",
            difference.ours,
            difference.theirs,
            difference.explanation,
        )
    return table
