"""Date expressions: how a calendar file names a local date in a given year.

A fixed ``MM-DD``, one exact date, the nth weekday of a month, an Easter offset, the later or
earlier of several expressions, or the start/end day of another period's occurrence that
year; each with a day offset. Pure date maths.
"""

from __future__ import annotations

import calendar as _cal
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any

WEEKDAYS = {
    "monday": 0, "mon": 0, "mo": 0,
    "tuesday": 1, "tue": 1, "tu": 1,
    "wednesday": 2, "wed": 2, "we": 2,
    "thursday": 3, "thu": 3, "th": 3,
    "friday": 4, "fri": 4, "fr": 4,
    "saturday": 5, "sat": 5, "sa": 5,
    "sunday": 6, "sun": 6, "su": 6,
}  # fmt: skip
MONTHS = {name.lower(): i for i, name in enumerate(_cal.month_name) if name} | {
    name.lower(): i for i, name in enumerate(_cal.month_abbr) if name
}
ORDINALS = {"first": 1, "second": 2, "third": 3, "fourth": 4, "fifth": 5, "last": -1}
MAX_OFFSET = 366
"""The largest day offset (``offset``, ``easter``): a larger one would move a date out of its
year and make the period vanish from the years asked."""

# Resolves (period name, year) to that period's occurrence starting in the year, as dates.
RefLookup = Callable[[str, int], "tuple[date, date] | None"]


class _Shifted:
    """An expression's day in a year (``base``), moved by its ``offset`` in days."""

    __slots__ = ()
    offset: int

    def base(self, year: int, refs: RefLookup) -> date | None:
        raise NotImplementedError

    def on(self, year: int, refs: RefLookup) -> date | None:
        """The date in ``year``; None when there is none (a fifth Monday, a missing ref)."""
        day = self.base(year, refs)
        return day if day is None or not self.offset else day + timedelta(days=self.offset)


@dataclass(frozen=True, slots=True)
class Fixed(_Shifted):
    """``MM-DD`` in the year asked (29 February is the 28th in common years)."""

    month: int
    day: int
    offset: int = 0

    def base(self, year: int, refs: RefLookup) -> date | None:
        leap_day_in_common_year = self.month == 2 and self.day == 29 and not _cal.isleap(year)
        return date(year, 2, 28) if leap_day_in_common_year else date(year, self.month, self.day)


@dataclass(frozen=True, slots=True)
class Absolute(_Shifted):
    """One exact date (a one-off period)."""

    value: date
    offset: int = 0

    def base(self, year: int, refs: RefLookup) -> date | None:
        return self.value


@dataclass(frozen=True, slots=True)
class NthWeekday(_Shifted):
    """The ``n``-th (or last, ``n = -1``) ``weekday`` of ``month``."""

    month: int
    weekday: int
    n: int
    offset: int = 0

    def base(self, year: int, refs: RefLookup) -> date | None:
        if self.n > 0:
            first = date(year, self.month, 1)
            day = first + timedelta(days=(self.weekday - first.weekday()) % 7 + 7 * (self.n - 1))
        else:
            last = date(year, self.month, _cal.monthrange(year, self.month)[1])
            day = last - timedelta(days=(last.weekday() - self.weekday) % 7 + 7 * (-self.n - 1))
        return day if day.month == self.month else None


@dataclass(frozen=True, slots=True)
class Easter(_Shifted):
    """Western Easter Sunday plus ``offset`` days (Corpus Christi is ``easter: 60``)."""

    offset: int = 0

    def base(self, year: int, refs: RefLookup) -> date | None:
        from dateutil.easter import easter  # only where Easter is asked: a cached calendar never is

        return easter(year)


@dataclass(frozen=True, slots=True)
class Pick(_Shifted):
    """The later (``latest=True``) or earlier of several expressions."""

    options: tuple[DateExpr, ...]
    latest: bool
    offset: int = 0

    def base(self, year: int, refs: RefLookup) -> date | None:
        days = [opt.on(year, refs) for opt in self.options]
        found = [d for d in days if d is not None]
        if len(found) < len(days):
            return None
        return max(found) if self.latest else min(found)


@dataclass(frozen=True, slots=True)
class Ref(_Shifted):
    """The first (``edge='start'``) or last day of another period's occurrence that year."""

    name: str
    edge: str
    offset: int = 0

    def base(self, year: int, refs: RefLookup) -> date | None:
        occurrence = refs(self.name, year)
        if occurrence is None:
            return None
        return occurrence[0] if self.edge == "start" else occurrence[1]


DateExpr = Fixed | Absolute | NthWeekday | Easter | Pick | Ref

_MMDD = re.compile(r"^(\d{1,2})-(\d{1,2})$")


