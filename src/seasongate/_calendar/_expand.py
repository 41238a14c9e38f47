"""Expansion: compiled rules and a range of years in, concrete periods out (pure date maths).

All-day periods run from local midnight to midnight (the end date is inclusive in the file);
timed ones from their wall-clock start to end; weekly/daily windows, RFC 5545 rules and public
holidays give one period an occurrence. Linear in the rules times the years.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from seasongate._calendar._period import Period
from seasongate._calendar._rules import Dated, Holidays, PeriodRule, Recurring, Weekly
from seasongate._time import local_midnight_ts, local_to_ts

_ONE_DAY = timedelta(days=1)


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

    midnights: dict[date, int] = {}  # many periods share their days

    def midnight(day: date) -> int:
        ts = midnights.get(day)
        if ts is None:
            ts = midnights[day] = local_midnight_ts(day, tz)
        return ts

    # Referenced periods must be known one year around the range (an offset may cross it).
    ref_years = range(first_year - 1, last_year + 2)
    years = range(first_year, last_year + 1)
    for rule in rules:
        shape = rule.shape
        period = _maker(rule, calendar, territory)
        if isinstance(shape, Dated):
            found: dict[int, tuple[date, date]] = {}
            one_off = shape.one_off
            for year in (0,) if one_off else ref_years:
                if not one_off and not rule.years.allows(year):
                    continue
                got = shape.dates(year, lookup)
                if got is not None:
                    found[got[0].year if one_off else year] = got
            occurrences[rule.name] = found
            for year, (first, last) in found.items():
                if year in years and last >= first:
                    periods.append(_dated(shape, first, last, tz, midnight, period))
        elif isinstance(shape, Weekly):
            periods.extend(_weekly(shape, rule, tz, first_year, last_year, period))
        elif isinstance(shape, Recurring):
            periods.extend(_recurring(shape, rule, tz, first_year, last_year, period))
        else:
            core = first_year if core_first is None else core_first
            periods.extend(_holidays(shape, rule, first_year, last_year, core, midnight, period))
    periods.sort(key=lambda p: (p.start, p.end, p.name))
    return periods


_Make = Callable[..., Period]


def _maker(rule: PeriodRule, calendar: str, territory: str | None) -> _Make:
    """Builds the rule's periods: ``period(start, end, all_day=..., name=rule.name)``."""

    def period(start: int, end: int, *, all_day: bool, name: str = rule.name) -> Period:
        return Period(name, rule.kind, start, end, calendar, territory, all_day, rule.tags, rule.source,
                      rule.description)  # fmt: skip

    return period


def _dated(
    shape: Dated, first: date, last: date, tz: ZoneInfo, midnight: Callable[[date], int], period: _Make
) -> Period:
    if shape.start_time is None and shape.end_time is None:
        return period(midnight(first), midnight(last + _ONE_DAY), all_day=True)
    start = local_to_ts(first, shape.start_time or time(0), tz)
    end = midnight(last + _ONE_DAY) if shape.end_time is None else local_to_ts(last, shape.end_time, tz)
    return period(start, max(end, start), all_day=False)


def _weekly(shape: Weekly, rule: PeriodRule, tz: ZoneInfo, first_year: int, last_year: int,
            period: _Make) -> list[Period]:  # fmt: skip
    first = date(first_year, 1, 1) - _ONE_DAY  # a window from 31 Dec may reach 1 Jan
    stop = date(last_year, 12, 31)
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
                    end = local_to_ts(day + _ONE_DAY if overnight else day, shape.end, tz)
                if end > start:
                    found.append(period(start, end, all_day=False))
            day += week
    return found


def _recurring(shape: Recurring, rule: PeriodRule, tz: ZoneInfo, first_year: int, last_year: int,
               period: _Make) -> Iterable[Period]:  # fmt: skip
    from dateutil.rrule import rrulestr

    dtstart = shape.dtstart or datetime.combine(date(first_year, 1, 1), shape.at)
    parsed = rrulestr(shape.rule, dtstart=dtstart, ignoretz=True)
    window_start = datetime.combine(date(first_year, 1, 1), time(0))
    window_end = datetime.combine(date(last_year + 1, 1, 1), time(0))
    for occurrence in parsed.between(window_start, window_end, inc=True):
        if rule.years.allows(occurrence.year):
            start = local_to_ts(occurrence.date(), occurrence.time(), tz)
            yield period(start, start + shape.duration, all_day=False)


def _holidays(shape: Holidays, rule: PeriodRule, first_year: int, last_year: int, core_first: int,
              midnight: Callable[[date], int], period: _Make) -> Iterable[Period]:  # fmt: skip
    from seasongate._calendar._holidays import holiday_dates, holiday_years

    low, _ = holiday_years(shape)
    if first_year < low <= core_first:
        first_year = low  # the years before are context only; the package cannot answer them
    for day, names in holiday_dates(shape, first_year, last_year):
        if rule.years.allows(day.year):
            start, end = midnight(day), midnight(day + _ONE_DAY)
            for name in names:
                yield period(start, end, all_day=True, name=name)
