"""What crowd_bridge has paid and still owes, by campaign, by day and by worker.

Paid money comes only from the ledger, so every total here is a ledger sum.
Rejected work and pending liabilities come from the state tables: rejected
assignments (with the reward they did not earn), submitted assignments not yet
decided or awaiting approval, and bonuses decided but not yet paid.

Days are UTC calendar days. Paid money is dated by ``booked_at``, rejected work
by the day its rejection was carried out (else its submit time), pending
assignments by their submit time and pending bonuses by the day they were
decided. Dating every figure means the by-day rows add up to the same totals
as the by-campaign and by-worker rows, and one date range filters all of them.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Iterable
from dataclasses import dataclass, field, fields
from datetime import date, datetime, time, timedelta, timezone
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

from sqlalchemy import func
from sqlalchemy.engine import Engine
from sqlmodel import Session, and_, col, select

from crowd_bridge.campaign import MASTERS_TYPE_IDS, SYSTEM_QUALIFICATIONS
from crowd_bridge.db.models import Action, Assignment, Campaign, Hit, LedgerEntry
from crowd_bridge.db.session import session_scope
from crowd_bridge.errors import ConfigError, StateError
from crowd_bridge.finance.render import dollars_text, row_dict, to_csv, to_table
from crowd_bridge.money import FeeSchedule

logger = logging.getLogger(__name__)

__all__ = [
    "FinanceReport",
    "FinanceRow",
    "dollars_text",
    "finance_report",
    "row_dict",
    "to_csv",
    "to_table",
]

LEDGER_KINDS = ("reward", "reward_fee", "bonus", "bonus_fee")
UNDATED = "undated"
UNKNOWN_WORKER = "(unknown)"
_SECONDS_PER_HOUR = Decimal(3600)


@dataclass
class FinanceRow:
    """The money of one campaign, one day or one worker (or of everything).

    ``key`` is the campaign id, the ISO day (or ``undated``) or the worker id.
    All amounts are integer cents; ``work_seconds`` is the work time of the
    approved assignments whose reward is counted in this row.
    """

    key: str
    approved_assignments: int = 0
    rewards_cents: int = 0
    reward_fees_cents: int = 0
    bonuses: int = 0
    bonuses_cents: int = 0
    bonus_fees_cents: int = 0
    rejected_assignments: int = 0
    rejected_reward_cents: int = 0
    pending_assignments: int = 0
    pending_bonuses: int = 0
    pending_cents: int = 0
    work_seconds: Decimal = Decimal(0)

    @property
    def fees_cents(self) -> int:
        return self.reward_fees_cents + self.bonus_fees_cents

    @property
    def total_paid_cents(self) -> int:
        """Rewards, bonuses and every fee: what left the requester's account."""
        return self.rewards_cents + self.bonuses_cents + self.fees_cents

    @property
    def worker_earnings_cents(self) -> int:
        """What the workers received: rewards and bonuses, without fees."""
        return self.rewards_cents + self.bonuses_cents

    @property
    def hourly_cents(self) -> int | None:
        """Effective pay per hour of approved work, rounded to a whole cent.

        None when no approved work time is known: a rate over zero seconds
        would be a made-up number.
        """
        if self.work_seconds <= 0:
            return None
        rate = Decimal(self.worker_earnings_cents) * _SECONDS_PER_HOUR
        return int((rate / self.work_seconds).quantize(Decimal(1), ROUND_HALF_UP))

    def add(self, other: FinanceRow) -> None:
        for name in _COUNTED:
            setattr(self, name, getattr(self, name) + getattr(other, name))


_COUNTED = tuple(f.name for f in fields(FinanceRow) if f.name != "key")


@dataclass
class FinanceReport:
    """Rows by campaign, day and worker, their totals, and the raw ledger sums.

    ``ledger_cents`` is summed by the database itself, independently of the
    rows; :func:`finance_report` refuses to return a report whose totals
    differ from it by a single cent.
    """

    campaign: str | None
    date_from: date | None
    date_to: date | None
    generated_at: datetime
    by_campaign: list[FinanceRow]
    by_day: list[FinanceRow]
    by_worker: list[FinanceRow]
    totals: FinanceRow
    ledger_cents: dict[str, int] = field(default_factory=dict)

    @property
    def ledger_total_cents(self) -> int:
        return sum(self.ledger_cents.values())

    def sections(self) -> list[tuple[str, list[FinanceRow]]]:
        return [
            ("campaign", self.by_campaign),
            ("day", self.by_day),
            ("worker", self.by_worker),
            ("total", [self.totals]),
        ]

    def to_dict(self) -> dict[str, Any]:
        """Plain data for JSON: every row with its derived figures."""
        return {
            "campaign": self.campaign,
            "date_from": self.date_from.isoformat() if self.date_from else None,
            "date_to": self.date_to.isoformat() if self.date_to else None,
            "generated_at": self.generated_at.isoformat(),
            "ledger_cents": dict(self.ledger_cents),
            "totals": row_dict(self.totals),
            "by_campaign": [row_dict(row) for row in self.by_campaign],
            "by_day": [row_dict(row) for row in self.by_day],
            "by_worker": [row_dict(row) for row in self.by_worker],
        }


