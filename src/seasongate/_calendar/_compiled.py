"""A compiled calendar and its expansion into an index, as the policy engine uses them.

Light to import (the rules, their date maths and the file loader load on first use), so that
a check served from the expansion cache pays for none of them.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from seasongate._calendar._index import CalendarIndex
from seasongate._calendar._period import MAX_YEAR, MIN_YEAR, Period
from seasongate._errors import HorizonError, InputError
from seasongate._time import zone

if TYPE_CHECKING:
    from seasongate._calendar._rules import PeriodRule

_BUNDLED = Path(__file__).resolve().parent.parent / "_bundled"


def display_path(path: Path) -> str:
    """A path as a person wants to read it: relative to the working directory when inside it;
    ``bundled:policies/production.yaml`` for the defaults shipped inside the package."""
    absolute = Path(os.path.abspath(path))
    if absolute.is_relative_to(_BUNDLED):
        return "bundled:" + absolute.relative_to(_BUNDLED).as_posix()
    try:
        rel = os.path.relpath(path)
    except ValueError:
        return str(path)
    return rel if not rel.startswith("..") else str(path)


def source_path(shown: str) -> Path:
    """The file a :func:`display_path` names (``bundled:...`` is inside the package)."""
    if shown.startswith("bundled:"):
        return _BUNDLED / shown.removeprefix("bundled:")
    return Path(shown)


@dataclass(frozen=True)
class Calendar:
    """A loaded calendar: its zone, territory and compiled rules (base calendars merged in)."""

    name: str
    path: str
    timezone: str
    territory: str | None
    rules: tuple[PeriodRule, ...]
    files: tuple[str, ...]
    digest: str

    @property
    def tz(self) -> Any:
        """The calendar's ``ZoneInfo``."""
        return zone(self.timezone)

    def annual_names(self) -> frozenset[str]:
        """The periods that occur at most once a year (dated, yearly rules): such an
        occurrence is known by its year, even when an exception moves its dates."""
        from seasongate._calendar._rules import Dated

        return frozenset(r.name for r in self.rules if isinstance(r.shape, Dated) and not r.shape.one_off)

    def expand(self, first_year: int, last_year: int, *, core_first: int | None = None) -> list[Period]:
        """Concrete periods of the occurrences of ``first_year`` to ``last_year``.

        Years before ``core_first`` are context only (a Christmas peak reaching into
        January): there, a source that cannot answer (holidays before 1991) gives nothing.
        """
        _check_years(self.name, first_year, last_year)
        from seasongate._calendar._expand import expand_rules

        return expand_rules(
            self.rules,
            tz=self.tz,
            calendar=self.name,
            territory=self.territory,
            first_year=first_year,
            last_year=last_year,
            core_first=first_year if core_first is None else core_first,
        )


def _check_years(calendar: str, first_year: int, last_year: int) -> None:
    if first_year > last_year:
        raise InputError(f"empty year range {first_year}-{last_year}")
    if first_year < MIN_YEAR or last_year > MAX_YEAR:
        raise HorizonError(
            f"calendar {calendar}: years {first_year}-{last_year} are outside "
            f"{MIN_YEAR}-{MAX_YEAR}, the range calendars answer"
        )


def year_bounds(first_year: int, last_year: int, tz: Any) -> tuple[int, int]:
    """Epoch seconds of local 1 January ``first_year`` and 1 January after ``last_year``."""
    from datetime import date

    from seasongate._time import local_midnight_ts

    return local_midnight_ts(date(first_year, 1, 1), tz), local_midnight_ts(date(last_year + 1, 1, 1), tz)


def build_index(calendar: Calendar, first_year: int, last_year: int) -> CalendarIndex:
    """Expand ``calendar`` for the years and index it (the previous year's occurrences that
    reach into the range, such as a Christmas peak into January, are included)."""
    _check_years(calendar.name, first_year, last_year)
    lo, hi = year_bounds(first_year, last_year, calendar.tz)
    periods = calendar.expand(max(first_year - 1, MIN_YEAR), last_year, core_first=first_year)
    return CalendarIndex(periods, tz=calendar.tz, lo=lo, hi=hi)
