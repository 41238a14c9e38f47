"""The PostgreSQL executor: history table, migration lock, applying and undoing scripts.

**One connection** runs the migrations and holds the session-level advisory lock. When the
lock is free, the backend that held it is gone, and with it any transaction it had open: a
``kill -9`` of a run closes the socket, the server aborts the open transaction and only then
releases the lock, so a new run can never start beside a dead run's still-running statement
(``client_connection_check_interval`` makes the server notice a dead client in the middle of
a long statement). The connection turns ``idle_session_timeout`` and
``idle_in_transaction_session_timeout`` off for itself, and :meth:`PostgresSession.ensure_locked`
confirms before each migration that the lock is still held; a run that lost it stops.

A waiting run polls ``pg_try_advisory_lock`` with backoff instead of blocking in
``pg_advisory_lock``: a blocked statement holds a snapshot the whole time it waits, and
``CREATE INDEX CONCURRENTLY`` in the running migration would wait for that snapshot.

**The history** has exactly Flyway's ten columns (its PostgreSQL ``createMetaDataTable.sql``:
the same types, primary key ``<table>_pk`` and index ``<table>_s_idx``), so Flyway can read and
continue it. seasongate's own facts (gate verdict, override id, SHA-256, transactional flag,
audit anchor) live in ``<table>_seasongate``, keyed by ``installed_rank`` and written in the same
transaction as the finished history row. A table in seasongate's earlier layout (the facts as
extra columns) is converted in place, under the lock, in one transaction.

A transactional migration runs in one transaction together with its history row. A
``transaction=false`` migration first commits a *started* row (``success=false``, no facts),
then runs statement by statement in autocommit, then finishes the row and writes its facts, so
a crash leaves a visible "incomplete" entry, never an invisible half-migration. After every
such statement that builds an index, the index must be valid (``pg_index.indisvalid``): a
cancelled ``CREATE INDEX CONCURRENTLY`` leaves an INVALID index behind, and that is a failure,
never "applied". A retry of such a statement first drops the invalid leftover it made.

psycopg is imported inside the functions that need it.
"""

from __future__ import annotations

import re
import time
import zlib
from collections.abc import Callable, Sequence
from contextlib import suppress
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any, TypeVar

from seasongate._dsn import redact
from seasongate._errors import MigrationError
from seasongate._executor._files import MigrationScript
from seasongate._executor._plan import SQL, UNDO_SQL, HistoryRow
from seasongate._executor._sql import Statement, line_of, split_statements
from seasongate._versions import Version

if TYPE_CHECKING:
    import psycopg
    from psycopg import sql

COLUMNS = (
    "installed_rank",
    "version",
    "description",
    "type",
    "script",
    "checksum",
    "installed_by",
    "installed_on",
    "execution_time",
    "success",
)
"""The history table: Flyway's columns, nothing else."""
FACTS = ("gate_verdict", "override_id", "sha256", "transactional", "audit_seq", "audit_hash")
"""The side table ``<table>_seasongate``, keyed by ``installed_rank``."""
_LEGACY = ("gate_verdict", "override_id", "sha256", "transactional")  # extra columns of the old layout
FACTS_SUFFIX = "_seasongate"
_LOCK_CLASS = 0x5347  # "SG": the first key of the two-key advisory lock
_POLL_FIRST = 0.05  # seconds between lock polls, doubled up to _POLL_MAX
_POLL_MAX = 1.0
_BUILDS_INDEX = re.compile(r"^(?:create\s+(?:unique\s+)?index|reindex)\b", re.IGNORECASE)
_IDENT = r'(?:"(?:[^"]|"")+"|[A-Za-z_][\w$]*)'
_INDEX_NAME = re.compile(
    r"^create\s+(?:unique\s+)?index\s+(?:concurrently\s+)?(?:if\s+not\s+exists\s+)?"
    rf"(?P<name>{_IDENT}(?:\s*\.\s*{_IDENT})?\s+)?on\s+(?P<only>only\s+)?(?P<table>{_IDENT}(?:\s*\.\s*{_IDENT})?)",
    re.IGNORECASE,
)
_REINDEX = re.compile(
    r"^reindex\s+(?:\([^)]*\)\s*)?(?P<kind>index|table)\s+(?:concurrently\s+)?"
    rf"(?P<name>{_IDENT}(?:\s*\.\s*{_IDENT})?)",
    re.IGNORECASE,
)
_T = TypeVar("_T")


@dataclass(frozen=True, slots=True)
class ExecutorOptions:
    """How the executor talks to PostgreSQL. Times are seconds.

    ``lock_wait`` bounds the wait for another run's migration lock; ``lock_timeout`` and
    ``statement_timeout`` apply to each migration statement (a header ``lock_timeout=`` /
    ``statement_timeout=`` overrides them for one migration); a statement that hits the lock
    timeout is retried ``lock_retries`` times, waiting ``retry_backoff`` seconds, doubled
    after each try.
    """

    table: str = "seasongate_schema_history"
    schema: str = "public"
    lock_wait: float = 60.0
    lock_timeout: float = 5.0
    statement_timeout: float = 1800.0
    lock_retries: int = 3
    retry_backoff: float = 1.0
    installed_by: str | None = None
    application_name: str = "seasongate"
    connect_timeout: int = 10


