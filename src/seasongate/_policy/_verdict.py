"""A decision at one instant, read from the start sets of its request shape.

``evaluate`` and ``explain`` both come here: :func:`decide` reads the verdict at the instant
(allowed or not, the rules that speak, the overrides that lift them, how long the window
lasts or when the next one opens), and :func:`rule_checks` reads the same rule verdicts back
for ``explain``. Nothing here re-derives a rule's conditions or its times: ``_starts``
computed them once per request shape.
"""

from __future__ import annotations

from bisect import bisect_right
from collections.abc import Sequence
from dataclasses import dataclass

from seasongate._calendar import CalendarIndex
from seasongate._policy._decision import (
    Decision,
    MigrationInfo,
    OverrideGrant,
    Reason,
    Request,
    UnappliedOverride,
)
from seasongate._policy._rules import Rule
from seasongate._policy._starts import Lifting, Shortfalls, StartSets, allowed_with, lifting, named_periods


@dataclass(frozen=True, slots=True)
class RuleCheck:
    """One rule examined for ``explain``: did it match, and each condition's verdict."""

    rule: Rule
    matched: bool
    conditions: tuple[tuple[str, bool], ...]
    reason: Reason | None


class Asked:
    """A request as the policy resolved it: classified, the key of its shape (everything
    the rules' static conditions read), and what a decision on it notes. (A plain slotted
    class, not a frozen dataclass: one is made per new migration version, so it is cheap.)"""

    __slots__ = ("info", "notes", "shape")

    def __init__(self, info: MigrationInfo, shape: tuple[object, ...], notes: tuple[str, ...]) -> None:
        self.info = info
        self.shape = shape
        self.notes = notes


# No grant given: nothing lifted, nothing falls short (never mutated).
_NOTHING_LIFTED: tuple[Lifting, Shortfalls] = ({}, [])


def decide(
    sets: StartSets,
    index: CalendarIndex,
    request: Request,
    asked: Asked,
    ts: int,
    grants: Sequence[OverrideGrant],
    policy_identity: tuple[str, str],
) -> Decision:
    """The decision on ``request`` at ``ts`` from its start sets, with ``grants`` (the store's
    active approved overrides) lifting the rules they cover; ``policy_identity`` is the
    policy's path and SHA-256."""
    info = asked.info
    lifts, short = lifting(sets, request, grants) if grants else _NOTHING_LIFTED
    allowed_set = allowed_with(sets, lifts) if lifts else sets.allowed
    duration = info.duration or 0
    run = duration if duration > 1 else 1
    reasons: list[Reason] = []
    used: OverrideGrant | None = None
    default_applied = True  # no rule decided: neither an allow nor a standing deny matched
    for starts, ends, verdict in sets.speakers:
        i = bisect_right(starts, ts) - 1
        if i < 0 or ts >= ends[i]:
            continue
        rule = verdict.rule
        lifted_by = None
        if lifts and rule.effect == "deny":
            for grant in lifts.get(rule.name, ()):
                if grant.valid_from <= ts < grant.valid_until:
                    lifted_by = grant.id
                    used = used or grant
                    break
        if lifted_by is None:
            default_applied = False
            reasons.append(verdict.plain_reason or verdict.reason_at(index, ts, run))
        else:
            reasons.append(rule.reason(named_periods(rule, index, ts, ts + run), lifted_by))
    # The membership test and the window around the instant: one binary search.
    starts, ends = allowed_set.starts, allowed_set.ends
    i = bisect_right(starts, ts) - 1
    allowed = i >= 0 and ts < ends[i]
    allowed_until = latest_start = next_allowed = None
    if allowed:
        until = ends[i] - 1 + run
        if until < index.hi:  # at the horizon: unknown, say None
            allowed_until = until
            latest_start = until - duration if duration else None
    elif i + 1 < len(starts):
        next_allowed = starts[i + 1]
    unapplied: tuple[UnappliedOverride, ...] = ()
    if short:
        denying_now = {r.rule for r in reasons if r.effect == "deny" and r.lifted_by is None}
        unapplied = tuple(
            UnappliedOverride(grant.id, rule_name, why, grant.ticket)
            for grant, rule_name, why in short
            if rule_name in denying_now and grant.valid_from <= ts < grant.valid_until
        )
    path, sha256 = policy_identity
    return Decision(
        allowed, ts, request.environment, request.territory, info, tuple(reasons), index.tz, path, sha256,
        allowed_until, latest_start, next_allowed, default_applied, used if allowed else None, index.hi,
        asked.notes, unapplied,
    )  # fmt: skip


def rule_checks(sets: StartSets, decision: Decision) -> tuple[RuleCheck, ...]:
    """Every rule of the policy as ``explain`` shows it, read from the verdicts ``decision``
    was computed from: its static conditions, and (for a rule with time conditions) whether
    the instant is among the starts at which it speaks."""
    duration = decision.migration.duration or 0
    by_rule = {r.rule: r for r in decision.reasons}
    checks = []
    for verdict in sets.verdicts:
        rule = verdict.rule
        conditions = verdict.conditions
        if rule.temporal:
            parts = [c.describe() for c in rule.periods]
            if rule.clock:
                parts.append(rule.clock.describe())
            if rule.finish_before:
                parts.append(rule.finish_before.describe())
            verb = "the run touches" if rule.effect == "deny" else "the whole run is"
            label = f"{verb}: {' and '.join(parts)}" if duration else f"now is {' and '.join(parts)}"
            conditions = (*conditions, (label, verdict.starts.contains(decision.at)))
        matched = all(ok for _, ok in conditions)
        checks.append(RuleCheck(rule, matched, conditions, by_rule.get(rule.name)))
    return tuple(checks)
