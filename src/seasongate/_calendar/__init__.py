"""Calendars: files, rules, expansion and the interval index. Pure time maths: no clock,
no I/O beyond reading the calendar files, no database.

The names a check served from the expansion cache needs (periods, the index, the compiled
calendar) import eagerly and cheaply; the file loader, the rules and the holidays bridge load
on first use.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from seasongate._calendar._compiled import Calendar, build_index, display_path, source_path, year_bounds
from seasongate._calendar._index import CalendarIndex, Selector
from seasongate._calendar._period import MAX_YEAR, MIN_YEAR, Period
from seasongate._lazy import lazy_names

if TYPE_CHECKING:
    from seasongate._calendar._compile import Problems
    from seasongate._calendar._holidays import holiday_dates
    from seasongate._calendar._rules import Holidays, PeriodRule

_LAZY = {
    "holiday_dates": "seasongate._calendar._holidays",
    "Problems": "seasongate._calendar._compile",
    "Holidays": "seasongate._calendar._rules",
    "PeriodRule": "seasongate._calendar._rules",
}


def load_calendar(path: str | Path) -> Calendar:
    """Load and compile the calendar file at ``path``; raises ``ConfigErrors`` (the loader, its
    YAML and pydantic models load on the first call, not on importing this package)."""
    from seasongate._calendar import _load

    return _load.load_calendar(path)


def parse_days(values: list[str] | None, loc: tuple[str | int, ...], issues: Problems) -> frozenset[int]:
    """Weekdays (0 = Monday) from names and ranges (``[mon-fri, sunday]``); ``None`` is every
    day. Each unknown entry is reported to ``issues`` at ``(*loc, index)``."""
    from seasongate._calendar import _compile

    return _compile.parse_days(values, loc, issues)


__getattr__ = lazy_names(__name__, _LAZY, globals())


__all__ = [
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
