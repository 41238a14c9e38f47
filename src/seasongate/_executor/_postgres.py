"""The PostgreSQL executor: one session that locks, reads the history, applies and undoes.

**One connection** runs the migrations and holds the session-level advisory locks
(:mod:`._pglock`). When the lock is free, the backend that held it is gone, and with it any
transaction it had open: a ``kill -9`` of a run closes the socket, the server aborts the open
transaction and only then releases the lock, so a new run can never start beside a dead run's
still-running statement (``client_connection_check_interval`` makes the server notice a dead
client in the middle of a long statement). The connection turns ``idle_session_timeout`` and
``idle_in_transaction_session_timeout`` off for itself, and every migration proves, before its
history row is committed, that the lock is still held; a run that lost it stops.

**The history** (:mod:`._pghistory`) has exactly Flyway's columns; seasongate's facts live in a
side table written in the same transaction as the finished history row.

A transactional migration runs in one transaction together with its history row: one round
trip. A ``transaction=false`` migration first commits a *started* row (``success=false``, no
facts), then runs statement by statement in autocommit (an index build must leave its index
valid: :mod:`._pgindex`), then finishes the row and writes its facts, so a crash leaves a
visible "incomplete" entry, never an invisible half-migration.

One class, because a session is one connection and one lock: connecting, the proof that the
lock is held, and running and recording a script share its state; what they use is in the
modules named above.

psycopg is imported inside the functions that need it.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from contextlib import suppress
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, TypeVar

from seasongate._dsn import redact
from seasongate._errors import MigrationError
from seasongate._executor import _pgindex as index
from seasongate._executor import _pglock as lock
from seasongate._executor._files import MigrationScript
from seasongate._executor._pgerrors import LockBusy as LockBusy
from seasongate._executor._pgerrors import LockLost as LockLost
from seasongate._executor._pgerrors import MigrationFailed as MigrationFailed
from seasongate._executor._pgerrors import StatementFailure, error_line, error_text, retries_of, retrying
from seasongate._executor._pghistory import FACTS_SUFFIX, SERVER_MS, HistoryRecord, HistoryTables
from seasongate._executor._plan import SQL, UNDO_SQL, HistoryRow
from seasongate._executor._sql import split_statements

if TYPE_CHECKING:
    import psycopg

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


def _connect(dsn: str, options: ExecutorOptions, purpose: str) -> psycopg.Connection[Any]:
    from seasongate._pgdriver import psycopg  # the first import of psycopg: see there

    try:
        return psycopg.connect(
            dsn,
            autocommit=True,
            connect_timeout=options.connect_timeout,
            application_name=f"{options.application_name} {purpose}",
        )
    except psycopg.Error as exc:
        raise MigrationError(f"cannot connect to the database: {redact(error_text(exc), dsn)}") from exc


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
        self._tables: HistoryTables | None = None
        self._locked = False
        self._next_rank = 1
        self._timeouts: tuple[int, int] | None = None
        self._lock_sql: str | None = None

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
            self._tables = HistoryTables(self._conn, self.options.schema, self.options.table)
            self._tables.read_layout()
            if lock and create:
                self._tables.prepare()
            self._next_rank = self._tables.next_rank()
        except BaseException:
            self.close()
            raise
        return self

    def refresh(self) -> None:
        """Read the highest installed rank again (after rows were written beside this session,
        e.g. a baseline row)."""
        self._next_rank = self.tables.next_rank()

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
        self._tables = None
        self._locked = False

    @property
    def conn(self) -> psycopg.Connection[Any]:
        """The migration connection (it also holds the lock)."""
        if self._conn is None:
            raise MigrationError("the migration session is not open")
        return self._conn

    @property
    def tables(self) -> HistoryTables:
        """The history tables on this session's connection."""
        if self._tables is None:
            raise MigrationError("the migration session is not open")
        return self._tables

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
        return lock.lock_key(self.options.schema, self.options.table)

    def _acquire_lock(self) -> None:
        opts = self.options
        lock.acquire(self.conn, opts.schema, opts.table, opts.lock_wait, self._sleep, self._clock)
        self._locked = True

    def ensure_locked(self) -> None:
        """Confirm that this session still holds the migration lock; raise :class:`LockLost`
        (fail closed: nothing more runs) when it does not or the connection is gone.

        A transactional migration does not call this: the same check runs inside its
        transaction, after the script and before the history row, so it costs no round trip
        and also catches a script that released the lock itself."""
        import psycopg

        if not self._locked:
            raise MigrationError("applying needs the migration lock (open(lock=True))")
        try:
            self.conn.execute(self._lock_check())
        except psycopg.Error as exc:
            self._locked = False
            raise lock.lost(exc) from exc

    def _lock_check(self) -> str:
        if self._lock_sql is None:
            self._lock_sql = lock.check_sql(self.options.schema, self.options.table)
        return self._lock_sql

    def _connection_lost(self, exc: BaseException) -> bool:
        """Whether ``exc`` is the lock check failing or the connection (and with it the lock)
        being gone: then nothing may be recorded, since another run may be working."""
        return lock.check_failed(exc) or self._conn is None or bool(self._conn.broken)

    def _setup(self, conn: psycopg.Connection[Any]) -> None:
        """Session settings: no idle timeout may end the connection that holds the lock."""
        import psycopg

        settings = {"idle_in_transaction_session_timeout": "0"}
        if conn.info.server_version >= 140000:
            settings["idle_session_timeout"] = "0"
            settings["client_connection_check_interval"] = "1000"
        lock_ms, statement_ms = self._timeouts_ms(None)
        settings.update(lock_timeout=str(lock_ms), statement_timeout=str(statement_ms))
        calls = ", ".join("set_config(%s, %s, false)" for _ in settings)
        try:  # one round trip for all of them
            conn.execute(f"SELECT {calls}", [part for item in settings.items() for part in item])
        except psycopg.Error as exc:
            raise MigrationError(f"cannot prepare the migration session: {error_text(exc)}") from exc
        self._timeouts = (lock_ms, statement_ms)

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

    def history(self) -> list[HistoryRow]:
        """Every history row with its facts, by installed rank (empty when there is no table);
        see :meth:`HistoryTables.rows`."""
        return self.tables.rows()

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
        if self.tables.layout != "flyway":
            raise MigrationError("applying needs the history tables (open(lock=True, create=True))")
        if not self._locked:
            raise MigrationError("applying needs the migration lock (open(lock=True))")
        if not script.transactional:
            self.ensure_locked()  # a transactional script checks it inside its own transaction
        from seasongate._executor._flyway import abbreviate_description

        record = HistoryRecord(
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

    def _retrying(self, attempt: Callable[[], _T]) -> tuple[_T, int]:
        """``attempt`` with this session's lock-timeout retries (:func:`retrying`)."""
        return retrying(attempt, self.options.lock_retries, self.options.retry_backoff, self._sleep)

    def _run_transactional(
        self, script: MigrationScript, record: HistoryRecord, around: tuple[str, str] = ("", "")
    ) -> Applied:
        """One round trip: ``BEGIN; [set_config(...);] <script>; <lock check>; INSERT rows;
        COMMIT`` as a single simple query, so a run of many small migrations costs little more
        than psql.

        ``statement_timestamp()`` is when the server received the query, so the recorded
        ``execution_time`` is the server's time for the script. On an error the server skips
        the rest of the query; the transaction is rolled back and a failed row recorded. The
        lock check runs after the script, in its transaction: a row is only ever committed
        while this session holds the lock. When the check fails or the connection breaks,
        nothing is recorded (another run may be working) and :class:`LockLost` is raised.
        """
        import psycopg

        prefix = "BEGIN;\n"
        d = script.directives
        if d.lock_timeout is not None or d.statement_timeout is not None:
            lock_ms, stmt_ms = (self.tables.literal(str(ms)) for ms in self._timeouts_ms(script))
            prefix = (
                f"BEGIN; SELECT set_config('lock_timeout', {lock_ms}, true), "
                f"set_config('statement_timeout', {stmt_ms}, true);\n"
            )
        if around[0].strip():
            prefix += f"{around[0]}\n;\n"  # the script's error lines stay its own (offset below)
        after = f"{around[1]}\n;\n" if around[1].strip() else ""
        check = self._lock_check()
        start = time.perf_counter()
        rank = self._next_rank

        def attempt() -> None:
            rows = self.tables.finished_rows(record, rank, ms=SERVER_MS, success=True)
            try:
                self.conn.execute(f"{prefix}{script.sql}\n;\n{after}{check};\n{rows};\nCOMMIT".encode())
            except psycopg.Error:
                with suppress(psycopg.Error):
                    self.conn.execute("ROLLBACK")
                raise

        try:
            _, retries = self._retrying(attempt)
        except psycopg.Error as exc:
            if self._connection_lost(exc):
                self._locked = False
                raise lock.lost(exc) from exc
            line = error_line(exc, script.sql, -len(prefix))
            failure = StatementFailure(exc, error_text(exc), line, retries_of(exc))
            raise self._failed(script, record, rank, start, failure) from exc
        self._next_rank = rank + 1
        return Applied(script, rank, _ms(start), retries)

    def _run_autocommit(self, script: MigrationScript, record: HistoryRecord) -> Applied:
        import psycopg

        start = time.perf_counter()
        rank = self._next_rank
        # A retry of a run that did not finish: an invalid index its statements name is a
        # leftover of the earlier attempt.
        retrying = self.tables.unfinished(record)
        self.conn.execute(self.tables.started_row(record, rank).encode())
        self._next_rank = rank + 1
        retries = 0
        try:
            self._set_timeouts(script)
            for statement in split_statements(script.sql):
                retries += index.run_statement(self.conn, script, statement, retrying=retrying, retry=self._retrying)
        except StatementFailure as failure:
            raise self._failed(script, record, rank, start, failure, started=True) from failure.error
        except psycopg.Error as exc:  # a check of the executor's own failed: the server is gone
            broken = StatementFailure(exc, error_text(exc), 0, retries)
            raise self._failed(script, record, rank, start, broken, started=True) from exc
        finally:
            with suppress(psycopg.Error):
                self._set_timeouts(None)
        ms = _ms(start)
        self.tables.finish(record, rank, ms, success=True)
        return Applied(script, rank, ms, retries)

    def _failed(
        self,
        script: MigrationScript,
        record: HistoryRecord,
        rank: int,
        start: float,
        failure: StatementFailure,
        *,
        started: bool = False,
    ) -> MigrationFailed:
        """Record the failure (replacing a started row) and build the error to raise."""
        import psycopg

        ms = _ms(start)
        message = failure.message
        if failure.retries:
            message += f" (after {failure.retries} retr{'ies' if failure.retries != 1 else 'y'})"
        # When the server is gone nothing can be recorded; the rollback still happened (a
        # started row stays and marks the migration incomplete).
        with suppress(psycopg.Error):
            if started:
                self.tables.finish(record, rank, ms, success=False)
            else:
                with self.conn.transaction():
                    self.conn.execute(self.tables.finished_rows(record, rank, ms=str(ms), success=False).encode())
                self._next_rank = rank + 1
        sqlstate = getattr(failure.error, "sqlstate", None)
        return MigrationFailed(script, message, sqlstate=sqlstate, line=failure.line, execution_ms=ms)


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