class _Tally:
    """Adds each dated fact to its campaign, day and worker rows at once."""

    def __init__(self) -> None:
        self.campaigns: dict[str, FinanceRow] = {}
        self.days: dict[str, FinanceRow] = {}
        self.workers: dict[str, FinanceRow] = {}

    def rows(
        self, campaign_id: str, day: str, worker_id: str | None
    ) -> Iterable[FinanceRow]:
        worker = worker_id or UNKNOWN_WORKER
        for table, key in (
            (self.campaigns, campaign_id),
            (self.days, day),
            (self.workers, worker),
        ):
            if key not in table:
                table[key] = FinanceRow(key=key)
            yield table[key]


@dataclass(frozen=True)
class _Range:
    """A UTC day range, inclusive at both ends; open where a bound is None."""

    first: date | None
    last: date | None

    def contains(self, day: date | None) -> bool:
        if day is None:
            return self.first is None and self.last is None
        if self.first is not None and day < self.first:
            return False
        return self.last is None or day <= self.last

    # Bounds are aware UTC instants: they compare correctly with columns that
    # store naive UTC and with columns that insist on timezone-aware values.
    def start(self) -> datetime | None:
        if self.first is None:
            return None
        return datetime.combine(self.first, time.min, tzinfo=timezone.utc)

    def end(self) -> datetime | None:
        """The first instant after the range (exclusive bound)."""
        if self.last is None:
            return None
        following = self.last + timedelta(days=1)
        return datetime.combine(following, time.min, tzinfo=timezone.utc)


def finance_report(
    engine: Engine,
    campaign: str | None = None,
    date_from: date | None = None,
    date_to: date | None = None,
    *,
    fees: FeeSchedule | None = None,
) -> FinanceReport:
    """Paid, rejected and pending money, grouped three ways.

    ``date_from`` and ``date_to`` are UTC days, both included. ``fees`` prices
    pending liabilities (paid fees are read from the ledger as booked).
    Raises :class:`ConfigError` for an unknown campaign or a reversed range,
    and :class:`StateError` if the grouped totals disagree with the ledger.
    """
    fees = fees or FeeSchedule()
    days = _Range(_as_day(date_from), _as_day(date_to))
    if days.first and days.last and days.first > days.last:
        raise ConfigError(
            f"The report range starts on {days.first} after it ends on {days.last}; "
            "swap --from and --to."
        )
    tally = _Tally()
    with session_scope(_one_snapshot(engine)) as session:
        masters = _masters_by_campaign(session, campaign)
        _count_paid(session, tally, campaign, days)
        _count_work_time(session, tally, campaign, days)
        _count_rejected(session, tally, campaign, days)
        _count_pending(session, tally, campaign, days, fees, masters)
        ledger = _ledger_sums(session, campaign, days)

    totals = FinanceRow(key="total")
    for row in tally.campaigns.values():
        totals.add(row)
    report = FinanceReport(
        campaign=campaign,
        date_from=days.first,
        date_to=days.last,
        generated_at=datetime.now(timezone.utc).replace(microsecond=0),
        by_campaign=sorted(tally.campaigns.values(), key=lambda row: row.key),
        by_day=sorted(tally.days.values(), key=_day_order),
        by_worker=sorted(tally.workers.values(), key=lambda row: row.key),
        totals=totals,
        ledger_cents=ledger,
    )
    _check_against_ledger(report)
    logger.debug(
        "finance report for campaign %s: %d campaigns, %d days, %d workers, "
        "%d cents paid",
        campaign or "(all)",
        len(report.by_campaign),
        len(report.by_day),
        len(report.by_worker),
        totals.total_paid_cents,
    )
    return report


def _one_snapshot(engine: Engine) -> Engine:
    """On PostgreSQL, let every query of one report read the same snapshot.

    Otherwise an approval booked between two queries could make the grouped
    totals and the ledger sums disagree, and the report would be refused.
    """
    if engine.dialect.name == "postgresql":
        return engine.execution_options(isolation_level="REPEATABLE READ")
    return engine


