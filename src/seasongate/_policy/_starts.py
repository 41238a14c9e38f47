"""The start sets of one request shape: where every rule speaks, and the allowed starts.

For one request shape (environment, territory, class, risk, operation, duration, and which
version ranges hold: never the version itself) every rule becomes a set of *start instants*:

- a deny rule with time set ``T`` denies a start ``t`` when the run ``[t, t + duration)``
  touches ``T`` (a migration may not run *into* a blackout);
- an allow rule allows ``t`` when the whole run lies inside ``T``.

The allowed starts are ``union(allow) - union(deny)`` (default deny) or ``all - union(deny)``
(default allow), over the rules whose static conditions hold: deny wins, rule order only
orders the reasons. An override lifts a deny rule while it is valid: the same formula with
that rule's starts less the override's validity. This module is the one place a verdict's
sets are computed; ``evaluate``, ``explain`` and ``slots`` all read them.
"""

from __future__ import annotations

from bisect import bisect_right
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

from seasongate._calendar import CalendarIndex
from seasongate._intervals import IntervalSet
from seasongate._policy._decision import MigrationInfo, OverrideGrant, PeriodRef, Reason, Request
from seasongate._policy._matching import override_shortfall, static_conditions
from seasongate._policy._rules import ClockCondition, FinishBefore, PeriodCondition, Rule


@dataclass(frozen=True, slots=True)
class RuleVerdict:
    """One rule for one request shape: its static conditions with their verdicts, whether
    they all hold, and the start instants at which the rule speaks (deny: the run would
    touch its times; allow: the whole run lies inside them)."""

    rule: Rule
    conditions: tuple[tuple[str, bool], ...]
    matched: bool
    starts: IntervalSet
    plain_reason: Reason | None  # what it says unlifted, when that names no periods (the same at every start)
    # For a rule that names periods: the starts at which the periods it names change, and
    # what it says unlifted between them (filled in as asked).
    cuts: list[int] = field(default_factory=list)
    said: dict[int, Reason] = field(default_factory=dict)

    def reason_at(self, index: CalendarIndex, ts: int, run: int) -> Reason:
        """What the rule says, unlifted, about the run ``[ts, ts + run)``."""
        if self.plain_reason is not None:
            return self.plain_reason
        between = bisect_right(self.cuts, ts)
        said = self.said.get(between)
        if said is None:
            said = self.said[between] = self.rule.reason(named_periods(self.rule, index, ts, ts + run))
        return said


@dataclass(frozen=True, slots=True)
class StartSets:
    """The start sets of one request shape over the covered range: every rule's verdict,
    the ones whose static conditions hold, and the allowed starts before any override."""

    verdicts: tuple[RuleVerdict, ...]
    matched: tuple[RuleVerdict, ...]
    base: IntervalSet  # the allow union (default deny) or everything (default allow)
    allowed: IntervalSet
    # The matched verdicts with their start bounds at hand: a decision reads them per call.
    speakers: tuple[tuple[list[int], list[int], RuleVerdict], ...] = ()

    def __post_init__(self) -> None:
        speakers = tuple((v.starts.starts, v.starts.ends, v) for v in self.matched)
        object.__setattr__(self, "speakers", speakers)


# Which covering grants lift which matched deny rule, by rule name.
Lifting = dict[str, list[OverrideGrant]]
# Covering grants that name a matched deny rule but fall short of it: (grant, rule, why).
Shortfalls = list[tuple[OverrideGrant, str, str]]


def rule_times(index: CalendarIndex, rule: Rule, known: dict[object, IntervalSet] | None = None) -> IntervalSet:
    """The times (not yet widened by a run's duration) when ``rule``'s time conditions
    hold over the range ``index`` covers. ``known`` holds the times of conditions computed
    before over the same range (rules often share one: weekdays 06:00-20:00)."""
    known = {} if known is None else known
    times = IntervalSet([index.lo], [index.hi])
    conditions: list[PeriodCondition | ClockCondition | FinishBefore] = [*rule.periods]
    if rule.clock is not None:
        conditions.append(rule.clock)
    if rule.finish_before is not None:
        conditions.append(rule.finish_before)
    for cond in conditions:
        cond_times = known.get(cond)
        if cond_times is None:
            cond_times = known[cond] = cond.times(index)
        times = times.intersection(cond_times)
    return times


