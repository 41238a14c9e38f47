"""What the SQLite and PostgreSQL stores share: every public method (its checks of the input,
its messages, its error mapping), row mapping, the audit reads and head, the schema loop, the
one error table, and the checks that make the engine use only override state the audit chain
proves.

A backend supplies its driver calls (the ``_``-prefixed abstract methods); everything a
person sees (messages, refusals, what counts as tampering) is decided here, once.
"""

from __future__ import annotations

import json
from abc import abstractmethod
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import AbstractContextManager, contextmanager
from datetime import datetime
from typing import TYPE_CHECKING, Any

from seasongate._errors import InputError, OverrideError, SeasongateError, StoreError
from seasongate._store import SCHEMA_VERSION, Store
from seasongate._store._audit import AuditEntry, AuditReport, check_append, entry_hash, payload_json, verify_chain
from seasongate._time import to_ts

if TYPE_CHECKING:
    from seasongate._overrides import Approval, Closing, OverrideRecord, Roster
    from seasongate._policy import OverrideGrant

# The override rules (records, refusals, the replay against the chain) are imported where an
# override is read or changed: ``check`` opens the store on every pipeline run and, with no
# override in force, only reads that there is none and appends its decision.

# The one error table. Each backend names what went wrong (a SQLSTATE, or for SQLite a kind
# it derives from the exception); this table says which error a person gets for it.
# Refusals of the override rules (class "SG") come from REFUSALS (:func:`error_for`).
ERRORS: dict[str, type[SeasongateError]] = {
    "22023": InputError,  # invalid_parameter_value
    "23514": InputError,  # check_violation
    "22P02": InputError,  # invalid_text_representation
    "22021": InputError,  # character_not_in_repertoire (a NUL)
    "54000": InputError,  # program_limit_exceeded
    "23505": OverrideError,  # unique_violation: an override id taken
    "42501": OverrideError,  # insufficient_privilege: the grants refused
    "42704": OverrideError,  # undefined_object: a seasongate_<role> missing
}
BUSY = ("55P03", "57014", "busy")  # lock_not_available, query_canceled (statement_timeout)

ORPHAN = "override {id}: its stored state is not what the audit trail records (changed outside seasongate); refusing to use it. Run seasongate audit verify."  # noqa: E501


def error_for(kind: str) -> type[SeasongateError] | None:
    """The error a person gets for a driver error of this kind: :data:`ERRORS`, else the
    refusal of the override rules with this SQLSTATE (None when neither names it)."""
    from seasongate._overrides import REFUSALS

    error = ERRORS.get(kind)
    if error is None:
        error = next((refusal.error for refusal in REFUSALS.values() if refusal.sqlstate == kind), None)
    return error


def parse_head(text: object) -> tuple[int, str] | None:
    """The stored head ``"<seq>:<hash>"`` as a pair (None when there is none)."""
    if text is None:
        return None
    seq_text, sep, digest = str(text).partition(":")
    if not sep or not seq_text.strip().isdigit():
        return 0, str(text)  # garbled: matches no entry, so the chain reports it broken
    return int(seq_text), digest


def claim_decision(record: OverrideRecord, decision: Mapping[str, Any] | None) -> Mapping[str, Any]:
    """The decision recorded with a consumption: the gate's own, or its claim that it
    allowed the run with this override."""
    if decision is not None:
        return decision
    return {
        "verdict": "allow",
        "environment": record.environment,
        "territory": record.territory,
        "override": {"id": record.id},
    }


def format_head(seq: int, digest: str) -> str:
    """The head as ``audit head`` prints it and ``audit verify --head`` reads it."""
    return f"{seq}:{digest}"


def _texts(value: Any) -> tuple[str, ...]:
    if isinstance(value, str):
        value = json.loads(value)
    return tuple(str(v) for v in value)


def record_from_row(row: Sequence[Any], approvals: Sequence[Approval], ts: Callable[[Any], int]) -> OverrideRecord:
    """An override from its row (the column order of both stores' ``overrides`` table);
    ``ts`` reads the backend's instants."""

    from seasongate._overrides import Closure, OverrideRecord, parse_versions

    def closure(at: Any, by: Any, note: Any) -> Closure | None:
        return None if at is None else Closure(by=by or "", at=ts(at), note=note or "")

    (oid, environment, territory, versions, rules, valid_from, valid_until, requester, reason, ticket,
     single_use, required, roles, max_validity, created_at) = row[:15]  # fmt: skip
    return OverrideRecord(
        oid, environment, territory, parse_versions(versions), _texts(rules), ts(valid_from), ts(valid_until),
        requester, reason, ticket, bool(single_use), int(required), _texts(roles), int(max_validity),
        ts(created_at), tuple(approvals),
        rejected=closure(*row[15:18]), revoked=closure(*row[18:21]), consumed=closure(*row[21:24]),
    )  # fmt: skip