def _as_day(value: date | None) -> date | None:
    # A datetime is also a date; a range is whole days, so drop the time.
    if isinstance(value, datetime):
        return value.date()
    return value


def _day_order(row: FinanceRow) -> tuple[int, str]:
    return (1 if row.key == UNDATED else 0, row.key)


def _utc_day(moment: datetime | None) -> date | None:
    if moment is None:
        return None
    if moment.tzinfo is not None:
        moment = moment.astimezone(timezone.utc)
    return moment.date()


def _day_key(day: date | None) -> str:
    return day.isoformat() if day else UNDATED


def _masters_by_campaign(session: Session, campaign: str | None) -> dict[str, bool]:
    query = select(Campaign.id, Campaign.config_json)
    if campaign is not None:
        query = query.where(Campaign.id == campaign)
    rows = session.exec(query).all()
    if campaign is not None and not rows:
        known = session.exec(select(Campaign.id).order_by(Campaign.id)).all()
        raise ConfigError(
            f"There is no campaign named {campaign!r} in the state database "
            f"(known: {', '.join(known) or 'none'})."
        )
    return {campaign_id: _is_masters(config) for campaign_id, config in rows}


def _is_masters(config_json: str) -> bool:
    """Whether a stored campaign configuration requires Masters (higher fees)."""
    try:
        config = json.loads(config_json)
    except ValueError:
        return False
    for qualification in config.get("qualifications") or []:
        kind = str(qualification.get("type", ""))
        if SYSTEM_QUALIFICATIONS.get(kind, kind) in MASTERS_TYPE_IDS:
            return True
    return False


def _ledger_filter(campaign: str | None, days: _Range) -> list[Any]:
    where: list[Any] = []
    if campaign is not None:
        where.append(LedgerEntry.campaign_id == campaign)
    start, end = days.start(), days.end()
    if start is not None:
        where.append(LedgerEntry.booked_at >= start)
    if end is not None:
        where.append(LedgerEntry.booked_at < end)
    return where


def _count_paid(
    session: Session, tally: _Tally, campaign: str | None, days: _Range
) -> None:
    entries = session.exec(
        select(  # type: ignore[call-overload]
            LedgerEntry.id,
            LedgerEntry.campaign_id,
            LedgerEntry.worker_id,
            LedgerEntry.kind,
            LedgerEntry.amount_cents,
            LedgerEntry.booked_at,
        ).where(*_ledger_filter(campaign, days))
    ).all()
    for entry_id, campaign_id, worker_id, kind, cents, booked_at in entries:
        if kind not in LEDGER_KINDS:
            raise StateError(
                f"Ledger entry {entry_id} of campaign {campaign_id} has kind "
                f"{kind!r}; only {', '.join(LEDGER_KINDS)} are booked. The report "
                "will not total money it cannot classify."
            )
        day = _day_key(_utc_day(booked_at))
        for row in tally.rows(campaign_id, day, worker_id):
            if kind == "reward":
                row.approved_assignments += 1
                row.rewards_cents += cents
            elif kind == "reward_fee":
                row.reward_fees_cents += cents
            elif kind == "bonus":
                row.bonuses += 1
                row.bonuses_cents += cents
            else:
                row.bonus_fees_cents += cents


def _count_work_time(
    session: Session, tally: _Tally, campaign: str | None, days: _Range
) -> None:
    """Work time of every assignment whose reward is in the report."""
    rows = session.exec(
        select(  # type: ignore[call-overload]
            LedgerEntry.campaign_id,
            LedgerEntry.worker_id,
            LedgerEntry.booked_at,
            Assignment.work_time_seconds,
            Assignment.accept_time,
            Assignment.submit_time,
        )
        .join(Assignment, Assignment.id == LedgerEntry.assignment_id)
        .where(LedgerEntry.kind == "reward", *_ledger_filter(campaign, days))
    ).all()
    for campaign_id, worker_id, booked_at, seconds, accepted, submitted in rows:
        if seconds is None and accepted and submitted:
            seconds = (submitted - accepted).total_seconds()
        if seconds is None or seconds <= 0:
            continue
        # str() keeps the float's shortest exact spelling, so sums are stable.
        worked = Decimal(str(seconds))
        day = _day_key(_utc_day(booked_at))
        for row in tally.rows(campaign_id, day, worker_id):
            row.work_seconds += worked


