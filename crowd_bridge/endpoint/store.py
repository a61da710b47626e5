"""Durable endpoint state: one table of JSON records, on SQLite or PostgreSQL.

After each request the records that request touched are upserted (or
deleted) in one transaction, so a restart loses nothing that was answered.
Indexes are not stored; they are rebuilt from the records on load. The
table also holds the requesters' access keys and secrets (SigV4 needs the
secret itself), so a SQLite file is made readable by its owner only and a
PostgreSQL database should be too.
"""

from __future__ import annotations

import json
import logging
import os
import stat
from collections import defaultdict
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from sqlalchemy import (
    Column,
    MetaData,
    String,
    Table,
    Text,
    create_engine,
    event,
    select,
)
from sqlalchemy import delete as sql_delete
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import Engine, make_url
from sqlalchemy.exc import ArgumentError, SQLAlchemyError

from crowd_bridge.errors import ConfigError, StateError

from .model import (
    ABANDONED,
    ACCEPTED,
    ASSIGNABLE,
    DISPOSED,
    HIT,
    SUBMITTED,
    Account,
    Assignment,
    BonusPayment,
    HITType,
    Notification,
    OrderedIndex,
    OutboxEvent,
    Qualification,
    QualificationType,
    Record,
    RequesterKey,
    RequestToken,
    Worker,
    WorkerBlock,
)
from .state import EndpointState

logger = logging.getLogger(__name__)

_METADATA = MetaData()
RECORDS = Table(
    "endpoint_records",
    _METADATA,
    Column("kind", String(32), primary_key=True),
    Column("key", String(512), primary_key=True),
    Column("data", Text, nullable=False),
)
_OWNER_ONLY = stat.S_IRUSR | stat.S_IWUSR


def sqlite_url(path: str | Path) -> str:
    """The SQLAlchemy URL of a SQLite file."""
    return f"sqlite:///{Path(path)}"


