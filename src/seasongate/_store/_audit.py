"""The audit trail's hash chain (pure: both stores and ``audit verify`` use it).

Each entry stores the SHA-256 of its canonical content, which includes the hash of the entry
before it, so changing, deleting or inserting an entry breaks the chain from there on. The
newest entry's number and hash are also kept as the store's *head*, so cutting entries off the
end is noticed too.

The canonical content is every field as text, each written as ``<UTF-8 byte length>:<text>``,
joined by newlines: sequence number, time (epoch seconds), actor, action, subject, payload
(the stored JSON text, byte for byte) and the previous hash. Length prefixes make it
unambiguous without any escaping, and PostgreSQL computes the very same bytes in SQL
(``seasongate._field`` in ``_pg_sql.py``).
"""

from __future__ import annotations

import functools
import json
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, fields
from typing import Any

from seasongate._errors import InputError
from seasongate._time import iso

GENESIS = "0" * 64
"""The previous hash of the first entry."""

OVERRIDE_ACTIONS = (
    "override.request",
    "override.approve",
    "override.reject",
    "override.revoke",
    "override.consume",
)
"""Written by the override operations of a store only, never through ``append_audit``."""
RESERVED_PREFIX = "override."
APPEND_ACTIONS = (
    "decision",  # a gate decision (check, a denied migration, the allowing one of a consumption)
    "migration.start",  # before a migration step runs
    "migration.apply",  # its outcome
    "migration.rollback",
    "migration.baseline",  # the Flyway commands that change the history itself
    "migration.repair",
    "database.clean",
    "run.start",  # seasongate run -- COMMAND: before the child starts
    "run",  # its outcome
    "health.verdict",  # migrate --health: the watch's verdict on a migration
)
"""What ``append_audit`` writes; any other action is refused (tests/test_audit_actions.py
checks that every action the program appends is listed here)."""
ACTIONS = OVERRIDE_ACTIONS + APPEND_ACTIONS
"""Every action an audit entry of this seasongate can carry."""


@dataclass(frozen=True, slots=True)
class AuditEntry:
    """One audit entry; ``at`` is epoch seconds, ``payload_text`` the stored JSON."""

    seq: int
    at: int
    actor: str
    action: str
    subject: str
    payload_text: str
    prev_hash: str
    hash: str

    @property
    def payload(self) -> dict[str, Any]:
        """The payload as a dict (``{}`` when it is not a JSON object)."""
        try:
            value = json.loads(self.payload_text)
        except ValueError:
            return {}
        return value if isinstance(value, dict) else {"value": value}

    def to_dict(self) -> dict[str, Any]:
        """The JSON form printed by ``seasongate audit --format json``."""
        return {
            "seq": self.seq, "at": iso(self.at), "actor": self.actor, "action": self.action, "subject": self.subject,
            "payload": self.payload, "prev_hash": self.prev_hash, "hash": self.hash,
        }  # fmt: skip


@dataclass(frozen=True, slots=True)
class AuditReport:
    """The result of checking the chain: intact, or where it first breaks and why."""

    entries: int
    head: str | None  # hash of the newest entry
    broken_seq: int | None = None
    problem: str | None = None
    anchors: int = 0  # kept heads and migration-history anchors checked
    notes: tuple[str, ...] = ()  # what could not be checked, and why

    @property
    def ok(self) -> bool:
        """Whether the chain is intact."""
        return self.broken_seq is None

    def to_dict(self) -> dict[str, Any]:
        """The JSON form printed by ``seasongate audit verify --format json``."""
        return {"ok": self.ok, **{f.name: getattr(self, f.name) for f in fields(self)}, "notes": list(self.notes)}


def _field(text: str) -> str:
    return f"{len(text.encode('utf-8'))}:{text}"


def canonical(seq: int, at: int, actor: str, action: str, subject: str, payload_text: str, prev_hash: str) -> bytes:
    """The bytes an entry's hash is taken of."""
    parts = (str(seq), str(at), actor, action, subject, payload_text, prev_hash)
    return "\n".join(_field(p) for p in parts).encode("utf-8")


def entry_hash(seq: int, at: int, actor: str, action: str, subject: str, payload_text: str, prev_hash: str) -> str:
    """SHA-256 (hex) of :func:`canonical`."""
    content = canonical(seq, at, actor, action, subject, payload_text, prev_hash)
    return str(_sha256(content).hexdigest())


def _sha256(content: bytes) -> Any:
    """A SHA-256 hash object of ``content``: CPython's built-in one for an entry (a check
    hashes one small entry, and ``hashlib`` would spend ~5 ms loading OpenSSL for it),
    OpenSSL's through ``hashlib`` for a large one or where there is no built-in. The digest
    is the same either way."""
    builtin = _builtin_sha256()
    if builtin is not None and len(content) <= _BUILTIN_LIMIT:
        return builtin(content)
    import hashlib

    return hashlib.sha256(content)


