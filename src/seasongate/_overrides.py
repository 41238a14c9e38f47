"""Emergency override records and their rules (pure: no I/O, no clock).

An override lifts named, overridable policy rules for one scope (environment, territory,
versions) during a validity window, once enough people approved it. This module holds the
records and the rules every store enforces; the PostgreSQL store enforces the same rules a
second time inside the database (``seasongate._store._pg_sql``), with the same messages.

Life of an override (``OverrideRecord.status(at)``)::

    pending ─(approvals)─> scheduled ─(valid_from)─> active ─(valid_until)─> expired
       │                       │                       │
       └─ rejected, revoked,   └─ revoked              └─ revoked, consumed (single use)
          expired

Rules:

* the requester never approves their own request; each approver counts once;
* every approver holds every role the lifted rules require (the roles of the rules, usually
  one: ``release_manager``); the number of approvals is the largest any lifted rule asks for;
* the validity window is no longer than the shortest ``max_validity`` of the lifted rules;
* only rules the policy marks overridable can be lifted;
* pending, rejected, revoked, expired and consumed overrides grant nothing.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, tzinfo
from typing import Any

from seasongate._errors import InputError, OverrideError
from seasongate._policy import GrantApproval, OverrideGrant, OverrideSpec
from seasongate._time import format_duration, iso
from seasongate._versions import Version

PENDING = "pending"
SCHEDULED = "scheduled"
ACTIVE = "active"
EXPIRED = "expired"
REJECTED = "rejected"
REVOKED = "revoked"
CONSUMED = "consumed"
STATUSES = (PENDING, SCHEDULED, ACTIVE, EXPIRED, REJECTED, REVOKED, CONSUMED)
OPEN_STATUSES = (PENDING, SCHEDULED, ACTIVE)

MAX_TEXT = 2000  # characters in a reason, comment or ticket

# Messages shared with the SQL functions of the PostgreSQL store (keep them in step).
MSG_UNKNOWN = "unknown override id {id!r}"
MSG_SELF_APPROVE = "{actor} requested override {id} and cannot approve it"
MSG_NOT_MEMBER = "{actor} is not a member of role {role}, which override {id} requires"
MSG_CLOSED = "override {id} is {status} and can no longer be {verb}"
MSG_SELF_REJECT = "{actor} requested override {id} and cannot reject it (revoke it to withdraw)"
MSG_REJECT_APPROVED = "override {id} is already approved ({status}); revoke it instead"
MSG_UNUSABLE = "override {id} is {status} and cannot be used"
MSG_REVOKE_DENIED = "{actor} may not revoke override {id}: only its requester or a member of {roles} may"


@dataclass(frozen=True, slots=True)
class Scope:
    """Where an override applies: one environment, one territory, a version range or any."""

    environment: str
    territory: str
    versions: tuple[Version, Version] | None

    @property
    def versions_text(self) -> str:
        """``V226``, ``V226..V230`` or ``any``."""
        return format_versions(self.versions)


@dataclass(frozen=True, slots=True)
class Requirements:
    """What an override of a set of rules needs: combined from each rule's ``OverrideSpec``."""

    rules: tuple[str, ...]
    approvals: int
    roles: tuple[str, ...]
    max_validity: int  # seconds


@dataclass(frozen=True, slots=True)
class Approval:
    """One person's approval of an override."""

    approver: str
    at: int
    comment: str = ""


@dataclass(frozen=True, slots=True)
class Closure:
    """The event that closed an override: a rejection, a revocation or its consumption."""

    by: str
    at: int
    note: str  # the reason, or for a consumption the subject (the migration run)