def _count_rejected(
    session: Session, tally: _Tally, campaign: str | None, days: _Range
) -> None:
    rejection = and_(
        Action.assignment_id == Assignment.id,
        Action.kind == "reject",
        Action.state == "done",
    )
    query = (
        select(  # type: ignore[call-overload]
            Assignment.id,
            Assignment.campaign_id,
            Assignment.worker_id,
            Assignment.submit_time,
            Hit.reward_cents,
            func.max(Action.done_at),
        )
        .join(Hit, Hit.id == Assignment.hit_pk)  # type: ignore[arg-type]
        .outerjoin(Action, rejection)
        .where(Assignment.status == "Rejected")
        .group_by(
            Assignment.id,
            Assignment.campaign_id,
            Assignment.worker_id,
            Assignment.submit_time,
            Hit.reward_cents,
        )
    )
    if campaign is not None:
        query = query.where(Assignment.campaign_id == campaign)
    for _id, campaign_id, worker_id, submitted, reward, rejected_at in session.exec(
        query
    ).all():
        day = _utc_day(rejected_at or submitted)
        if not days.contains(day):
            continue
        for row in tally.rows(campaign_id, _day_key(day), worker_id):
            row.rejected_assignments += 1
            row.rejected_reward_cents += reward


def _count_pending(
    session: Session,
    tally: _Tally,
    campaign: str | None,
    days: _Range,
    fees: FeeSchedule,
    masters: dict[str, bool],
) -> None:
    """What decided-but-unpaid and undecided work will cost when it is paid.

    A submitted assignment is owed unless we decided to reject it: MTurk
    approves it on its own once the auto-approval delay passes.
    """
    assignments = select(  # type: ignore[call-overload]
        Assignment.campaign_id,
        Assignment.worker_id,
        Assignment.submit_time,
        Hit.reward_cents,
        Hit.max_assignments,
    ).join(Hit, Hit.id == Assignment.hit_pk)  # type: ignore[arg-type]
    assignments = assignments.where(
        Assignment.status == "Submitted",
        col(Assignment.decision).is_(None) | (col(Assignment.decision) != "reject"),
    )
    bonuses = select(
        Action.campaign_id, Action.worker_id, Action.created_at, Action.amount_cents
    ).where(
        Action.kind == "bonus",
        Action.state.in_(("intended", "sent")),  # type: ignore[attr-defined]
    )
    if campaign is not None:
        assignments = assignments.where(Assignment.campaign_id == campaign)
        bonuses = bonuses.where(Action.campaign_id == campaign)

    for campaign_id, worker_id, submitted, reward, size in session.exec(
        assignments
    ).all():
        day = _utc_day(submitted)
        if not days.contains(day):
            continue
        is_masters = masters.get(campaign_id, False)
        cost = fees.assignment_cost(reward, size, masters=is_masters)
        for row in tally.rows(campaign_id, _day_key(day), worker_id):
            row.pending_assignments += 1
            row.pending_cents += cost

    for campaign_id, worker_id, created, cents in session.exec(bonuses).all():
        day = _utc_day(created)
        if not cents or not days.contains(day):
            continue
        fee = fees.bonus_fee(cents, masters=masters.get(campaign_id, False))
        for row in tally.rows(campaign_id, _day_key(day), worker_id):
            row.pending_bonuses += 1
            row.pending_cents += cents + fee


def _ledger_sums(
    session: Session, campaign: str | None, days: _Range
) -> dict[str, int]:
    sums = session.exec(
        select(LedgerEntry.kind, func.sum(LedgerEntry.amount_cents))
        .where(*_ledger_filter(campaign, days))
        .group_by(LedgerEntry.kind)
    ).all()
    found = {str(kind): int(total or 0) for kind, total in sums}
    return {kind: found.get(kind, 0) for kind in LEDGER_KINDS} | found


def _check_against_ledger(report: FinanceReport) -> None:
    """Refuse a report whose totals are not the ledger's own sums."""
    totals, ledger = report.totals, report.ledger_cents
    grouped = {
        "reward": totals.rewards_cents,
        "reward_fee": totals.reward_fees_cents,
        "bonus": totals.bonuses_cents,
        "bonus_fee": totals.bonus_fees_cents,
    }
    for section, rows in (("day", report.by_day), ("worker", report.by_worker)):
        paid = sum(row.total_paid_cents for row in rows)
        if paid != totals.total_paid_cents:
            raise StateError(
                f"The by-{section} rows add up to {paid} cents but the campaigns "
                f"to {totals.total_paid_cents}; the report is not consistent."
            )
    if grouped != {kind: ledger.get(kind, 0) for kind in grouped}:
        raise StateError(
            f"The report's totals {grouped} differ from the ledger's sums {ledger}; "
            "ledger rows changed while the report was being read, run it again."
        )
