"""The year at a glance: twelve months by up to 31 days per territory, each day coloured by
the strongest kind of period that touches it, holidays marked, and (given a migration) a
mark on every day with at least one allowed start.

:func:`build_year` turns periods and allowed-start spans into :class:`TerritoryYear` values
(pure data, tested cell by cell); :func:`render_year` writes them as one self-contained HTML
page (inline CSS, no JavaScript, one A3 landscape page when printed). The same input gives
the same bytes: nothing here reads the clock or depends on the order of a set.
"""

from __future__ import annotations

import calendar as _cal
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, timedelta
from pathlib import Path
from typing import TYPE_CHECKING
from zoneinfo import ZoneInfo

from seasongate._time import from_ts, local_midnight_ts
from seasongate._vocabulary import PERIOD_KINDS

if TYPE_CHECKING:
    from seasongate._calendar import Period

HOLIDAY_TAG = "holiday"
_TEMPLATES = Path(__file__).resolve().parent / "templates"


@dataclass(frozen=True, slots=True)
class DayCell:
    """One day of the grid.

    ``kind`` is the strongest kind of the periods that touch the day (None: no period);
    ``partial`` says those periods of that kind cover only part of it; ``holidays`` names the
    holiday periods of the day; ``allowed`` is whether the planned migration may start at
    least once that day (None when no migration was asked about); ``title`` is the hover text.
    """

    day: date
    kind: str | None
    partial: bool
    holidays: tuple[str, ...]
    allowed: bool | None
    title: str

    @property
    def weekday(self) -> str:
        """``Mo`` .. ``Su``."""
        return ("Mo", "Tu", "We", "Th", "Fr", "Sa", "Su")[self.day.weekday()]

    @property
    def css(self) -> str:
        """The cell's CSS classes."""
        classes = [f"k-{self.kind}" if self.kind else "k-none"]
        if self.partial:
            classes.append("part")
        if self.holidays:
            classes.append("hol")
        if self.day.weekday() >= 5:
            classes.append("we")
        if self.allowed:
            classes.append("ok")
        return " ".join(classes)


@dataclass(frozen=True, slots=True)
class PeriodLine:
    """A line of the period list under a grid: a named period and when it occurs."""

    name: str
    kind: str
    when: str
    description: str


@dataclass(frozen=True)
class TerritoryYear:
    """The grid of one territory for one year."""

    territory: str
    calendar: str
    timezone: str
    year: int
    months: tuple[tuple[DayCell, ...], ...]  # twelve months, each its days in order
    periods: tuple[PeriodLine, ...]
    allowed_days: int | None  # days with an allowed start (None: no migration asked)

    def cell(self, day: date) -> DayCell:
        """The cell of ``day``."""
        if day.year != self.year:
            raise KeyError(f"{day} is not in {self.year}")
        return self.months[day.month - 1][day.day - 1]


def _clock(ts: int, tz: ZoneInfo, day_end: int) -> str:
    return "24:00" if ts >= day_end else from_ts(ts, tz).strftime("%H:%M")


def _strength(kind: str) -> int:
    return PERIOD_KINDS.index(kind) if kind in PERIOD_KINDS else len(PERIOD_KINDS)


def _covers(spans: Sequence[tuple[int, int]], lo: int, hi: int) -> bool:
    reached = lo
    for start, end in sorted(spans):
        if start > reached:
            return False
        reached = max(reached, end)
        if reached >= hi:
            return True
    return reached >= hi