@dataclass(frozen=True, slots=True)
class OverrideRecord:
    """An override as stored: its request, its approvals and what closed it, if anything.

    Instants are epoch seconds. ``rules`` are the policy rules it lifts; ``approvals_required``,
    ``roles`` and ``max_validity`` were taken from the policy when it was requested.
    """

    id: str
    environment: str
    territory: str
    versions: tuple[Version, Version] | None
    rules: tuple[str, ...]
    valid_from: int
    valid_until: int
    requester: str
    reason: str
    ticket: str
    single_use: bool
    approvals_required: int
    roles: tuple[str, ...]
    max_validity: int
    created_at: int
    approvals: tuple[Approval, ...] = ()
    rejected: Closure | None = None
    revoked: Closure | None = None
    consumed: Closure | None = None

    @property
    def scope(self) -> Scope:
        """Environment, territory and versions."""
        return Scope(self.environment, self.territory, self.versions)

    @property
    def approvers(self) -> tuple[str, ...]:
        """Who approved, each once, the requester never (in approval order)."""
        seen: list[str] = []
        for approval in self.approvals:
            if approval.approver != self.requester and approval.approver not in seen:
                seen.append(approval.approver)
        return tuple(seen)

    @property
    def fully_approved(self) -> bool:
        """Whether enough distinct people other than the requester approved."""
        return len(self.approvers) >= self.approvals_required

    def status(self, at: int) -> str:
        """One of :data:`STATUSES` at epoch second ``at``."""
        if self.revoked is not None:
            return REVOKED
        if self.rejected is not None:
            return REJECTED
        if self.consumed is not None:
            return CONSUMED
        if at >= self.valid_until:
            return EXPIRED
        if not self.fully_approved:
            return PENDING
        if at < self.valid_from:
            return SCHEDULED
        return ACTIVE

    def grants_at(self, at: int) -> bool:
        """Whether this override lifts its rules at ``at``."""
        return self.status(at) == ACTIVE

    def to_grant(self) -> OverrideGrant:
        """The policy engine's view of this override."""
        return OverrideGrant(
            id=self.id,
            environment=self.environment,
            territory=self.territory,
            versions=self.versions,
            rules=frozenset(self.rules),
            valid_from=self.valid_from,
            valid_until=self.valid_until,
            requester=self.requester,
            # Every approver was checked against every role the record names when approving.
            approvals=tuple(GrantApproval(actor, role) for actor in self.approvers for role in self.roles),
            reason=self.reason,
            ticket=self.ticket,
            single_use=self.single_use,
        )

    def to_dict(self, at: int, tz: tzinfo = UTC) -> dict[str, Any]:
        """The stable JSON form, with the status at ``at`` and instants in ``tz`` (the
        territory's zone where the caller knows it)."""

        def when(ts: int) -> str:
            return iso(ts, tz)

        def closure(event: Closure | None, note: str) -> dict[str, Any] | None:
            if event is None:
                return None
            return {"by": event.by, "at": when(event.at), note: event.note}

        return {
            "id": self.id,
            "status": self.status(at),
            "environment": self.environment,
            "territory": self.territory,
            "versions": format_versions(self.versions),
            "rules": list(self.rules),
            "valid_from": when(self.valid_from),
            "valid_until": when(self.valid_until),
            "requester": self.requester,
            "reason": self.reason,
            "ticket": self.ticket,
            "single_use": self.single_use,
            "approvals_required": self.approvals_required,
            "roles": list(self.roles),
            "max_validity": format_duration(self.max_validity),
            "created_at": when(self.created_at),
            "approvals": [{"approver": a.approver, "at": when(a.at), "comment": a.comment} for a in self.approvals],
            "rejected": closure(self.rejected, "reason"),
            "revoked": closure(self.revoked, "reason"),
            "consumed": closure(self.consumed, "subject"),
        }


# -- parsing and validation ---------------------------------------------------------------


def parse_versions(text: str) -> tuple[Version, Version] | None:
    """Parse ``V226``, ``V226..V230`` (inclusive) or ``any`` (None)."""
    raw = text.strip()
    if raw.lower() == "any":
        return None
    low_text, sep, high_text = raw.partition("..")
    if not sep:
        version = Version.parse(raw)
        return (version, version)
    if not low_text.strip() or not high_text.strip():
        raise InputError(f"invalid version range {text!r}: use V226, V226..V230 or any")
    low, high = Version.parse(low_text), Version.parse(high_text)
    if high < low:
        raise InputError(f"invalid version range {text!r}: {low} is after {high}")
    return (low, high)


def format_versions(versions: tuple[Version, Version] | None) -> str:
    """The inverse of :func:`parse_versions`."""
    if versions is None:
        return "any"
    low, high = versions
    return str(low) if low == high else f"{low}..{high}"


def check_text(value: str, what: str, *, required: bool = True) -> str:
    """A free-text field: stripped, not empty (when required), no NUL, at most MAX_TEXT long."""
    text = value.strip()
    if required and not text:
        raise InputError(f"{what} must not be empty")
    if "\x00" in text:
        raise InputError(f"{what} must not contain a NUL character")
    if len(text) > MAX_TEXT:
        raise InputError(f"{what} is {len(text)} characters long; at most {MAX_TEXT} are kept")
    return text


def combine_specs(specs: Mapping[str, OverrideSpec | None]) -> Requirements:
    """Combine the override specs of the rules to lift.

    Several rules: the largest number of approvals, the shortest maximum validity, and every
    role any of them names (each approver must hold all of them). A rule whose spec is None
    cannot be overridden, which is an :class:`OverrideError`.
    """
    if not specs:
        raise OverrideError("an override must lift at least one rule")
    closed = sorted(rule for rule, spec in specs.items() if spec is None)
    if closed:
        raise OverrideError(f"rule {', '.join(closed)} cannot be overridden (the policy does not allow it)")
    real = {rule: spec for rule, spec in specs.items() if spec is not None}
    return Requirements(
        rules=tuple(sorted(real)),
        approvals=max(max(spec.approvals for spec in real.values()), 1),
        roles=tuple(sorted({spec.role for spec in real.values()})),
        max_validity=min(spec.max_validity for spec in real.values()),
    )


