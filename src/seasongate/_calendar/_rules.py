"""Compiled calendar rules and their expansion into concrete periods (pure date maths).

A date expression names a local calendar date in a given year: a fixed ``MM-DD``, the nth
weekday of a month, an Easter offset, the later/earlier of two expressions, or the start/end
day of another period's occurrence in that year; each with a day offset. A period rule turns
years into concrete periods: all-day (local midnight to midnight, end date inclusive in the
file), timed, weekly/daily windows, RFC 5545 rules, and public holidays.
"""

from __future__ import annotations

import calendar as _cal
import re
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from dateutil.easter import easter

from seasongate._calendar._period import Period
from seasongate._errors import Location
from seasongate._time import local_midnight_ts, local_to_ts
from seasongate._vocabulary import PERIOD_KINDS

KINDS = PERIOD_KINDS  # transition alias: import seasongate._vocabulary.PERIOD_KINDS

WEEKDAYS = {
    "monday": 0, "mon": 0, "mo": 0,
    "tuesday": 1, "tue": 1, "tu": 1,
    "wednesday": 2, "wed": 2, "we": 2,
    "thursday": 3, "thu": 3, "th": 3,
    "friday": 4, "fri": 4, "fr": 4,
    "saturday": 5, "sat": 5, "sa": 5,
    "sunday": 6, "sun": 6, "su": 6,
}  # fmt: skip
MONTHS = {name.lower(): i for i, name in enumerate(_cal.month_name) if name} | {
    name.lower(): i for i, name in enumerate(_cal.month_abbr) if name
}
ORDINALS = {"first": 1, "second": 2, "third": 3, "fourth": 4, "fifth": 5, "last": -1}

# ---------------------------------------------------------------------------------------------
# Date expressions

# Resolves (period name, year) to that period's occurrence starting in the year, as dates.
RefLookup = Callable[[str, int], "tuple[date, date] | None"]


@dataclass(frozen=True, slots=True)
class Fixed:
    """``MM-DD`` in the year asked (29 February is the 28th in common years)."""

    month: int
    day: int
    offset: int = 0

    def on(self, year: int, refs: RefLookup) -> date | None:
        day = self.day
        if self.month == 2 and day == 29 and not _cal.isleap(year):
            day = 28
        return date(year, self.month, day) + timedelta(days=self.offset)


@dataclass(frozen=True, slots=True)
class Absolute:
    """One exact date (a one-off period)."""

    value: date
    offset: int = 0

    def on(self, year: int, refs: RefLookup) -> date | None:
        return self.value + timedelta(days=self.offset)


@dataclass(frozen=True, slots=True)
class NthWeekday:
    """The ``n``-th (or last, ``n = -1``) ``weekday`` of ``month``."""

    month: int
    weekday: int
    n: int
    offset: int = 0

    def on(self, year: int, refs: RefLookup) -> date | None:
        if self.n > 0:
            first = date(year, self.month, 1)
            delta = (self.weekday - first.weekday()) % 7
            day = first + timedelta(days=delta + 7 * (self.n - 1))
            if day.month != self.month:
                return None
        else:
            last = date(year, self.month, _cal.monthrange(year, self.month)[1])
            delta = (last.weekday() - self.weekday) % 7
            day = last - timedelta(days=delta + 7 * (-self.n - 1))
            if day.month != self.month:
                return None
        return day + timedelta(days=self.offset)


@dataclass(frozen=True, slots=True)
class Easter:
    """Western Easter Sunday plus ``offset`` days (Corpus Christi is ``easter: 60``)."""

    offset: int = 0

    def on(self, year: int, refs: RefLookup) -> date | None:
        return easter(year) + timedelta(days=self.offset)


@dataclass(frozen=True, slots=True)
class Pick:
    """The later (``latest=True``) or earlier of several expressions."""

    options: tuple[DateExpr, ...]
    latest: bool
    offset: int = 0

    def on(self, year: int, refs: RefLookup) -> date | None:
        days = [opt.on(year, refs) for opt in self.options]
        if any(d is None for d in days):
            return None
        chosen = max(d for d in days if d) if self.latest else min(d for d in days if d)
        return chosen + timedelta(days=self.offset)


@dataclass(frozen=True, slots=True)
class Ref:
    """The first (``edge='start'``) or last day of another period's occurrence that year."""

    name: str
    edge: str
    offset: int = 0

    def on(self, year: int, refs: RefLookup) -> date | None:
        occurrence = refs(self.name, year)
        if occurrence is None:
            return None
        base = occurrence[0] if self.edge == "start" else occurrence[1]
        return base + timedelta(days=self.offset)


