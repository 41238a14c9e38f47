"""An override as stored: its scope, request, approvals and what closed it; its status at an
instant; its JSON form; the version-range text it is requested for."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, tzinfo
from typing import Any

from seasongate._errors import InputError
from seasongate._policy import GrantApproval, OverrideGrant
from seasongate._time import format_duration, iso
from seasongate._versions import Version

PENDING = "pending"
SCHEDULED = "scheduled"
ACTIVE = "active"
EXPIRED = "expired"
REJECTED = "rejected"
REVOKED = "revoked"
CONSUMED = "consumed"
OPEN_STATUSES = (PENDING, SCHEDULED, ACTIVE)


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
    roles: tuple[str, ...] = ()  # the override's roles the approver held (and approved under)


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
        return self.approvers_under(None)

    def approvers_under(self, role: str | None) -> tuple[str, ...]:
        """Who approved under ``role`` (None: under any role), each once, the requester never."""
        return tuple(
            dict.fromkeys(
                a.approver
                for a in self.approvals
                if a.approver != self.requester and (role is None or role in a.roles)
            )
        )

    @property
    def fully_approved(self) -> bool:
        """Whether, for each of its roles, enough distinct people other than the requester
        approved under that role (what ``override show`` calls approved; the policy engine
        checks each lifted rule again against the policy it evaluates)."""
        return all(len(self.approvers_under(role)) >= self.approvals_required for role in self.roles)

    def status(self, at: int) -> str:
        """pending, scheduled, active, expired, rejected, revoked or consumed at epoch second ``at``."""
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
            # The roles each approval was made under, as the store recorded (and checked) them.
            approvals=tuple(
                dict.fromkeys(
                    GrantApproval(a.approver, role)
                    for a in self.approvals
                    if a.approver != self.requester
                    for role in a.roles
                )
            ),
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
            "approvals": [
                {"approver": a.approver, "at": when(a.at), "comment": a.comment, "roles": list(a.roles)}
                for a in self.approvals
            ],
            "rejected": closure(self.rejected, "reason"),
            "revoked": closure(self.revoked, "reason"),
            "consumed": closure(self.consumed, "subject"),
        }


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
