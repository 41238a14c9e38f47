"""The PostgreSQL executor: history table, migration lock, applying and undoing scripts.

One connection runs the migrations for the whole run (no reconnect per migration); a second
connection only holds the session-level advisory lock, so that whatever happens to the
migration connection's transactions, the lock lives exactly as long as the process: a
``kill -9`` closes both sockets, the server releases the lock and rolls back the open
transaction. ``client_connection_check_interval`` makes the server notice a dead client even
in the middle of a long statement.

A transactional migration runs in one transaction together with its history row. A
``transaction=false`` migration (``CREATE INDEX CONCURRENTLY``) first commits a *started* row
(``success=false``, ``execution_time`` NULL), then runs statement by statement in autocommit,
then completes the row, so a crash leaves a visible "incomplete" entry, never an invisible
half-migration.

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
from typing import TYPE_CHECKING, Any

from seasongate._dsn import redact
from seasongate._errors import MigrationError
from seasongate._executor._files import MigrationScript
from seasongate._executor._plan import SQL, UNDO_SQL, HistoryRow
from seasongate._executor._sql import Statement, line_of, split_statements
from seasongate._versions import Version

if TYPE_CHECKING:
    import psycopg

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
    "gate_verdict",
    "override_id",
    "sha256",
    "transactional",
)
_LOCK_CLASS = 0x5347  # "SG": the first key of the two-key advisory lock


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


def _err_text(exc: BaseException) -> str:
    diag = getattr(exc, "diag", None)
    primary = getattr(diag, "message_primary", None)
    return str(primary or str(exc).splitlines()[0] if str(exc) else type(exc).__name__)


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
        self, dsn: str, options: ExecutorOptions | None = None, *, sleep: Callable[[float], None] = time.sleep
    ) -> None:
        if not dsn:
            raise MigrationError("no database given: use --dsn URL or set SEASONGATE_DSN")
        self.dsn = dsn
        self.options = options or ExecutorOptions()
        self._sleep = sleep
        self._conn: psycopg.Connection[Any] | None = None
        self._lock_conn: psycopg.Connection[Any] | None = None
        self._next_rank = 1
        self._timeouts: tuple[int, int] | None = None
        self._table_exists = False
        self._insert_template: str | None = None

    # --- connection and lock ---------------------------------------------------------------

    def open(self, *, lock: bool = True, create: bool = True) -> PostgresSession:
        """Connect; with ``lock``, take the migration lock; with ``create``, create the
        history table when it is missing (only under the lock)."""
        try:
            if lock:
                self._lock_conn = _connect(self.dsn, self.options, "lock")
                self._acquire_lock(self._lock_conn)
            self._conn = _connect(self.dsn, self.options, "migrate")
            self._setup(self._conn)
            self._table_exists = self._exists()
            if create and lock and not self._table_exists:
                self._create_table()
                self._table_exists = True
            if self._table_exists:
                self._check_columns()
                row = self.conn.execute(self._q("SELECT coalesce(max(installed_rank), 0) FROM {t}")).fetchone()
                self._next_rank = int(row[0] if row else 0) + 1
        except BaseException:
            self.close()
            raise
        return self

    def __enter__(self) -> PostgresSession:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        """Close both connections (which releases the lock)."""
        for conn in (self._conn, self._lock_conn):
            if conn is not None:
                with suppress(Exception):  # closing is best effort
                    conn.close()
        self._conn = self._lock_conn = None

    @property
    def conn(self) -> psycopg.Connection[Any]:
        """The migration connection."""
        if self._conn is None:
            raise MigrationError("the migration session is not open")
        return self._conn

    @property
    def locked(self) -> bool:
        """Whether this session holds the migration lock."""
        return self._lock_conn is not None

    def lock_key(self) -> tuple[int, int]:
        """The two advisory-lock keys: a constant and the CRC32 of the history table."""
        crc = zlib.crc32(f"{self.options.schema}.{self.options.table}".encode())
        return _LOCK_CLASS, crc - (1 << 32) if crc >= (1 << 31) else crc

    def _acquire_lock(self, conn: psycopg.Connection[Any]) -> None:
        import psycopg

        key1, key2 = self.lock_key()
        wait_ms = max(1, int(self.options.lock_wait * 1000))
        try:
            conn.execute(f"SET lock_timeout = {wait_ms}")
            # The lock is the last statement on this connection: its state_change then says
            # since when it is held, which is what a waiting run reports.
            conn.execute("SELECT pg_advisory_lock(%s, %s)", (key1, key2))
        except psycopg.errors.LockNotAvailable:
            raise self._busy(conn) from None
        except psycopg.Error as exc:
            raise MigrationError(f"cannot take the migration lock: {_err_text(exc)}") from exc

    def _busy(self, conn: psycopg.Connection[Any]) -> LockBusy:
        key1, key2 = self.lock_key()
        row = conn.execute(
            """SELECT a.pid, a.usename, a.application_name, a.client_addr::text, a.state_change
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
            f"{client}) since {since_text}; {waited} (--lock-wait)",
            holder_pid=int(pid),
        )

    def _setup(self, conn: psycopg.Connection[Any]) -> None:
        import psycopg

        version = conn.info.server_version
        parts = ["SET idle_in_transaction_session_timeout = 0"]
        if version >= 140000:
            parts.append("SET client_connection_check_interval = 1000")
        try:
            conn.execute("; ".join(parts))
        except psycopg.Error as exc:
            raise MigrationError(f"cannot prepare the migration session: {_err_text(exc)}") from exc
        self._set_timeouts(None)

    def _set_timeouts(self, script: MigrationScript | None) -> None:
        """Session-level timeouts: the options', or a script's own (autocommit scripts)."""
        opts = self.options
        lock_s = opts.lock_timeout
        stmt_s = opts.statement_timeout
        if script is not None:
            lock_s = script.directives.lock_timeout or lock_s
            stmt_s = script.directives.statement_timeout or stmt_s
        wanted = (int(lock_s * 1000), int(stmt_s * 1000))
        if wanted == self._timeouts:
            return
        self.conn.execute(f"SET lock_timeout = {wanted[0]}; SET statement_timeout = {wanted[1]}")
        self._timeouts = wanted

    # --- the history table -------------------------------------------------------------------

    def _q(self, template: str) -> Any:
        from psycopg import sql

        table = sql.Identifier(self.options.schema, self.options.table)
        return sql.SQL(template).format(t=table)

    def _exists(self) -> bool:
        row = self.conn.execute(
            "SELECT to_regclass(%s) IS NOT NULL", (f'"{self.options.schema}"."{self.options.table}"',)
        ).fetchone()
        return bool(row and row[0])

    def _create_table(self) -> None:
        self.conn.execute(
            self._q(
                """CREATE TABLE IF NOT EXISTS {t} (
                 installed_rank integer NOT NULL PRIMARY KEY,
                 version varchar(50),
                 description varchar(200) NOT NULL,
                 type varchar(20) NOT NULL,
                 script varchar(1000) NOT NULL,
                 checksum integer,
                 installed_by varchar(100) NOT NULL,
                 installed_on timestamptz NOT NULL DEFAULT now(),
                 execution_time integer,
                 success boolean NOT NULL,
                 gate_verdict varchar(20),
                 override_id varchar(100),
                 sha256 char(64),
                 transactional boolean NOT NULL DEFAULT true
               )"""
            )
        )

    def _check_columns(self) -> None:
        rows = self.conn.execute(
            "SELECT column_name FROM information_schema.columns WHERE table_schema = %s AND table_name = %s",
            (self.options.schema, self.options.table),
        ).fetchall()
        missing = [c for c in COLUMNS if c not in {r[0] for r in rows}]
        if missing:
            raise MigrationError(
                f"table {self.options.schema}.{self.options.table} exists but is not a "
                f"seasongate history table (missing columns: {', '.join(missing)}); "
                "use --table to pick another name"
            )

    def history(self) -> list[HistoryRow]:
        """Every history row, by installed rank (empty when the table does not exist)."""
        if not self._table_exists:
            return []
        cols = ", ".join(COLUMNS)
        rows = self.conn.execute(self._q(f"SELECT {cols} FROM {{t}} ORDER BY installed_rank"))
        out: list[HistoryRow] = []
        for r in rows.fetchall():
            version = Version.parse(r[1]) if r[1] else None
            out.append(
                HistoryRow(
                    int(r[0]),
                    version,
                    r[2],
                    r[3],
                    r[4],
                    r[5],
                    r[6],
                    r[7],
                    r[8],
                    bool(r[9]),
                    r[10],
                    r[11],
                    (r[12] or "").strip() or None,
                    bool(r[13]),
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
    ) -> Applied:
        """Run a migration and record it (type ``SQL``); raises :class:`MigrationFailed`.
        ``audit`` is the audit chain's anchor (seq, hash) stored with the row."""
        return self._run(migration, migration, SQL, verdict, override_id, audit)

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
    ) -> Applied:
        if not self.locked:
            raise MigrationError("applying needs the migration lock (open(lock=True))")
        values = {
            "version": ".".join(str(p) for p in migration.version.parts),
            "description": migration.title[:200],
            "type": kind,
            "script": script.name,
            "checksum": script.checksum,
            "installed_by": self.options.installed_by,
            "verdict": verdict,
            "override_id": override_id,
            "sha256": script.sha256,
        }
        if script.transactional:
            return self._run_transactional(script, values)
        return self._run_autocommit(script, values)

    _INSERT = (
        "INSERT INTO {t} (installed_rank, version, description, type, script, checksum, "
        "installed_by, execution_time, success, gate_verdict, override_id, sha256, transactional)"
        " VALUES (%(rank)s, %(version)s, %(description)s, %(type)s, %(script)s, %(checksum)s, "
        "coalesce(%(installed_by)s, current_user), %(ms)s, %(success)s, %(verdict)s, "
        "%(override_id)s, %(sha256)s, %(transactional)s)"
    )

    def _insert(self, values: dict[str, Any], *, ms: int | None, success: bool, transactional: bool) -> int:
        rank = self._next_rank
        self.conn.execute(
            self._q(self._INSERT),
            {**values, "rank": rank, "ms": ms, "success": success, "transactional": transactional},
        )
        self._next_rank = rank + 1
        return rank

    _SERVER_MS = "(extract(epoch FROM clock_timestamp() - statement_timestamp()) * 1000)::int"

    def _run_transactional(self, script: MigrationScript, values: dict[str, Any]) -> Applied:
        """One round trip: ``BEGIN; [SET LOCAL ...;] <script>; INSERT history; COMMIT`` as a
        single simple query, so a run of many small migrations costs little more than psql.

        ``statement_timestamp()`` is when the server received the query, so the recorded
        ``execution_time`` is the server's time for the script. On an error the server skips
        the rest of the query; the transaction is rolled back and a failed row recorded.
        """
        import psycopg
        from psycopg import sql

        if self._insert_template is None:
            row = sql.SQL(self._INSERT.replace("%(ms)s", self._SERVER_MS)).format(
                t=sql.Identifier(self.options.schema, self.options.table)
            )
            self._insert_template = row.as_string(self.conn)
        retries = 0
        while True:
            rank = self._next_rank
            params = {**values, "rank": rank, "success": True, "transactional": True}
            insert = _inline(self._insert_template, params, self.conn)
            prefix = "BEGIN;\n"
            if self._needs_local(script):
                prefix = f"BEGIN; {self._local_timeouts(script)}\n"
            query = f"{prefix}{script.sql}\n;\n{insert};\nCOMMIT"
            start = time.perf_counter()
            try:
                self.conn.execute(query.encode("utf-8"))
            except psycopg.Error as exc:
                with suppress(psycopg.Error):
                    self.conn.execute("ROLLBACK")
                if isinstance(exc, psycopg.errors.LockNotAvailable) and retries < self.options.lock_retries:
                    self._sleep(self.options.retry_backoff * (2**retries))
                    retries += 1
                    continue
                raise self._failed(
                    script, values, exc, start, script.sql, transactional=True, retries=retries, offset=len(prefix)
                ) from exc
            self._next_rank = rank + 1
            return Applied(script, rank, _ms(start), retries)

    def _local_timeouts(self, script: MigrationScript) -> str:
        opts = self.options
        lock_ms = int((script.directives.lock_timeout or opts.lock_timeout) * 1000)
        stmt_ms = int((script.directives.statement_timeout or opts.statement_timeout) * 1000)
        return f"SET LOCAL lock_timeout = {lock_ms}; SET LOCAL statement_timeout = {stmt_ms};"

    def _needs_local(self, script: MigrationScript) -> bool:
        d = script.directives
        return d.lock_timeout is not None or d.statement_timeout is not None

    def _run_autocommit(self, script: MigrationScript, values: dict[str, Any]) -> Applied:
        import psycopg

        start = time.perf_counter()
        rank = self._insert(values, ms=None, success=False, transactional=False)
        retries = 0
        statement: Statement | None = None
        try:
            self._set_timeouts(script)
            for statement in split_statements(script.sql):
                while True:
                    try:
                        self.conn.execute(statement.text)
                        break
                    except psycopg.errors.LockNotAvailable:
                        if retries >= self.options.lock_retries:
                            raise
                        self._sleep(self.options.retry_backoff * (2**retries))
                        retries += 1
        except psycopg.Error as exc:
            ms = _ms(start)
            line = 0
            if statement is not None:
                pos = getattr(exc.diag, "statement_position", None)
                line = statement.line
                if pos and str(pos).isdigit():
                    line = line_of(script.sql, statement.offset + int(pos) - 1)
            self._finish(rank, ms, success=False)
            raise MigrationFailed(script, _err_text(exc), sqlstate=exc.sqlstate, line=line, execution_ms=ms) from exc
        finally:
            self._set_timeouts(None)
        ms = _ms(start)
        self._finish(rank, ms, success=True)
        return Applied(script, rank, ms, retries)

    def _finish(self, rank: int, ms: int, *, success: bool) -> None:
        import psycopg

        try:
            self.conn.execute(
                self._q("UPDATE {t} SET execution_time = %s, success = %s WHERE installed_rank = %s"),
                (ms, success, rank),
            )
        except psycopg.Error:
            if success:
                raise
            # The failure itself is what matters; the started row already marks it.

    def _failed(
        self,
        script: MigrationScript,
        values: dict[str, Any],
        exc: Any,
        start: float,
        sql_text: str,
        *,
        transactional: bool,
        retries: int,
        offset: int = 0,
    ) -> MigrationFailed:
        import psycopg

        ms = _ms(start)
        pos = getattr(getattr(exc, "diag", None), "statement_position", None)
        line = 0
        if pos and str(pos).isdigit() and 0 < int(pos) - offset <= len(sql_text) + 1:
            line = line_of(sql_text, int(pos) - 1 - offset)
        message = _err_text(exc)
        if retries:
            message += f" (after {retries} retr{'ies' if retries != 1 else 'y'})"
        # When the server is gone nothing can be recorded; the rollback still happened.
        with suppress(psycopg.Error):
            self._insert(values, ms=ms, success=False, transactional=transactional)
        return MigrationFailed(script, message, sqlstate=getattr(exc, "sqlstate", None), line=line, execution_ms=ms)


def _inline(template: str, params: dict[str, Any], conn: psycopg.Connection[Any]) -> str:
    """``template`` with its ``%(name)s`` placeholders replaced by SQL literals (libpq's
    ``PQescapeLiteral`` for text, which is right whatever standard_conforming_strings is)."""
    from psycopg import pq

    escape = pq.Escaping(conn.pgconn).escape_literal

    def literal(match: re.Match[str]) -> str:
        value = params[match.group(1)]
        if value is None:
            return "NULL"
        if isinstance(value, bool):
            return "true" if value else "false"
        if isinstance(value, int):
            return str(value)
        return bytes(escape(str(value).encode("utf-8"))).decode("utf-8")

    return _PLACEHOLDER.sub(literal, template)


_PLACEHOLDER = re.compile(r"%\((\w+)\)s")


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
