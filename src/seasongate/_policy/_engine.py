"""The compiled policy: what it declares, the years it has expanded, and its decisions.

:class:`Policy` answers a request at an instant. It resolves the request once (classified,
keyed by what the rules can tell apart: never the version itself, only which version ranges
hold), keeps the expanded calendar years of each territory, and caches the start sets of each
request shape over them (``_starts``); a decision is then one binary search per rule that
matched (``_verdict``). ``next_allowed_at`` and ``allowed_until`` are exact to the second,
with no stepping through time, and many evaluations cost microseconds.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from zoneinfo import ZoneInfo

from seasongate._calendar import MAX_YEAR, MIN_YEAR, Calendar, CalendarIndex, Selector, build_index
from seasongate._errors import HorizonError, InputError
from seasongate._intervals import IntervalSet
from seasongate._policy._decision import Decision, MigrationInfo, OverrideGrant, OverrideSpec, Request
from seasongate._policy._matching import classify_request, in_range, request_notes, shape_key
from seasongate._policy._rules import MigrationClass, Rule
from seasongate._policy._starts import StartSets, allowed_with, lifting, rule_times, start_sets
from seasongate._policy._verdict import Asked, RuleCheck, decide, rule_checks
from seasongate._time import from_ts, iso, to_ts, zone
from seasongate._versions import Version
from seasongate._vocabulary import Risk

# How many resolved requests and start sets a policy keeps before it starts afresh.
_CACHE_LIMIT = 4096


@dataclass(frozen=True, slots=True)
class Territory:
    """A territory of the policy and the calendar that governs it."""

    code: str
    calendar: str  # path of the calendar file
    timezone: str


@dataclass
class _Coverage:
    """The expanded years of one territory's calendar, and what was computed over them."""

    index: CalendarIndex
    first_year: int
    last_year: int
    rule_times: dict[str, IntervalSet] = field(default_factory=dict)
    condition_times: dict[object, IntervalSet] = field(default_factory=dict)
    start_sets: dict[tuple[object, ...], StartSets] = field(default_factory=dict)


