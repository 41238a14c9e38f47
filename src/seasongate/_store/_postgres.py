"""The PostgreSQL store: schema ``seasongate``, rules enforced by the database itself.

The identity is ``session_user``; holding a policy role means being a member of the
PostgreSQL role ``seasongate_<role>``. Every change is a call of a SECURITY DEFINER function
(``_pg_sql.py``) that checks the rules, writes the change and extends the audit chain in one
transaction, so a user at a ``psql`` prompt can do no more than the command line can.

psycopg is imported inside the functions: ``seasongate check`` with a SQLite store never
pays for it.
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from datetime import datetime
from typing import TYPE_CHECKING, Any

from seasongate._errors import InputError, OverrideError, StoreError
from seasongate._overrides import (
    MSG_UNKNOWN,
    Approval,
    Closure,
    OverrideRecord,
    Roster,
    check_text,
    format_versions,
    parse_versions,
)
from seasongate._policy._decision import OverrideGrant
from seasongate._store import SCHEMA_VERSION, Store, display_url
from seasongate._store._audit import (
    RESERVED_PREFIX,
    AuditEntry,
    AuditReport,
    check_entry_fields,
    payload_json,
    verify_chain,
)
from seasongate._time import from_ts, to_ts

if TYPE_CHECKING:
    import psycopg

CONNECT_TIMEOUT = 10  # seconds

# One round trip per read: each override with its approvals as a JSON array.
_SELECT_OVERRIDES = """
SELECT o.id, o.environment, o.territory, o.versions, o.rules,
       extract(epoch FROM o.valid_from)::bigint, extract(epoch FROM o.valid_until)::bigint,
       o.requester, o.reason, o.ticket, o.single_use, o.approvals_required, o.roles,
       o.max_validity, extract(epoch FROM o.created_at)::bigint,
       extract(epoch FROM o.rejected_at)::bigint, o.rejected_by, o.reject_reason,
       extract(epoch FROM o.revoked_at)::bigint, o.revoked_by, o.revoke_reason,
       extract(epoch FROM o.consumed_at)::bigint, o.consumed_by, o.consumed_subject,
       coalesce((SELECT json_agg(json_build_array(
                        a.approver, extract(epoch FROM a.approved_at)::bigint, a.comment)
                    ORDER BY a.approved_at, a.approver)
                 FROM seasongate.approvals a WHERE a.override_id = o.id), '[]'::json)
FROM seasongate.overrides o
"""

_SELECT_AUDIT = """
SELECT seq, extract(epoch FROM at)::bigint, actor, action, subject, payload::text, prev_hash,
       hash
