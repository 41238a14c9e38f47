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
* an approver approves under each of the override's roles they hold (at least one), and the
  store records those roles; the override counts as approved when, for each of its roles,
  enough people approved under it. The policy engine counts again, per lifted rule, only
  approvals under the role *its* policy requires for that rule;
* the validity window is no longer than the shortest ``max_validity`` of the lifted rules;
* only rules the policy marks overridable can be lifted;
* pending, rejected, revoked, expired and consumed overrides grant nothing;
* nothing is dated before the request; a release manager can always revoke.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, tzinfo
from typing import Any

from seasongate._errors import InputError, OverrideError, SeasongateError, StoreError
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

RELEASE_MANAGER = "release_manager"
"""The role whose holders may always revoke an override (PostgreSQL: ``seasongate_release_manager``)."""
MIGRATOR_ROLE = "seasongate_migrator"
"""The PostgreSQL role whose members may consume (use up) a single-use override."""


@dataclass(frozen=True, slots=True)
class Refusal:
    """One way the override rules say no: the same words in Python and in PL/pgSQL.

    ``template`` is a :meth:`str.format` template with named fields; the PostgreSQL functions
    raise the very same text (``seasongate._store._pg_sql`` builds their ``RAISE`` statements
    from this table) under ``sqlstate``, and the store maps that code back to ``error``.
    """

    sqlstate: str
    template: str
    error: type[SeasongateError]

    def format(self, **fields: object) -> str:
        """The message with its fields filled in."""
        return self.template.format(**fields)

    def __call__(self, **fields: object) -> SeasongateError:
        """The exception to raise."""
        return self.error(self.format(**fields))


# The one table of refusals (both stores, both languages). SQLSTATE class "SG" is ours.
REFUSALS: dict[str, Refusal] = {
    "unknown": Refusal("SG001", "unknown override id '{id}'", InputError),
    "self_approve": Refusal("SG002", "{actor} requested override {id} and cannot approve it", OverrideError),
    "no_role": Refusal(
        "SG003", "{actor} holds none of the roles override {id} needs approvals from ({roles})", OverrideError
    ),
    "closed": Refusal("SG004", "override {id} is {status} and can no longer be {verb}", OverrideError),
    "self_reject": Refusal(
        "SG005", "{actor} requested override {id} and cannot reject it (revoke it to withdraw)", OverrideError
    ),
    "reject_approved": Refusal(
        "SG006", "override {id} is already approved ({status}); revoke it instead", OverrideError
    ),
    "unusable": Refusal("SG007", "override {id} is {status} and cannot be used", OverrideError),
    "revoke_denied": Refusal(
        "SG008",
        "{actor} may not revoke override {id}: only its requester, a holder of {roles} or a release manager may",
        OverrideError,
    ),
    "before_request": Refusal(
        "SG009", "override {id} was requested at {requested}; it cannot be {verb} at {at}, before that", OverrideError
    ),
    "not_migrator": Refusal(
        "SG010",
        "{actor} may not use override {id}: only members of " + MIGRATOR_ROLE + " run migrations",
        OverrideError,
    ),
    "not_allowed_run": Refusal(
        "SG011", "override {id} can only be used by a run the gate allowed with it", OverrideError
    ),
    "reserved_action": Refusal("SG012", "audit action '{action}' is written by the override commands only", InputError),
    "ends_before_now": Refusal("SG013", "the override would end at {until}, which is not after {at}", InputError),
    "empty_reason": Refusal("SG014", "the reason must not be empty", InputError),
    "trail_changed": Refusal(
        "SG015",
        "the audit trail does not end where seasongate left it (changed outside seasongate); "
        "nothing was written. Run seasongate audit verify.",
        StoreError,
    ),
}


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
        seen: list[str] = []
        for approval in self.approvals:
            if approval.approver != self.requester and approval.approver not in seen:
                seen.append(approval.approver)
        return tuple(seen)

    def approvers_under(self, role: str) -> tuple[str, ...]:
        """Who approved under ``role``, each once, the requester never."""
        seen: list[str] = []
        for approval in self.approvals:
            if approval.approver != self.requester and role in approval.roles and approval.approver not in seen:
                seen.append(approval.approver)
        return tuple(seen)

    @property
    def fully_approved(self) -> bool:
        """Whether, for each of its roles, enough distinct people other than the requester
        approved under that role (what ``override show`` calls approved; the policy engine
        checks each lifted rule again against the policy it evaluates)."""
        return all(len(self.approvers_under(role)) >= self.approvals_required for role in self.roles)

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
    role any of them names (each role needs that many approvals under it). A rule whose spec
    is None cannot be overridden, which is an :class:`OverrideError`.
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
        raise REFUSALS["ends_before_now"](until=iso(valid_until), at=iso(at))
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


