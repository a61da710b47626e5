"""Durable endpoint state: one SQLite table of JSON records.

After each request the records that request touched are upserted (or
deleted) in one transaction, so a restart loses nothing that was answered.
Indexes are not stored; they are rebuilt from the records on load.
"""

from __future__ import annotations

import json
import logging
import sqlite3
from collections import defaultdict
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from crowd_bridge.errors import StateError

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
    Qualification,
    QualificationType,
    Record,
    RequestToken,
    Worker,
    WorkerBlock,
)
from .state import EndpointState

logger = logging.getLogger(__name__)

_SCHEMA = """
CREATE TABLE IF NOT EXISTS records (
    kind TEXT NOT NULL,
    key TEXT NOT NULL,
    data TEXT NOT NULL,
    PRIMARY KEY (kind, key)
)
"""


class SqliteStore:
    """Keeps an :class:`EndpointState` in a SQLite file."""

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        # The endpoint touches state from one event loop thread at a time;
        # the connection follows whichever thread that is.
        self._db = sqlite3.connect(self.path, check_same_thread=False)
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute("PRAGMA synchronous=NORMAL")
        self._db.execute(_SCHEMA)
        self._db.commit()

    def load(self, state: EndpointState) -> int:
        """Fill ``state`` from the file; returns how many records were read."""
        grouped: dict[str, list[dict[str, Any]]] = defaultdict(list)
        count = 0
        try:
            for kind, data in self._db.execute("SELECT kind, data FROM records"):
                grouped[kind].append(json.loads(data))
                count += 1
        except (sqlite3.DatabaseError, json.JSONDecodeError) as exc:
            raise StateError(
                f"The endpoint state file {self.path} cannot be read ({exc}); "
                "restore it from a backup or start with a new file."
            ) from exc

        restore_state(state, grouped)
        logger.info("Loaded %d endpoint records from %s", count, self.path)
        return count

    def flush(self, state: EndpointState) -> int:
        """Write every record marked dirty since the last flush."""
        if not state.dirty:
            return 0

        upserts: list[tuple[str, str, str]] = []
        deletes: list[tuple[str, str]] = []
        for kind, key in state.dirty:
            found = record_for(state, kind, key)
            if found is None:
                deletes.append((kind, key))
                continue
            data = found.to_record() if isinstance(found, Record) else found
            upserts.append((kind, key, json.dumps(data, separators=(",", ":"))))

        with self._db:
            self._db.executemany(
                "INSERT INTO records (kind, key, data) VALUES (?, ?, ?) "
                "ON CONFLICT (kind, key) DO UPDATE SET data = excluded.data",
                upserts,
            )
            self._db.executemany(
                "DELETE FROM records WHERE kind = ? AND key = ?", deletes
            )
        state.dirty.clear()
        return len(upserts) + len(deletes)

    def close(self) -> None:
        self._db.close()


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
