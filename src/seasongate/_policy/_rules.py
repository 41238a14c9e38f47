"""Compiled policy rules: plain dataclasses, cheap to evaluate and to cache."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, time, timedelta
from typing import Literal
from zoneinfo import ZoneInfo

from seasongate._calendar import CalendarIndex, Selector
from seasongate._errors import Location
from seasongate._intervals import IntervalSet
from seasongate._policy._decision import OverrideSpec, PeriodRef, Reason
from seasongate._time import local_to_ts
from seasongate._versions import Version

DAY_NAMES = ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")


@dataclass(frozen=True, slots=True)
class MigrationClass:
    """A named version range: ``production`` is V1 to V7999; ``high`` None is open-ended."""

    name: str
    low: Version
    high: Version | None

    def contains(self, version: Version) -> bool:
        """Whether ``version`` falls in the range; a whole bound ``V7999`` includes
        ``V7999.5``, a dotted bound ``V2.5`` does not include ``V2.9``."""
        parts = version.parts  # tuples compare as versions do, without the ordering wrappers
        if parts < self.low.parts:
            return False
        high = self.high
        if high is None or parts <= high.parts:
            return True
        return len(high.parts) == 1 and parts[0] == high.parts[0]

    def describe(self) -> str:
        return f"{self.low}-{self.high}" if self.high else f"{self.low}+"


@dataclass(frozen=True, slots=True)
class PeriodCondition:
    """``in_period`` (``negate`` False) or ``not_in_period`` (True)."""

    selector: Selector
    negate: bool

    def times(self, index: CalendarIndex) -> IntervalSet:
        union = index.union(self.selector)
        return union.complement(index.lo, index.hi) if self.negate else union

    def describe(self) -> str:
        return ("not in " if self.negate else "in ") + self.selector.describe()


@dataclass(frozen=True, slots=True)
class ClockCondition:
    """Days of the week and a local time-of-day window (may cross midnight)."""

    days: frozenset[int]
    start: time | None
    end: time | None

    def times(self, index: CalendarIndex) -> IntervalSet:
        tz: ZoneInfo = index.tz
        first = _local_date(index.lo, tz) - timedelta(days=1)
        last = _local_date(index.hi, tz)
        one = timedelta(days=1)
        start = self.start or time(0)
        end = self.end or time(0)
        overnight = end <= start
        pairs = []
        day = first
        while day <= last:
            if day.weekday() in self.days:
                s = local_to_ts(day, start, tz)
                e = local_to_ts(day + one if overnight else day, end, tz)
                pairs.append((s, e))
            day += one
        return IntervalSet.of(pairs).intersection(IntervalSet([index.lo], [index.hi]))

    def describe(self) -> str:
        days = _describe_days(self.days)
        if self.start is None and self.end is None:
            return f"on {days}"
        return f"{days} {(self.start or time(0)):%H:%M}-{(self.end or time(0)):%H:%M} local time"


@dataclass(frozen=True, slots=True)
class FinishBefore:
    """The run must end ``margin`` seconds before the next selected period begins."""

    selector: Selector
    margin: int

    def times(self, index: CalendarIndex) -> IntervalSet:
        # The forbidden zone before each period: a run that touches it would not finish in
        # time. (Inside the period itself other rules speak.)
        starts = index.union(self.selector).starts
        return (
            IntervalSet.of((s - self.margin, s) for s in starts if self.margin > 0)
            if self.margin
            else IntervalSet.empty()
        )

    def describe(self) -> str:
        from seasongate._time import format_duration

        return f"must finish {format_duration(self.margin)} before the next {self.selector.describe()} begins"


@dataclass(frozen=True, slots=True)
class Rule:
    """One compiled rule. ``None`` for a static condition means "any"."""

    name: str
    effect: Literal["allow", "deny"]
    message: str
    source: Location
    override: OverrideSpec | None = None  # what lifting it takes; None: it cannot be overridden
    environments: frozenset[str] | None = None
    territories: frozenset[str] | None = None
    classes: frozenset[str] | None = None
    versions: tuple[Version, Version | None] | None = None
    risks: frozenset[str] | None = None
    operations: frozenset[str] | None = None
    periods: tuple[PeriodCondition, ...] = ()
    clock: ClockCondition | None = None
    finish_before: FinishBefore | None = None

    @property
    def temporal(self) -> bool:
        """Whether the rule depends on the time of the run."""
        return bool(self.periods or self.clock or self.finish_before)

    @property
    def names_periods(self) -> bool:
        """Whether the rule's reason names calendar periods (so it differs from run to run)."""
        return self.finish_before is not None or any(not c.negate for c in self.periods)

    def reason(self, periods: tuple[PeriodRef, ...] = (), lifted_by: str | None = None) -> Reason:
        """What the rule says when it matches a run touching ``periods`` (``lifted_by``: the
        override that lifted this denial)."""
        message = self.message or f"rule {self.name}"
        return Reason(self.name, self.effect, message, self.source, periods, self.override is not None,
                      self.override, lifted_by)  # fmt: skip


def _local_date(ts: int, tz: ZoneInfo) -> date:
    from seasongate._time import from_ts

    return from_ts(ts, tz).date()


def _describe_days(days: frozenset[int]) -> str:
    if len(days) == 7:
        return "every day"
    ordered = sorted(days)
    if ordered == list(range(ordered[0], ordered[-1] + 1)) and len(ordered) > 2:
        return f"{DAY_NAMES[ordered[0]]}-{DAY_NAMES[ordered[-1]]}"
    return ", ".join(DAY_NAMES[d] for d in ordered)
