"""The rules every store enforces: what a request must say, and who may approve, reject,
revoke or use an override when (the PostgreSQL functions check them again, with the same
words)."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass

from seasongate._errors import InputError, OverrideError
from seasongate._overrides._record import (
    ACTIVE,
    CONSUMED,
    OPEN_STATUSES,
    PENDING,
    REJECTED,
    REVOKED,
    SCHEDULED,
    OverrideRecord,
    Requirements,
    Scope,
)
from seasongate._overrides._refusals import REFUSALS, RELEASE_MANAGER
from seasongate._policy import OverrideSpec
from seasongate._time import format_duration, iso

MAX_TEXT = 2000  # characters in a reason, comment or ticket


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
        id=override_id, environment=scope.environment, territory=scope.territory, versions=scope.versions,
        rules=requirements.rules, valid_from=valid_from, valid_until=valid_until, requester=requester,
        reason=reason, ticket=ticket, single_use=single_use, approvals_required=requirements.approvals,
        roles=requirements.roles, max_validity=requirements.max_validity, created_at=at,
    )  # fmt: skip


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


@dataclass(frozen=True, slots=True)
class Closing:
    """A way to close an override with a reason: rejecting or revoking it. Both take the same
    path in every store (one transaction: check, record the closure, append its entry);
    only the rule that says who may, and when, differs."""

    name: str  # "reject" or "revoke": the command and, as ``override.<name>``, the audit action
    status: str  # what the override is afterwards: "rejected" or "revoked"
    doing: str  # "rejecting" or "revoking", for messages
    check: Callable[[OverrideRecord, str, int, Roster], None]

    @property
    def action(self) -> str:
        """The audit action: ``override.reject`` or ``override.revoke``."""
        return f"override.{self.name}"


REJECT = Closing("reject", REJECTED, "rejecting", check_reject)
REVOKE = Closing("revoke", REVOKED, "revoking", check_revoke)
