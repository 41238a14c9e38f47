"""The PostgreSQL store: schema ``seasongate``, rules enforced by the database itself.

The identity is ``session_user``; holding a policy role means being a member of the
PostgreSQL role ``seasongate_<role>``. Every change is a call of a SECURITY DEFINER function
(``_pg_sql.py``) that takes the actor from ``session_user`` and the time from the server's
clock, checks the rules, writes the change and extends the audit chain in one transaction,
so a user at a ``psql`` prompt can do no more than the command line can.

Every session sets ``lock_timeout`` and ``statement_timeout``: a store that cannot answer
within a few seconds is a :class:`~seasongate._errors.StoreError` naming who holds it, and
``check`` fails closed (exit 2).

psycopg is imported inside the functions: ``seasongate check`` with a SQLite store never
pays for it.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from datetime import datetime
from typing import TYPE_CHECKING, Any

from seasongate._errors import StoreError
from seasongate._store import display_url
from seasongate._store._audit import AuditEntry, payload_json
from seasongate._store._base import BaseStore, approval_from_row, claim_decision, record_from_row
from seasongate._time import from_ts

if TYPE_CHECKING:
    import psycopg

    from seasongate._overrides import Closing, OverrideRecord, Roster

CONNECT_TIMEOUT = 5  # seconds
LOCK_TIMEOUT = "3s"  # waiting for a lock another session holds
STATEMENT_TIMEOUT = "10s"  # any one statement
UPGRADE_LOCK_TIMEOUT = "60s"  # creating the schema waits for another process doing it

_SELECT_OVERRIDES = """
SELECT o.id, o.environment, o.territory, o.versions, o.rules,
       extract(epoch FROM o.valid_from)::bigint, extract(epoch FROM o.valid_until)::bigint,
       o.requester, o.reason, o.ticket, o.single_use, o.approvals_required, o.roles,
       o.max_validity, extract(epoch FROM o.created_at)::bigint,
       extract(epoch FROM o.rejected_at)::bigint, o.rejected_by, o.reject_reason,
       extract(epoch FROM o.revoked_at)::bigint, o.revoked_by, o.revoke_reason,
       extract(epoch FROM o.consumed_at)::bigint, o.consumed_by, o.consumed_subject,
       coalesce((SELECT json_agg(json_build_array(
                        a.approver, extract(epoch FROM a.approved_at)::bigint, a.comment, a.roles)
                    ORDER BY a.approved_at, a.approver)
                 FROM seasongate.approvals a WHERE a.override_id = o.id), '[]'::json)
FROM seasongate.overrides o
"""

_AUDIT_COLUMNS = "seq, extract(epoch FROM at)::bigint, actor, action, subject, payload::text, prev_hash, hash"
_SELECT_AUDIT = f"SELECT {_AUDIT_COLUMNS} FROM seasongate.audit"
# The starts about a database that no outcome names (compared as text: what the outcome wrote).
_UNSETTLED = (
    f"{_SELECT_AUDIT} WHERE action = 'migration.start' AND payload->>'database' = %s "
    "AND seq::text NOT IN (SELECT payload->>'start_seq' FROM seasongate.audit "
    "WHERE action IN ('migration.apply', 'migration.rollback') AND payload->>'start_seq' IS NOT NULL) "
    "ORDER BY seq"
)

# Who holds a lock on the store's tables or the schema lock, for "the store is busy".
_LOCK_HOLDERS = """
SELECT a.usename, a.pid, a.state, extract(epoch FROM clock_timestamp() - a.xact_start)::bigint,
       string_agg(DISTINCT l.mode || ' on ' || coalesce(c.relname, l.locktype), ', ')
FROM pg_catalog.pg_locks l
JOIN pg_catalog.pg_stat_activity a ON a.pid = l.pid
LEFT JOIN pg_catalog.pg_class c ON c.oid = l.relation
LEFT JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace
WHERE l.granted AND l.pid <> pg_backend_pid()
  AND l.database = (SELECT oid FROM pg_catalog.pg_database WHERE datname = current_database())
  AND (n.nspname = 'seasongate' OR l.locktype = 'advisory')
