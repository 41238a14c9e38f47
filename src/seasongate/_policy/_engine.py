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

What a request states and which static conditions it meets is ``_matching``'s; this module
is the one cohesive rest (the covered years, the start sets of a request shape, a decision
and its explanation read from them), which is why it is longer than most.
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
    UnappliedOverride,
)
from seasongate._policy._matching import (
    classify_request,
    in_range,
    override_shortfall,
    request_notes,
    static_conditions,
)
from seasongate._policy._rules import MigrationClass, Rule
from seasongate._time import from_ts, iso, to_ts, zone
from seasongate._versions import Version
from seasongate._vocabulary import Risk


@dataclass(frozen=True, slots=True)
class Territory:
    """A territory of the policy and the calendar that governs it."""

    code: str
    calendar: str  # path of the calendar file
    timezone: str


@dataclass(frozen=True, slots=True)
class _RuleVerdict:
    """One rule for one request shape: its static conditions with their verdicts, whether
    they all hold, and the start instants at which the rule speaks (deny: the run would
    touch its times; allow: the whole run lies inside them)."""

    rule: Rule
    conditions: tuple[tuple[str, bool], ...]
    matched: bool
    starts: IntervalSet


@dataclass(frozen=True)
class _ShapeStarts:
    """The start sets of one request shape over the covered range: every rule's verdict,
    and the allowed starts before any override."""

    verdicts: tuple[_RuleVerdict, ...]
    base: IntervalSet  # the allow union (default deny) or everything (default allow)
    allowed: IntervalSet
    matched: tuple[_RuleVerdict, ...] = ()  # the verdicts whose static conditions hold

    def __post_init__(self) -> None:
        object.__setattr__(self, "matched", tuple(v for v in self.verdicts if v.matched))


