"""Tables of the state database.

Two rules shape them. Every side effect on the workforce (create a HIT,
approve, reject, bonus, block, extend) is first written as an ``Action`` row
with a deterministic idempotency key, then carried out, then marked done, so
that a crash anywhere can be resumed without doing anything twice. Money is
only ever written as ``LedgerEntry`` rows in integer cents, appended and never
updated.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import UniqueConstraint
from sqlmodel import Field, SQLModel

from crowd_bridge.timeutil import utcnow


class Campaign(SQLModel, table=True):
    """A registered campaign: its validated configuration as a JSON snapshot."""

    id: str = Field(primary_key=True, max_length=64)
    config_json: str
    config_sha256: str = Field(max_length=64)
    budget_cents: int
    status: str = Field(default="active", max_length=16)
    created_at: datetime = Field(default_factory=utcnow)
    finished_at: datetime | None = None


class Item(SQLModel, table=True):
    """One thing to label; gold items carry their known label."""

    __table_args__ = (UniqueConstraint("campaign_id", "item_id"),)

    id: int | None = Field(default=None, primary_key=True)
    campaign_id: str = Field(foreign_key="campaign.id", index=True, max_length=64)
    item_id: str = Field(max_length=128)
    fields_json: str
    group_key: str | None = Field(default=None, max_length=128)
    is_gold: bool = False
    gold_label: str | None = Field(default=None, max_length=64)


class Hit(SQLModel, table=True):
    """A HIT we planned; ``mturk_hit_id`` is set once the endpoint created it.

    ``status`` moves planned -> publishing -> published -> done. A HIT stuck in
    publishing had its intent stored but no confirmed outcome: it is resolved
    by looking it up on the endpoint before any new create call.
    """

    __table_args__ = (UniqueConstraint("campaign_id", "sequence"),)

    id: int | None = Field(default=None, primary_key=True)
    campaign_id: str = Field(foreign_key="campaign.id", index=True, max_length=64)
    sequence: int
    status: str = Field(default="planned", index=True, max_length=16)
    request_token: str = Field(unique=True, max_length=64)
    mturk_hit_id: str | None = Field(default=None, unique=True, max_length=64)
    max_assignments: int
    reward_cents: int
    reserved_cents: int = 0
    created_at: datetime | None = None
    expires_at: datetime | None = None


class HitItem(SQLModel, table=True):
    """Which items a HIT shows, in order."""

    hit_id: int = Field(foreign_key="hit.id", primary_key=True)
    item_pk: int = Field(foreign_key="item.id", primary_key=True)
    position: int


class Assignment(SQLModel, table=True):
    """A worker's submitted assignment, as last seen on the endpoint."""

    id: str = Field(primary_key=True, max_length=64)
    hit_pk: int = Field(foreign_key="hit.id", index=True)
    campaign_id: str = Field(foreign_key="campaign.id", index=True, max_length=64)
    worker_id: str = Field(index=True, max_length=64)
    status: str = Field(max_length=16)
    accept_time: datetime | None = None
    submit_time: datetime | None = None
    work_time_seconds: float | None = None
    answer_xml: str
    decision: str | None = Field(default=None, max_length=16)


class Answer(SQLModel, table=True):
    """One label a worker gave one item inside an assignment."""

    __table_args__ = (UniqueConstraint("assignment_id", "item_pk"),)

    id: int | None = Field(default=None, primary_key=True)
    assignment_id: str = Field(foreign_key="assignment.id", index=True)
    item_pk: int = Field(foreign_key="item.id", index=True)
    campaign_id: str = Field(index=True, max_length=64)
    worker_id: str = Field(index=True, max_length=64)
    value: str = Field(max_length=64)


class Action(SQLModel, table=True):
    """A side effect on the workforce, recorded before it is made.

    ``key`` is unique per campaign and derived from what the action is about
    (``approve:<assignment id>``), so deciding twice stores one action.
    ``state`` is intended -> sent -> done, or failed with ``error``. ``sent``
    means the call may have taken effect: it is checked on the endpoint before
    being sent again.
    """

    __table_args__ = (UniqueConstraint("campaign_id", "key"),)

    id: int | None = Field(default=None, primary_key=True)
    campaign_id: str = Field(foreign_key="campaign.id", index=True, max_length=64)
    key: str = Field(max_length=160)
    kind: str = Field(index=True, max_length=24)
    state: str = Field(default="intended", index=True, max_length=16)
    hit_pk: int | None = Field(default=None, foreign_key="hit.id")
    assignment_id: str | None = Field(default=None, max_length=64)
    worker_id: str | None = Field(default=None, max_length=64)
    amount_cents: int | None = None
    quantity: int | None = None
    request_token: str | None = Field(default=None, max_length=64)
    reason: str | None = None
    evidence: str | None = None
    attempts: int = 0
    error: str | None = None
    created_at: datetime = Field(default_factory=utcnow)
    done_at: datetime | None = None


class LedgerEntry(SQLModel, table=True):
    """One money movement in integer cents. Rows are appended, never changed.

    Kinds: ``reward`` and ``reward_fee`` when an assignment is approved,
    ``bonus`` and ``bonus_fee`` when a bonus is paid. ``action_id`` is unique
    per kind, so the same approval or bonus can never be booked twice.
    """

    __table_args__ = (UniqueConstraint("action_id", "kind"),)

    id: int | None = Field(default=None, primary_key=True)
    campaign_id: str = Field(foreign_key="campaign.id", index=True, max_length=64)
    kind: str = Field(max_length=16)
    amount_cents: int
    action_id: int = Field(foreign_key="action.id")
    hit_pk: int | None = Field(default=None, foreign_key="hit.id")
    assignment_id: str | None = Field(default=None, max_length=64)
    worker_id: str | None = Field(default=None, max_length=64)
    booked_at: datetime = Field(default_factory=utcnow)


class WorkerScore(SQLModel, table=True):
    """The latest scores of a worker in a campaign and the words behind them."""

    campaign_id: str = Field(foreign_key="campaign.id", primary_key=True)
    worker_id: str = Field(primary_key=True, max_length=64)
    answers: int = 0
    gold_answers: int = 0
    gold_correct: int = 0
    gold_accuracy_mean: float | None = None
    gold_accuracy_low: float | None = None
    gold_accuracy_high: float | None = None
    peer_agreement: float | None = None
    model_agreement: float | None = None
    seconds_per_item: float | None = None
    verdict: str = Field(default="ok", max_length=16)
    evidence: str = ""
    updated_at: datetime = Field(default_factory=utcnow)


class LabelSnapshot(SQLModel, table=True):
    """A versioned export of refined labels to the training store."""

    __table_args__ = (UniqueConstraint("campaign_id", "version"),)

    id: int | None = Field(default=None, primary_key=True)
    campaign_id: str = Field(foreign_key="campaign.id", index=True, max_length=64)
    version: int
    path: str
    method: str = Field(max_length=32)
    items: int
    sha256: str = Field(max_length=64)
    created_at: datetime = Field(default_factory=utcnow)
