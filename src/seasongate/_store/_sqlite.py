"""The SQLite store: one file, no server; processes share it through WAL mode.

Every write is one ``BEGIN IMMEDIATE`` transaction, which takes the database's single write
lock up front: the override rules are checked and the audit chain is extended while no one
else can write, so concurrent approvals, revocations and appends stay consistent. Readers
are never blocked (WAL). The identity is the OS user; roles come from the policy's roster.
"""

from __future__ import annotations

import getpass
import json
import os
import sqlite3
import time
from collections.abc import Iterator, Mapping, Sequence
from contextlib import AbstractContextManager, contextmanager
from dataclasses import replace
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from seasongate._errors import StoreError
from seasongate._store._audit import GENESIS, AuditEntry, entry_hash, payload_json
from seasongate._store._base import BaseStore, approval_from_row, claim_decision, parse_head, record_from_row
from seasongate._store._sqlite_schema import OVERRIDE_COLUMNS, SCHEMA, SELECT_AUDIT, read_entry, read_ts
from seasongate._time import iso, to_ts

if TYPE_CHECKING:
    from seasongate._overrides import Closing, OverrideRecord, Roster

# The override rules load where an override is read or changed (see ``_base``): a check
# only opens the store, finds no override in force and appends its decision.

BUSY_TIMEOUT_MS = 30_000
# An append's statements (the same text each time: sqlite3 keeps them prepared). The trail's
# last entry and the stored head are read together; either may be missing.
_TAIL = (
    "SELECT h.value, a.seq, a.at, a.hash FROM (SELECT 1) "
    "LEFT JOIN meta h ON h.key = 'audit_head' "
    "LEFT JOIN (SELECT seq, at, hash FROM audit ORDER BY seq DESC LIMIT 1) a ON 1"
)
# The starts about a database that no outcome names. An entry that is not JSON (changed behind
# seasongate's back: audit verify reports it) names nothing and is about no database.
_UNSETTLED = (
    f"{SELECT_AUDIT} WHERE action = 'migration.start' "
    "AND CASE WHEN json_valid(payload) THEN json_extract(payload, '$.database') END = ? "
    "AND seq NOT IN (SELECT json_extract(payload, '$.start_seq') FROM audit WHERE json_valid(payload) "
    "AND action IN ('migration.apply', 'migration.rollback') AND json_extract(payload, '$.start_seq') IS NOT NULL) "
    "ORDER BY seq"
)
_INSERT_ENTRY = (
    "INSERT INTO audit (seq, at, actor, action, subject, payload, prev_hash, hash) VALUES (?, ?, ?, ?, ?, ?, ?, ?)"
)
_SET_HEAD = (
    "INSERT INTO meta (key, value) VALUES ('audit_head', ?) ON CONFLICT (key) DO UPDATE SET value = excluded.value"
)
_SETUP_ATTEMPTS = 400  # of 20-50 ms: up to about 10-20 s for the first open under contention


def _is_busy(exc: sqlite3.OperationalError) -> bool:
    text = str(exc).lower()
    return "locked" in text or "busy" in text