def _check_month_day(month: int, day: int, text: str) -> None:
    if not 1 <= month <= 12:
        raise ValueError(f"invalid date {text!r}: month {month} does not exist")
    longest = 29 if month == 2 else _cal.monthrange(2001, month)[1]
    if not 1 <= day <= longest:
        raise ValueError(f"invalid date {text!r}: {_cal.month_name[month]} has no day {day}")


def _offset_of(value: object) -> int:
    if isinstance(value, str) and re.fullmatch(r"[+-]?\d{1,6}d?", value.strip()):
        value = int(value.strip().rstrip("d"))
    if isinstance(value, bool) or not isinstance(value, int):
        raise ValueError(f"offset must be a whole number of days, got {value!r}")
    if not -MAX_OFFSET <= value <= MAX_OFFSET:
        raise ValueError(f"offset {value} days is outside -{MAX_OFFSET}..{MAX_OFFSET}")
    return value


def parse_date_expr(raw: object) -> DateExpr:
    """Parse a date expression from its YAML form; raises ``ValueError`` with a clear message."""
    if isinstance(raw, datetime):
        raise ValueError(f"expected a date, got a date and time {raw!r}")
    if isinstance(raw, date):
        return Absolute(raw)
    if isinstance(raw, str):
        text = raw.strip()
        match = _MMDD.match(text)
        if match:
            month, day = int(match.group(1)), int(match.group(2))
            _check_month_day(month, day, text)
            return Fixed(month, day)
        try:
            return Absolute(date.fromisoformat(text))
        except ValueError:
            if re.fullmatch(r"\d{4}-\d{1,2}-\d{1,2}", text):
                raise ValueError(f"invalid date {text!r}: no such day") from None
        raise ValueError(
            f"invalid date expression {text!r}: expected MM-DD, YYYY-MM-DD or a mapping "
            "(nth/weekday/month, easter, later, earlier, start_of, end_of)"
        )
    if not isinstance(raw, Mapping):
        raise ValueError(f"invalid date expression {raw!r}")
    keys = set(raw)
    offset = _offset_of(raw.get("offset", 0))
    known = {"date", "nth", "weekday", "month", "easter", "later", "earlier", "start_of", "end_of", "offset"}
    unknown = keys - known
    if unknown:
        raise ValueError(f"unknown key {sorted(unknown)[0]!r} in date expression (known: {', '.join(sorted(known))})")
    heads = keys & {"date", "weekday", "easter", "later", "earlier", "start_of", "end_of"}
    if len(heads) != 1:
        raise ValueError(
            "a date expression needs exactly one of: date, weekday (with nth and month), "
            "easter, later, earlier, start_of, end_of"
        )
    head = heads.pop()
    if head == "date":
        inner = parse_date_expr(raw["date"])
        if isinstance(inner, Fixed):
            return Fixed(inner.month, inner.day, offset)
        if isinstance(inner, Absolute):
            return Absolute(inner.value, offset)
        raise ValueError("date: takes MM-DD or YYYY-MM-DD")
    if head == "weekday":
        weekday = WEEKDAYS.get(str(raw["weekday"]).lower())
        if weekday is None:
            raise ValueError(f"unknown weekday {raw['weekday']!r} (use monday..sunday)")
        month_raw = raw.get("month")
        month_of: Any = MONTHS.get(str(month_raw).lower()) if isinstance(month_raw, str) else month_raw
        if not isinstance(month_of, int) or isinstance(month_of, bool) or not 1 <= month_of <= 12:
            raise ValueError(f"month must be 1-12 or a month name, got {month_raw!r}")
        nth_raw = raw.get("nth", 1)
        nth: Any = ORDINALS.get(nth_raw.lower()) if isinstance(nth_raw, str) else nth_raw
        if not isinstance(nth, int) or isinstance(nth, bool) or nth == 0 or not -5 <= nth <= 5:
            raise ValueError(f"nth must be 1..5, -1..-5 or first..fifth/last, got {nth_raw!r}")
        return NthWeekday(month_of, weekday, nth, offset)
    if head == "easter":
        return Easter(_offset_of(raw["easter"]) + offset)
    if head in ("later", "earlier"):
        options = raw[head]
        if not isinstance(options, list) or len(options) < 2:
            raise ValueError(f"{head}: takes a list of two or more date expressions")
        return Pick(tuple(parse_date_expr(o) for o in options), head == "later", offset)
    name = raw[head]
    if not isinstance(name, str) or not name:
        raise ValueError(f"{head}: takes the name of another period")
    return Ref(name, "start" if head == "start_of" else "end", offset)


def refs_of(expr: DateExpr) -> set[str]:
    """The period names an expression depends on."""
    if isinstance(expr, Ref):
        return {expr.name}
    if isinstance(expr, Pick):
        return set().union(*(refs_of(o) for o in expr.options))
    return set()


def is_absolute(expr: DateExpr) -> bool:
    """Whether the expression is one exact date (no year in it to vary)."""
    return isinstance(expr, Absolute)