@dataclass(frozen=True, slots=True)
class Applied:
    """A script that ran and was recorded."""

    script: MigrationScript
    installed_rank: int
    execution_ms: int
    retries: int = 0


class LockBusy(MigrationError):
    """Another run holds the migration lock and did not release it within ``lock_wait``."""

    def __init__(self, message: str, holder_pid: int | None = None) -> None:
        self.holder_pid = holder_pid
        super().__init__(message)


class LockLost(MigrationError):
    """The session no longer holds the migration lock (its connection was ended); the run
    stops before the next migration, since another run may be working."""


class MigrationFailed(MigrationError):
    """A script failed; it was rolled back (or marked incomplete) and recorded as failed."""

    def __init__(
        self,
        script: MigrationScript,
        message: str,
        *,
        sqlstate: str | None = None,
        line: int = 0,
        execution_ms: int = 0,
    ) -> None:
        self.script = script
        self.sqlstate = sqlstate
        self.line = line
        self.execution_ms = execution_ms
        where = f"{script.name}:{line}" if line else script.name
        code = f" (SQLSTATE {sqlstate})" if sqlstate else ""
        super().__init__(f"{where}: {message}{code}")


class _Failure(Exception):
    """A statement failed: the database error (or None) and what to say about it."""

    def __init__(self, error: BaseException | None, message: str, line: int, retries: int) -> None:
        self.error = error
        self.message = message
        self.line = line
        self.retries = retries
        super().__init__(message)


def _err_text(exc: BaseException) -> str:
    diag = getattr(exc, "diag", None)
    primary = getattr(diag, "message_primary", None)
    return str(primary or str(exc).splitlines()[0] if str(exc) else type(exc).__name__)


def error_line(exc: BaseException, script: str, shift: int = 0, fallback: int = 0) -> int:
    """The line of ``script`` that the server's error points at. The server counts characters
    of the query it was sent, from 1; ``shift`` turns that into a position in ``script``: minus
    the length of a prefix sent before the script, or plus where the statement that was sent
    starts in it. ``fallback`` when the error carries no position inside the script."""
    pos = getattr(getattr(exc, "diag", None), "statement_position", None)
    if pos and str(pos).isdigit():
        index = int(pos) - 1 + shift
        if 0 <= index <= len(script):
            return line_of(script, index)
    return fallback


def _connect(dsn: str, options: ExecutorOptions, purpose: str) -> psycopg.Connection[Any]:
    import psycopg

    try:
        return psycopg.connect(
            dsn,
            autocommit=True,
            connect_timeout=options.connect_timeout,
            application_name=f"{options.application_name} {purpose}",
        )
    except psycopg.Error as exc:
        raise MigrationError(f"cannot connect to the database: {redact(_err_text(exc), dsn)}") from exc


