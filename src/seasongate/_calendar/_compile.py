"""Compile one entry of a calendar file (a period or a holidays entry) into a rule.

The entry's structure was checked by the pydantic models; here its meaning is: date
expressions, times of day, durations, years, weekdays, RRULEs, countries. Every problem is
reported at the entry's line marks, and one pass reports all of them.
"""

from __future__ import annotations

import re
from datetime import date, datetime, time
from typing import Any, Protocol

from seasongate._calendar._dates import WEEKDAYS, is_absolute, parse_date_expr
from seasongate._calendar._period import MAX_YEAR, MIN_YEAR
from seasongate._calendar._rrule import check_rrule, normalize
from seasongate._calendar._rules import Dated, Holidays, PeriodRule, Recurring, Weekly, Years
from seasongate._errors import InputError
from seasongate._time import format_duration, parse_clock, parse_duration
from seasongate._yaml import LocatedProblems

MAX_WINDOW = 7 * 86400
"""The longest weekly or daily window: a longer one would overlap the next week's."""
MAX_OCCURRENCE = 366 * 86400
"""The longest occurrence of a recurring rule."""

Loc = tuple[str | int, ...]

_SHAPES = ("start", "weekly", "daily", "rrule")
# The keys each shape does not take: naming one is an error, not silently ignored.
_FOREIGN = {
    "start": ("weekly", "daily", "rrule", "time", "dtstart", "duration"),
    "weekly": ("start_time", "end_time", "exceptions", "rrule", "time", "dtstart", "duration"),
    "daily": ("start_time", "end_time", "exceptions", "rrule", "time", "dtstart", "duration"),
    "rrule": ("start_time", "end_time", "exceptions"),
}
_PHASED = re.compile(r"COUNT=|INTERVAL=(?!1(;|$))\d+")


class Problems(Protocol):
    """Anything that collects located problems (a calendar's or a policy's loader)."""

    def add(self, loc: Loc, message: str) -> None: ...


def _in_range(year: int, loc: Loc, issues: Problems) -> None:
    if not MIN_YEAR <= year <= MAX_YEAR:
        issues.add(loc, f"year {year} is outside {MIN_YEAR}-{MAX_YEAR}")


_EVERY_YEAR = Years()


def compile_years(model: Any, loc: Loc, issues: Problems) -> Years:
    """An entry's ``years:`` (every year when absent)."""
    if model is None:
        return Years()
    for key, value in (("from", model.first), ("until", model.last)):
        if value is not None:
            _in_range(value, (*loc, "years", key), issues)
    for i, value in enumerate(model.skip):
        _in_range(value, (*loc, "years", "skip", i), issues)
    if model.first is not None and model.last is not None and model.last < model.first:
        issues.add((*loc, "years", "until"), f"until {model.last} is before from {model.first}")
    return Years(model.first, model.last, frozenset(model.skip))


def _clock(value: str | None, loc: Loc, issues: Problems) -> time | None:
    if value is None:
        return None
    try:
        return parse_clock(str(value))
    except InputError as exc:
        issues.add(loc, str(exc))
        return None


def _duration(value: str | int | None, loc: Loc, issues: Problems, *, longest: int) -> int | None:
    """A positive duration of at most ``longest`` seconds."""
    if value is None:
        return None
    try:
        seconds = parse_duration(value, maximum=None)  # checked against ``longest`` below
    except InputError as exc:
        issues.add(loc, str(exc))
        return None
    if seconds <= 0:
        issues.add(loc, "duration must be positive")
        return None
    if seconds > longest:
        issues.add(
            loc,
            f"duration {format_duration(seconds)} is longer than {format_duration(longest)}, the most it can be here",
        )
        return None
    return seconds