DateExpr = Fixed | Absolute | NthWeekday | Easter | Pick | Ref

_MMDD = re.compile(r"^(\d{1,2})-(\d{1,2})$")


def _check_month_day(month: int, day: int, text: str) -> None:
    if not 1 <= month <= 12:
        raise ValueError(f"invalid date {text!r}: month {month} does not exist")
    longest = 29 if month == 2 else _cal.monthrange(2001, month)[1]
    if not 1 <= day <= longest:
        raise ValueError(f"invalid date {text!r}: {_cal.month_name[month]} has no day {day}")


MAX_OFFSET = 366
"""The largest day offset (``offset``, ``easter``): a larger one would move a date out of its
year and make the period vanish from the years asked."""


def _offset_of(value: object) -> int:
    if isinstance(value, str) and re.fullmatch(r"[+-]?\d{1,6}d?", value.strip()):
        value = int(value.strip().rstrip("d"))
    if isinstance(value, bool) or not isinstance(value, int):
        raise ValueError(f"offset must be a whole number of days, got {value!r}")
    if not -MAX_OFFSET <= value <= MAX_OFFSET:
        raise ValueError(f"offset {value} days is outside -{MAX_OFFSET}..{MAX_OFFSET}")
    return value


def parse_date_expr(raw: object) -> DateExpr:
    """Parse a date expression from its YAML form; raises ``ValueError`` with a clear message."""
    if isinstance(raw, datetime):
        raise ValueError(f"expected a date, got a date and time {raw!r}")
    if isinstance(raw, date):
        return Absolute(raw)
    if isinstance(raw, str):
        text = raw.strip()
        match = _MMDD.match(text)
        if match:
            month, day = int(match.group(1)), int(match.group(2))
            _check_month_day(month, day, text)
            return Fixed(month, day)
        try:
            return Absolute(date.fromisoformat(text))
        except ValueError:
            if re.fullmatch(r"\d{4}-\d{1,2}-\d{1,2}", text):
                raise ValueError(f"invalid date {text!r}: no such day") from None
        raise ValueError(
            f"invalid date expression {text!r}: expected MM-DD, YYYY-MM-DD or a mapping "
            "(nth/weekday/month, easter, later, earlier, start_of, end_of)"
        )
    if not isinstance(raw, Mapping):
        raise ValueError(f"invalid date expression {raw!r}")
    keys = set(raw)
    offset = _offset_of(raw.get("offset", 0))
    known = {"date", "nth", "weekday", "month", "easter", "later", "earlier", "start_of", "end_of", "offset"}
    unknown = keys - known
    if unknown:
        raise ValueError(f"unknown key {sorted(unknown)[0]!r} in date expression (known: {', '.join(sorted(known))})")
    heads = keys & {"date", "weekday", "easter", "later", "earlier", "start_of", "end_of"}
    if len(heads) != 1:
        raise ValueError(
            "a date expression needs exactly one of: date, weekday (with nth and month), "
            "easter, later, earlier, start_of, end_of"
        )
    head = heads.pop()
    if head == "date":
        inner = parse_date_expr(raw["date"])
        if isinstance(inner, Fixed):
            return Fixed(inner.month, inner.day, offset)
        if isinstance(inner, Absolute):
            return Absolute(inner.value, offset)
        raise ValueError("date: takes MM-DD or YYYY-MM-DD")
    if head == "weekday":
        weekday = WEEKDAYS.get(str(raw["weekday"]).lower())
        if weekday is None:
            raise ValueError(f"unknown weekday {raw['weekday']!r} (use monday..sunday)")
        month_raw = raw.get("month")
        month_of: Any = MONTHS.get(str(month_raw).lower()) if isinstance(month_raw, str) else month_raw
        if not isinstance(month_of, int) or isinstance(month_of, bool) or not 1 <= month_of <= 12:
            raise ValueError(f"month must be 1-12 or a month name, got {month_raw!r}")
        nth_raw = raw.get("nth", 1)
        nth: Any = ORDINALS.get(nth_raw.lower()) if isinstance(nth_raw, str) else nth_raw
        if not isinstance(nth, int) or isinstance(nth, bool) or nth == 0 or not -5 <= nth <= 5:
            raise ValueError(f"nth must be 1..5, -1..-5 or first..fifth/last, got {nth_raw!r}")
        return NthWeekday(month_of, weekday, nth, offset)
    if head == "easter":
        return Easter(_offset_of(raw["easter"]) + offset)
    if head in ("later", "earlier"):
        options = raw[head]
        if not isinstance(options, list) or len(options) < 2:
            raise ValueError(f"{head}: takes a list of two or more date expressions")
        return Pick(tuple(parse_date_expr(o) for o in options), head == "later", offset)
    name = raw[head]
    if not isinstance(name, str) or not name:
        raise ValueError(f"{head}: takes the name of another period")
    return Ref(name, "start" if head == "start_of" else "end", offset)


