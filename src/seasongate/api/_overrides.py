"""The override and audit commands as functions: one per command, values in, values out.

Each function opens what it needs the way every command does (``api._project``): a request
opens its project (the policy covering the environment, and the store); the others open the
store (``store``: a URL, an open :class:`Store`, or None for ``$SEASONGATE_STORE`` / the
default SQLite file under ``project_dir``) and load the policy only if the store asks who
holds a role. Each closes what it opened. Nothing here prints; the instant ``at`` is always
passed in.
"""

from __future__ import annotations

import secrets
from collections.abc import Sequence
from contextlib import AbstractContextManager, nullcontext
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from seasongate._errors import InputError, OverrideError
from seasongate._overrides import (
    ACTIVE,
    REJECT,
    REVOKE,
    Closing,
    OverrideRecord,
    Scope,
    check_text,
    combine_specs,
    new_override,
    parse_versions,
)
from seasongate._store import AuditEntry, AuditReport, Store
from seasongate._time import iso, parse_duration, parse_instant, to_ts
from seasongate.api._project import open_policy, open_project, open_store

if TYPE_CHECKING:
    from typing import TypeAlias

    from seasongate._policy import Policy

    PolicyArg: TypeAlias = Policy | str | Path | None  # a loaded policy, its file, or None: found by environment
    StoreArg: TypeAlias = Store | str | None  # an open store (stays open), its URL, or None: the project's

__all__ = [
    "ApprovalOutcome", "audit_head", "audit_list", "audit_verify", "override_approve", "override_list",
    "override_reject", "override_request", "override_revoke", "override_show",
]  # fmt: skip


@dataclass(frozen=True, slots=True)
class ApprovalOutcome:
    """What ``override_approve`` did: the override afterwards, and whether this approval counted
    (False when the same person had approved it before: approving twice counts once)."""

    record: OverrideRecord
    counted: bool

    @property
    def approvals(self) -> int:
        """Distinct approvals so far."""
        return len(self.record.approvers)

    @property
    def required(self) -> int:
        """Approvals the override needs."""
        return self.record.approvals_required

    def to_dict(self, at: datetime) -> dict[str, Any]:
        """JSON form: the override (status at ``at``) and whether this approval counted."""
        return {"counted": self.counted, "override": self.record.to_dict(to_ts(at))}


class _Roster:
    """``policy.role_members``, loading the policy only when a role is asked about.

    The PostgreSQL store never asks (database roles decide), so it never needs the policy.
    """

    def __init__(self, policy: PolicyArg, environment: str, project_dir: Path | None) -> None:
        self._arg = policy
        self._environment = environment
        self._project_dir = project_dir
        self._loaded: Policy | None = None

    def __call__(self, role: str) -> tuple[str, ...]:
        if self._loaded is None:
            self._loaded = open_policy(self._arg, self._environment, self._project_dir)
        return self._loaded.role_members(role)


def _store(store: StoreArg, project_dir: Path | None) -> AbstractContextManager[Store]:
    """The store given (left open: it is the caller's), else opened here and closed after use."""
    opened = open_store(store, project_dir)
    return nullcontext(opened) if opened is store else opened


def _roster(policy: PolicyArg, opened: Store, override_id: str, project_dir: Path | None) -> _Roster:
    """Who holds a role, by the policy covering the override's environment (loaded if asked)."""
    return _Roster(policy, opened.get_override(override_id).environment, project_dir)


def _instant(value: datetime | str, what: str, policy: Policy, territory: str) -> int:
    if isinstance(value, datetime):
        return to_ts(value)
    text = value.strip()
    if not text:
        raise InputError(f"{what} is empty: use ISO 8601, e.g. 2026-09-25T10:00+02:00")
    moment, _ = parse_instant(text, policy.zone(territory))
    return to_ts(moment)