def new_override(
    *,
    override_id: str,
    scope: Scope,
    requirements: Requirements,
    valid_from: int,
    valid_until: int,
    at: int,
    requester: str,
    reason: str,
    ticket: str,
    single_use: bool = False,
) -> OverrideRecord:
    """Build a new pending override, checking the request rules."""
    reason = check_text(reason, "the reason")
    ticket = check_text(ticket, "the ticket")
    if valid_until <= at:
        raise InputError(f"the override would end at {iso(valid_until)}, which is not after {iso(at)}")
    if valid_until <= valid_from:
        raise InputError(f"the override would end at {iso(valid_until)}, before it starts at {iso(valid_from)}")
    validity = valid_until - valid_from
    if validity > requirements.max_validity:
        raise OverrideError(
            f"an override of {', '.join(requirements.rules)} may last at most "
            f"{format_duration(requirements.max_validity)}; {format_duration(validity)} requested"
        )
    return OverrideRecord(
        id=override_id,
        environment=scope.environment,
        territory=scope.territory,
        versions=scope.versions,
        rules=requirements.rules,
        valid_from=valid_from,
        valid_until=valid_until,
        requester=requester,
        reason=reason,
        ticket=ticket,
        single_use=single_use,
        approvals_required=requirements.approvals,
        roles=requirements.roles,
        max_validity=requirements.max_validity,
        created_at=at,
    )


# -- the rules of each transition -------------------------------------------------------

Roster = Callable[[str], Sequence[str]]
"""Who holds a role: ``policy.role_members``."""


def _missing_role(record: OverrideRecord, actor: str, roster: Roster) -> str | None:
    for role in record.roles:
        if actor not in roster(role):
            return role
    return None


def check_approve(record: OverrideRecord, actor: str, at: int, roster: Roster) -> bool:
    """Whether ``actor`` may approve ``record`` at ``at``.

    Returns False when ``actor`` already approved it (approving twice counts once); raises
    :class:`OverrideError` when the rules refuse.
    """
    status = record.status(at)
    if status not in OPEN_STATUSES:
        raise OverrideError(MSG_CLOSED.format(id=record.id, status=status, verb="approved"))
    if actor == record.requester:
        raise OverrideError(MSG_SELF_APPROVE.format(actor=actor, id=record.id))
    role = _missing_role(record, actor, roster)
    if role is not None:
        raise OverrideError(MSG_NOT_MEMBER.format(actor=actor, role=role, id=record.id))
    return actor not in record.approvers


def check_reject(record: OverrideRecord, actor: str, at: int, roster: Roster) -> None:
    """Raise :class:`OverrideError` unless ``actor`` may reject ``record`` at ``at``.

    Only a pending override can be rejected, by someone holding its roles who did not ask for
    it; an approved one is revoked instead.
    """
    status = record.status(at)
    if status in (SCHEDULED, ACTIVE):
        raise OverrideError(MSG_REJECT_APPROVED.format(id=record.id, status=status))
    if status != PENDING:
        raise OverrideError(MSG_CLOSED.format(id=record.id, status=status, verb="rejected"))
    if actor == record.requester:
        raise OverrideError(MSG_SELF_REJECT.format(actor=actor, id=record.id))
    role = _missing_role(record, actor, roster)
    if role is not None:
        raise OverrideError(MSG_NOT_MEMBER.format(actor=actor, role=role, id=record.id))


def check_revoke(record: OverrideRecord, actor: str, at: int, roster: Roster) -> None:
    """Raise :class:`OverrideError` unless ``actor`` may revoke ``record`` at ``at``.

    An open override (pending, scheduled, active) can be revoked by its requester or by anyone
    holding its roles.
    """
    status = record.status(at)
    if status not in OPEN_STATUSES:
        raise OverrideError(MSG_CLOSED.format(id=record.id, status=status, verb="revoked"))
    if actor != record.requester and _missing_role(record, actor, roster) is not None:
        raise OverrideError(MSG_REVOKE_DENIED.format(actor=actor, id=record.id, roles=", ".join(record.roles)))


def check_consume(record: OverrideRecord, at: int) -> bool:
    """Whether a migration run that used ``record`` and ends at ``at`` consumes it.

    Only a single-use override is consumed (True); using any other is not recorded (False).
    A run may end after the window closed or after a revocation: it started while the
    override granted, so the use is recorded. Refused (:class:`OverrideError`): a second use,
    and an override that never granted (pending, rejected) or does not yet (scheduled).
    """
    if not record.single_use:
        return False
    if record.consumed is not None:
        raise OverrideError(MSG_CLOSED.format(id=record.id, status=CONSUMED, verb="used"))
    status = record.status(at)
    if record.rejected is not None or not record.fully_approved or at < record.valid_from:
        raise OverrideError(MSG_UNUSABLE.format(id=record.id, status=status))
    return True