class _Stem:
    """The requests alike in everything but the version: each version resolved so far, and
    the first request resolved in full of each migration class (``None``: no version class)."""

    __slots__ = ("by_class", "by_version")

    def __init__(self) -> None:
        self.by_version: dict[tuple[int, ...] | None, Asked] = {}
        self.by_class: dict[str | None, Asked] = {}


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
        # The rules scoped by a version range: a request's shape records which of them hold.
        self._version_rules = tuple(r for r in rules if r.versions is not None)
        self._start_caches()

    def _start_caches(self) -> None:
        """Empty the transient caches (never stored with the policy; rebuilt on use)."""
        self._coverage: dict[str, _Coverage] = {}
        # Requests resolved, by everything but the version (the stem), then by version.
        self._stems: dict[tuple[object, ...], _Stem] = {}

    def __getstate__(self) -> dict[str, object]:
        state = dict(self.__dict__)
        for transient in ("_coverage", "_stems"):
            state[transient] = {}
        state["on_new_index"] = None
        return state

    def __setstate__(self, state: dict[str, object]) -> None:
        self.__dict__.update(state)
        # Transient caches are rebuilt, whatever the stored state held.
        self._start_caches()
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
        return self._covered(territory, at).index

    def _covered(self, territory: str, at: int, through: int | None = None) -> _Coverage:
        """The expanded years of ``territory`` covering ``at`` and the horizon after it (and,
        when ``through`` lies beyond them, up to that instant and the horizon after it)."""
        coverage = self._coverage.get(territory)
        margin = (self.horizon_days + 45) * 86400
        # Fast path: the instant and its horizon lie well inside the covered years.
        if (
            coverage is not None and coverage.index.lo <= at < coverage.index.hi - margin
            and (through is None or through < coverage.index.hi)
        ):  # fmt: skip
            return coverage
        tz = self.zone(territory)
        year = from_ts(at, tz).year
        if not MIN_YEAR <= year <= MAX_YEAR:
            raise HorizonError(f"{iso(at, tz)} is outside {MIN_YEAR}-{MAX_YEAR}, the years calendars answer")
        need_last = from_ts(max(at, through or at) + margin, tz).year
        if coverage is not None and coverage.first_year <= year and need_last <= coverage.last_year:
            return coverage
        first, last = year, max(need_last, year + 1)
        if coverage is not None:
            first, last = min(first, coverage.first_year), max(last, coverage.last_year)
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
        coverage = self._coverage[territory] = _Coverage(index, first, last)
        return coverage

    def rule_times(self, rule: Rule, territory: str, at: int) -> IntervalSet:
        """The times (not yet widened by a run's duration) when ``rule``'s time conditions
        hold in ``territory``, over the years covered around ``at``."""
        return self._rule_times(self._covered(territory, at), rule)

    @staticmethod
    def _rule_times(coverage: _Coverage, rule: Rule) -> IntervalSet:
        cached = coverage.rule_times.get(rule.name)
        if cached is None:
            cached = coverage.rule_times[rule.name] = rule_times(coverage.index, rule, coverage.condition_times)
        return cached

    # -- evaluation --------------------------------------------------------------------------

    def _resolve(self, request: Request) -> Asked:
        """The request as classified, the key of its shape, and its notes: looked up by the
        request's other fields (its stem), then by its version."""
        key = (request.environment, request.territory, request.operation, request.risk, request.duration,
               request.repeatable, request.migration_class)  # fmt: skip
        stem = self._stems.get(key)
        if stem is None:
            if len(self._stems) >= _CACHE_LIMIT:
                self._stems.clear()
            stem = self._stems[key] = _Stem()
        version = request.version
        parts = None if version is None else version.parts
        asked = stem.by_version.get(parts)
        if asked is None:
            asked = self._resolve_version(stem, request)
            if len(stem.by_version) >= _CACHE_LIMIT:
                stem.by_version.clear()
            stem.by_version[parts] = asked
        return asked

    def _resolve_version(self, stem: _Stem, request: Request) -> Asked:
        """A version new to its stem: requests alike but for versions of one class are
        classified alike, so only the first of each class is classified in full."""
        version = request.version
        if version is None:
            info = classify_request(self, request)  # every check of the request; raises on a bad one
            return Asked(info, shape_key(request, info), request_notes(self, info))
        version_class = self.classify(version) if self.migration_classes else None
        first = stem.by_class.get(version_class)
        if first is None:
            info = classify_request(self, request)  # raises for a version in no class
            first = stem.by_class[version_class] = Asked(info, shape_key(request, info), request_notes(self, info))
        base = first.info
        info = base if base.version == version else MigrationInfo(
            version, base.migration_class, base.risk, base.duration, base.operation, base.unknown, base.assumed
        )  # fmt: skip
        if not self._version_rules:
            return Asked(info, first.shape, first.notes)
        in_ranges = tuple(in_range(r, version) for r in self._version_rules)
        return Asked(info, (*first.shape[:-1], in_ranges), first.notes)

    def _start_sets(self, coverage: _Coverage, request: Request, asked: Asked) -> StartSets:
        sets = coverage.start_sets.get(asked.shape)
        if sets is None:
            sets = start_sets(
                self.rules, self.default, coverage.index, lambda rule: self._rule_times(coverage, rule),
                request, asked.info,
            )  # fmt: skip
            if len(coverage.start_sets) >= _CACHE_LIMIT:
                coverage.start_sets.clear()
            coverage.start_sets[asked.shape] = sets
        return sets

    def evaluate(self, request: Request, at: datetime | int, overrides: Sequence[OverrideGrant] = ()) -> Decision:
        """Decide ``request`` at instant ``at`` (aware datetime or epoch seconds).

        ``overrides`` are the store's active, approved grants; those covering the request lift
        the overridable deny rules they name while they are valid. One that names a denying
        rule but does not meet its requirements is reported in ``unapplied_overrides``.
        """
        if isinstance(at, int):  # the common case, first
            return self._decide(request, at, overrides)[0]
        return self._judge(request, at, overrides)[0]

    def _judge(
        self, request: Request, at: datetime | int, overrides: Sequence[OverrideGrant]
    ) -> tuple[Decision, StartSets]:
        """The decision at ``at`` and the start sets it was read from."""
        ts = at if isinstance(at, int) else to_ts(at)
        if isinstance(at, datetime) and at.microsecond:
            # Instants are whole seconds; a fractional start is judged at both neighbours
            # and allowed only if both are (fail closed at an edge).
            early = self._decide(request, ts, overrides)
            late = self._decide(request, ts + 1, overrides)
            return early if early[0].allowed == late[0].allowed or not early[0].allowed else late
        return self._decide(request, ts, overrides)

    def _decide(
        self, request: Request, ts: int, overrides: Sequence[OverrideGrant]
    ) -> tuple[Decision, StartSets]:
        asked = self._resolve(request)
        coverage = self._covered(request.territory, ts)
        sets = self._start_sets(coverage, request, asked)
        decision = decide(sets, coverage.index, request, asked, ts, overrides, (self.path, self.sha256))
        return decision, sets

    def request_notes(self, request: Request) -> tuple[str, ...]:
        """What a decision on ``request`` would note as assumed or unknown."""
        return self._resolve(request).notes

    def allowed_starts(
        self, request: Request, at: datetime | int, overrides: Sequence[OverrideGrant] = (), *, until: int | None = None
    ) -> tuple[IntervalSet, int, MigrationInfo]:
        """The set of allowed start instants over the horizon from ``at`` (and, when
        ``until`` is given, at least up to it), with the end of what was examined."""
        ts = at if isinstance(at, int) else to_ts(at)
        asked = self._resolve(request)
        coverage = self._covered(request.territory, ts, until)
        sets = self._start_sets(coverage, request, asked)
        lifts, _ = lifting(sets, request, overrides)
        return allowed_with(sets, lifts), coverage.index.hi, asked.info

    def explain(
        self, request: Request, at: datetime | int, overrides: Sequence[OverrideGrant] = ()
    ) -> tuple[Decision, tuple[RuleCheck, ...]]:
        """The decision and every rule examined, with each condition's verdict: read from
        the same rule verdicts the decision was computed from."""
        decision, sets = self._judge(request, at, overrides)
        return decision, rule_checks(sets, decision)


__all__ = ["Policy", "RuleCheck", "Selector", "Territory"]
