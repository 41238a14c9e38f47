"""Compiled calendar rules: what one entry of a calendar file says, as values.

A rule has a name, a kind, the years it is valid in and a shape: dated (start to end, all-day
or timed; one-off or annual), a weekly or daily window, an RFC 5545 rule, or a country's
public holidays. :mod:`._expand` turns rules into concrete periods.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date, datetime, time

from seasongate._calendar._dates import DateExpr, RefLookup, is_absolute
from seasongate._errors import Location


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
