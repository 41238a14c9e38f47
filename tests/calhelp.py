"""Helpers that make calendar tests read like the rules they check."""

from __future__ import annotations

import textwrap
from datetime import date, timedelta
from pathlib import Path

from seasongate._calendar import Calendar, Period, Selector, build_index, load_calendar
from seasongate._time import from_ts


def write_calendar(tmp_path: Path, body: str, name: str = "cal.yaml") -> Path:
    path = tmp_path / name
    path.write_text(textwrap.dedent(body), encoding="utf-8")
    return path


def calendar_from(tmp_path: Path, body: str) -> Calendar:
    return load_calendar(write_calendar(tmp_path, body))


def occurrences(calendar: Calendar, name: str, year: int) -> list[tuple[date, date]]:
    """(first day, last day inclusive) of each all-day occurrence of ``name`` in ``year``."""
    index = build_index(calendar, year, year)
    tz = calendar.tz
    out = []
    for p in index.select(Selector.of(name=name)):
        first = from_ts(p.start, tz).date()
        last = from_ts(p.end, tz).date() - timedelta(days=1)
        if first.year == year:
            out.append((first, last))
    return out


def local_span(period: Period, calendar: Calendar) -> tuple[str, str]:
    tz = calendar.tz
    fmt = "%Y-%m-%d %H:%M%z"
    return from_ts(period.start, tz).strftime(fmt), from_ts(period.end, tz).strftime(fmt)