def _denied_overridable(policy: Policy, scope: Scope, at: int) -> tuple[list[str], list[str]]:
    """The overridable and the fixed rules that deny the scope at ``at``.

    Listed versions are each probed, and a fixed denial of any of them is reported. ``any``
    covers every class: it is probed once per class (and for repeatable scripts), since a
    request without a version has an unknown class that meets every class-scoped deny rule;
    its fixed rules are reported only when no class could be let through."""
    from seasongate._policy import Request

    if scope.versions is None:
        probes = [Request(scope.environment, scope.territory, migration_class=c.name) for c in policy.migration_classes]
        probes = (
            [*probes, Request(scope.environment, scope.territory, repeatable=True)]
            if probes
            else [Request(scope.environment, scope.territory)]
        )
        every = False
    else:
        probes = [Request(scope.environment, scope.territory, v) for v in sorted(set(scope.versions))]
        every = True
    open_rules: list[str] = []
    fixed: list[str] = []
    helped = False
    for request in probes:
        denying = policy.evaluate(request, at).denying
        held = [r.rule for r in denying if not r.overridable]
        fixed.extend(r for r in held if r not in fixed)
        if every or not held:
            helped = helped or not held
            open_rules.extend(r.rule for r in denying if r.overridable and r.rule not in open_rules)
    return open_rules, fixed if every or not helped else []


def override_request(
    policy: PolicyArg,
    *,
    at: datetime,
    environment: str,
    territory: str,
    versions: str,
    reason: str,
    ticket: str,
    rules: Sequence[str] = (),
    valid_from: datetime | str | None = None,
    valid_until: datetime | str | None = None,
    duration: str | int | None = None,
    single_use: bool = False,
    store: StoreArg = None,
    project_dir: Path | None = None,
) -> OverrideRecord:
    """Request an emergency override; returns the new, pending override.

    ``versions`` is ``V226``, ``V226..V230`` or ``any``. The window starts at ``valid_from``
    (default ``at``) and ends at ``valid_until`` or after ``duration`` (``"4h"``), exactly one
    of which is given; naive times are read in the territory's time zone. ``rules`` are the
    rules to lift; by default, every overridable rule that denies the scope at ``valid_from``.
    The approvals, roles and longest validity come from those rules in the policy.
    """
    now = to_ts(at)
    project = open_project(environment, policy=policy, store=store, project_dir=project_dir)
    pol = project.policy
    if environment not in pol.environments:
        raise InputError(
            f"unknown environment {environment!r} (policy {pol.name} knows: {', '.join(pol.environments)})"
        )
    if territory not in pol.territories:
        raise InputError(f"unknown territory {territory!r} (policy {pol.name} knows: {', '.join(pol.territories)})")
    scope = Scope(environment, territory, parse_versions(versions))
    reason = check_text(reason, "the reason")
    ticket = check_text(ticket, "the ticket")
    start = now if valid_from is None else _instant(valid_from, "--from", pol, territory)
    if (valid_until is None) == (duration is None):
        raise InputError("give the end of the override: either --until TIME or --for DURATION")
    if valid_until is not None:
        end = _instant(valid_until, "--until", pol, territory)
    else:
        assert duration is not None
        end = start + parse_duration(duration)
    local = pol.zone(territory)
    if end <= now:
        what = "--until" if valid_until is not None else f"--for {duration}"
        raise InputError(f"{what} ends at {iso(end, local)}, which is not after now ({iso(now, local)})")

    chosen = list(dict.fromkeys(r.strip() for r in rules))
    denying, fixed = _denied_overridable(pol, scope, start)
    what = f"{environment}/{territory} {scope.versions_text} at {iso(start, local)}"
    if fixed:
        # Lifting every overridable rule would still leave it denied: an override cannot help.
        raise OverrideError(
            f"{what} is denied by {', '.join(fixed)}, which cannot be overridden: an override would not let it run"
        )
    if not chosen:
        chosen = denying
        if not chosen:
            raise InputError(
                f"nothing to override: no overridable rule denies {what}; "
                "name the rules with --rule to override them ahead of time"
            )
    specs = {name: pol.override_spec(name) for name in chosen}  # unknown names raise
    requirements = combine_specs(specs)

    with project.store() as opened:
        assert opened is not None  # the project uses its store
        record = new_override(
            override_id=f"ovr-{secrets.token_hex(4)}",
            scope=scope,
            requirements=requirements,
            valid_from=start,
            valid_until=end,
            at=now,
            requester=opened.identity(),
            reason=reason,
            ticket=ticket,
            single_use=single_use,
        )
        return opened.create_override(record)