def refs_of(expr: DateExpr) -> set[str]:
    """The period names an expression depends on."""
    if isinstance(expr, Ref):
        return {expr.name}
    if isinstance(expr, Pick):
        return set().union(*(refs_of(o) for o in expr.options))
    return set()


def is_absolute(expr: DateExpr) -> bool:
    """Whether the expression is one exact date (no year in it to vary)."""
    return isinstance(expr, Absolute)


# ---------------------------------------------------------------------------------------------
# Period rules


@dataclass(frozen=True, slots=True)
class Years:
    """Validity of an annual rule: inclusive ``first``/``last`` year and skipped years."""

    first: int | None = None
    last: int | None = None
    skip: frozenset[int] = frozenset()

    def allows(self, year: int) -> bool:
        if self.first is not None and year < self.first:
            return False
        if self.last is not None and year > self.last:
            return False
        return year not in self.skip


@dataclass(frozen=True, slots=True)
class Dated:
    """From a start date to an end date (inclusive), all-day or with times of day."""

    start: DateExpr
    end: DateExpr
    start_time: time | None = None
    end_time: time | None = None
    exceptions: Mapping[int, tuple[date | None, date | None]] = field(default_factory=dict)

    @property
    def one_off(self) -> bool:
        return is_absolute(self.start) and is_absolute(self.end)

    def dates(self, year: int, refs: RefLookup) -> tuple[date, date] | None:
        """The (first, last) local dates of the ``year``'s occurrence (the 2026 Oktoberfest)."""
        start = self.start.on(year, refs)
        if start is None:
            return None
        end = self.end.on(year, refs)
        if end is not None and end < start and not is_absolute(self.end):
            end = self.end.on(year + 1, refs)  # crosses the year end (12-24 to 01-06)
        if end is None:
            return None
        override = self.exceptions.get(year)
        if override:
            start = override[0] or start
            end = override[1] or end
        return start, end


@dataclass(frozen=True, slots=True)
class Weekly:
    """A window on some days of the week (all seven: daily), from a local start time to a
    local end time (the next day when it is not later) or for a real duration."""

    days: frozenset[int]
    start: time
    end: time | None
    duration: int | None


@dataclass(frozen=True, slots=True)
class Recurring:
    """An RFC 5545 RRULE; each occurrence starts at local ``time`` and lasts ``duration``."""

    rule: str
    at: time
    duration: int
    dtstart: datetime | None = None


@dataclass(frozen=True, slots=True)
class Holidays:
    """Public holidays from the ``holidays`` package (names always in German)."""

    country: str
    subdivision: str | None
    categories: tuple[str, ...]


Shape = Dated | Weekly | Recurring | Holidays


@dataclass(frozen=True, slots=True)
class PeriodRule:
    """One rule of a calendar file, compiled."""

    name: str
    kind: str
    shape: Shape
    source: Location
    tags: tuple[str, ...] = ()
    description: str = ""
    years: Years = Years()


# ---------------------------------------------------------------------------------------------
# Expansion