def _day_cell(
    day: date, lo: int, hi: int, tz: ZoneInfo, touching: Sequence[Period], allowed: Sequence[tuple[int, int]] | None
) -> DayCell:
    lines = [day.strftime("%a %Y-%m-%d")]
    kind = None
    partial = False
    if touching:
        kind = min((p.kind for p in touching), key=_strength)
        spans = [(max(p.start, lo), min(p.end, hi)) for p in touching if p.kind == kind]
        partial = not _covers(spans, lo, hi)
    for p in sorted(touching, key=lambda p: (_strength(p.kind), p.start, p.name)):
        if p.start <= lo and p.end >= hi:
            span = "all day"
        else:
            span = f"{_clock(max(p.start, lo), tz, hi)}–{_clock(min(p.end, hi), tz, hi)}"
        lines.append(f"{p.name} ({p.kind}) {span}")
    holidays = tuple(dict.fromkeys(p.name for p in touching if HOLIDAY_TAG in p.tags))
    ok: bool | None = None
    if allowed is not None:
        starts = [(max(s, lo), min(e, hi - 1)) for s, e in allowed if s < hi and e >= lo]
        ok = bool(starts)
        if starts:
            text = ", ".join(
                f"{_clock(s, tz, hi)}–{'24:00' if e >= hi - 1 else _clock(e, tz, hi)}" for s, e in starts
            )
            lines.append(f"allowed starts: {text}")
        else:
            lines.append("no allowed start")
    return DayCell(day, kind, partial, holidays, ok, "\n".join(lines))


def _when(period: Period, tz: ZoneInfo) -> str:
    start = from_ts(period.start, tz)
    if not period.all_day:
        return f"{start:%d.%m. %H:%M}–{from_ts(period.end, tz):%d.%m. %H:%M}"
    last = from_ts(period.end, tz).date() - timedelta(days=1)
    return f"{start:%d.%m.}" if last == start.date() else f"{start:%d.%m.}–{last:%d.%m.}"


def _period_lines(periods: Sequence[Period], tz: ZoneInfo) -> tuple[PeriodLine, ...]:
    groups: dict[tuple[str, str], list[Period]] = {}
    for p in sorted(periods, key=lambda p: (p.start, p.name)):
        groups.setdefault((p.name, p.kind), []).append(p)
    lines = []
    for (name, kind), found in groups.items():
        when = ", ".join(_when(p, tz) for p in found) if len(found) <= 3 else f"{len(found)}×"
        lines.append(PeriodLine(name, kind, when, found[0].description))
    return tuple(lines)


def build_year(
    *,
    territory: str,
    calendar: str,
    tz: ZoneInfo,
    year: int,
    periods: Sequence[Period],
    allowed: Sequence[tuple[int, int]] | None = None,
) -> TerritoryYear:
    """The grid of ``year`` in ``tz`` from the periods that touch it.

    ``allowed`` holds spans of allowed start times (``earliest``, ``latest``, both inclusive,
    epoch seconds), or None when no migration was asked about.
    """
    ordered = sorted(periods, key=lambda p: (p.start, p.end, p.name))
    months: list[tuple[DayCell, ...]] = []
    count = 0
    for month in range(1, 13):
        cells = []
        for number in range(1, _cal.monthrange(year, month)[1] + 1):
            day = date(year, month, number)
            lo = local_midnight_ts(day, tz)
            hi = local_midnight_ts(day + timedelta(days=1), tz)
            touching = [p for p in ordered if p.start < hi and p.end > lo]
            cell = _day_cell(day, lo, hi, tz, touching, allowed)
            count += bool(cell.allowed)
            cells.append(cell)
        months.append(tuple(cells))
    lo = local_midnight_ts(date(year, 1, 1), tz)
    hi = local_midnight_ts(date(year + 1, 1, 1), tz)
    in_year = [p for p in ordered if p.start < hi and p.end > lo]
    return TerritoryYear(
        territory, calendar, tz.key, year, tuple(months), _period_lines(in_year, tz), None if allowed is None else count
    )


def render_year(years: Sequence[TerritoryYear], *, plan: str | None = None, back_link: str | None = None) -> str:
    """One self-contained HTML page with the grids side by side.

    ``plan`` describes the migration the marks are for; ``back_link`` adds a link back to the
    dashboard (the page stands alone without it).
    """
    import jinja2

    env = jinja2.Environment(
        loader=jinja2.FileSystemLoader(str(_TEMPLATES)),
        autoescape=True,
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=True,
        undefined=jinja2.StrictUndefined,
    )
    return env.get_template("year.html.j2").render(
        years=years, plan=plan, back_link=back_link, kinds=PERIOD_KINDS, days=range(1, 32)
    )


__all__ = ["DayCell", "PeriodLine", "TerritoryYear", "build_year", "render_year"]