@dataclass
class _TerritoryState:
    index: CalendarIndex
    first_year: int
    last_year: int
    rule_times: dict[str, IntervalSet] = field(default_factory=dict)
    shapes: dict[tuple[object, ...], _ShapeStarts] = field(default_factory=dict)


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
        default_risk: Risk | None,
        default_duration: int,
        default_class: str | None = None,
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
        self.default_class = default_class
        self.horizon_days = horizon_days
        self._roles = roles
        self.rules = rules
        self.calendars = calendars
        # Expanded calendars by (territory, first year, last year); kept when the policy is
        # cached, so a warm ``check`` neither parses nor expands anything.
        self.indexes: dict[tuple[str, int, int], CalendarIndex] = {}
        self.on_new_index: Callable[[Policy], None] | None = None
        self._states: dict[str, _TerritoryState] = {}
        self._resolved: dict[Request, tuple[MigrationInfo, tuple[object, ...]]] = {}
        # The rules scoped by a version range: a request's shape records which of them hold.
        self._version_rules = tuple(r for r in rules if r.versions is not None)
        # The reason a rule gives is the same at every instant when it names no periods.
        self._fixed_reasons: dict[str, Reason] = {}

    def __getstate__(self) -> dict[str, object]:
        state = dict(self.__dict__)
        state["_states"] = {}
        state["_resolved"] = {}
        state["_fixed_reasons"] = {}
        state["on_new_index"] = None
        return state

    def __setstate__(self, state: dict[str, object]) -> None:
        self.__dict__.update(state)
        # Transient caches are rebuilt, whatever the pickled state held.
        self._states = {}
        self._resolved = {}
        self._fixed_reasons = {}
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
        if not MIN_YEAR <= year <= MAX_YEAR:
            raise HorizonError(f"{iso(at, tz)} is outside {MIN_YEAR}-{MAX_YEAR}, the years calendars answer")
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
            index = build_index(self.calendars[territory], first, last)
            self.indexes = {k: v for k, v in self.indexes.items() if k[0] != territory}
            self.indexes[(territory, first, last)] = index
            if self.on_new_index is not None:
                self.on_new_index(self)
        state = _TerritoryState(index, first, last)
        self._states[territory] = state
        return state

    # -- evaluation --------------------------------------------------------------------------

    def _resolve(self, request: Request) -> tuple[MigrationInfo, tuple[object, ...]]:
        """The request as classified, and the key of its shape: everything the rules'
        static conditions read (never the version itself, only which version ranges hold)."""
        found = self._resolved.get(request)
        if found is None:
            info = classify_request(self, request)
            ranges = None if info.version is None else tuple(in_range(r, info.version) for r in self._version_rules)
            key = (request.environment, request.territory, info.migration_class, info.risk,
                   info.operation, info.duration or 0, ranges)  # fmt: skip
            if len(self._resolved) > 4096:
                self._resolved.clear()
            found = self._resolved[request] = (info, key)
        return found

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

    def _shape_starts(
        self, state: _TerritoryState, request: Request, info: MigrationInfo, key: tuple[object, ...]
    ) -> _ShapeStarts:
        shape = state.shapes.get(key)
        if shape is not None:
            return shape
        duration = info.duration or 0
        index = state.index
        verdicts: list[_RuleVerdict] = []
        allow = IntervalSet.empty()
        for rule in self.rules:
            conditions = static_conditions(rule, request, info)
            times = self._rule_times(state, rule)
            starts = times.touching_starts(duration) if rule.effect == "deny" else times.fitting_starts(duration)
            matched = all(ok for _, ok in conditions)
            verdicts.append(_RuleVerdict(rule, conditions, matched, starts))
            if matched and rule.effect == "allow":
                allow = allow.union(starts)
        base = allow if self.default == "deny" else IntervalSet([index.lo], [index.hi])
        shape = _ShapeStarts(tuple(verdicts), base, _allowed(base, verdicts, {}))
        if len(state.shapes) > 4096:
            state.shapes.clear()
        state.shapes[key] = shape
        return shape

    def _overrides(
        self, shape: _ShapeStarts, request: Request, grants: Sequence[OverrideGrant]
    ) -> tuple[dict[str, list[OverrideGrant]], list[tuple[OverrideGrant, str, str]]]:
        """Which covering grants lift which matched deny rules, and which covering grants
        name a matched deny rule but fall short of what it requires (with why)."""
        lifting: dict[str, list[OverrideGrant]] = {}
        short: list[tuple[OverrideGrant, str, str]] = []
        for grant in grants:
            if not grant.covers(request):
                continue
            for verdict in shape.matched:
                rule = verdict.rule
                if rule.effect != "deny" or rule.name not in grant.rules:
                    continue
                why = override_shortfall(grant, rule.override)
                if why is None:
                    lifting.setdefault(rule.name, []).append(grant)
                else:
                    short.append((grant, rule.name, why))
        return lifting, short

    def _allowed_with(self, shape: _ShapeStarts, lifting: dict[str, list[OverrideGrant]]) -> IntervalSet:
        if not lifting:
            return shape.allowed
        lifted = {
            name: IntervalSet.of((g.valid_from, g.valid_until) for g in grants) for name, grants in lifting.items()
        }
        return _allowed(shape.base, shape.verdicts, lifted)

    def evaluate(self, request: Request, at: datetime | int, overrides: Sequence[OverrideGrant] = ()) -> Decision:
        """Decide ``request`` at instant ``at`` (aware datetime or epoch seconds).

        ``overrides`` are the store's active, approved grants; those covering the request lift
        the overridable deny rules they name while they are valid. One that names a denying
        rule but does not meet its requirements is reported in ``unapplied_overrides``.
        """
        if isinstance(at, datetime) and at.microsecond:
            # Instants are whole seconds; a fractional start is judged at both neighbours
            # and allowed only if both are (fail closed at an edge).
            early = self.evaluate(request, to_ts(at), overrides)
            late = self.evaluate(request, to_ts(at) + 1, overrides)
            return early if early.allowed == late.allowed or not early.allowed else late
        return self._decide(request, at if isinstance(at, int) else to_ts(at), overrides)[0]

    def _decide(
        self, request: Request, ts: int, overrides: Sequence[OverrideGrant]
    ) -> tuple[Decision, _ShapeStarts]:
        info, key = self._resolve(request)
        state = self._state(request.territory, ts)
        index = state.index
        shape = self._shape_starts(state, request, info, key)
        lifting, short = self._overrides(shape, request, overrides) if overrides else ({}, [])
        allowed_set = self._allowed_with(shape, lifting)
        duration = info.duration or 0
        run_end = ts + max(duration, 1)
        reasons: list[Reason] = []
        used: OverrideGrant | None = None
        for verdict in shape.matched:
            if not verdict.starts.contains(ts):
                continue
            rule = verdict.rule
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
        default_applied = True
        for reason in reasons:
            if reason.effect == "allow" or reason.lifted_by is None:
                default_applied = False
                break
        unapplied: tuple[UnappliedOverride, ...] = ()
        if short:
            denying_now = {r.rule for r in reasons if r.effect == "deny" and r.lifted_by is None}
            unapplied = tuple(
                UnappliedOverride(grant.id, rule, why, grant.ticket)
                for grant, rule, why in short
                if rule in denying_now and grant.valid_from <= ts < grant.valid_until
            )
        decision = Decision(
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
            notes=request_notes(self, info),
            unapplied_overrides=unapplied,
        )
        return decision, shape

    def request_notes(self, request: Request) -> tuple[str, ...]:
        """What a decision on ``request`` would note as assumed or unknown."""
        return request_notes(self, self._resolve(request)[0])

    def _reason(self, rule: Rule, index: CalendarIndex, ts: int, run_end: int, lifted_by: str | None) -> Reason:
        names_periods = rule.finish_before is not None or any(not c.negate for c in rule.periods)
        if lifted_by is None and not names_periods:
            fixed = self._fixed_reasons.get(rule.name)
            if fixed is None:
                fixed = self._fixed_reasons[rule.name] = self._reason_with(rule, (), None)
            return fixed
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
        return self._reason_with(rule, tuple(dict.fromkeys(periods)), lifted_by)

    @staticmethod
    def _reason_with(rule: Rule, periods: tuple[PeriodRef, ...], lifted_by: str | None) -> Reason:
        return Reason(
            rule=rule.name,
            effect=rule.effect,
            message=rule.message or f"rule {rule.name}",
            source=rule.source,
            periods=periods,
            overridable=rule.override is not None,
            override=rule.override,
            lifted_by=lifted_by,
        )

    def allowed_starts(
        self, request: Request, at: datetime | int, overrides: Sequence[OverrideGrant] = (), *, until: int | None = None
    ) -> tuple[IntervalSet, int, MigrationInfo]:
        """The set of allowed start instants over the horizon from ``at`` (and, when
        ``until`` is given, at least up to it), with the end of what was examined."""
        ts = at if isinstance(at, int) else to_ts(at)
        info, key = self._resolve(request)
        state = self._state(request.territory, ts)
        if until is not None and until >= state.index.hi:
            self._state(request.territory, until)  # widens the expanded years to cover it
            state = self._state(request.territory, ts)
        shape = self._shape_starts(state, request, info, key)
        lifting, _ = self._overrides(shape, request, overrides)
        return self._allowed_with(shape, lifting), state.index.hi, info

    def explain(
        self, request: Request, at: datetime | int, overrides: Sequence[OverrideGrant] = ()
    ) -> tuple[Decision, tuple[RuleCheck, ...]]:
        """The decision and every rule examined, with each condition's verdict: read from
        the same rule verdicts the decision was computed from."""
        ts = at if isinstance(at, int) else to_ts(at)
        decision, shape = self._decide(request, ts, overrides)
        if isinstance(at, datetime) and at.microsecond:
            decision = self.evaluate(request, at, overrides)
        duration = decision.migration.duration or 0
        by_rule = {r.rule: r for r in decision.reasons}
        checks = []
        for verdict in shape.verdicts:
            rule = verdict.rule
            conds = list(verdict.conditions)
            if rule.temporal:
                parts = [c.describe() for c in rule.periods]
                if rule.clock:
                    parts.append(rule.clock.describe())
                if rule.finish_before:
                    parts.append(rule.finish_before.describe())
                verb = "the run touches" if rule.effect == "deny" else "the whole run is"
                label = f"{verb}: {' and '.join(parts)}" if duration else f"now is {' and '.join(parts)}"
                conds.append((label, verdict.starts.contains(decision.at)))
            matched = all(ok for _, ok in conds)
            checks.append(RuleCheck(rule, matched, tuple(conds), by_rule.get(rule.name)))
        return decision, tuple(checks)


def _allowed(base: IntervalSet, verdicts: Sequence[_RuleVerdict], lifted: dict[str, IntervalSet]) -> IntervalSet:
    """``base`` minus the starts of every matched deny rule, less the times an override
    lifts that rule: one formula for the plain verdict and the overridden one."""
    deny = IntervalSet.empty()
    for verdict in verdicts:
        if verdict.matched and verdict.rule.effect == "deny":
            starts = verdict.starts
            if verdict.rule.name in lifted:
                starts = starts.difference(lifted[verdict.rule.name])
            deny = deny.union(starts)
    return base.difference(deny)


__all__ = ["Policy", "RuleCheck", "Selector", "Territory"]
