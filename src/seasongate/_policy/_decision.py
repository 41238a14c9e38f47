"""The value objects of a decision: the request, the reasons, the verdict.

These are plain frozen dataclasses (no pydantic) so that evaluating a request is cheap and
the ``seasongate check`` path starts fast. ``Decision.to_dict`` is the JSON schema documented
in ``docs/decision.md``; keep it stable.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any
from zoneinfo import ZoneInfo

from seasongate._errors import Location
from seasongate._time import format_duration, iso
from seasongate._versions import Version
from seasongate._vocabulary import Operation, Risk


@dataclass(frozen=True, slots=True)
class Request:
    """What is asked: may this migration (or anything, when ``version`` is None) run?

    ``risk`` and ``duration`` (seconds) fall back to the policy's defaults when None.
    ``operation`` is ``apply`` or ``rollback`` (running an undo script). ``migration_class``
    states the class when no version does (a wrapper that runs "some production migration");
    with a version it must agree with the version's class.

    What the request leaves unknown (no version, no class, no risk and no policy default)
    counts against it: every deny rule scoped by the unknown attribute applies, no allow
    rule scoped by it does.
    """

    environment: str
    territory: str
    version: Version | None = None
    risk: str | None = None  # a Risk; checked by the engine (callers pass what users typed)
    duration: int | None = None
    operation: str = "apply"  # an Operation; checked by the engine
    description: str | None = None
    repeatable: bool = False  # a repeatable script (R__): no version, class ``repeatable``
    migration_class: str | None = None


@dataclass(frozen=True, slots=True)
class OverrideSpec:
    """What an emergency override of one rule needs, as the policy declares it."""

    approvals: int
    role: str
    max_validity: int  # seconds


@dataclass(frozen=True, slots=True)
class GrantApproval:
    """One approval of an override: who approved, and the role the approval was made under.

    The role is recorded by the store when the approval is made (PostgreSQL: the database role
    the approver held; SQLite: the policy's roster); the engine counts an approval towards a
    rule only if its role is the one *this* policy's rule requires.
    """

    actor: str
    role: str


@dataclass(frozen=True, slots=True)
class OverrideGrant:
    """An active, fully approved override, as the policy engine sees it.

    The store decides which overrides are granted (approved, not revoked, not consumed); the
    policy decides whether one covers a request and which denying rules it lifts.
    ``versions`` is an inclusive range, or None for any version.
    """

    id: str
    environment: str
    territory: str
    versions: tuple[Version, Version] | None
    rules: frozenset[str]
    valid_from: int
    valid_until: int
    requester: str
    approvals: tuple[GrantApproval, ...]
    reason: str
    ticket: str
    single_use: bool = False

    @property
    def approvers(self) -> tuple[str, ...]:
        """Who approved (in approval order)."""
        return tuple(a.actor for a in self.approvals)

    def covers(self, request: Request) -> bool:
        """Whether the scope (environment, territory, versions) includes ``request``."""
        if request.environment != self.environment or request.territory != self.territory:
            return False
        if self.versions is None:
            return True
        if request.version is None:
            return False
        low, high = self.versions
        return low <= request.version <= high

    def to_dict(self, tz: ZoneInfo | None = None) -> dict[str, Any]:
        """The ``override`` member of a decision's JSON (instants in ``tz``, default UTC)."""
        zone_ = tz or ZoneInfo("UTC")
        return {
            "id": self.id,
            "requester": self.requester,
            "approvers": list(self.approvers),
            "reason": self.reason,
            "ticket": self.ticket,
            "rules": sorted(self.rules),
            "valid_from": iso(self.valid_from, zone_),
            "expires": iso(self.valid_until, zone_),
            "single_use": self.single_use,
        }


@dataclass(frozen=True, slots=True)
class PeriodRef:
    """A concrete calendar period named in a reason."""

    name: str
    kind: str
    calendar: str
    start: int
    end: int

    def to_dict(self, tz: ZoneInfo) -> dict[str, Any]:
        return {
            "name": self.name,
            "kind": self.kind,
            "calendar": self.calendar,
            "start": iso(self.start, tz),
            "end": iso(self.end, tz),
        }


@dataclass(frozen=True, slots=True)
class Reason:
    """One rule that matched the request at the instant, and what it said."""

    rule: str
    effect: str  # allow | deny
    message: str
    source: Location  # where the rule is written
    periods: tuple[PeriodRef, ...] = ()
    overridable: bool = False
    override: OverrideSpec | None = None
    lifted_by: str | None = None  # id of the override that lifted this denial

    def to_dict(self, tz: ZoneInfo) -> dict[str, Any]:
        out: dict[str, Any] = {
            "rule": self.rule,
            "effect": self.effect,
            "message": self.message,
            "periods": [p.to_dict(tz) for p in self.periods],
            "overridable": self.overridable,
            "override_requires": None,
            "lifted_by": self.lifted_by,
            "source": f"{self.source.path}:{self.source.line}",
        }
        if self.override is not None:
            out["override_requires"] = {
                "approvals": self.override.approvals,
                "role": self.override.role,
                "max_validity": format_duration(self.override.max_validity),
            }
        return out


@dataclass(frozen=True, slots=True)
class UnappliedOverride:
    """An active override that covers the request and names a denying rule, but does not
    meet what this policy's rule requires, so it lifted nothing."""

    id: str
    rule: str
    why: str  # "needs 2 approvals by release_manager, has 1"
    ticket: str

    def to_dict(self) -> dict[str, Any]:
        return {"id": self.id, "rule": self.rule, "reason": self.why, "ticket": self.ticket}


@dataclass(frozen=True, slots=True)
class MigrationInfo:
    """The migration as the policy classified it.

    ``unknown`` names the attributes (``class``, ``version``, ``risk``) that neither the
    request nor the policy's defaults state; ``assumed`` those taken from the policy's
    ``defaults:`` (``class``)."""

    version: Version | None
    migration_class: str | None
    risk: Risk | None
    duration: int | None
    operation: Operation
    unknown: frozenset[str] = frozenset()
    assumed: frozenset[str] = frozenset()


@dataclass(frozen=True, slots=True)
class Decision:
    """The answer: allowed or not, why, until when, and when next.

    Instants are epoch seconds; ``zone`` is the territory's time zone for display.
    ``allowed_until`` is when the allowed window ends (the run must be finished by then);
    ``latest_start`` is the last start that still fits; ``next_allowed_at`` is, for a denial,
    the earliest start at which the same request is allowed and can finish. Each is None
    when it lies beyond the horizon that was examined.
    """

    allowed: bool
    at: int
    environment: str
    territory: str
    migration: MigrationInfo
    reasons: tuple[Reason, ...]
    zone: ZoneInfo
    policy_path: str
    policy_sha256: str
    allowed_until: int | None = None
    latest_start: int | None = None
    next_allowed_at: int | None = None
    default_applied: bool = False
    override: OverrideGrant | None = None
    horizon_end: int | None = None
    notes: tuple[str, ...] = field(default=())
    unapplied_overrides: tuple[UnappliedOverride, ...] = ()

    @property
    def verdict(self) -> str:
        """``allow`` or ``deny``."""
        return "allow" if self.allowed else "deny"

    @property
    def denying(self) -> tuple[Reason, ...]:
        """The deny reasons that were not lifted by an override."""
        return tuple(r for r in self.reasons if r.effect == "deny" and r.lifted_by is None)

    def to_dict(self) -> dict[str, Any]:
        """The stable JSON form (``docs/decision.md``)."""
        tz = self.zone
        mig = self.migration

        def when(ts: int | None) -> str | None:
            return None if ts is None else iso(ts, tz)

        return {
            "allowed": self.allowed,
            "verdict": self.verdict,
            "at": iso(self.at, tz),
            "environment": self.environment,
            "territory": self.territory,
            "timezone": tz.key,
            "migration": {
                "version": None if mig.version is None else str(mig.version),
                "class": mig.migration_class,
                "risk": mig.risk,
                "duration": None if mig.duration is None else format_duration(mig.duration),
                "duration_seconds": mig.duration,
                "operation": mig.operation,
                "unknown": sorted(mig.unknown),
                "assumed": sorted(mig.assumed),
            },
            "reasons": [r.to_dict(tz) for r in self.reasons],
            "default_applied": self.default_applied,
            "allowed_until": when(self.allowed_until),
            "latest_start": when(self.latest_start),
            "next_allowed_at": when(self.next_allowed_at),
            "override": None if self.override is None else self.override.to_dict(tz),
            "unapplied_overrides": [u.to_dict() for u in self.unapplied_overrides],
            "policy": {"path": self.policy_path, "sha256": self.policy_sha256},
            "notes": list(self.notes),
        }