def expand_rules(
    rules: Iterable[PeriodRule],
    *,
    tz: ZoneInfo,
    calendar: str,
    territory: str | None,
    first_year: int,
    last_year: int,
    core_first: int | None = None,
) -> list[Period]:
    """Expand ``rules`` (in dependency order) into periods that start in the years given.

    An annual period that starts in ``last_year`` may end in the year after.
    """
    periods: list[Period] = []
    occurrences: dict[str, dict[int, tuple[date, date]]] = {}

    def lookup(name: str, year: int) -> tuple[date, date] | None:
        return occurrences.get(name, {}).get(year)

    # Referenced periods must be known one year around the range (an offset may cross it).
    ref_years = range(first_year - 1, last_year + 2)
    years = range(first_year, last_year + 1)
    for rule in rules:
        shape = rule.shape
        common: dict[str, Any] = {
            "name": rule.name, "kind": rule.kind, "calendar": calendar, "territory": territory,
            "tags": rule.tags, "source": rule.source, "description": rule.description,
        }  # fmt: skip
        if isinstance(shape, Dated):
            found: dict[int, tuple[date, date]] = {}
            span = [0] if shape.one_off else ref_years
            for year in span:
                if not shape.one_off and not rule.years.allows(year):
                    continue
                got = shape.dates(year, lookup)
                if got is None:
                    continue
                found[got[0].year if shape.one_off else year] = got
            occurrences[rule.name] = found
            for year, (first, last) in found.items():
                if year in years and last >= first:
                    periods.append(_dated_period(shape, first, last, tz, common))
        elif isinstance(shape, Weekly):
            periods.extend(_weekly(shape, rule, tz, first_year, last_year, common))
        elif isinstance(shape, Recurring):
            periods.extend(_recurring(shape, rule, tz, first_year, last_year, common))
        else:
            core = first_year if core_first is None else core_first
            periods.extend(_holidays(shape, rule, tz, first_year, last_year, common, core))
    periods.sort(key=lambda p: (p.start, p.end, p.name))
    return periods


def _dated_period(shape: Dated, first: date, last: date, tz: ZoneInfo, common: dict[str, Any]) -> Period:
    if shape.start_time is None and shape.end_time is None:
        start = local_midnight_ts(first, tz)
        end = local_midnight_ts(last + timedelta(days=1), tz)
        return Period(start=start, end=end, all_day=True, **common)
    start = local_to_ts(first, shape.start_time or time(0), tz)
    if shape.end_time is None:
        end = local_midnight_ts(last + timedelta(days=1), tz)
    else:
        end = local_to_ts(last, shape.end_time, tz)
    return Period(start=start, end=max(end, start), all_day=False, **common)


def _weekly(
    shape: Weekly,
    rule: PeriodRule,
    tz: ZoneInfo,
    first_year: int,
    last_year: int,
    common: dict[str, Any],
) -> Iterable[Period]:
    first = date(first_year, 1, 1) - timedelta(days=1)  # a window from 31 Dec may reach 1 Jan
    stop = date(last_year, 12, 31)
    one = timedelta(days=1)
    week = timedelta(days=7)
    overnight = shape.end is not None and shape.end <= shape.start
    found = []
    for weekday in sorted(shape.days):
        day = first + timedelta(days=(weekday - first.weekday()) % 7)
        while day <= stop:
            if rule.years.allows(day.year):
                start = local_to_ts(day, shape.start, tz)
                if shape.end is None:
                    end = start + (shape.duration or 0)
                else:
                    end = local_to_ts(day + one if overnight else day, shape.end, tz)
                if end > start:
                    found.append(Period(start=start, end=end, all_day=False, **common))
            day += week
    return found


def _recurring(
    shape: Recurring,
    rule: PeriodRule,
    tz: ZoneInfo,
    first_year: int,
    last_year: int,
    common: dict[str, Any],
) -> Iterable[Period]:
    from dateutil.rrule import rrulestr

    dtstart = shape.dtstart or datetime.combine(date(first_year, 1, 1), shape.at)
    parsed = rrulestr(shape.rule, dtstart=dtstart, ignoretz=True)
    window_start = datetime.combine(date(first_year, 1, 1), time(0))
    window_end = datetime.combine(date(last_year + 1, 1, 1), time(0))
    for occurrence in parsed.between(window_start, window_end, inc=True):
        if not rule.years.allows(occurrence.year):
            continue
        start = local_to_ts(occurrence.date(), occurrence.time(), tz)
        yield Period(start=start, end=start + shape.duration, all_day=False, **common)


def _holidays(
    shape: Holidays,
    rule: PeriodRule,
    tz: ZoneInfo,
    first_year: int,
    last_year: int,
    common: dict[str, Any],
    core_first: int,
) -> Iterable[Period]:
    from seasongate._calendar._holidays import holiday_dates, holiday_years

    low, _ = holiday_years(shape)
    if first_year < low <= core_first:
        first_year = low  # the years before are context only; the package cannot answer them
    base_tags = rule.tags
    for day, names in holiday_dates(shape, first_year, last_year):
        if not rule.years.allows(day.year):
            continue
        start = local_midnight_ts(day, tz)
        end = local_midnight_ts(day + timedelta(days=1), tz)
        for name in names:
            fields = dict(common)
            fields["name"] = name
            fields["tags"] = base_tags
            yield Period(start=start, end=end, all_day=True, **fields)