def approval_from_row(approver: Any, at: Any, comment: Any, roles: Any, ts: Callable[[Any], int]) -> Approval:
    """One approval row: approver, time, comment and the roles it was made under."""
    from seasongate._overrides import Approval

    return Approval(str(approver), ts(at), str(comment or ""), _texts(roles))


class BaseStore(Store):
    """The shared half of both stores: every public method, over the backend's driver calls."""

    param = "?"
    """The driver's parameter marker (PostgreSQL: ``%s``)."""

    @property
    def label(self) -> str:
        """``SQLite store PATH`` / ``PostgreSQL store URL`` (no password), for messages."""
        return f"{'SQLite' if self.backend == 'sqlite' else 'PostgreSQL'} store {self.url}"

    # -- what a backend supplies ---------------------------------------------------------

    @abstractmethod
    def _read_version(self) -> int:
        """The schema version in the store (0: none yet)."""

    @abstractmethod
    @contextmanager
    def _upgrade_lock(self) -> Iterator[None]:
        """A transaction in which no other process upgrades the schema."""
        yield  # pragma: no cover

    @abstractmethod
    def _run_schema_step(self, version: int) -> None:
        """Bring the schema from ``version - 1`` to ``version`` and record it."""

    @abstractmethod
    def _kind(self, exc: BaseException) -> str | None:
        """What a driver error means: a key of :data:`ERRORS`, a :data:`BUSY` code, or
        None (a store failure)."""

    @abstractmethod
    def _message(self, exc: BaseException) -> str:
        """The driver error's own one-line message."""

    def _busy_detail(self) -> str:
        """Who holds the store (PostgreSQL names the lock holder)."""
        return ""

    # reads (the public methods below wrap them in the error table)

    @abstractmethod
    def _snapshot(self) -> AbstractContextManager[object]:
        """A read-only transaction: several reads see one consistent state."""

    @abstractmethod
    def _instant(self, ts: int) -> Any:
        """Epoch seconds as the driver stores an instant."""

    @abstractmethod
    def _select_entries(self, where: str, params: Sequence[Any]) -> list[AuditEntry]:
        """The entries ``where`` selects (an SQL condition, or "" for all), in chain order."""

    @abstractmethod
    def _among(self, column: str, values: Sequence[Any]) -> tuple[str, list[Any]]:
        """The condition that ``column`` is one of ``values``, and its parameters."""

    @abstractmethod
    def _stored_head(self) -> str | None:
        """The stored head text."""

    @abstractmethod
    def _select_unsettled(self, database: str) -> list[AuditEntry]:
        """The starts on ``database`` without an outcome (see :meth:`unsettled_starts`)."""

    @abstractmethod
    def _count_entries(self) -> int:
        """How many entries the trail holds."""

    @abstractmethod
    def _read_overrides(self, override_id: str | None) -> list[OverrideRecord]:
        """The override with this id (every override when None), oldest first."""

    @abstractmethod
    def _grant_candidates(self, environment: str, territory: str, at: int) -> list[OverrideRecord]:
        """The stored overrides of this scope whose window contains ``at``, not closed."""

    # writes: each one transaction that checks, changes and appends its audit entries

    @abstractmethod
    def _append_entry(self, action: str, subject: str, payload_text: str, at: datetime) -> AuditEntry:
        """Extend the chain with one checked entry as :meth:`identity`."""

    @abstractmethod
    def _create(self, record: OverrideRecord) -> OverrideRecord:
        """Store a new pending override and its ``override.request`` entry."""

    @abstractmethod
    def _approve(self, override_id: str, at: datetime, comment: str, roster: Roster) -> tuple[OverrideRecord, bool]:
        """Approve as :meth:`identity`, if the rules allow."""

    @abstractmethod
    def _close(self, closing: Closing, override_id: str, at: datetime, reason: str, roster: Roster) -> OverrideRecord:
        """Reject or revoke as :meth:`identity`, if the rules allow."""

    @abstractmethod
    def _consume(self, override_id: str, at: datetime, subject: str, decision: Mapping[str, Any] | None) -> None:
        """Consume a single-use override (no-op for others)."""

    # -- the schema loop -----------------------------------------------------------------

    def _too_new(self, version: int) -> StoreError:
        return StoreError(
            f"the {self.label} has schema version {version}, newer than this "
            f"seasongate understands ({SCHEMA_VERSION}); upgrade seasongate"
        )

    def _ensure_schema(self) -> None:
        """Create or upgrade the schema; two processes starting at once take turns."""
        with self._errors("creating the schema"):
            self._upgrade_schema()

    def _upgrade_schema(self) -> None:
        """The schema loop, driver errors unmapped (SQLite retries a busy first open)."""
        current = self._read_version()
        if current == SCHEMA_VERSION:
            return
        if current > SCHEMA_VERSION:
            raise self._too_new(current)
        with self._upgrade_lock():
            current = self._read_version()
            if current > SCHEMA_VERSION:
                raise self._too_new(current)
            for version in range(current + 1, SCHEMA_VERSION + 1):
                self._run_schema_step(version)

    def schema_version(self) -> int:
        """The schema version of the open store."""
        with self._errors("reading the schema version"):
            return self._read_version()

    # -- the error table -----------------------------------------------------------------

    @contextmanager
    def _errors(self, doing: str, override_id: str = "") -> Iterator[None]:
        """Turn driver errors into the user-facing ones (the one place that does)."""
        try:
            yield
        except SeasongateError:
            raise
        except (ValueError, TypeError, KeyError) as exc:
            # A row that seasongate did not write (a garbled time, head or version).
            raise StoreError(f"{self.label}: {doing} failed: unreadable data: {exc}") from exc
        except Exception as exc:
            kind = self._kind(exc)
            if kind is None:
                raise
            message = self._message(exc)
            if kind in BUSY:
                detail = self._busy_detail()
                raise StoreError(
                    f"the store is busy: {doing} did not get an answer from {self.url} in time "
                    f"({message}){detail}; nothing was decided"
                ) from exc
            from seasongate._overrides import REFUSALS

            if kind == REFUSALS["unknown"].sqlstate and override_id:
                raise REFUSALS["unknown"](id=override_id) from exc
            error = error_for(kind)
            if error is not None:
                raise error(message) from exc
            raise StoreError(f"{self.label}: {doing} failed: {message}") from exc

    # -- overrides -----------------------------------------------------------------------

    def get_override(self, override_id: str) -> OverrideRecord:
        """One override by id."""
        with self._errors("reading an override"):
            found = self._read_overrides(override_id)
        if not found:
            from seasongate._overrides import REFUSALS

            raise REFUSALS["unknown"](id=override_id)
        return found[0]

    def list_overrides(self) -> list[OverrideRecord]:
        """All overrides, oldest first."""
        with self._errors("reading the overrides"):
            return self._read_overrides(None)

    def create_override(self, record: OverrideRecord) -> OverrideRecord:
        """Store a new pending override requested by :meth:`identity`, and audit it."""
        requester = self.identity()
        if record.requester != requester:
            raise OverrideError(
                f"an override is requested by whoever runs the command ({requester}), not by {record.requester}"
            )
        with self._errors("storing the override", record.id):
            return self._create(record)

    def approve(self, override_id: str, *, at: datetime, comment: str, roster: Roster) -> tuple[OverrideRecord, bool]:
        """Approve as :meth:`identity`; returns the record and whether the approval was new."""
        from seasongate._overrides import check_text

        comment = check_text(comment, "the comment", required=False)
        with self._errors("approving an override", override_id):
            return self._approve(override_id, at, comment, roster)

    def close_override(
        self, closing: Closing, override_id: str, *, at: datetime, reason: str, roster: Roster
    ) -> OverrideRecord:
        """Reject or revoke (``closing``) as :meth:`identity`, if the rules allow."""
        from seasongate._overrides import check_text

        reason = check_text(reason, "the reason")
        with self._errors(f"{closing.doing} an override", override_id):
            return self._close(closing, override_id, at, reason, roster)

    def consume(
        self, override_id: str, at: datetime, subject: str, *, decision: Mapping[str, Any] | None = None
    ) -> None:
        """Record that the run ``subject``, which the gate allowed with this override, uses it."""
        from seasongate._overrides import check_text

        subject = check_text(subject, "the subject", required=False)
        with self._errors("consuming an override", override_id):
            self._consume(override_id, at, subject, decision)

    # -- grants the chain proves ---------------------------------------------------------

    def active_grants(self, environment: str, territory: str, at: datetime) -> list[OverrideGrant]:
        """Fully approved, unclosed overrides of this scope valid at ``at``, each checked
        against the audit chain first (a state the chain does not explain is a StoreError)."""
        ts = to_ts(at)
        with self._errors("reading the overrides"):
            # One statement is a consistent read of its own: the common answer, none, costs no
            # transaction (a migration run asks once per migration).
            if not self._grant_candidates(environment, territory, ts):
                return []
        with self._errors("reading the overrides"), self._snapshot():
            stored = self._grant_candidates(environment, territory, ts)
            if not stored:
                return []
            entries = self._override_entries([r.id for r in stored])
            self._check_entries(entries)
        from seasongate._store._replay import replay, unexplained

        bad = unexplained(stored, replay(entries))
        if bad:
            raise StoreError(ORPHAN.format(id=", ".join(bad)))
        return [r.to_grant() for r in stored if r.grants_at(ts)]

    def _check_entries(self, entries: Sequence[AuditEntry]) -> None:
        """Each entry matches its hash and the next entry (or the head) links to it."""
        head = parse_head(self._stored_head())
        following = self._entries_by_seq([e.seq + 1 for e in entries])
        for entry in entries:
            computed = entry_hash(
                entry.seq, entry.at, entry.actor, entry.action, entry.subject, entry.payload_text, entry.prev_hash
            )
            after = following.get(entry.seq + 1)
            linked = (after is not None and after.prev_hash == entry.hash) or (
                after is None and head == (entry.seq, entry.hash)
            )
            if computed != entry.hash or not linked:
                raise StoreError(
                    f"override {entry.subject}: audit entry {entry.seq} about it is not part of an intact "
                    "chain (changed outside seasongate); refusing to use it. Run seasongate audit verify."
                )

    # -- the audit trail -----------------------------------------------------------------

    def append_audit(
        self, actor: str, action: str, subject: str, payload: Mapping[str, Any], at: datetime
    ) -> AuditEntry:
        """Append one entry of a known, non-override action in the name of :meth:`identity`."""
        return self.append_audits(actor, ((action, subject, payload),), at)[0]

    def append_audits(
        self, actor: str, entries: Sequence[tuple[str, str, Mapping[str, Any]]], at: datetime
    ) -> list[AuditEntry]:
        """Append entries of known, non-override actions in order, in the name of
        :meth:`identity`; each payload is serialized once, before the lock is taken."""
        for action, subject, _ in entries:
            check_append(actor, action, subject)
        identity = self.identity()
        if actor != identity:
            raise InputError(
                f"audit entries are written in the name of whoever runs seasongate ({identity}), not {actor}"
            )
        # Serialized once, and an unserialisable payload refused before the lock is taken.
        texts = [(action, subject, payload_json(payload)) for action, subject, payload in entries]
        with self._errors("appending to the audit trail"):
            return self._append_entries(texts, at)

    def _append_entries(self, entries: Sequence[tuple[str, str, str]], at: datetime) -> list[AuditEntry]:
        """Extend the chain with checked ``(action, subject, payload text)`` entries; a
        backend that can writes them in one transaction."""
        return [self._append_entry(action, subject, text, at) for action, subject, text in entries]

    def audit_entries(self, since: datetime | None = None) -> list[AuditEntry]:
        """Entries in order, optionally only those at or after ``since``."""
        with self._errors("reading the audit trail"):
            if since is None:
                return self._select_entries("", ())
            return self._select_entries(f"at >= {self.param}", (self._instant(to_ts(since)),))

    def unsettled_starts(self, database: str) -> list[AuditEntry]:
        """The ``migration.start`` entries about ``database`` that no outcome names (their run
        died before writing one), in chain order: one query, whatever the trail's length."""
        with self._errors("reading the audit trail"):
            return self._select_unsettled(database)

    def audit_count(self) -> int:
        """How many entries there are."""
        with self._errors("counting the audit trail"):
            return self._count_entries()

    def verify_audit(self) -> AuditReport:
        """Check the whole chain against itself and the stored head."""
        with self._errors("reading the audit trail"), self._snapshot():
            entries = self._select_entries("", ())
            head = parse_head(self._stored_head())
        return verify_chain(entries, head)

    def audit_head(self) -> str | None:
        """The head of an intact trail as ``<seq>:<sha256>`` (None when it is empty); a broken
        trail is a StoreError: a head worth keeping comes from an intact chain."""
        report = self.verify_audit()
        if not report.ok:
            raise StoreError(f"the audit trail is broken at entry {report.broken_seq}: {report.problem}")
        if report.head is None:
            return None
        return format_head(report.entries, report.head)

    def _entries_by_seq(self, seqs: Sequence[int]) -> dict[int, AuditEntry]:
        if not seqs:
            return {}
        return {e.seq: e for e in self._select_entries(*self._among("seq", seqs))}

    def _override_entries(self, ids: Sequence[str]) -> list[AuditEntry]:
        """The ``override.*`` entries about these overrides, in chain order."""
        among, params = self._among("subject", ids)
        return self._select_entries(f"{among} AND action LIKE {self.param}", (*params, "override.%"))

    def entries_at(self, seqs: Sequence[int]) -> dict[int, AuditEntry]:
        """The entries with these numbers that the trail holds."""
        with self._errors("reading the audit trail"):
            return self._entries_by_seq(sorted(set(seqs)))