class PostgresSession:
    """A migration session on one database: ``open()`` connects (and locks), then
    ``history()``, ``apply()``, ``undo()``; ``close()`` (or the ``with`` block) releases."""

    def __init__(
        self,
        dsn: str,
        options: ExecutorOptions | None = None,
        *,
        sleep: Callable[[float], None] = time.sleep,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        if not dsn:
            raise MigrationError("no database given: use --dsn URL or set SEASONGATE_DSN")
        self.dsn = dsn
        self.options = options or ExecutorOptions()
        self._sleep = sleep
        self._clock = clock
        self._conn: psycopg.Connection[Any] | None = None
        self._locked = False
        self._next_rank = 1
        self._timeouts: tuple[int, int] | None = None
        self._layout = "missing"  # missing | flyway (with or without facts) | legacy

    # --- connection and lock ---------------------------------------------------------------

    def open(self, *, lock: bool = True, create: bool = True) -> PostgresSession:
        """Connect; with ``lock``, take the migration lock; with ``create``, create the
        history tables when they are missing and convert a table of the old layout (only
        under the lock)."""
        try:
            self._conn = _connect(self.dsn, self.options, "migrate")
            self._setup(self._conn)
            if lock:
                self._acquire_lock()
            self._layout = self._read_layout()
            if lock and create:
                self._prepare_tables()
            if self._layout != "missing":
                row = self.conn.execute(self._q("SELECT coalesce(max(installed_rank), 0) FROM {t}")).fetchone()
                self._next_rank = int(row[0] if row else 0) + 1
        except BaseException:
            self.close()
            raise
        return self

    def refresh(self) -> None:
        """Read the highest installed rank again (after rows were written beside this session,
        e.g. a baseline row)."""
        row = self.conn.execute(self._q("SELECT coalesce(max(installed_rank), 0) FROM {t}")).fetchone()
        self._next_rank = int(row[0] if row else 0) + 1

    def __enter__(self) -> PostgresSession:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        """Close the connection (which releases the lock)."""
        if self._conn is not None:
            with suppress(Exception):  # closing is best effort
                self._conn.close()
        self._conn = None
        self._locked = False

    @property
    def conn(self) -> psycopg.Connection[Any]:
        """The migration connection (it also holds the lock)."""
        if self._conn is None:
            raise MigrationError("the migration session is not open")
        return self._conn

    @property
    def locked(self) -> bool:
        """Whether this session took the migration lock."""
        return self._locked

    @property
    def backend_pid(self) -> int:
        """The server process of this session: it runs the migrations and holds the lock."""
        return int(self.conn.info.backend_pid)

    def lock_key(self) -> tuple[int, int]:
        """The two advisory-lock keys: a constant and the CRC32 of the history table."""
        crc = zlib.crc32(f"{self.options.schema}.{self.options.table}".encode())
        return _LOCK_CLASS, crc - (1 << 32) if crc >= (1 << 31) else crc

    def _acquire_lock(self) -> None:
        """Poll ``pg_try_advisory_lock`` with backoff until ``lock_wait`` has passed. Each
        poll is a short statement of its own, so a waiting run holds no snapshot that a
        ``CREATE INDEX CONCURRENTLY`` of the running one would have to wait for."""
        import psycopg

        key1, key2 = self.lock_key()
        deadline = self._clock() + self.options.lock_wait
        delay = _POLL_FIRST
        try:
            while True:
                row = self.conn.execute("SELECT pg_try_advisory_lock(%s, %s)", (key1, key2)).fetchone()
                if row and row[0]:
                    self._locked = True
                    self._acquire_flyway_lock(max(0.0, deadline - self._clock()))
                    return
                left = deadline - self._clock()
                if left <= 0:
                    raise self._busy()
                self._sleep(min(delay, left))
                delay = min(delay * 2, _POLL_MAX)
        except psycopg.Error as exc:
            raise MigrationError(f"cannot take the migration lock: {_err_text(exc)}") from exc

    def _acquire_flyway_lock(self, wait: float) -> None:
        """Also take the advisory lock Flyway takes on this history table (one bigint key), so
        that a stray ``flyway migrate`` and this run never work at once (see
        :mod:`seasongate._executor._flyway`)."""
        from seasongate._executor._flyway_db import take_flyway_lock

        take_flyway_lock(
            self.conn, self.options.schema, self.options.table, wait=wait, sleep=self._sleep, clock=self._clock
        )

    def _busy(self) -> LockBusy:
        key1, key2 = self.lock_key()
        row = self.conn.execute(
            """SELECT a.pid, a.usename, a.application_name, a.client_addr::text, a.backend_start
                 FROM pg_locks l JOIN pg_stat_activity a ON a.pid = l.pid
                WHERE l.locktype = 'advisory' AND l.granted AND l.database = (
                      SELECT oid FROM pg_database WHERE datname = current_database())
                  AND l.classid = %s::int::oid AND l.objid = %s::int::oid AND l.objsubid = 2""",
            (key1, key2),
        ).fetchone()
        waited = f"gave up after {self.options.lock_wait:g}s"
        if row is None:
            return LockBusy(f"the migration lock is busy ({waited}); the holder is gone now, run again")
        pid, user, app, addr, since = row
        since_text = since.isoformat(timespec="seconds") if isinstance(since, datetime) else "?"
        client = f" from {addr}" if addr else ""
        return LockBusy(
            f"another run holds the migration lock: pid {pid} ({app or 'unknown'}, user {user}"
            f"{client}), connected since {since_text}; {waited} (--lock-wait)",
            holder_pid=int(pid),
        )

    def ensure_locked(self) -> None:
        """Confirm that this session still holds the migration lock; raise :class:`LockLost`
        (fail closed: nothing more runs) when it does not or the connection is gone."""
        import psycopg

        if not self._locked:
            raise MigrationError("applying needs the migration lock (open(lock=True))")
        key1, key2 = self.lock_key()
        try:
            row = self.conn.execute(
                """SELECT count(*) FROM pg_locks
                    WHERE locktype = 'advisory' AND granted AND pid = pg_backend_pid()
                      AND database = (SELECT oid FROM pg_database WHERE datname = current_database())
                      AND classid = %s::int::oid AND objid = %s::int::oid AND objsubid = 2""",
                (key1, key2),
            ).fetchone()
        except psycopg.Error as exc:
            self._locked = False
            raise LockLost(
                f"lost the migration lock: the connection holding it failed ({_err_text(exc)}); "
                "stopped before the next migration, since another run may be working"
            ) from exc
        if not row or not row[0]:
            self._locked = False
            raise LockLost("lost the migration lock; stopped before the next migration")
        from seasongate._executor._flyway import lock_key as flyway_key

        key = flyway_key(self.options.schema, self.options.table)
        held = self.conn.execute(
            """SELECT count(*) FROM pg_locks
                WHERE locktype = 'advisory' AND granted AND pid = pg_backend_pid() AND objsubid = 1
                  AND classid = %s::bigint::oid AND objid = %s::bigint::oid""",
            ((key >> 32) & 0xFFFFFFFF, key & 0xFFFFFFFF),
        ).fetchone()
        if not held or not held[0]:
            self._locked = False
            raise LockLost("lost Flyway's migration lock on the history table; stopped before the next migration")

    def _setup(self, conn: psycopg.Connection[Any]) -> None:
        """Session settings: no idle timeout may end the connection that holds the lock."""
        import psycopg

        settings = {"idle_in_transaction_session_timeout": "0"}
        if conn.info.server_version >= 140000:
            settings["idle_session_timeout"] = "0"
            settings["client_connection_check_interval"] = "1000"
        try:
            for name, value in settings.items():
                conn.execute("SELECT set_config(%s, %s, false)", (name, value))
        except psycopg.Error as exc:
            raise MigrationError(f"cannot prepare the migration session: {_err_text(exc)}") from exc
        self._set_timeouts(None)

    def _set_timeouts(self, script: MigrationScript | None) -> None:
        """Session-level timeouts: the options', or a script's own (autocommit scripts)."""
        wanted = self._timeouts_ms(script)
        if wanted == self._timeouts:
            return
        self.conn.execute(
            "SELECT set_config('lock_timeout', %s, false), set_config('statement_timeout', %s, false)",
            (str(wanted[0]), str(wanted[1])),
        )
        self._timeouts = wanted

    def _timeouts_ms(self, script: MigrationScript | None) -> tuple[int, int]:
        lock_s, stmt_s = self.options.lock_timeout, self.options.statement_timeout
        if script is not None:
            lock_s = script.directives.lock_timeout or lock_s
            stmt_s = script.directives.statement_timeout or stmt_s
        return int(lock_s * 1000), int(stmt_s * 1000)

    # --- the history tables ------------------------------------------------------------------

    @property
    def facts_table(self) -> str:
        """The side table's name: ``<table>_seasongate``."""
        return self.options.table + FACTS_SUFFIX

    def _q(self, template: str, **parts: sql.Composable) -> sql.Composed:
        """``template`` with ``{t}`` the history table and ``{f}`` the side table."""
        from psycopg import sql

        opts = self.options
        return sql.SQL(template).format(
            t=sql.Identifier(opts.schema, opts.table),
            f=sql.Identifier(opts.schema, self.facts_table),
            pk=sql.Identifier(opts.table + "_pk"),
            s_idx=sql.Identifier(opts.table + "_s_idx"),
            **parts,
        )

    def _columns(self, table: str) -> set[str]:
        rows = self.conn.execute(
            "SELECT column_name FROM information_schema.columns WHERE table_schema = %s AND table_name = %s",
            (self.options.schema, table),
        ).fetchall()
        return {r[0] for r in rows}

    def _read_layout(self) -> str:
        columns = self._columns(self.options.table)
        if not columns:
            return "missing"
        missing = [c for c in COLUMNS if c not in columns]
        if missing:
            raise MigrationError(
                f"table {self.options.schema}.{self.options.table} exists but is not a "
                f"migration history table (missing columns: {', '.join(missing)}); "
                "use --table to pick another name"
            )
        if set(_LEGACY) <= columns:
            return "legacy"
        return "flyway"

    def _has_facts_table(self) -> bool:
        return bool(self._columns(self.facts_table))

    def _prepare_tables(self) -> None:
        """Under the lock: create what is missing, convert the old layout, in one transaction."""
        import psycopg

        try:
            with self.conn.transaction():
                if self._layout == "missing":
                    self.conn.execute(self._q(_CREATE_HISTORY))
                elif self._layout == "legacy":
                    self._convert_legacy()
                if not self._has_facts_table():
                    self.conn.execute(self._q(_CREATE_FACTS))
        except psycopg.Error as exc:
            raise MigrationError(f"cannot create the history tables: {_err_text(exc)}") from exc
        self._layout = "flyway"

    def _convert_legacy(self) -> None:
        """seasongate's earlier layout kept its facts as extra columns of the history table and
        allowed NULL ``execution_time`` for a started row; move the facts to the side table
        and give the table Flyway's exact shape. A started non-transactional row (no time
        yet) gets no facts, which is how the new layout marks it."""
        self.conn.execute(self._q(_CREATE_FACTS))
        self.conn.execute(
            self._q(
                """INSERT INTO {f} (installed_rank, gate_verdict, override_id, sha256, transactional)
                   SELECT installed_rank, gate_verdict, override_id, sha256, transactional FROM {t}
                    WHERE transactional OR execution_time IS NOT NULL"""
            )
        )
        self.conn.execute(self._q("UPDATE {t} SET execution_time = 0 WHERE execution_time IS NULL"))
        self.conn.execute(
            self._q(
                """ALTER TABLE {t} DROP COLUMN gate_verdict, DROP COLUMN override_id,
                       DROP COLUMN sha256, DROP COLUMN transactional,
                       ALTER COLUMN execution_time SET NOT NULL,
                       ALTER COLUMN installed_on TYPE timestamp"""
            )
        )
        self.conn.execute(self._q('CREATE INDEX IF NOT EXISTS {s_idx} ON {t} ("success")'))

    def history(self) -> list[HistoryRow]:
        """Every history row with its facts, by installed rank (empty when there is no table).

        A row without facts was written by Flyway, or is a ``transaction=false`` migration
        that started and did not finish: successful, it counts as a transactional apply;
        unsuccessful, as incomplete (fail closed), with no execution time.
        """
        if self._layout == "missing":
            return []
        if self._layout == "legacy":
            query = self._q(_SELECT_LEGACY)
        elif self._has_facts_table():
            query = self._q(_SELECT_JOINED)
        else:
            query = self._q(_SELECT_FLYWAY)
        out: list[HistoryRow] = []
        for r in self.conn.execute(query).fetchall():
            has_facts = bool(r[16])
            success = bool(r[9])
            transactional = bool(r[13]) if has_facts else success
            execution_time = r[8] if has_facts or success else None
            out.append(
                HistoryRow(
                    int(r[0]),
                    Version.parse(r[1]) if r[1] else None,
                    r[2],
                    r[3],
                    r[4],
                    r[5],
                    r[6],
                    r[7],
                    execution_time,
                    success,
                    r[10],
                    r[11],
                    (r[12] or "").strip() or None,
                    transactional,
                    None if r[14] is None else int(r[14]),
                    r[15],
                )
            )
        return out

    # --- applying ---------------------------------------------------------------------------

    def apply(
        self,
        migration: MigrationScript,
        *,
        verdict: str | None = None,
        override_id: str | None = None,
        audit: tuple[int, str] | None = None,
        around: tuple[str, str] = ("", ""),
    ) -> Applied:
        """Run a migration and record it (type ``SQL``); raises :class:`MigrationFailed`.
        ``audit`` is the audit chain's anchor (seq, hash) stored with the row. ``around`` is
        SQL run before and after the script inside its transaction (the ``beforeEachMigrate``
        and ``afterEachMigrate`` callbacks); a ``transaction=false`` script runs each in a
        transaction of its own."""
        return self._run(migration, migration, SQL, verdict, override_id, audit, around)

    def undo(
        self,
        migration: MigrationScript,
        undo: MigrationScript,
        *,
        verdict: str | None = None,
        override_id: str | None = None,
        audit: tuple[int, str] | None = None,
    ) -> Applied:
        """Run the undo script of an applied migration and record it (type ``UNDO_SQL``)."""
        return self._run(migration, undo, UNDO_SQL, verdict, override_id, audit)

    def _run(
        self,
        migration: MigrationScript,
        script: MigrationScript,
        kind: str,
        verdict: str | None,
        override_id: str | None,
        audit: tuple[int, str] | None,
        around: tuple[str, str] = ("", ""),
    ) -> Applied:
        if self._layout != "flyway":
            raise MigrationError("applying needs the history tables (open(lock=True, create=True))")
        self.ensure_locked()
        from seasongate._executor._flyway import abbreviate_description

        record = _Record(
            version=".".join(str(p) for p in migration.version.parts) or None,  # NULL: a repeatable
            description=abbreviate_description(migration.title),
            type=kind,
            script=script.name,
            checksum=script.checksum,
            installed_by=self.options.installed_by,
            verdict=verdict,
            override_id=override_id,
            sha256=script.sha256,
            transactional=script.transactional,
            audit=None if audit is None else (audit[0], audit[1]),
        )
        if script.transactional:
            return self._run_transactional(script, record, around)
        if around[0].strip():
            with self.conn.transaction():
                self.conn.execute(around[0].encode())
        applied = self._run_autocommit(script, record)
        if around[1].strip():
            with self.conn.transaction():
                self.conn.execute(around[1].encode())
        return applied

    def _rows(self, record: _Record, rank: int, *, ms: sql.Composable, success: bool) -> sql.Composed:
        """The history row and its facts, as two INSERT statements with literal values."""
        from psycopg import sql

        return sql.SQL(";\n").join(
            [self._history_row(record, rank, ms=ms, success=success), self._facts_row(record, rank)]
        )

    def _history_row(self, record: _Record, rank: int, *, ms: sql.Composable, success: bool) -> sql.Composed:
        from psycopg import sql

        values = [
            sql.Literal(rank),
            sql.Literal(record.version),
            sql.Literal(record.description),
            sql.Literal(record.type),
            sql.Literal(record.script),
            sql.Literal(record.checksum),
            sql.SQL("coalesce({}, current_user)").format(sql.Literal(record.installed_by)),
            ms,
            sql.Literal(success),
        ]
        return self._q(
            "INSERT INTO {t} (installed_rank, version, description, type, script, checksum, "
            "installed_by, execution_time, success) VALUES ({values})",
            values=sql.SQL(", ").join(values),
        )

    def _facts_row(self, record: _Record, rank: int) -> sql.Composed:
        from psycopg import sql

        seq, digest = record.audit if record.audit is not None else (None, None)
        facts = [rank, record.verdict, record.override_id, record.sha256, record.transactional, seq, digest]
        return self._q(
            "INSERT INTO {f} (installed_rank, {facts}) VALUES ({values})",
            facts=sql.SQL(", ").join(sql.Identifier(c) for c in FACTS),
            values=sql.SQL(", ").join(sql.Literal(v) for v in facts),
        )

    def _finish(self, record: _Record, rank: int, ms: int, *, success: bool) -> None:
        """Finish a started row and write its facts, in one transaction."""
        from psycopg import sql

        with self.conn.transaction():
            self.conn.execute(
                self._q(
                    "UPDATE {t} SET execution_time = {ms}, success = {ok} WHERE installed_rank = {r}",
                    ms=sql.Literal(ms),
                    ok=sql.Literal(success),
                    r=sql.Literal(rank),
                )
            )
            self.conn.execute(self._facts_row(record, rank))

    def _retrying(self, attempt: Callable[[], _T]) -> tuple[_T, int]:
        """Run ``attempt``; on a lock timeout try again up to ``lock_retries`` times, waiting
        ``retry_backoff`` seconds, doubled after each try. Returns the result and the number
        of retries; a lock timeout past the last retry propagates with ``retries`` attached."""
        import psycopg

        retries = 0
        while True:
            try:
                return attempt(), retries
            except psycopg.errors.LockNotAvailable as exc:
                if retries >= self.options.lock_retries:
                    exc.add_note(f"retries={retries}")
                    raise
                self._sleep(self.options.retry_backoff * (2**retries))
                retries += 1

    def _run_transactional(
        self, script: MigrationScript, record: _Record, around: tuple[str, str] = ("", "")
    ) -> Applied:
        """One round trip: ``BEGIN; [set_config(...);] <script>; INSERT rows; COMMIT`` as a
        single simple query, so a run of many small migrations costs little more than psql.

        ``statement_timestamp()`` is when the server received the query, so the recorded
        ``execution_time`` is the server's time for the script. On an error the server skips
        the rest of the query; the transaction is rolled back and a failed row recorded.
        """
        import psycopg
        from psycopg import sql

        prefix = "BEGIN;\n"
        d = script.directives
        if d.lock_timeout is not None or d.statement_timeout is not None:
            lock_ms, stmt_ms = self._timeouts_ms(script)
            prefix = (
                sql.SQL(
                    "BEGIN; SELECT set_config('lock_timeout', {}, true), set_config('statement_timeout', {}, true);\n"
                )
                .format(sql.Literal(str(lock_ms)), sql.Literal(str(stmt_ms)))
                .as_string(self.conn)
            )
        if around[0].strip():
            prefix += f"{around[0]}\n;\n"  # the script's error lines stay its own (offset below)
        after = f"{around[1]}\n;\n" if around[1].strip() else ""
        start = time.perf_counter()
        rank = self._next_rank

        def attempt() -> None:
            rows = self._rows(record, rank, ms=sql.SQL(_SERVER_MS), success=True).as_string(self.conn)
            try:
                self.conn.execute(f"{prefix}{script.sql}\n;\n{after}{rows};\nCOMMIT".encode())
            except psycopg.Error:
                with suppress(psycopg.Error):
                    self.conn.execute("ROLLBACK")
                raise

        try:
            _, retries = self._retrying(attempt)
        except psycopg.Error as exc:
            line = error_line(exc, script.sql, -len(prefix))
            raise self._failed(script, record, rank, start, _Failure(exc, _err_text(exc), line, _retries(exc))) from exc
        self._next_rank = rank + 1
        return Applied(script, rank, _ms(start), retries)

    def _run_autocommit(self, script: MigrationScript, record: _Record) -> Applied:
        import psycopg

        start = time.perf_counter()
        rank = self._next_rank
        retrying = self._unfinished(record)
        self.conn.execute(self._started(record, rank))
        self._next_rank = rank + 1
        retries = 0
        try:
            self._set_timeouts(script)
            for statement in split_statements(script.sql):
                retries += self._autocommit_statement(script, statement, retrying=retrying)
        except _Failure as failure:
            raise self._failed(script, record, rank, start, failure, started=True) from failure.error
        except psycopg.Error as exc:  # a check of the executor's own failed: the server is gone
            broken = _Failure(exc, _err_text(exc), 0, retries)
            raise self._failed(script, record, rank, start, broken, started=True) from exc
        finally:
            with suppress(psycopg.Error):
                self._set_timeouts(None)
        ms = _ms(start)
        self._finish(record, rank, ms, success=True)
        return Applied(script, rank, ms, retries)

    def _started(self, record: _Record, rank: int) -> sql.Composed:
        """The *started* row of a ``transaction=false`` script: no facts, not successful."""
        from psycopg import sql

        return self._q(
            "INSERT INTO {t} (installed_rank, version, description, type, script, checksum, "
            "installed_by, execution_time, success) VALUES ({v}, {ver}, {d}, {k}, {s}, {c}, "
            "coalesce({by}, current_user), 0, false)",
            v=sql.Literal(rank),
            ver=sql.Literal(record.version),
            d=sql.Literal(record.description),
            k=sql.Literal(record.type),
            s=sql.Literal(record.script),
            c=sql.Literal(record.checksum),
            by=sql.Literal(record.installed_by),
        )

    def _unfinished(self, record: _Record) -> bool:
        """Whether the latest row of this version and type is a ``transaction=false`` run that
        did not succeed (killed, or failed part-way): then this run is a retry, and an invalid
        index its statements name is a leftover of the earlier attempt."""
        from psycopg import sql

        row = self.conn.execute(
            self._q(
                "SELECT NOT h.success AND coalesce(NOT f.transactional, true) FROM {t} h "
                "LEFT JOIN {f} f USING (installed_rank) WHERE h.version = {v} AND h.type = {k} "
                "ORDER BY h.installed_rank DESC LIMIT 1",
                v=sql.Literal(record.version),
                k=sql.Literal(record.type),
            )
        ).fetchone()
        return bool(row and row[0])

    def _autocommit_statement(self, script: MigrationScript, st: Statement, *, retrying: bool) -> int:
        """Run one statement in autocommit, with lock-timeout retries; a statement that builds
        an index must leave it valid. Returns the retries it took; raises :class:`_Failure`."""
        import psycopg
        from psycopg import sql

        builds = _BUILDS_INDEX.match(st.code) is not None
        created = _INDEX_NAME.match(st.code)
        if created and created.group("only"):
            builds = False  # an index ON ONLY a partitioned table is invalid until attached
        name = created.group("name").strip() if created and created.group("name") else None
        # Leftovers are looked for on the statement's table only: another session's index
        # build elsewhere is invalid while it runs and is none of this migration's business.
        table = self._index_table(st.code) if builds else None
        leftovers: set[str] = set()
        if builds and retrying and name is not None and self._is_invalid(name):
            leftovers.add(self._qualified(name))

        def attempt() -> None:
            for leftover in sorted(leftovers):
                self.conn.execute(sql.SQL("DROP INDEX CONCURRENTLY IF EXISTS {}").format(sql.SQL(leftover)))
            leftovers.clear()
            before = self._invalid_indexes(table) if builds else set()
            try:
                self.conn.execute(st.text.encode())
            finally:
                if builds:
                    leftovers.update(self._invalid_indexes(table) - before)

        try:
            _, retries = self._retrying(attempt)
        except psycopg.Error as exc:
            message = _err_text(exc) + _invalid_note(leftovers)
            line = error_line(exc, script.sql, st.start, st.line)
            raise _Failure(exc, message, line, _retries(exc)) from exc
        invalid = set(leftovers)
        if name is not None and self._is_invalid(name):
            invalid.add(self._qualified(name))
        if invalid:
            raise _Failure(None, "the statement left an INVALID index" + _invalid_note(invalid), st.line, retries)
        return retries

    def _index_table(self, code: str) -> str | None:
        """The table whose index a ``CREATE INDEX`` or ``REINDEX INDEX|TABLE`` builds (None:
        unknown, then the whole database is watched)."""
        created = _INDEX_NAME.match(code)
        if created:
            return created.group("table")
        reindex = _REINDEX.match(code)
        if reindex is None:
            return None
        if reindex.group("kind").lower() == "table":
            return reindex.group("name")
        row = self.conn.execute(
            "SELECT indrelid::regclass::text FROM pg_index WHERE indexrelid = to_regclass(%s)", (reindex.group("name"),)
        ).fetchone()
        return str(row[0]) if row and row[0] else None

    def _invalid_indexes(self, table: str | None) -> set[str]:
        """The invalid indexes on ``table`` (every table when None)."""
        rows = self.conn.execute(
            "SELECT indexrelid::regclass::text FROM pg_index WHERE NOT indisvalid "
            "AND (%(t)s::text IS NULL OR indrelid = to_regclass(%(t)s))",
            {"t": table},
        ).fetchall()
        return {r[0] for r in rows}

    def _is_invalid(self, name: str) -> bool:
        row = self.conn.execute(
            "SELECT NOT indisvalid FROM pg_index WHERE indexrelid = to_regclass(%s)", (name,)
        ).fetchone()
        return bool(row and row[0])

    def _qualified(self, name: str) -> str:
        row = self.conn.execute("SELECT to_regclass(%s)::text", (name,)).fetchone()
        return str(row[0]) if row and row[0] else name

    def _failed(
        self,
        script: MigrationScript,
        record: _Record,
        rank: int,
        start: float,
        failure: _Failure,
        *,
        started: bool = False,
    ) -> MigrationFailed:
        """Record the failure (replacing a started row) and build the error to raise."""
        import psycopg
        from psycopg import sql

        ms = _ms(start)
        message = failure.message
        if failure.retries:
            message += f" (after {failure.retries} retr{'ies' if failure.retries != 1 else 'y'})"
        # When the server is gone nothing can be recorded; the rollback still happened (a
        # started row stays and marks the migration incomplete).
        with suppress(psycopg.Error):
            if started:
                self._finish(record, rank, ms, success=False)
            else:
                with self.conn.transaction():
                    self.conn.execute(self._rows(record, rank, ms=sql.Literal(ms), success=False))
                self._next_rank = rank + 1
        sqlstate = getattr(failure.error, "sqlstate", None)
        return MigrationFailed(script, message, sqlstate=sqlstate, line=failure.line, execution_ms=ms)


@dataclass(frozen=True, slots=True)
class _Record:
    """What the history and the side table say about one execution."""

    version: str | None
    description: str
    type: str
    script: str
    checksum: int | None
    installed_by: str | None
    verdict: str | None
    override_id: str | None
    sha256: str
    transactional: bool
    audit: tuple[int, str] | None


def _invalid_note(indexes: set[str]) -> str:
    if not indexes:
        return ""
    names = ", ".join(sorted(indexes))
    drops = "; ".join(f"DROP INDEX CONCURRENTLY {n}" for n in sorted(indexes))
    return (
        f"; INVALID index left behind: {names} (its build was cancelled or failed; queries do not "
        f"use it, writes still maintain it). Remove it with `{drops}`, or fix the cause and run "
        "migrate --retry-incomplete, which drops it and builds it again"
    )


def _retries(exc: BaseException) -> int:
    for note in getattr(exc, "__notes__", ()):
        if note.startswith("retries="):
            return int(note.split("=", 1)[1])
    return 0


_SERVER_MS = "(extract(epoch FROM clock_timestamp() - statement_timestamp()) * 1000)::int"

# Flyway's PostgreSQL createMetaDataTable.sql, names quoted the same way.
_CREATE_HISTORY = """CREATE TABLE {t} (
    "installed_rank" INT NOT NULL,
    "version" VARCHAR(50),
    "description" VARCHAR(200) NOT NULL,
    "type" VARCHAR(20) NOT NULL,
    "script" VARCHAR(1000) NOT NULL,
    "checksum" INTEGER,
    "installed_by" VARCHAR(100) NOT NULL,
    "installed_on" TIMESTAMP NOT NULL DEFAULT now(),
    "execution_time" INTEGER NOT NULL,
    "success" BOOLEAN NOT NULL
);
ALTER TABLE {t} ADD CONSTRAINT {pk} PRIMARY KEY ("installed_rank");
CREATE INDEX {s_idx} ON {t} ("success")"""

# ON DELETE CASCADE: Flyway's repair deletes failed rows, and their facts go with them.
_CREATE_FACTS = """CREATE TABLE {f} (
    installed_rank integer PRIMARY KEY REFERENCES {t} (installed_rank) ON DELETE CASCADE,
    gate_verdict varchar(20),
    override_id varchar(100),
    sha256 char(64),
    transactional boolean NOT NULL,
    audit_seq bigint,
    audit_hash varchar(128)
)"""

_HISTORY = (
    "h.installed_rank, h.version, h.description, h.type, h.script, h.checksum, h.installed_by, "
    "h.installed_on::timestamptz, h.execution_time, h.success"
)
_SELECT_JOINED = (
    "SELECT " + _HISTORY + ", f.gate_verdict, f.override_id, f.sha256, f.transactional, f.audit_seq, "
    "f.audit_hash, f.installed_rank IS NOT NULL FROM {t} h LEFT JOIN {f} f USING (installed_rank) "
    "ORDER BY h.installed_rank"
)
_SELECT_FLYWAY = (
    "SELECT " + _HISTORY + ", NULL, NULL, NULL, NULL, NULL, NULL, false FROM {t} h ORDER BY h.installed_rank"
)
_SELECT_LEGACY = (
    "SELECT " + _HISTORY + ", h.gate_verdict, h.override_id, h.sha256, h.transactional, NULL, NULL, "
    "h.transactional OR h.execution_time IS NOT NULL FROM {t} h ORDER BY h.installed_rank"
)


def _ms(start: float) -> int:
    return round((time.perf_counter() - start) * 1000)


def open_session(
    dsn: str,
    options: ExecutorOptions | None = None,
    *,
    lock: bool = True,
    create: bool = True,
    sleep: Callable[[float], None] = time.sleep,
) -> PostgresSession:
    """Connect a :class:`PostgresSession` (see :meth:`PostgresSession.open`)."""
    return PostgresSession(dsn, options, sleep=sleep).open(lock=lock, create=create)


def applied_versions(rows: Sequence[HistoryRow]) -> list[Version]:
    """Versions whose latest row is a successful apply, in version order."""
    from seasongate._executor._plan import _fold

    return sorted(v for v, (state, _) in _fold(rows).items() if state == "applied")