class SQLiteStore(BaseStore):
    """The store in one SQLite file."""

    backend = "sqlite"

    def __init__(self, conn: sqlite3.Connection, path: Path, display: str) -> None:
        self._conn = conn
        self.path = path
        self.url = display
        self._file_id: tuple[int, int] | None = None  # (device, inode) of the file opened
        # The OS user is read once, when the store is opened: one process, one person.
        self._user: str | None = None
        self._user_error = ""
        try:
            self._user = getpass.getuser()
        except (OSError, KeyError) as exc:
            self._user_error = str(exc)

    # -- opening -----------------------------------------------------------------------------

    @classmethod
    def open(cls, path: Path, *, display: str) -> SQLiteStore:
        """Open ``path`` (creating the file and its directory) and bring its schema up to date."""
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            conn = sqlite3.connect(
                str(path), timeout=BUSY_TIMEOUT_MS / 1000, isolation_level=None,
                check_same_thread=False,
            )  # fmt: skip
        except (OSError, sqlite3.Error) as exc:
            raise StoreError(f"cannot open the SQLite store {path}: {exc}") from exc
        store = cls(conn, path, display)
        try:
            stat = os.stat(path)
            store._file_id = (stat.st_dev, stat.st_ino)
            store._setup()
        except (OSError, sqlite3.Error) as exc:
            conn.close()
            raise StoreError(f"cannot open the SQLite store {path}: {exc}") from exc
        except StoreError:
            conn.close()
            raise
        return store

    def _setup(self) -> None:
        conn = self._conn
        conn.execute(f"PRAGMA busy_timeout = {BUSY_TIMEOUT_MS}")
        conn.execute("PRAGMA foreign_keys = ON")
        # Switching a new file to WAL takes an exclusive lock that SQLite does not wait for
        # (no busy handler) when several processes open the file for the first time at once:
        # retry briefly. Once the file is in WAL mode, this is a no-op that never blocks.
        for attempt in range(_SETUP_ATTEMPTS):
            try:
                mode = conn.execute("PRAGMA journal_mode = WAL").fetchone()
                conn.execute("PRAGMA synchronous = NORMAL")
                self._upgrade_schema()
                break
            except sqlite3.OperationalError as exc:
                if not _is_busy(exc) or attempt == _SETUP_ATTEMPTS - 1:
                    raise
                if conn.in_transaction:
                    conn.execute("ROLLBACK")
                import random  # only under contention

                time.sleep(0.02 + 0.03 * random.random())
        if mode is None or str(mode[0]).lower() != "wal":
            raise StoreError(
                f"the SQLite store {self.path} cannot use WAL mode (journal mode "
                f"{mode[0] if mode else '?'}): put it on a local file system"
            )

    def _read_version(self) -> int:
        try:
            row = self._conn.execute("SELECT value FROM meta WHERE key = 'schema_version'").fetchone()
        except sqlite3.OperationalError as exc:
            if "no such table" in str(exc):
                return 0
            raise
        return int(row[0]) if row else 0

    @contextmanager
    def _upgrade_lock(self) -> Iterator[None]:
        # BEGIN IMMEDIATE: two processes creating the schema at once take turns; the second
        # sees the first one's version and does nothing.
        with self._write():
            yield

    def _run_schema_step(self, version: int) -> None:
        for statement in SCHEMA[version].split(";"):
            if statement.strip():
                self._conn.execute(statement)
        self._conn.execute(
            "INSERT INTO meta (key, value) VALUES ('schema_version', ?) "
            "ON CONFLICT (key) DO UPDATE SET value = excluded.value",
            (str(version),),
        )

    def _kind(self, exc: BaseException) -> str | None:
        if isinstance(exc, sqlite3.OperationalError) and _is_busy(exc):
            return "busy"
        if isinstance(exc, sqlite3.IntegrityError) and "UNIQUE" in str(exc):
            return "23505"
        return "" if isinstance(exc, sqlite3.Error) else None

    @property
    def label(self) -> str:
        """``SQLite store PATH``."""
        return f"SQLite store {self.path}"

    def _message(self, exc: BaseException) -> str:
        return str(exc)

    def _busy_detail(self) -> str:
        return f"; another process has held the file's write lock for more than {BUSY_TIMEOUT_MS // 1000} s"

    @contextmanager
    def _write(self) -> Iterator[sqlite3.Connection]:
        """One write transaction holding the database's write lock from its first statement."""
        conn = self._conn
        conn.execute("BEGIN IMMEDIATE")
        try:
            self._check_same_file()
            yield conn
        except BaseException:
            conn.execute("ROLLBACK")
            raise
        conn.execute("COMMIT")

    def _check_same_file(self) -> None:
        """Refuse to write into a file that was deleted or replaced since it was opened: the
        entries would be lost with it (a ``migrate`` must fail, not exit 0)."""
        try:
            now = os.stat(self.path)
        except OSError:
            now = None
        if now is None or (now.st_dev, now.st_ino) != self._file_id:
            raise StoreError(
                f"the SQLite store {self.path} was deleted or replaced while seasongate had it open; "
                "nothing was written. Run seasongate audit verify --head/--against to see what is missing."
            )

    @contextmanager
    def _read(self) -> Iterator[sqlite3.Connection]:
        """A read transaction: one consistent snapshot across several statements."""
        conn = self._conn
        conn.execute("BEGIN")
        try:
            yield conn
        finally:
            conn.execute("COMMIT")

    def identity(self) -> str:
        """The OS user when the store was opened (``getpass.getuser``: ``$LOGNAME``, ``$USER``,
        ..., then the password database)."""
        if self._user is None or not self._user.strip():
            raise StoreError(f"cannot tell who you are (no OS user name) {self._user_error}")
        return self._user

    def close(self) -> None:
        """Close the connection."""
        self._conn.close()

    # -- audit -------------------------------------------------------------------------------

    def _append(self, conn: sqlite3.Connection, action: str, subject: str, text: str, at: int) -> AuditEntry:
        """Extend the chain by one entry as :meth:`identity` (see :meth:`_extend`)."""
        return self._extend(conn, ((action, subject, text),), at)[-1]

    def _extend(self, conn: sqlite3.Connection, entries: Sequence[tuple[str, str, str]], at: int) -> list[AuditEntry]:
        """Extend the chain with ``(action, subject, payload text)`` entries as :meth:`identity`;
        the caller holds the write lock (``_write``).

        The time is ``at`` or, if later, the previous entry's: audit times never go
        backwards. Refuses when the trail does not end where seasongate left it (the stored
        head): an append must never paper over entries deleted or changed behind its back.
        One read of the trail's end and the head, the entries, one write of the new head."""
        actor = self.identity()
        head, last_seq, last_at, last_hash = conn.execute(_TAIL).fetchone()
        expected = None if last_seq is None else (int(last_seq), str(last_hash))
        if parse_head(head) != expected:
            from seasongate._overrides import REFUSALS

            raise REFUSALS["trail_changed"]()
        if expected is None:
            seq, prev = 1, GENESIS
        else:
            seq, prev = expected[0] + 1, expected[1]
            at = max(at, read_ts(last_at))
        out: list[AuditEntry] = []
        for action, subject, text in entries:
            digest = entry_hash(seq, at, actor, action, subject, text, prev)
            out.append(AuditEntry(seq, at, actor, action, subject, text, prev, digest))
            seq, prev = seq + 1, digest
        stamp = iso(at)
        rows = [(e.seq, stamp, actor, e.action, e.subject, e.payload_text, e.prev_hash, e.hash) for e in out]
        conn.executemany(_INSERT_ENTRY, rows)
        conn.execute(_SET_HEAD, (f"{out[-1].seq}:{out[-1].hash}",))
        return out

    def _stamp(self, conn: sqlite3.Connection, ts: int) -> int:
        """When a change made under the write lock happens: ``ts``, or the last entry's time
        if that is later (audit times never go backwards; tables and chain agree)."""
        row = conn.execute("SELECT at FROM audit ORDER BY seq DESC LIMIT 1").fetchone()
        return ts if row is None else max(ts, read_ts(row[0]))

    def _append_entry(self, action: str, subject: str, payload_text: str, at: datetime) -> AuditEntry:
        return self._append_entries(((action, subject, payload_text),), at)[0]

    def _append_entries(self, entries: Sequence[tuple[str, str, str]], at: datetime) -> list[AuditEntry]:
        """One write transaction for all of them: a migration's outcome and the next one's
        start cost one commit."""
        with self._write() as conn:
            return self._extend(conn, entries, to_ts(at))

    def _select_unsettled(self, database: str) -> list[AuditEntry]:
        return [read_entry(r) for r in self._conn.execute(_UNSETTLED, (database,)).fetchall()]

    def _count_entries(self) -> int:
        return int(self._conn.execute("SELECT count(*) FROM audit").fetchone()[0])

    def _stored_head(self) -> str | None:
        head = self._conn.execute("SELECT value FROM meta WHERE key = 'audit_head'").fetchone()
        return None if head is None else str(head[0])

    def _select_entries(self, where: str, params: Sequence[Any]) -> list[AuditEntry]:
        sql = f"{SELECT_AUDIT} WHERE {where} ORDER BY seq" if where else f"{SELECT_AUDIT} ORDER BY seq"
        return [read_entry(r) for r in self._conn.execute(sql, tuple(params)).fetchall()]

    def _among(self, column: str, values: Sequence[Any]) -> tuple[str, list[Any]]:
        return f"{column} IN ({','.join('?' * len(values))})", list(values)

    def _instant(self, ts: int) -> Any:
        return iso(ts)

    def _snapshot(self) -> AbstractContextManager[object]:
        return self._read()

    # -- overrides ---------------------------------------------------------------------------

    def _load(self, conn: sqlite3.Connection, where: str, params: tuple[Any, ...]) -> list[OverrideRecord]:
        rows = conn.execute(
            f"SELECT {OVERRIDE_COLUMNS} FROM overrides {where} ORDER BY created_at, id", params
        ).fetchall()
        if not rows:
            return []
        ids = [r[0] for r in rows]
        marks = ",".join("?" * len(ids))
        approvals: dict[str, list[Any]] = {i: [] for i in ids}
        for oid, approver, approved_at, comment, roles in conn.execute(
            "SELECT override_id, approver, approved_at, comment, roles FROM approvals "
            f"WHERE override_id IN ({marks}) ORDER BY approved_at, approver",
            ids,
        ):
            approvals[oid].append(approval_from_row(approver, approved_at, comment, roles, read_ts))
        return [record_from_row(r, approvals[r[0]], read_ts) for r in rows]

    def _get(self, conn: sqlite3.Connection, override_id: str) -> OverrideRecord:
        found = self._load(conn, "WHERE id = ?", (override_id,))
        if not found:
            from seasongate._overrides import REFUSALS

            raise REFUSALS["unknown"](id=override_id)
        return found[0]

    def _read_overrides(self, override_id: str | None) -> list[OverrideRecord]:
        with self._read() as conn:
            if override_id is None:
                return self._load(conn, "", ())
            return self._load(conn, "WHERE id = ?", (override_id,))

    def _grant_candidates(self, environment: str, territory: str, at: int) -> list[OverrideRecord]:
        when = iso(at)
        return self._load(
            self._conn,
            "WHERE environment = ? AND territory = ? AND valid_from <= ? AND valid_until > ? "
            "AND rejected_at IS NULL AND revoked_at IS NULL AND consumed_at IS NULL",
            (environment, territory, when, when),
        )

    def _create(self, record: OverrideRecord) -> OverrideRecord:
        from seasongate._overrides import format_versions
        from seasongate._store._replay import request_payload

        with self._write() as conn:
            record = replace(record, created_at=self._stamp(conn, record.created_at))
            conn.execute(
                f"INSERT INTO overrides ({OVERRIDE_COLUMNS}) VALUES ({','.join('?' * 24)})",
                (
                    record.id, record.environment, record.territory,
                    format_versions(record.versions), json.dumps(list(record.rules)),
                    iso(record.valid_from), iso(record.valid_until), record.requester,
                    record.reason, record.ticket, int(record.single_use),
                    record.approvals_required, json.dumps(list(record.roles)),
                    record.max_validity, iso(record.created_at),
                    None, None, None, None, None, None, None, None, None,
                ),
            )  # fmt: skip
            self._append(conn, "override.request", record.id, payload_json(request_payload(record)), record.created_at)
            return self._get(conn, record.id)

    def _approve(self, override_id: str, at: datetime, comment: str, roster: Roster) -> tuple[OverrideRecord, bool]:
        from seasongate._overrides import approval_roles
        from seasongate._store._replay import approve_payload

        actor, ts = self.identity(), to_ts(at)
        with self._write() as conn:
            record = self._get(conn, override_id)
            roles = approval_roles(record, actor, ts, roster)
            if not roles:
                return record, False
            ts = self._stamp(conn, ts)
            conn.execute(
                "INSERT INTO approvals (override_id, approver, approved_at, comment, roles) VALUES (?, ?, ?, ?, ?)",
                (override_id, actor, iso(ts), comment, json.dumps(list(roles))),
            )
            record = self._get(conn, override_id)
            payload = approve_payload(record, comment, roles)
            self._append(conn, "override.approve", override_id, payload_json(payload), ts)
            return record, True

    def _close(self, closing: Closing, override_id: str, at: datetime, reason: str, roster: Roster) -> OverrideRecord:
        actor, ts = self.identity(), to_ts(at)
        columns = f"{closing.status}_at = ?, {closing.status}_by = ?, {closing.name}_reason = ?"
        with self._write() as conn:
            closing.check(self._get(conn, override_id), actor, ts, roster)
            ts = self._stamp(conn, ts)
            conn.execute(f"UPDATE overrides SET {columns} WHERE id = ?", (iso(ts), actor, reason, override_id))
            self._append(conn, closing.action, override_id, payload_json({"reason": reason}), ts)
            return self._get(conn, override_id)

    def _consume(self, override_id: str, at: datetime, subject: str, decision: Mapping[str, Any] | None) -> None:
        """SQLite cannot tell who may run migrations: the OS user is recorded."""
        from seasongate._overrides import check_consume

        actor, ts = self.identity(), to_ts(at)
        with self._write() as conn:
            record = self._get(conn, override_id)
            if not check_consume(record, ts):
                return
            ts = self._stamp(conn, ts)
            conn.execute(
                "UPDATE overrides SET consumed_at = ?, consumed_by = ?, consumed_subject = ? WHERE id = ?",
                (iso(ts), actor, subject, override_id),
            )
            self._append(conn, "decision", subject, payload_json(claim_decision(record, decision)), ts)
            self._append(conn, "override.consume", override_id, payload_json({"subject": subject}), ts)