_BUILTIN_LIMIT = 64 * 1024


@functools.cache
def _builtin_sha256() -> Callable[[bytes], Any] | None:
    """CPython's built-in SHA-256 (``_sha2`` from 3.12, ``_sha256`` before); None elsewhere."""
    import importlib

    for name in ("_sha2", "_sha256"):
        try:
            module = importlib.import_module(name)
        except ImportError:
            continue
        found: Callable[[bytes], Any] | None = getattr(module, "sha256", None)
        if found is not None:
            return found
    return None


def payload_json(payload: Mapping[str, Any]) -> str:
    """Canonical JSON text of a payload: sorted keys, no spaces, UTF-8 kept as is."""
    try:
        text = json.dumps(
            dict(payload),
            sort_keys=True,
            separators=(",", ":"),
            ensure_ascii=False,
            allow_nan=False,
            default=str,
        )
    except (TypeError, ValueError) as exc:
        raise InputError(f"audit payload cannot be written as JSON: {exc}") from exc
    return text


def check_append(actor: str, action: str, subject: str) -> None:
    """Refuse an entry ``append_audit`` must not write: an empty actor or action, a NUL
    character, an ``override.*`` action (the override operations write those), or an action
    that is not in :data:`APPEND_ACTIONS`."""
    if not actor.strip():
        raise InputError("an audit entry needs an actor")
    if not action.strip():
        raise InputError("an audit entry needs an action")
    for name, value in (("actor", actor), ("action", action), ("subject", subject)):
        if "\x00" in value:
            raise InputError(f"the audit {name} must not contain a NUL character")
    if action.startswith(RESERVED_PREFIX):
        from seasongate._overrides import REFUSALS

        raise REFUSALS["reserved_action"](action=action)
    if action not in APPEND_ACTIONS:
        raise InputError(f"unknown audit action {action!r} (seasongate writes: {', '.join(APPEND_ACTIONS)})")


def verify_chain(entries: Iterable[AuditEntry], head: tuple[int, str] | None) -> AuditReport:
    """Check entries (in ``seq`` order) against each other and against the stored head.

    The first problem found is reported with the number of the entry it is in: a changed
    entry no longer matches its hash; a deleted one leaves a gap; one inserted or moved
    does not link to the hash of the entry before it.
    """
    expected, prev, count = 1, GENESIS, 0
    for entry in entries:
        if entry.seq != expected:
            if entry.seq > expected:
                missing = (
                    f"entry {expected} is missing"
                    if entry.seq == expected + 1
                    else f"entries {expected}..{entry.seq - 1} are missing"
                )
                problem = f"{missing} (deleted?); the next entry is {entry.seq}"
                return AuditReport(count, prev, expected, problem)
            problem = f"entry {entry.seq} appears out of order after entry {expected - 1}"
            return AuditReport(count, prev, entry.seq, problem)
        computed = entry_hash(
            entry.seq, entry.at, entry.actor, entry.action, entry.subject,
            entry.payload_text, entry.prev_hash,
        )  # fmt: skip
        if computed != entry.hash:
            problem = f"entry {entry.seq} does not match its hash (changed after it was written)"
            return AuditReport(count, prev, entry.seq, problem)
        if entry.prev_hash != prev:
            problem = (
                f"entry {entry.seq} does not follow entry {entry.seq - 1} "
                "(inserted out of order, or the entry before it was replaced)"
            )
            return AuditReport(count, prev, entry.seq, problem)
        prev, expected, count = entry.hash, expected + 1, count + 1
    last_seq = expected - 1
    if head is not None:
        head_seq, head_hash = head
        if head_seq > last_seq:
            problem = (
                f"entry {last_seq + 1} is missing: the store's head says the trail ends at "
                f"entry {head_seq} but it ends at entry {last_seq} (deleted?)"
            )
            return AuditReport(count, prev if count else None, last_seq + 1, problem)
        if head_seq < last_seq:
            problem = (
                f"entry {head_seq + 1} comes after the store's head (entry {head_seq}): "
                "it was not appended through seasongate"
            )
            return AuditReport(count, prev, head_seq + 1, problem)
        if head_hash != prev:
            problem = f"entry {last_seq} does not match the store's head (rewritten?)"
            return AuditReport(count, prev, last_seq, problem)
    elif count:
        problem = "the store has entries but no head (appended around the store?)"
        return AuditReport(count, prev, 1, problem)
    return AuditReport(count, prev if count else None)