class StateStore:
    """Keeps an :class:`EndpointState` in a database given by SQLAlchemy URL."""

    def __init__(self, url: str) -> None:
        try:
            parsed = make_url(url)
        except ArgumentError as exc:
            raise ConfigError(
                f"The endpoint state URL {url!r} is not a database URL; use "
                "sqlite:///path/to/endpoint.db or postgresql://user@host/db."
            ) from exc
        self.url = url
        self.backend = parsed.get_backend_name()
        if self.backend not in ("sqlite", "postgresql"):
            raise ConfigError(
                f"The endpoint keeps its state in SQLite or PostgreSQL, not "
                f"{self.backend} ({parsed.render_as_string(hide_password=True)})."
            )

        self._file: Path | None = None
        if self.backend == "sqlite" and parsed.database not in (None, "", ":memory:"):
            self._file = Path(parsed.database)
            self._file.parent.mkdir(parents=True, exist_ok=True)
        try:
            self._engine = self._connect(url)
            _METADATA.create_all(self._engine)
        except SQLAlchemyError as exc:
            raise StateError(
                f"The endpoint state database {self.where} cannot be opened ({exc})."
            ) from exc
        self._restrict_file()

    @property
    def where(self) -> str:
        return str(make_url(self.url).render_as_string(hide_password=True))

    def _connect(self, url: str) -> Engine:
        if self.backend != "sqlite":
            return create_engine(url, pool_pre_ping=True)

        # The endpoint touches state from one event loop thread at a time;
        # the connection follows whichever thread that is.
        engine = create_engine(url, connect_args={"check_same_thread": False})

        @event.listens_for(engine, "connect")
        def _pragmas(connection: Any, record: Any) -> None:
            cursor = connection.cursor()
            cursor.execute("PRAGMA journal_mode=WAL")
            cursor.execute("PRAGMA synchronous=NORMAL")
            cursor.close()

        return engine

    def _restrict_file(self) -> None:
        """Make a SQLite file (and its journal) readable by its owner only."""
        if self._file is None:
            return
        for suffix in ("", "-wal", "-shm"):
            path = self._file.with_name(self._file.name + suffix)
            if path.exists():
                os.chmod(path, _OWNER_ONLY)

    def load(self, state: EndpointState) -> int:
        """Fill ``state`` from the database; returns how many records were read."""
        grouped: dict[str, list[dict[str, Any]]] = defaultdict(list)
        count = 0
        try:
            with self._engine.connect() as connection:
                rows = connection.execute(select(RECORDS.c.kind, RECORDS.c.data))
                for kind, data in rows:
                    grouped[kind].append(json.loads(data))
                    count += 1
        except (SQLAlchemyError, json.JSONDecodeError) as exc:
            raise StateError(
                f"The endpoint state in {self.where} cannot be read ({exc}); "
                "restore it from a backup or start with a new database."
            ) from exc

        restore_state(state, grouped)
        logger.info("Loaded %d endpoint records from %s", count, self.where)
        return count

    def read(self, kind: str, key: str) -> dict[str, Any] | None:
        """One stored record, read afresh (for keys added while serving)."""
        query = select(RECORDS.c.data).where(
            RECORDS.c.kind == kind, RECORDS.c.key == key
        )
        with self._engine.connect() as connection:
            data = connection.execute(query).scalar()
        return None if data is None else dict(json.loads(data))

    def write(self, record: RequesterKey) -> None:
        """Store one requester key at once, outside any request."""
        data = json.dumps(record.to_record(), separators=(",", ":"))
        row = {"kind": "requester", "key": record.access_key_id, "data": data}
        with self._engine.begin() as connection:
            connection.execute(self._upsert(), [row])
        self._restrict_file()

    def requester_keys(self) -> list[RequesterKey]:
        query = select(RECORDS.c.data).where(RECORDS.c.kind == "requester")
        with self._engine.connect() as connection:
            rows = connection.execute(query).scalars().all()
        return [RequesterKey.from_record(json.loads(data)) for data in rows]

    def flush(self, state: EndpointState) -> int:
        """Write every record marked dirty since the last flush."""
        if not state.dirty:
            return 0

        upserts: list[dict[str, str]] = []
        deletes: list[tuple[str, str]] = []
        for kind, key in state.dirty:
            found = record_for(state, kind, key)
            if found is None:
                deletes.append((kind, key))
                continue
            data = found.to_record() if isinstance(found, Record) else found
            upserts.append(
                {
                    "kind": kind,
                    "key": key,
                    "data": json.dumps(data, separators=(",", ":")),
                }
            )

        with self._engine.begin() as connection:
            if upserts:
                connection.execute(self._upsert(), upserts)
            for kind, key in deletes:
                connection.execute(
                    sql_delete(RECORDS).where(
                        RECORDS.c.kind == kind, RECORDS.c.key == key
                    )
                )
        state.dirty.clear()
        return len(upserts) + len(deletes)

    def _upsert(self) -> Any:
        dialect = sqlite if self.backend == "sqlite" else postgresql
        statement = dialect.insert(RECORDS)
        return statement.on_conflict_do_update(
            index_elements=[RECORDS.c.kind, RECORDS.c.key],
            set_={"data": statement.excluded.data},
        )

    def close(self) -> None:
        self._restrict_file()
        self._engine.dispose()


def record_for(
    state: EndpointState, kind: str, key: str
) -> Record | dict[str, Any] | None:
    """The current record behind a dirty mark (None once deleted)."""
    if kind == "meta":
        return {
            "seq": state.seq,
            "ids": state.ids.counters,
            "clock_now": state.clock_now,
            "counters": state.counters,
        }
    tables: dict[str, Mapping[str, Record]] = {
        "account": state.accounts,
        "hittype": state.hit_types,
        "hit": state.hits,
        "assignment": state.assignments,
        "worker": state.workers,
        "qualtype": state.qualification_types,
        "bonus": state.bonuses,
        "notification": state.notifications,
        "requester": state.requester_keys,
        "outbox": state.outbox,
    }
    if kind in tables:
        return tables[kind].get(key)
    if kind == "qual":
        type_id, worker_id = key.split("|")
        return state.qualifications.get((type_id, worker_id))
    if kind == "block":
        requester, worker_id = key.split("|")
        return state.blocks.get((requester, worker_id))
    if kind == "token":
        requester, operation, token = key.split("|", 2)
        return state.tokens.get((requester, operation, token))
    return None