def start_sets(
    rules: Sequence[Rule],
    default: str,
    index: CalendarIndex,
    times_of: Callable[[Rule], IntervalSet],
    request: Request,
    info: MigrationInfo,
) -> StartSets:
    """Every rule's verdict for the request's shape over ``index``'s range (``times_of``
    gives a rule's times over that range) and the allowed starts before any override."""
    duration = info.duration or 0
    verdicts: list[RuleVerdict] = []
    allow = IntervalSet.empty()
    for rule in rules:
        conditions = static_conditions(rule, request, info)
        times = times_of(rule)
        starts = times.touching_starts(duration) if rule.effect == "deny" else times.fitting_starts(duration)
        matched = all(ok for _, ok in conditions)
        if rule.names_periods:
            verdicts.append(RuleVerdict(rule, conditions, matched, starts, None, _cuts(rule, index, duration)))
        else:
            verdicts.append(RuleVerdict(rule, conditions, matched, starts, rule.reason()))
        if matched and rule.effect == "allow":
            allow = allow.union(starts)
    base = allow if default == "deny" else IntervalSet([index.lo], [index.hi])
    matched_verdicts = tuple(v for v in verdicts if v.matched)
    return StartSets(tuple(verdicts), matched_verdicts, base, _allowed(base, matched_verdicts, {}))


def named_periods(rule: Rule, index: CalendarIndex, ts: int, run_end: int) -> tuple[PeriodRef, ...]:
    """The concrete periods a rule names for the run ``[ts, run_end)``: those of its
    ``in_period`` conditions the run overlaps, and the next period it must finish before."""
    periods: list[PeriodRef] = []
    for cond in rule.periods:
        if not cond.negate:
            for p in index.overlapping(ts, run_end, cond.selector):
                periods.append(PeriodRef(p.name, p.kind, p.calendar, p.start, p.end))
    if rule.finish_before is not None:
        upcoming = index.next_start(rule.finish_before.selector, ts)
        if upcoming is not None:
            periods.append(PeriodRef(upcoming.name, upcoming.kind, upcoming.calendar, upcoming.start, upcoming.end))
    return tuple(dict.fromkeys(periods))


def _cuts(rule: Rule, index: CalendarIndex, duration: int) -> list[int]:
    """The starts at which :func:`named_periods` can change for runs of ``duration``: a run
    from ``t`` overlaps period ``p`` exactly for ``p.start - run < t < p.end``, and ``p`` is
    the next to finish before while ``t < p.start``. Between two cuts it names the same."""
    run = max(duration, 1)
    cuts: set[int] = set()
    for cond in rule.periods:
        if not cond.negate:
            for p in index.select(cond.selector):
                cuts.add(p.start - run + 1)
                cuts.add(p.end)
    if rule.finish_before is not None:
        cuts.update(p.start for p in index.select(rule.finish_before.selector))
    return sorted(cuts)


def lifting(sets: StartSets, request: Request, grants: Sequence[OverrideGrant]) -> tuple[Lifting, Shortfalls]:
    """Which covering grants lift which matched deny rules, and which covering grants
    name a matched deny rule but fall short of what it requires (with why)."""
    lifts: Lifting = {}
    short: Shortfalls = []
    for grant in grants:
        if not grant.covers(request):
            continue
        for verdict in sets.matched:
            rule = verdict.rule
            if rule.effect != "deny" or rule.name not in grant.rules:
                continue
            why = override_shortfall(grant, rule.override)
            if why is None:
                lifts.setdefault(rule.name, []).append(grant)
            else:
                short.append((grant, rule.name, why))
    return lifts, short


def allowed_with(sets: StartSets, lifts: Lifting) -> IntervalSet:
    """The allowed starts with the deny rules in ``lifts`` lifted while their grants are valid."""
    if not lifts:
        return sets.allowed
    lifted = {name: IntervalSet.of((g.valid_from, g.valid_until) for g in grants) for name, grants in lifts.items()}
    return _allowed(sets.base, sets.matched, lifted)


def _allowed(base: IntervalSet, matched: Sequence[RuleVerdict], lifted: dict[str, IntervalSet]) -> IntervalSet:
    """``base`` minus the starts of every matched deny rule, less the times an override
    lifts that rule: one formula for the plain verdict and the overridden one."""
    deny = IntervalSet.empty()
    for verdict in matched:
        if verdict.rule.effect == "deny":
            starts = verdict.starts
            if verdict.rule.name in lifted:
                starts = starts.difference(lifted[verdict.rule.name])
            deny = deny.union(starts)
    return base.difference(deny)
