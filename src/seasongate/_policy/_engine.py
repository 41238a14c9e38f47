"""The policy engine: a request and an instant in, a decision out, by interval algebra.

For one request (environment, territory, class, risk, duration, operation) every rule whose
static conditions hold becomes a set of *start instants*:

- a deny rule with time set ``T`` denies a start ``t`` when the run ``[t, t + duration)``
  touches ``T`` (a migration may not run *into* a blackout);
- an allow rule allows ``t`` when the whole run lies inside ``T``.

The allowed starts are ``union(allow) - union(deny)`` (default deny) or ``all - union(deny)``
(default allow): deny wins, rule order only orders the reasons. ``next_allowed_at`` and
``allowed_until`` are then one binary search each, exact to the second, with no stepping
through time. The sets of a request are cached, so many evaluations cost microseconds.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from zoneinfo import ZoneInfo

from seasongate._calendar import MAX_YEAR, MIN_YEAR, Calendar, CalendarIndex, Selector, build_index
from seasongate._errors import HorizonError, InputError
from seasongate._intervals import IntervalSet
from seasongate._policy._decision import (
    Decision,
    MigrationInfo,
    OverrideGrant,
    OverrideSpec,
    PeriodRef,
    Reason,
    Request,
)
from seasongate._policy._rules import MigrationClass, Rule
from seasongate._time import from_ts, iso, to_ts, zone
from seasongate._versions import Version
from seasongate._vocabulary import REPEATABLE_CLASS


@dataclass(frozen=True, slots=True)
class Territory:
    """A territory of the policy and the calendar that governs it."""

    code: str
    calendar: str  # path of the calendar file
    timezone: str


@dataclass
class _Plan:
    """The start sets of one request shape over the covered range."""

    rules: list[tuple[Rule, IntervalSet]]
    allowed: IntervalSet


@dataclass
class _TerritoryState:
    index: CalendarIndex
    first_year: int
    last_year: int
    rule_times: dict[str, IntervalSet] = field(default_factory=dict)
    plans: dict[tuple[object, ...], _Plan] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class RuleCheck:
    """One rule examined for ``explain``: did it match, and each condition's verdict."""

    rule: Rule
    matched: bool
    conditions: tuple[tuple[str, bool], ...]
    reason: Reason | None