def parse_days(values: list[str] | None, loc: Loc, issues: Problems) -> frozenset[int]:
    """Weekdays (0 = Monday) from names and ranges (``[mon-fri, sunday]``); ``None`` is every
    day. Each unknown entry is reported to ``issues`` at ``(*loc, index)``."""
    if values is None:
        return frozenset(range(7))
    days: set[int] = set()
    for i, raw in enumerate(values):
        text = str(raw).strip().lower()
        if "-" in text:
            first, _, last = text.partition("-")
            a, b = WEEKDAYS.get(first.strip()), WEEKDAYS.get(last.strip())
            if a is None or b is None:
                issues.add((*loc, i), f"unknown day range {raw!r} (e.g. mon-fri)")
                continue
            days.update(range(a, b + 1) if a <= b else [*range(a, 7), *range(0, b + 1)])
        elif text in WEEKDAYS:
            days.add(WEEKDAYS[text])
        else:
            issues.add((*loc, i), f"unknown weekday {raw!r} (use monday..sunday or mon..sun)")
    return frozenset(days)


def compile_period(entry: Any, loc: Loc, issues: LocatedProblems) -> PeriodRule | None:
    """The rule of one ``periods:`` entry; None when a problem was reported."""
    given = entry.model_fields_set  # the keys the file names (checked only these: linear, cheap)
    shapes = [k for k in _SHAPES if k in given and getattr(entry, k) is not None]
    if entry.end is not None and "start" not in shapes:
        shapes.append("start")
    if len(shapes) != 1:
        issues.add(
            loc,
            "a period needs exactly one of: start/end (dates), weekly, daily, rrule"
            + (f" (found {', '.join(shapes)})" if shapes else ""),
        )
        return None
    kind = shapes[0]
    count = len(issues.problems)
    if not given.isdisjoint(_FOREIGN[kind]):
        label = "a dated (start/end)" if kind == "start" else f"a {kind}"
        for key in _FOREIGN[kind]:
            if key in given and getattr(entry, key) not in (None, {}):
                issues.add((*loc, key), f"{key} does not apply to {label} period")
        if len(issues.problems) > count:
            return None
    years = _EVERY_YEAR if entry.years is None else compile_years(entry.years, loc, issues)
    if kind == "start":
        shape: Any = _dated(entry, loc, issues)
    elif kind == "rrule":
        shape = _recurring(entry, loc, issues)
    else:
        shape = _window(entry, kind, loc, issues)
    if len(issues.problems) > count or shape is None:
        return None
    return PeriodRule(entry.name, entry.kind, shape, issues.source(loc), tuple(entry.tags), entry.description, years)


def _dated(entry: Any, loc: Loc, issues: Problems) -> Dated | None:
    exprs = []
    for key, raw in (("start", entry.start), ("end", entry.end)):
        if raw is None:
            issues.add((*loc, key), f"a dated period needs both start and end ({key} is missing)")
            continue
        try:
            exprs.append(parse_date_expr(raw))
        except ValueError as exc:
            issues.add((*loc, key), str(exc))
    start_time = None if entry.start_time is None else _clock(entry.start_time, (*loc, "start_time"), issues)
    end_time = None if entry.end_time is None else _clock(entry.end_time, (*loc, "end_time"), issues)
    exceptions: dict[int, tuple[date | None, date | None]] = {}
    for year, moved in entry.exceptions.items():
        _in_range(year, (*loc, "exceptions", year), issues)
        if moved.start and moved.end and moved.end < moved.start:
            issues.add((*loc, "exceptions", year, "end"), "end is before start")
        for key, day in (("start", moved.start), ("end", moved.end)):
            if day is not None and abs(day.year - year) > 1:
                issues.add((*loc, "exceptions", year, key), f"{day} is not near {year} (the year it replaces)")
        exceptions[year] = (moved.start, moved.end)
    if len(exprs) != 2:
        return None
    start, end = exprs
    one_off = is_absolute(start)
    if one_off != is_absolute(end):
        issues.add(
            (*loc, "end"), "start and end must both be exact dates (YYYY-MM-DD, a one-off period) or both annual"
        )
        return None
    if one_off:  # check its dates now
        first, last = start.on(0, _no_refs), end.on(0, _no_refs)
        if first and last and last < first:
            issues.add((*loc, "end"), f"end {last} is before start {first}")
        elif first and last and first == last and start_time and end_time and end_time <= start_time:
            issues.add((*loc, "end_time"), "end_time is not after start_time on a one-day period")
        for key, day in (("start", first), ("end", last)):
            if day and not MIN_YEAR <= day.year <= MAX_YEAR:
                issues.add((*loc, key), f"year {day.year} is outside {MIN_YEAR}-{MAX_YEAR}")
    return Dated(start, end, start_time, end_time, exceptions)