def override_approve(
    policy: PolicyArg,
    override_id: str,
    *,
    at: datetime,
    comment: str = "",
    store: StoreArg = None,
    project_dir: Path | None = None,
) -> ApprovalOutcome:
    """Approve an override as the current identity.

    Refused (:class:`OverrideError`) for the requester, for someone without the override's
    roles (the policy roster with SQLite, ``seasongate_<role>`` membership with PostgreSQL)
    and for a rejected, revoked, expired or consumed override.
    """
    oid = override_id.strip()
    with _store(store, project_dir) as opened:
        roster = _roster(policy, opened, oid, project_dir)
        record, counted = opened.approve(oid, at=at, comment=comment, roster=roster)
    return ApprovalOutcome(record, counted)


def override_reject(
    policy: PolicyArg, override_id: str, *, at: datetime, reason: str,
    store: StoreArg = None, project_dir: Path | None = None,
) -> OverrideRecord:  # fmt: skip
    """Reject a pending override (someone holding its roles, not its requester)."""
    return _close(REJECT, policy, override_id, at=at, reason=reason, store=store, project_dir=project_dir)


def override_revoke(
    policy: PolicyArg, override_id: str, *, at: datetime, reason: str,
    store: StoreArg = None, project_dir: Path | None = None,
) -> OverrideRecord:  # fmt: skip
    """Revoke an open override (its requester or someone holding its roles)."""
    return _close(REVOKE, policy, override_id, at=at, reason=reason, store=store, project_dir=project_dir)


def _close(
    closing: Closing, policy: PolicyArg, override_id: str, *, at: datetime, reason: str, store: StoreArg,
    project_dir: Path | None,
) -> OverrideRecord:
    """Reject or revoke: the one path of both."""
    oid = override_id.strip()
    reason = check_text(reason, "the reason")
    to_ts(at)
    with _store(store, project_dir) as opened:
        roster = _roster(policy, opened, oid, project_dir)
        return opened.close_override(closing, oid, at=at, reason=reason, roster=roster)


def override_list(
    *,
    at: datetime,
    active_only: bool = False,
    store: StoreArg = None,
    project_dir: Path | None = None,
) -> list[OverrideRecord]:
    """Every override, oldest first; with ``active_only`` those granting at ``at``."""
    now = to_ts(at)
    with _store(store, project_dir) as opened:
        records = opened.list_overrides()
    if active_only:
        records = [r for r in records if r.status(now) == ACTIVE]
    return records


def override_show(
    override_id: str,
    *,
    store: StoreArg = None,
    project_dir: Path | None = None,
) -> OverrideRecord:
    """One override with its approvals; an unknown id is an :class:`InputError`."""
    with _store(store, project_dir) as opened:
        return opened.get_override(override_id.strip())


def audit_list(
    *,
    since: datetime | None = None,
    store: StoreArg = None,
    project_dir: Path | None = None,
) -> list[AuditEntry]:
    """Audit entries in order, optionally from ``since`` on."""
    if since is not None:
        to_ts(since)  # refuse a naive datetime
    with _store(store, project_dir) as opened:
        return opened.audit_entries(since)


def audit_verify(
    *,
    head: str | None = None,
    against: Sequence[str] = (),
    table: str = "seasongate_schema_history",
    store: StoreArg = None,
    project_dir: Path | None = None,
) -> AuditReport:
    """Check the audit trail's hash chain; ``report.ok`` tells, ``report.broken_seq`` where.

    ``head`` is a head kept elsewhere (``audit_head``): the trail must still contain it.
    ``against`` are target database URLs whose migration history (``<table>_seasongate``)
    anchors entries: the trail must still contain each. Both find a trail wiped whole.
    """
    from seasongate._store import check_anchors, history_anchors, parse_kept_head

    kept = [] if head is None else [parse_kept_head(head)]
    with _store(store, project_dir) as opened:
        report = opened.verify_audit()
        report = check_anchors(opened, report, kept, ())
        for dsn in against:
            anchors, notes = history_anchors(dsn, table)
            report = check_anchors(opened, report, anchors, notes)
    return report


def audit_head(
    *,
    store: StoreArg = None,
    project_dir: Path | None = None,
) -> str | None:
    """The head of the intact trail, ``<seq>:<sha256>``, for a pipeline to keep elsewhere and
    pass back to ``audit_verify(head=...)``; None when the trail is empty. A broken trail is
    a :class:`~seasongate._errors.StoreError`."""
    with _store(store, project_dir) as opened:
        return opened.audit_head()
