"""Calendars: files, rules, expansion and the interval index. Pure time maths: no clock,
no I/O beyond reading the calendar files, no database."""

from __future__ import annotations

from seasongate._calendar._holidays import holiday_dates
from seasongate._calendar._index import CalendarIndex, Selector
from seasongate._calendar._load import (
    Calendar,
    build_index,
    calendar_digest,
    display_path,
    load_calendar,
    year_bounds,
)
from seasongate._calendar._load import _Collector as ProblemCollector
from seasongate._calendar._load import _days as parse_days
from seasongate._calendar._rules import KINDS, MAX_YEAR, MIN_YEAR, Holidays, Period, PeriodRule

__all__ = [
    "KINDS",
    "MAX_YEAR",
    "MIN_YEAR",
    "Calendar",
    "CalendarIndex",
    "Holidays",
    "Period",
    "PeriodRule",
    "ProblemCollector",
    "Selector",
    "build_index",
    "calendar_digest",
    "display_path",
    "holiday_dates",
    "load_calendar",
    "parse_days",
    "year_bounds",
]