class Policy:
    """A compiled policy: evaluate many requests cheaply (``policy.evaluate(request, at)``)."""

    def __init__(
        self,
        *,
        name: str,
        path: str,
        sha256: str,
        environments: tuple[str, ...],
        default: str,
        territories: dict[str, Territory],
        classes: tuple[MigrationClass, ...],
        default_risk: str,
        default_duration: int,
        horizon_days: int,
        roles: dict[str, tuple[str, ...]],
        rules: tuple[Rule, ...],
        calendars: dict[str, Calendar],
        protected: tuple[str, ...] = (),
    ) -> None:
        self.name = name
        self.protected = protected  # environments where `clean` is refused, whatever the overrides
        self.path = path
        self.sha256 = sha256
        self.environments = environments
        self.default = default
        self._territories = territories
        self.migration_classes = classes
        self.default_risk = default_risk
        self.default_duration = default_duration
        self.horizon_days = horizon_days
        self._roles = roles
        self.rules = rules
        self.calendars = calendars
        # Expanded calendars by (territory, first year, last year); kept when the policy is
        # cached, so a warm ``check`` neither parses nor expands anything.
        self.indexes: dict[tuple[str, int, int], CalendarIndex] = {}
        self.on_new_index: Callable[[Policy], None] | None = None
        self._states: dict[str, _TerritoryState] = {}
        self._resolved: dict[Request, MigrationInfo] = {}

    def __getstate__(self) -> dict[str, object]:
        state = dict(self.__dict__)
        state["_states"] = {}
        state["_resolved"] = {}
        state["on_new_index"] = None
        return state

    def __setstate__(self, state: dict[str, object]) -> None:
        self.__dict__.update(state)
        # Transient caches are rebuilt, whatever the pickled state held.
        self._states = {}
        self._resolved = {}
        self.on_new_index = None

    # -- what the policy declares --------------------------------------------------------

    @property
    def territories(self) -> tuple[str, ...]:
        """Territory codes, in file order."""
        return tuple(self._territories)

    @property
    def rule_names(self) -> tuple[str, ...]:
        """Rule names, in file order."""
        return tuple(r.name for r in self.rules)

    def territory(self, code: str) -> Territory:
        """The territory ``code``; an :class:`InputError` names the known ones."""
        try:
            return self._territories[code]
        except KeyError:
            known = ", ".join(self._territories)
            raise InputError(f"unknown territory {code!r} (policy {self.name} knows: {known})") from None

    def zone(self, territory: str) -> ZoneInfo:
        """The time zone of a territory's calendar."""
        return zone(self.territory(territory).timezone)

    def classify(self, version: Version) -> str | None:
        """The migration class of ``version``, or None when no range holds it."""
        for cls in self.migration_classes:
            if cls.contains(version):
                return cls.name
        return None

    def rule(self, name: str) -> Rule:
        """The rule called ``name``."""
        for rule in self.rules:
            if rule.name == name:
                return rule
        raise InputError(f"unknown rule {name!r} (policy {self.name} has: {', '.join(self.rule_names)})")

    def override_spec(self, rule: str) -> OverrideSpec | None:
        """What overriding ``rule`` needs; None when it cannot be overridden."""
        return self.rule(rule).override

    def closed_classes(self, environment: str, territory: str) -> frozenset[str]:
        """Migration classes that can never be applied in ``environment`` for ``territory``:
        a deny rule with no time, risk or version condition and no override covers them
        (test data in production). ``migrate`` leaves them out instead of stopping at them."""
        closed = set()
        for cls in self.migration_classes:
            for rule in self.rules:
                if (
                    rule.effect == "deny" and rule.override is None and not rule.temporal
                    and rule.risks is None and rule.versions is None
                    and (rule.environments is None or environment in rule.environments)
                    and (rule.territories is None or territory in rule.territories)
                    and (rule.operations is None or "apply" in rule.operations)
                    and rule.classes is not None and cls.name in rule.classes
                ):  # fmt: skip
                    closed.add(cls.name)
        return frozenset(closed)

    def role_members(self, role: str) -> tuple[str, ...]:
        """The roster of ``role`` (the identity source for the SQLite store)."""
        return self._roles.get(role, ())

    # -- the covered range -----------------------------------------------------------------

    def index(self, territory: str, at: int) -> CalendarIndex:
        """The calendar index of ``territory`` covering ``at`` and the horizon after it."""
        return self._state(territory, at).index

    def _state(self, territory: str, at: int) -> _TerritoryState:
        state = self._states.get(territory)
        # Fast path: the instant and its horizon lie well inside the covered years.
        if state is not None and state.index.lo <= at < state.index.hi - (self.horizon_days + 45) * 86400:
            return state
        tz = self.zone(territory)
        year = from_ts(at, tz).year
        need_last = from_ts(at + (self.horizon_days + 45) * 86400, tz).year
        if state is not None and state.first_year <= year and need_last <= state.last_year:
            return state
        first, last = year, max(need_last, year + 1)
        if state is not None:
            first, last = min(first, state.first_year), max(last, state.last_year)
        for (code, have_first, have_last), stored in self.indexes.items():
            if code == territory and have_first <= first and last <= have_last:
                index, first, last = stored, have_first, have_last
                break
        else:
            first, last = max(first, MIN_YEAR), min(last, MAX_YEAR)
            if not MIN_YEAR <= year <= MAX_YEAR:
                raise HorizonError(f"{iso(at, tz)} is outside {MIN_YEAR}-{MAX_YEAR}, the years calendars answer")
            index = build_index(self.calendars[territory], first, last)
            self.indexes = {k: v for k, v in self.indexes.items() if k[0] != territory}
            self.indexes[(territory, first, last)] = index
            if self.on_new_index is not None:
                self.on_new_index(self)
        state = _TerritoryState(index, first, last)
        self._states[territory] = state
        return state

    # -- evaluation --------------------------------------------------------------------------

    def _resolve(self, request: Request) -> MigrationInfo:
        info = self._resolved.get(request)
        if info is None:
            info = self._resolved[request] = self._classify_request(request)
            if len(self._resolved) > 4096:
                self._resolved.clear()
        return info

    def _classify_request(self, request: Request) -> MigrationInfo:
        if request.environment not in self.environments:
            raise InputError(
                f"unknown environment {request.environment!r} "
                f"(policy {self.name} covers: {', '.join(self.environments)})"
            )
        self.territory(request.territory)
        if request.operation not in ("apply", "rollback"):
            raise InputError(f"unknown operation {request.operation!r} (apply or rollback)")
        risk = request.risk or self.default_risk
        if risk not in ("low", "medium", "high"):
            raise InputError(f"unknown risk {risk!r} (low, medium or high)")
        cls = None
        if request.repeatable:
            cls = REPEATABLE_CLASS
        elif request.version is not None and self.migration_classes:
            cls = self.classify(request.version)
            if cls is None:
                ranges = ", ".join(f"{c.name} {c.describe()}" for c in self.migration_classes)
                raise InputError(f"version {request.version} is in no migration class ({ranges})")
        if request.duration is not None:
            if request.duration < 0:
                raise InputError("duration must not be negative")
            duration: int | None = request.duration
        else:
            duration = self.default_duration if request.version is not None or request.repeatable else None
        return MigrationInfo(request.version, cls, risk, duration, request.operation)

    def _static_match(self, rule: Rule, request: Request, info: MigrationInfo) -> bool:
        if rule.environments is not None and request.environment not in rule.environments:
            return False
        if rule.territories is not None and request.territory not in rule.territories:
            return False
        if rule.classes is not None and info.migration_class not in rule.classes:
            return False
        if rule.versions is not None:
            if info.version is None:
                return False
            low, high = rule.versions
            if info.version < low or (high is not None and info.version > high):
                return False
        if rule.risks is not None and info.risk not in rule.risks:
            return False
        return rule.operations is None or info.operation in rule.operations

    def rule_times(self, rule: Rule, territory: str, at: int) -> IntervalSet:
        """The times (not yet widened by a run's duration) when ``rule``'s time conditions
        hold in ``territory``, over the years covered around ``at``."""
        return self._rule_times(self._state(territory, at), rule)

    def _rule_times(self, state: _TerritoryState, rule: Rule) -> IntervalSet:
        cached = state.rule_times.get(rule.name)
        if cached is None:
            index = state.index
            times = IntervalSet([index.lo], [index.hi])
            for cond in rule.periods:
                times = times.intersection(cond.times(index))
            if rule.clock is not None:
                times = times.intersection(rule.clock.times(index))
            if rule.finish_before is not None:
                times = times.intersection(rule.finish_before.times(index))
            cached = state.rule_times[rule.name] = times
        return cached

    def _plan(self, state: _TerritoryState, request: Request, info: MigrationInfo) -> _Plan:
        duration = info.duration or 0
        key = (request.environment, request.territory, info.migration_class, info.version,
               info.risk, info.operation, duration)  # fmt: skip
        plan = state.plans.get(key)
        if plan is not None:
            return plan
        index = state.index
        everything = IntervalSet([index.lo], [index.hi])
        rules: list[tuple[Rule, IntervalSet]] = []
        allow = IntervalSet.empty()
        deny = IntervalSet.empty()
        for rule in self.rules:
            if not self._static_match(rule, request, info):
                continue
            times = self._rule_times(state, rule)
            if rule.effect == "deny":
                starts = times.touching_starts(duration)
                deny = deny.union(starts)
            else:
                starts = times.fitting_starts(duration)
                allow = allow.union(starts)
            rules.append((rule, starts))
        base = allow if self.default == "deny" else everything
        plan = _Plan(rules, base.difference(deny))
        if len(state.plans) > 4096:
            state.plans.clear()
        state.plans[key] = plan
        return plan

    def _with_overrides(
        self, plan: _Plan, request: Request, grants: Sequence[OverrideGrant], index: CalendarIndex
    ) -> tuple[IntervalSet, dict[str, list[OverrideGrant]]]:
        lifting: dict[str, list[OverrideGrant]] = {}
        for grant in grants:
            if not grant.covers(request):
                continue
            for rule, _ in plan.rules:
                if rule.effect == "deny" and rule.name in grant.rules and _grant_satisfies(grant, rule.override):
                    lifting.setdefault(rule.name, []).append(grant)
        if not lifting:
            return plan.allowed, lifting
        everything = IntervalSet([index.lo], [index.hi])
        allow = IntervalSet.empty()
        deny = IntervalSet.empty()
        for rule, starts in plan.rules:
            if rule.effect == "allow":
                allow = allow.union(starts)
                continue
            lifted = IntervalSet.of((g.valid_from, g.valid_until) for g in lifting.get(rule.name, ()))
            deny = deny.union(starts.difference(lifted))
        base = allow if self.default == "deny" else everything
        # An override lifts denials; with a default of deny it also stands in for the allow
        # that the lifted rule would otherwise leave missing only if an allow rule matches.
        return base.difference(deny), lifting

    def evaluate(self, request: Request, at: datetime | int, overrides: Sequence[OverrideGrant] = ()) -> Decision:
        """Decide ``request`` at instant ``at`` (aware datetime or epoch seconds).

        ``overrides`` are the store's active, approved grants; those covering the request lift
        the overridable deny rules they name while they are valid.
        """
        if isinstance(at, datetime) and at.microsecond:
            # Instants are whole seconds; a fractional start is judged at both neighbours
            # and allowed only if both are (fail closed at an edge).
            early = self.evaluate(request, to_ts(at), overrides)
            late = self.evaluate(request, to_ts(at) + 1, overrides)
            return early if early.allowed == late.allowed or not early.allowed else late
        ts = at if isinstance(at, int) else to_ts(at)
        info = self._resolve(request)
        state = self._state(request.territory, ts)
        index = state.index
        plan = self._plan(state, request, info)
        allowed_set, lifting = self._with_overrides(plan, request, overrides, index)
        duration = info.duration or 0
        run_end = ts + max(duration, 1)
        reasons: list[Reason] = []
        used: OverrideGrant | None = None
        for rule, starts in plan.rules:
            if not starts.contains(ts):
                continue
            lifted_by = None
            if rule.effect == "deny":
                for grant in lifting.get(rule.name, ()):
                    if grant.valid_from <= ts < grant.valid_until:
                        lifted_by = grant.id
                        used = used or grant
                        break
            reasons.append(self._reason(rule, index, ts, run_end, lifted_by))
        allowed = allowed_set.contains(ts)
        horizon_end = index.hi
        allowed_until = latest_start = next_allowed = None
        if allowed:
            span = allowed_set.containing(ts)
            until = None if span is None else span[1] - 1 + max(duration, 1)
            if until is not None and until < horizon_end:  # at the horizon: unknown, say None
                allowed_until = until
                latest_start = until - duration if duration else None
        else:
            next_allowed = allowed_set.next_start(ts)
        # No rule decided: neither an allow nor a (standing) deny matched.
        default_applied = not any(r.effect == "allow" or r.lifted_by is None for r in reasons)
        return Decision(
            allowed=allowed,
            at=ts,
            environment=request.environment,
            territory=request.territory,
            migration=info,
            reasons=tuple(reasons),
            zone=index.tz,
            policy_path=self.path,
            policy_sha256=self.sha256,
            allowed_until=allowed_until,
            latest_start=latest_start,
            next_allowed_at=next_allowed,
            default_applied=default_applied,
            override=used if allowed else None,
            horizon_end=horizon_end,
        )

    def _reason(self, rule: Rule, index: CalendarIndex, ts: int, run_end: int, lifted_by: str | None) -> Reason:
        periods: list[PeriodRef] = []
        for cond in rule.periods:
            if not cond.negate:
                for p in index.overlapping(ts, run_end, cond.selector):
                    periods.append(PeriodRef(p.name, p.kind, p.calendar, p.start, p.end))
        if rule.finish_before is not None:
            fb = rule.finish_before
            upcoming = index.next_start(fb.selector, ts)
            if upcoming is not None:
                periods.append(PeriodRef(upcoming.name, upcoming.kind, upcoming.calendar, upcoming.start, upcoming.end))
        return Reason(
            rule=rule.name,
            effect=rule.effect,
            message=rule.message or f"rule {rule.name}",
            source=rule.source,
            periods=tuple(dict.fromkeys(periods)),
            overridable=rule.override is not None,
            override=rule.override,
            lifted_by=lifted_by,
        )

    def allowed_starts(
        self, request: Request, at: datetime | int, overrides: Sequence[OverrideGrant] = ()
    ) -> tuple[IntervalSet, int, MigrationInfo]:
        """The set of allowed start instants over the horizon from ``at``, with its end."""
        ts = at if isinstance(at, int) else to_ts(at)
        info = self._resolve(request)
        state = self._state(request.territory, ts)
        plan = self._plan(state, request, info)
        allowed, _ = self._with_overrides(plan, request, overrides, state.index)
        return allowed, state.index.hi, info

    def explain(
        self, request: Request, at: datetime | int, overrides: Sequence[OverrideGrant] = ()
    ) -> tuple[Decision, tuple[RuleCheck, ...]]:
        """The decision and every rule examined, with each condition's verdict."""
        decision = self.evaluate(request, at, overrides)
        ts = decision.at
        info = decision.migration
        state = self._state(request.territory, ts)
        duration = info.duration or 0
        by_rule = {r.rule: r for r in decision.reasons}
        checks = []
        for rule in self.rules:
            conds: list[tuple[str, bool]] = []
            if rule.environments is not None:
                conds.append(
                    (f"environment is {'/'.join(sorted(rule.environments))}", request.environment in rule.environments)
                )
            if rule.territories is not None:
                conds.append(
                    (f"territory is {'/'.join(sorted(rule.territories))}", request.territory in rule.territories)
                )
            if rule.classes is not None:
                conds.append(
                    (f"migration class is {'/'.join(sorted(rule.classes))}", info.migration_class in rule.classes)
                )
            if rule.versions is not None:
                low, high = rule.versions
                inside = info.version is not None and low <= info.version and (high is None or info.version <= high)
                conds.append((f"version in {low}-{high or ''}", inside))
            if rule.risks is not None:
                conds.append((f"risk is {'/'.join(sorted(rule.risks))}", info.risk in rule.risks))
            if rule.operations is not None:
                conds.append((f"operation is {'/'.join(sorted(rule.operations))}", info.operation in rule.operations))
            static = all(ok for _, ok in conds)
            if rule.temporal:
                times = self._rule_times(state, rule)
                starts = times.touching_starts(duration) if rule.effect == "deny" else times.fitting_starts(duration)
                parts = [c.describe() for c in rule.periods]
                if rule.clock:
                    parts.append(rule.clock.describe())
                if rule.finish_before:
                    parts.append(rule.finish_before.describe())
                verb = "the run touches" if rule.effect == "deny" else "the whole run is"
                label = f"{verb}: {' and '.join(parts)}" if duration else f"now is {' and '.join(parts)}"
                conds.append((label, starts.contains(ts)))
            matched = static and all(ok for _, ok in conds)
            checks.append(RuleCheck(rule, matched, tuple(conds), by_rule.get(rule.name)))
        return decision, tuple(checks)


def _grant_satisfies(grant: OverrideGrant, spec: OverrideSpec | None) -> bool:
    """Whether ``grant`` meets what *this* policy demands for lifting a rule.

    The store records the requirements the requester's policy file stated; a grant recorded
    against a laxer copy of the policy (fewer approvals, a longer validity) lifts nothing here.
    """
    if spec is None:
        return False  # the rule cannot be overridden
    approvers = {a.actor for a in grant.approvals if a.role == spec.role} - {grant.requester}
    return len(approvers) >= spec.approvals and grant.valid_until - grant.valid_from <= spec.max_validity


__all__ = ["Policy", "RuleCheck", "Selector", "Territory"]