GROUP BY a.usename, a.pid, a.state, a.xact_start
ORDER BY a.xact_start NULLS LAST
LIMIT 3
"""


def _int(value: Any) -> int:
    return int(value)


def _record(row: tuple[Any, ...]) -> OverrideRecord:
    approvals = [approval_from_row(a, t, c, r, _int) for a, t, c, r in row[24]]
    return record_from_row(row, approvals, _int)


def _entry(row: tuple[Any, ...]) -> AuditEntry:
    return AuditEntry(int(row[0]), int(row[1]), row[2], row[3], row[4], row[5], row[6], row[7])


class PostgresStore(BaseStore):
    """The store in a PostgreSQL database (schema ``seasongate``)."""

    backend = "postgresql"
    param = "%s"

    def __init__(self, conn: psycopg.Connection[tuple[Any, ...]], url: str) -> None:
        self._conn = conn
        self._dsn = url  # only to redact its password from driver messages
        self._identity: str | None = None
        self.url = display_url(url)

    @classmethod
    def open(cls, url: str) -> PostgresStore:
        """Connect, set the session's timeouts and bring the schema up to date."""
        try:
            from seasongate._pgdriver import psycopg  # the first import of psycopg: see there
        except ImportError as exc:  # pragma: no cover - psycopg is a dependency
            raise StoreError("the PostgreSQL store needs psycopg: pip install psycopg") from exc
        shown = display_url(url)
        try:
            conn = psycopg.connect(
                url, autocommit=True, connect_timeout=CONNECT_TIMEOUT,
                application_name="seasongate",
            )  # fmt: skip
        except psycopg.Error as exc:
            raise StoreError(f"cannot connect to the PostgreSQL store {shown}: {_first_line(exc, url)}") from exc
        store = cls(conn, url)
        try:
            with store._errors("setting the session's timeouts"):
                conn.execute(f"SET lock_timeout = '{LOCK_TIMEOUT}'")
                conn.execute(f"SET statement_timeout = '{STATEMENT_TIMEOUT}'")
            store._ensure_schema()
        except BaseException:
            conn.close()
            raise
        return store

    # -- the schema ----------------------------------------------------------------------

    def _read_version(self) -> int:
        # A catalog query, not to_regclass(): that one may answer from a stale cache after
        # another process created the schema while we waited for the lock.
        row = self._conn.execute(
            "SELECT 1 FROM pg_catalog.pg_class c JOIN pg_catalog.pg_namespace n "
            "ON n.oid = c.relnamespace WHERE n.nspname = 'seasongate' AND c.relname = 'meta'"
        ).fetchone()
        if row is None:
            return 0
        found = self._conn.execute("SELECT value FROM seasongate.meta WHERE key = 'schema_version'").fetchone()
        return int(found[0]) if found else 0

    @contextmanager
    def _upgrade_lock(self) -> Iterator[None]:
        from seasongate._store._pg_sql import LOCK_KEY

        with self._conn.transaction():
            self._conn.execute(f"SET LOCAL lock_timeout = '{UPGRADE_LOCK_TIMEOUT}'")
            self._conn.execute("SET LOCAL statement_timeout = 0")
            # Two processes starting at once: the second waits here, then finds it done.
            self._conn.execute("SELECT pg_advisory_xact_lock(%s::bigint)", (LOCK_KEY,))
            yield

    def _run_schema_step(self, version: int) -> None:
        from seasongate._store._pg_sql import SCHEMA

        self._conn.execute(SCHEMA[version].encode())
        self._conn.execute(
            "INSERT INTO seasongate.meta (key, value) VALUES ('schema_version', %s) "
            "ON CONFLICT (key) DO UPDATE SET value = EXCLUDED.value",
            (str(version),),
        )

    # -- errors --------------------------------------------------------------------------

    def _kind(self, exc: BaseException) -> str | None:
        import psycopg

        if not isinstance(exc, psycopg.Error):
            return None
        return exc.sqlstate or ""

    def _message(self, exc: BaseException) -> str:
        return _first_line(exc, self._dsn)

    def _busy_detail(self) -> str:
        import psycopg

        # A connection of its own: this one may be inside the transaction that just failed.
        try:
            with psycopg.connect(self._dsn, autocommit=True, connect_timeout=CONNECT_TIMEOUT) as conn:
                conn.execute(f"SET statement_timeout = '{LOCK_TIMEOUT}'")
                rows = conn.execute(_LOCK_HOLDERS).fetchall()
        except psycopg.Error:  # the detail is a courtesy; the error stands without it
            return ""
        if not rows:
            return ""
        held = "; ".join(
            f"{user} (pid {pid}"
            + (f", {state}" if state else "")
            + (f", transaction open {age} s" if age is not None else "")
            + f") holding {locks}"
            for user, pid, state, age, locks in rows
        )
        return f"; held by {held}"

    # -- identity ------------------------------------------------------------------------

    def identity(self) -> str:
        """The database ``session_user`` (read once: it cannot change within a session)."""
        if self._identity is None:
            with self._errors("reading session_user"):
                row = self._conn.execute("SELECT session_user").fetchone()
            assert row is not None
            self._identity = str(row[0])
        return self._identity

    def close(self) -> None:
        """Close the connection."""
        self._conn.close()

    # -- audit -------------------------------------------------------------------------------

    def _append_entry(self, action: str, subject: str, payload_text: str, at: datetime) -> AuditEntry:
        """``seasongate.audit_append``: as ``session_user``, at the server's time (``at`` is
        not used)."""
        row = self._conn.execute(
            f"SELECT {_AUDIT_COLUMNS} FROM seasongate.audit_append(%s, %s, %s::json)",
            (action, subject, payload_text),
        ).fetchone()
        assert row is not None
        return _entry(row)

    def _select_unsettled(self, database: str) -> list[AuditEntry]:
        return [_entry(r) for r in self._conn.execute(_UNSETTLED, (database,)).fetchall()]

    def _count_entries(self) -> int:
        row = self._conn.execute("SELECT count(*) FROM seasongate.audit").fetchone()
        assert row is not None
        return int(row[0])

    def _stored_head(self) -> str | None:
        head = self._conn.execute("SELECT value FROM seasongate.meta WHERE key = 'audit_head'").fetchone()
        return None if head is None else str(head[0])

    def _select_entries(self, where: str, params: Sequence[Any]) -> list[AuditEntry]:
        sql = f"{_SELECT_AUDIT} WHERE {where} ORDER BY seq" if where else f"{_SELECT_AUDIT} ORDER BY seq"
        return [_entry(r) for r in self._conn.execute(sql.encode(), tuple(params)).fetchall()]

    def _among(self, column: str, values: Sequence[Any]) -> tuple[str, list[Any]]:
        return f"{column} = ANY(%s)", [list(values)]

    def _instant(self, ts: int) -> Any:
        return from_ts(ts)

    @contextmanager
    def _snapshot(self) -> Iterator[object]:
        with self._conn.transaction():
            self._conn.execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ READ ONLY")
            yield None

    # -- overrides: each change is one call of its SECURITY DEFINER function ----------------

    def _read_overrides(self, override_id: str | None) -> list[OverrideRecord]:
        if override_id is None:
            rows = self._conn.execute(_SELECT_OVERRIDES + " ORDER BY o.created_at, o.id").fetchall()
        else:
            rows = self._conn.execute(_SELECT_OVERRIDES + " WHERE o.id = %s", (override_id,)).fetchall()
        return [_record(r) for r in rows]

    def _grant_candidates(self, environment: str, territory: str, at: int) -> list[OverrideRecord]:
        when = from_ts(at)
        rows = self._conn.execute(
            _SELECT_OVERRIDES + " WHERE o.environment = %s AND o.territory = %s AND o.valid_from <= %s"
            " AND o.valid_until > %s AND o.rejected_at IS NULL AND o.revoked_at IS NULL"
            " AND o.consumed_at IS NULL ORDER BY o.created_at, o.id",
            (environment, territory, when, when),
        ).fetchall()
        return [_record(r) for r in rows]

    def _create(self, record: OverrideRecord) -> OverrideRecord:
        """``seasongate.request_override``: the requester is ``session_user``, the time the
        server's."""
        from seasongate._overrides import format_versions

        self._conn.execute(
            "SELECT seasongate.request_override(%s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s)",
            (
                record.id, record.environment, record.territory,
                format_versions(record.versions), list(record.rules),
                from_ts(record.valid_from), from_ts(record.valid_until), record.reason,
                record.ticket, record.single_use, record.approvals_required,
                list(record.roles), record.max_validity,
            ),
        )  # fmt: skip
        return self.get_override(record.id)

    def _approve(self, override_id: str, at: datetime, comment: str, roster: Roster) -> tuple[OverrideRecord, bool]:
        """``seasongate.approve_override``; database roles decide (``roster`` and ``at`` are
        not used)."""
        row = self._conn.execute("SELECT seasongate.approve_override(%s, %s)", (override_id, comment)).fetchone()
        assert row is not None
        return self.get_override(override_id), bool(row[0])

    def _close(self, closing: Closing, override_id: str, at: datetime, reason: str, roster: Roster) -> OverrideRecord:
        """``seasongate.reject_override`` / ``revoke_override``."""
        self._conn.execute(f"SELECT seasongate.{closing.name}_override(%s, %s)", (override_id, reason))
        return self.get_override(override_id)

    def _consume(self, override_id: str, at: datetime, subject: str, decision: Mapping[str, Any] | None) -> None:
        """``seasongate.consume_override`` with the gate's allowing decision."""
        if decision is None:
            decision = claim_decision(self.get_override(override_id), None)
        text = payload_json(decision)
        self._conn.execute("SELECT seasongate.consume_override(%s, %s, %s::json)", (override_id, subject, text))


def _first_line(exc: BaseException, url: str) -> str:
    from seasongate._dsn import redact

    diag = getattr(exc, "diag", None)
    primary = getattr(diag, "message_primary", None) if diag is not None else None
    text = str(primary or exc).strip()
    line = text.splitlines()[0] if text else type(exc).__name__
    return redact(line, url) if url else line
