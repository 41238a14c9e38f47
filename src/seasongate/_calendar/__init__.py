"""Calendars: files, rules, expansion and the interval index. Pure time maths: no clock,
no I/O beyond reading the calendar files, no database.

The names a check served from the expansion cache needs (periods, the index, the compiled
calendar) import eagerly and cheaply; the file loader, the rules and the holidays bridge load
on first use.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from seasongate._calendar._compiled import Calendar, build_index, display_path, source_path, year_bounds
from seasongate._calendar._index import CalendarIndex, Selector
from seasongate._calendar._period import MAX_YEAR, MIN_YEAR, Period

if TYPE_CHECKING:
    from seasongate._calendar._holidays import holiday_dates
    from seasongate._calendar._load import Problems, load_calendar, parse_days
    from seasongate._calendar._rules import KINDS, Holidays, PeriodRule

_LAZY = {
    "holiday_dates": "seasongate._calendar._holidays",
    "Problems": "seasongate._calendar._load",
    "load_calendar": "seasongate._calendar._load",
    "parse_days": "seasongate._calendar._load",
    "KINDS": "seasongate._calendar._rules",
    "Holidays": "seasongate._calendar._rules",
    "PeriodRule": "seasongate._calendar._rules",
}


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'seasongate._calendar' has no attribute {name!r}")
    import importlib

    value = getattr(importlib.import_module(module), name)
    globals()[name] = value
    return value


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