def restore_state(
    state: EndpointState, records: Mapping[str, list[dict[str, Any]]]
) -> None:
    """Rebuild every record and index from what the store loaded."""
    for meta in records.get("meta", []):
        state.seq = meta["seq"]
        state.ids.counters = dict(meta["ids"])
        state.clock_now = meta.get("clock_now")
        state.counters.update(meta["counters"])

    for data in records.get("account", []):
        state.accounts[data["access_key_id"]] = Account.from_record(data)
    for data in records.get("worker", []):
        state.workers[data["worker_id"]] = Worker.from_record(data)
    for data in records.get("hittype", []):
        state.hit_types[data["hit_type_id"]] = HITType.from_record(data)
    for data in sorted(records.get("qualtype", []), key=lambda d: d["seq"]):
        qual_type = QualificationType.from_record(data)
        state.qualification_types[qual_type.qualification_type_id] = qual_type
        if not qual_type.deleted:
            type_id = qual_type.qualification_type_id
            state.book(qual_type.owner).qualification_types.add(type_id)
            state.all_qualification_types.add(type_id)
    for data in sorted(records.get("qual", []), key=lambda d: d["seq"]):
        qualification = Qualification.from_record(data)
        key = (qualification.qualification_type_id, qualification.worker_id)
        state.qualifications[key] = qualification
        state.qualified.setdefault(key[0], OrderedIndex()).add(key[1])
    for data in sorted(records.get("block", []), key=lambda d: d["seq"]):
        block = WorkerBlock.from_record(data)
        state.blocks[(block.requester, block.worker_id)] = block
        state.book(block.requester).blocks.add(block.worker_id)

    _restore_hits(state, records)

    for data in sorted(records.get("bonus", []), key=lambda d: d["seq"]):
        state.index_bonus(BonusPayment.from_record(data))
    for data in records.get("token", []):
        token = RequestToken.from_record(data)
        state.tokens[(token.requester, token.operation, token.token)] = token
    for data in records.get("notification", []):
        notification = Notification.from_record(data)
        state.notifications[notification.notification_id] = notification
    for data in records.get("requester", []):
        requester_key = RequesterKey.from_record(data)
        state.requester_keys[requester_key.access_key_id] = requester_key
    for data in sorted(records.get("outbox", []), key=lambda d: d["seq"]):
        outbox_event = OutboxEvent.from_record(data)
        state.outbox[outbox_event.event_id] = outbox_event
    state.dirty.clear()


def _restore_hits(
    state: EndpointState, records: Mapping[str, list[dict[str, Any]]]
) -> None:
    for data in sorted(records.get("hit", []), key=lambda d: d["seq"]):
        hit = HIT.from_record(data)
        state.index_hit(hit)
        if hit.status != DISPOSED:
            state.push_event(hit.expiration, "expire", hit.hit_id)

    assignments = [Assignment.from_record(d) for d in records.get("assignment", [])]
    assignments.sort(key=lambda a: (a.submit_seq or 0, a.seq))
    for assignment in assignments:
        state.assignments[assignment.assignment_id] = assignment
        hit = state.hits[assignment.hit_id]
        hit.worker_ids.add(assignment.worker_id)
        if assignment.status == ACCEPTED:
            hit.pending += 1
            state.push_event(assignment.deadline, "deadline", assignment.assignment_id)
            continue
        if assignment.status == ABANDONED:
            continue
        hit.submitted += 1
        state.visible[hit.hit_id].add(assignment.assignment_id)
        state.book(hit.requester).workers_seen.add(assignment.worker_id)
        if assignment.status == SUBMITTED:
            assert assignment.auto_approval_time is not None
            state.push_event(
                assignment.auto_approval_time, "approve", assignment.assignment_id
            )
        else:
            hit.completed += 1

    for hit in state.hits.values():
        if hit.status == ASSIGNABLE:
            state.announce(hit.hit_id)