def _window(entry: Any, kind: str, loc: Loc, issues: Problems) -> Weekly | None:
    window = getattr(entry, kind)
    wloc = (*loc, kind)
    if kind == "daily" and window.days is not None:
        issues.add((*wloc, "days"), "daily windows run every day; use weekly with days")
    days = parse_days(window.days, (*wloc, "days"), issues)
    start = _clock(window.start, (*wloc, "start"), issues)
    end = _clock(window.end, (*wloc, "end"), issues)
    duration = _duration(window.duration, (*wloc, "duration"), issues, longest=MAX_WINDOW)
    if (window.end is None) == (window.duration is None):
        issues.add(wloc, "a window needs exactly one of end or duration")
    if kind == "weekly" and window.days is None:
        issues.add(wloc, "a weekly window needs days (e.g. [saturday] or [mon-fri])")
    return None if start is None else Weekly(days, start, end, duration)


def _recurring(entry: Any, loc: Loc, issues: Problems) -> Recurring | None:
    at = _clock(entry.time, (*loc, "time"), issues) or time(0)
    duration = _duration(entry.duration, (*loc, "duration"), issues, longest=MAX_OCCURRENCE)
    if entry.duration is None:
        issues.add(loc, "an rrule period needs a duration (e.g. 4h)")
    dtstart = None
    if entry.dtstart is not None:
        try:
            dtstart = datetime.fromisoformat(str(entry.dtstart))
            if dtstart.tzinfo is not None:
                raise ValueError("give dtstart as local wall time, without an offset")
            if not MIN_YEAR <= dtstart.year <= MAX_YEAR:
                raise ValueError(f"year {dtstart.year} is outside {MIN_YEAR}-{MAX_YEAR}")
        except ValueError as exc:
            issues.add((*loc, "dtstart"), f"invalid dtstart {entry.dtstart!r}: {exc}")
            dtstart = None
    rule_text = normalize(str(entry.rrule))
    if _PHASED.search(rule_text.upper()) and dtstart is None:
        issues.add(
            (*loc, "rrule"),
            "a rule with INTERVAL or COUNT needs a dtstart: without it the occurrences would depend on the years asked",
        )
    try:
        check_rrule(rule_text, dtstart)
    except ValueError as exc:
        issues.add((*loc, "rrule"), str(exc))
    return Recurring(rule_text, at, duration, dtstart) if duration else None


def _no_refs(name: str, year: int) -> None:
    return None


def compile_holidays(entry: Any, loc: Loc, issues: LocatedProblems) -> PeriodRule | None:
    """The rule of one ``holidays:`` entry (one rule; its periods are named after each
    holiday, "Neujahr"); None when a problem was reported."""
    from seasongate._calendar._holidays import check_holidays

    try:
        check_holidays(entry.country, entry.subdivision, tuple(entry.categories))
    except ValueError as exc:
        message = str(exc)
        field = "categories" if "category" in message else "subdivision" if "subdivision" in message else "country"
        issues.add((*loc, field), message)
        return None
    label = entry.country + (f"-{entry.subdivision}" if entry.subdivision else "")
    return PeriodRule(
        name=f"holidays:{label}:{'+'.join(entry.categories)}",
        kind=entry.kind,
        shape=Holidays(entry.country, entry.subdivision, tuple(entry.categories)),
        source=issues.source(loc),
        tags=tuple(entry.tags),
        description=entry.description or f"public holiday ({label}, {', '.join(entry.categories)})",
        years=compile_years(entry.years, loc, issues),
    )