def _not_before_request(record: OverrideRecord, at: int, verb: str) -> None:
    if at < record.created_at:
        raise REFUSALS["before_request"](id=record.id, requested=iso(record.created_at), verb=verb, at=iso(at))


def approval_roles(record: OverrideRecord, actor: str, at: int, roster: Roster) -> tuple[str, ...]:
    """The roles ``actor`` approves ``record`` under at ``at``: those of its roles they hold.

    Returns ``()`` when ``actor`` already approved it (approving twice counts once); raises
    :class:`OverrideError` when the rules refuse.
    """
    status = record.status(at)
    if status not in OPEN_STATUSES:
        raise REFUSALS["closed"](id=record.id, status=status, verb="approved")
    _not_before_request(record, at, "approved")
    if actor == record.requester:
        raise REFUSALS["self_approve"](actor=actor, id=record.id)
    held = tuple(role for role in record.roles if actor in roster(role))
    if not held:
        raise REFUSALS["no_role"](actor=actor, id=record.id, roles=", ".join(record.roles))
    if any(a.approver == actor for a in record.approvals):
        return ()
    return held


def check_reject(record: OverrideRecord, actor: str, at: int, roster: Roster) -> None:
    """Raise :class:`OverrideError` unless ``actor`` may reject ``record`` at ``at``.

    Only a pending override can be rejected, by someone holding one of its roles who did not
    ask for it; an approved one is revoked instead.
    """
    status = record.status(at)
    if status in (SCHEDULED, ACTIVE):
        raise REFUSALS["reject_approved"](id=record.id, status=status)
    if status != PENDING:
        raise REFUSALS["closed"](id=record.id, status=status, verb="rejected")
    _not_before_request(record, at, "rejected")
    if actor == record.requester:
        raise REFUSALS["self_reject"](actor=actor, id=record.id)
    if not any(actor in roster(role) for role in record.roles):
        raise REFUSALS["no_role"](actor=actor, id=record.id, roles=", ".join(record.roles))


def check_revoke(record: OverrideRecord, actor: str, at: int, roster: Roster) -> None:
    """Raise :class:`OverrideError` unless ``actor`` may revoke ``record`` at ``at``.

    An open override (pending, scheduled, active) can be revoked by its requester, by anyone
    holding one of its roles, and always by a release manager.
    """
    status = record.status(at)
    if status not in OPEN_STATUSES:
        raise REFUSALS["closed"](id=record.id, status=status, verb="revoked")
    _not_before_request(record, at, "revoked")
    allowed = actor == record.requester or any(actor in roster(role) for role in (*record.roles, RELEASE_MANAGER))
    if not allowed:
        raise REFUSALS["revoke_denied"](actor=actor, id=record.id, roles=", ".join(record.roles))


def check_consume(record: OverrideRecord, at: int) -> bool:
    """Whether a migration run that the gate allowed with ``record`` consumes it at ``at``.

    Only a single-use override is consumed (True); using any other is not recorded (False).
    The gate judged the run at its own instant (which may be simulated); ``at`` is when the
    consumption is recorded, so a window that closed or a revocation since does not undo the
    use. Refused (:class:`OverrideError`): a second use, and an override that never granted
    (pending, rejected) or does not yet (scheduled). The PostgreSQL store also requires it to
    be active at the server's time.
    """
    if not record.single_use:
        return False
    if record.consumed is not None:
        raise REFUSALS["closed"](id=record.id, status=CONSUMED, verb="used")
    status = record.status(at)
    if record.rejected is not None or not record.fully_approved or at < record.valid_from:
        raise REFUSALS["unusable"](id=record.id, status=status)
    return True
