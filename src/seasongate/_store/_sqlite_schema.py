"""The SQLite store's tables, one entry of :data:`SCHEMA` per schema version, and how their
rows read back."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from seasongate._store._audit import AuditEntry
from seasongate._time import to_ts

# Instants are stored as UTC ISO text (``iso``: fixed width, so text order is time order).
SCHEMA: dict[int, str] = {
    1: """
    CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
    CREATE TABLE overrides (
        id TEXT PRIMARY KEY,
        environment TEXT NOT NULL,
        territory TEXT NOT NULL,
        versions TEXT NOT NULL,
        rules TEXT NOT NULL,
        valid_from TEXT NOT NULL,
        valid_until TEXT NOT NULL,
        requester TEXT NOT NULL,
        reason TEXT NOT NULL CHECK (length(trim(reason)) > 0),
        ticket TEXT NOT NULL,
        single_use INTEGER NOT NULL,
        approvals_required INTEGER NOT NULL CHECK (approvals_required >= 1),
        roles TEXT NOT NULL,
        max_validity INTEGER NOT NULL,
        created_at TEXT NOT NULL,
        rejected_at TEXT, rejected_by TEXT, reject_reason TEXT,
        revoked_at TEXT, revoked_by TEXT, revoke_reason TEXT,
        consumed_at TEXT, consumed_by TEXT, consumed_subject TEXT,
        CHECK (valid_until > valid_from)
    );
    CREATE INDEX overrides_scope ON overrides (environment, territory, valid_until);
    CREATE TABLE approvals (
        override_id TEXT NOT NULL REFERENCES overrides (id),
        approver TEXT NOT NULL,
        approved_at TEXT NOT NULL,
        comment TEXT NOT NULL DEFAULT '',
        PRIMARY KEY (override_id, approver)
    );
    CREATE TABLE audit (
        seq INTEGER PRIMARY KEY CHECK (seq >= 1),
        at TEXT NOT NULL,
        actor TEXT NOT NULL,
        action TEXT NOT NULL,
        subject TEXT NOT NULL,
        payload TEXT NOT NULL,
        prev_hash TEXT NOT NULL,
        hash TEXT NOT NULL
    );
    CREATE INDEX audit_at ON audit (at);
    """,
    # Approvals record the roles they were made under; schema-1 approvals held every role.
    2: """
    ALTER TABLE approvals ADD COLUMN roles TEXT NOT NULL DEFAULT '[]';
    UPDATE approvals SET roles = (SELECT o.roles FROM overrides o WHERE o.id = approvals.override_id);
    CREATE INDEX audit_subject ON audit (subject, seq);
    """,
}

OVERRIDE_COLUMNS = (
    "id, environment, territory, versions, rules, valid_from, valid_until, requester, reason, "
    "ticket, single_use, approvals_required, roles, max_validity, created_at, rejected_at, "
    "rejected_by, reject_reason, revoked_at, revoked_by, revoke_reason, consumed_at, "
    "consumed_by, consumed_subject"
)


def read_ts(text: str) -> int:
    """An instant as stored (UTC ISO text) in epoch seconds."""
    return to_ts(datetime.fromisoformat(text))


def read_entry(row: tuple[Any, ...]) -> AuditEntry:
    """An audit row of :data:`SELECT_AUDIT`."""
    return AuditEntry(int(row[0]), read_ts(row[1]), row[2], row[3], row[4], row[5], row[6], row[7])


SELECT_AUDIT = "SELECT seq, at, actor, action, subject, payload, prev_hash, hash FROM audit"