FROM seasongate.audit
"""


def _closure(at: int | None, by: str | None, note: str | None) -> Closure | None:
    return None if at is None else Closure(by=by or "", at=int(at), note=note or "")


def _record(row: tuple[Any, ...]) -> OverrideRecord:
    approvals = row[24]
    if isinstance(approvals, str):
        approvals = json.loads(approvals)
    return OverrideRecord(
        id=row[0],
        environment=row[1],
        territory=row[2],
        versions=parse_versions(row[3]),
        rules=tuple(row[4]),
        valid_from=int(row[5]),
        valid_until=int(row[6]),
        requester=row[7],
        reason=row[8],
        ticket=row[9],
        single_use=bool(row[10]),
        approvals_required=int(row[11]),
        roles=tuple(row[12]),
        max_validity=int(row[13]),
        created_at=int(row[14]),
        approvals=tuple(Approval(str(a), int(t), str(c)) for a, t, c in approvals),
        rejected=_closure(row[15], row[16], row[17]),
        revoked=_closure(row[18], row[19], row[20]),
        consumed=_closure(row[21], row[22], row[23]),
    )


def _entry(row: tuple[Any, ...]) -> AuditEntry:
    return AuditEntry(int(row[0]), int(row[1]), row[2], row[3], row[4], row[5], row[6], row[7])


class PostgresStore(Store):
    """The store in a PostgreSQL database (schema ``seasongate``)."""

    backend = "postgresql"

    def __init__(self, conn: psycopg.Connection[tuple[Any, ...]], url: str) -> None:
        self._conn = conn
        self.url = display_url(url)

    @classmethod
    def open(cls, url: str) -> PostgresStore:
        """Connect and bring the schema up to date (or check that it is)."""
        try:
            import psycopg
        except ImportError as exc:  # pragma: no cover - psycopg is a dependency
            raise StoreError("the PostgreSQL store needs psycopg: pip install psycopg") from exc
        shown = display_url(url)
        try:
            conn = psycopg.connect(
                url, autocommit=True, connect_timeout=CONNECT_TIMEOUT,
                application_name="seasongate",
            )  # fmt: skip
        except psycopg.Error as exc:
            raise StoreError(f"cannot connect to the PostgreSQL store {shown}: {_first_line(exc)}") from exc
        store = cls(conn, url)
        try:
            store._ensure_schema()
        except BaseException:
            conn.close()
            raise
        return store

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

    def _ensure_schema(self) -> None:
        from seasongate._store._pg_sql import LOCK_KEY, SCHEMA

        with self._errors("reading the schema version"):
            current = self._read_version()
        if current == SCHEMA_VERSION:
            return
        if current > SCHEMA_VERSION:
            raise self._too_new(current)
        with self._errors("creating the schema"), self._conn.transaction():
            # Two processes starting at once: the second waits here, then finds it done.
            self._conn.execute("SELECT pg_advisory_xact_lock(%s::bigint)", (LOCK_KEY,))
            current = self._read_version()
            if current > SCHEMA_VERSION:
                raise self._too_new(current)
            for version in range(current + 1, SCHEMA_VERSION + 1):
                self._conn.execute(SCHEMA[version].encode())
                self._conn.execute(
                    "INSERT INTO seasongate.meta (key, value) VALUES ('schema_version', %s) "
                    "ON CONFLICT (key) DO UPDATE SET value = EXCLUDED.value",
                    (str(version),),
                )

    def _too_new(self, version: int) -> StoreError:
        return StoreError(
            f"the PostgreSQL store {self.url} has schema version {version}, newer than this "
            f"seasongate understands ({SCHEMA_VERSION}); upgrade seasongate"
        )

    @contextmanager
    def _errors(self, doing: str, override_id: str = "") -> Iterator[None]:
        """Turn database errors into the user-facing ones, keeping the database's message."""
        import psycopg

        try:
            yield
        except psycopg.Error as exc:
            state = exc.sqlstate or ""
            message = _first_line(exc)
            if state == "P0002" and override_id:
                raise InputError(MSG_UNKNOWN.format(id=override_id)) from exc
            if state in ("22023", "23514", "22P02", "22021", "54000"):
                raise InputError(message) from exc
            if state in ("P0001", "42501", "42704"):
                # Refusals by the rules in the functions (P0001), or by the grants (42501).
                raise OverrideError(message) from exc
            raise StoreError(f"PostgreSQL store {self.url}: {doing} failed: {message}") from exc
        except (ValueError, TypeError) as exc:
            raise StoreError(f"PostgreSQL store {self.url}: {doing} failed: unreadable data: {exc}") from exc

    def schema_version(self) -> int:
        """The schema version in the database."""
        with self._errors("reading the schema version"):
            return self._read_version()

    def identity(self) -> str:
        """The database ``session_user``."""
        with self._errors("reading session_user"):
            row = self._conn.execute("SELECT session_user").fetchone()
        assert row is not None
        return str(row[0])

    def close(self) -> None:
        """Close the connection."""
        self._conn.close()

    # -- audit -------------------------------------------------------------------------------

    def append_audit(
        self, actor: str, action: str, subject: str, payload: Mapping[str, Any], at: datetime
    ) -> AuditEntry:
        """Append one entry (``seasongate.audit_append``)."""
        check_entry_fields(actor, action, subject)
        if action.startswith(RESERVED_PREFIX):
            raise InputError(f"audit action {action!r} is written by the override commands only")
        text = payload_json(payload)
        when = from_ts(to_ts(at))
        with self._errors("appending to the audit trail"):
            row = self._conn.execute(
                "SELECT seq, extract(epoch FROM at)::bigint, actor, action, subject, "
                "payload::text, prev_hash, hash "
                "FROM seasongate.audit_append(%s, %s, %s, %s::json, %s)",
                (actor, action, subject, text, when),
            ).fetchone()
        assert row is not None
        return _entry(row)

    def audit_entries(self, since: datetime | None = None) -> list[AuditEntry]:
        """Entries in order."""
        with self._errors("reading the audit trail"):
            if since is None:
                rows = self._conn.execute(_SELECT_AUDIT + " ORDER BY seq").fetchall()
            else:
                rows = self._conn.execute(
                    _SELECT_AUDIT + " WHERE at >= %s ORDER BY seq", (from_ts(to_ts(since)),)
                ).fetchall()
        return [_entry(r) for r in rows]

    def audit_count(self) -> int:
        """Number of entries."""
        with self._errors("counting the audit trail"):
            row = self._conn.execute("SELECT count(*) FROM seasongate.audit").fetchone()
        assert row is not None
        return int(row[0])

    def verify_audit(self) -> AuditReport:
        """Check the chain, read in one snapshot together with the head."""
        with self._errors("reading the audit trail"), self._conn.transaction():
            self._conn.execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ READ ONLY")
            head_row = self._conn.execute("SELECT value FROM seasongate.meta WHERE key = 'audit_head'").fetchone()
            entries = [_entry(r) for r in self._conn.execute(_SELECT_AUDIT + " ORDER BY seq").fetchall()]
        head = None
        if head_row is not None:
            seq_text, _, digest = str(head_row[0]).partition(":")
            head = (int(seq_text), digest)
        return verify_chain(entries, head)

    # -- overrides ---------------------------------------------------------------------------

    def get_override(self, override_id: str) -> OverrideRecord:
        """One override by id."""
        with self._errors("reading an override"):
            row = self._conn.execute(_SELECT_OVERRIDES + " WHERE o.id = %s", (override_id,)).fetchone()
        if row is None:
            raise InputError(MSG_UNKNOWN.format(id=override_id))
        return _record(row)

    def list_overrides(self) -> list[OverrideRecord]:
        """All overrides, oldest first."""
        with self._errors("reading the overrides"):
            rows = self._conn.execute(_SELECT_OVERRIDES + " ORDER BY o.created_at, o.id").fetchall()
        return [_record(r) for r in rows]

    def active_grants(self, environment: str, territory: str, at: datetime) -> list[OverrideGrant]:
        """Fully approved, unclosed overrides of this scope valid at ``at``."""
        ts = to_ts(at)
        when = from_ts(ts)
        with self._errors("reading the overrides"):
            rows = self._conn.execute(
                _SELECT_OVERRIDES + " WHERE o.environment = %s AND o.territory = %s AND o.valid_from <= %s"
                " AND o.valid_until > %s AND o.rejected_at IS NULL AND o.revoked_at IS NULL"
                " AND o.consumed_at IS NULL ORDER BY o.created_at, o.id",
                (environment, territory, when, when),
            ).fetchall()
        records = [_record(r) for r in rows]
        return [r.to_grant() for r in records if r.grants_at(ts)]

    def create_override(self, record: OverrideRecord) -> OverrideRecord:
        """``seasongate.request_override``: the requester is ``session_user``."""
        requester = self.identity()
        if record.requester != requester:
            raise OverrideError(
                f"an override is requested by whoever runs the command ({requester}), not by {record.requester}"
            )
        with self._errors("storing the override", record.id):
            self._conn.execute(
                "SELECT seasongate.request_override("
                "%s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s)",
                (
                    record.id, record.environment, record.territory,
                    format_versions(record.versions), list(record.rules),
                    from_ts(record.valid_from), from_ts(record.valid_until), record.reason,
                    record.ticket, record.single_use, record.approvals_required,
                    list(record.roles), record.max_validity, from_ts(record.created_at),
                ),
            )  # fmt: skip
        return self.get_override(record.id)

    def approve(self, override_id: str, *, at: datetime, comment: str, roster: Roster) -> tuple[OverrideRecord, bool]:
        """``seasongate.approve_override``; ``roster`` is not used (database roles decide)."""
        comment = check_text(comment, "the comment", required=False)
        with self._errors("approving an override", override_id):
            row = self._conn.execute(
                "SELECT seasongate.approve_override(%s, %s, %s)",
                (override_id, comment, from_ts(to_ts(at))),
            ).fetchone()
        assert row is not None
        return self.get_override(override_id), bool(row[0])

    def reject(self, override_id: str, *, at: datetime, reason: str, roster: Roster) -> OverrideRecord:
        """``seasongate.reject_override``."""
        reason = check_text(reason, "the reason")
        with self._errors("rejecting an override", override_id):
            self._conn.execute(
                "SELECT seasongate.reject_override(%s, %s, %s)",
                (override_id, reason, from_ts(to_ts(at))),
            )
        return self.get_override(override_id)

    def revoke(self, override_id: str, *, at: datetime, reason: str, roster: Roster) -> OverrideRecord:
        """``seasongate.revoke_override``."""
        reason = check_text(reason, "the reason")
        with self._errors("revoking an override", override_id):
            self._conn.execute(
                "SELECT seasongate.revoke_override(%s, %s, %s)",
                (override_id, reason, from_ts(to_ts(at))),
            )
        return self.get_override(override_id)

    def consume(self, override_id: str, at: datetime, subject: str) -> None:
        """``seasongate.consume_override``."""
        subject = check_text(subject, "the subject", required=False)
        with self._errors("consuming an override", override_id):
            self._conn.execute(
                "SELECT seasongate.consume_override(%s, %s, %s)",
                (override_id, subject, from_ts(to_ts(at))),
            )


def _first_line(exc: BaseException) -> str:
    diag = getattr(exc, "diag", None)
    primary = getattr(diag, "message_primary", None) if diag is not None else None
    text = str(primary or exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__
