"""Calendars: files, rules, expansion and the interval index. Pure time maths: no clock,
no I/O beyond reading the calendar files, no database."""

from __future__ import annotations

from seasongate._calendar._holidays import holiday_dates
from seasongate._calendar._index import CalendarIndex, Selector
from seasongate._calendar._load import (
    Calendar,
    Problems,
    build_index,
    display_path,
    load_calendar,
    parse_days,
    source_path,
    year_bounds,
)
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
    "Problems",
    "Selector",
    "build_index",
    "display_path",
    "holiday_dates",
    "load_calendar",
    "parse_days",
    "source_path",
    "year_bounds",
]
