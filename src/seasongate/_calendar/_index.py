"""Fast queries over expanded periods: sorted int arrays and binary search, no re-expansion.

An index keeps its periods as columns: parallel lists of start, end and row number, where a
row is what periods of one rule share (name, kind, tags, source...). Queries about times and
kinds read only the columns; a :class:`Period` object is made only for a period a query
returns. :meth:`CalendarIndex.columns` and :meth:`CalendarIndex.from_columns` give and take
the columns as plain JSON-ready data, so that a cache stores an index without pickling and
reads it back without building one object per period.
"""

from __future__ import annotations

from bisect import bisect_left, bisect_right
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from datetime import datetime
from itertools import chain, compress, islice, repeat
from operator import le, sub
from typing import Any
from zoneinfo import ZoneInfo

from seasongate._calendar._period import Period
from seasongate._errors import HorizonError, Location
from seasongate._intervals import IntervalSet
from seasongate._time import iso, to_ts


@dataclass(frozen=True, slots=True)
class Selector:
    """Which periods a query is about: any of ``kinds`` and any of ``names`` and any of
    ``tags`` (an empty set does not constrain)."""

    kinds: frozenset[str] = frozenset()
    names: frozenset[str] = frozenset()
    tags: frozenset[str] = frozenset()

    @classmethod
    def of(
        cls, *, kind: str | Iterable[str] = (), name: str | Iterable[str] = (), tag: str | Iterable[str] = ()
    ) -> Selector:
        """Build a selector from single values or iterables."""

        def as_set(value: str | Iterable[str]) -> frozenset[str]:
            return frozenset([value]) if isinstance(value, str) else frozenset(value)

        return cls(as_set(kind), as_set(name), as_set(tag))

    def accepts(self, kind: str, name: str, tags: Iterable[str]) -> bool:
        """Whether a period of this kind, name and tags is selected."""
        return (
            (not self.kinds or kind in self.kinds)
            and (not self.names or name in self.names)
            and (not self.tags or not self.tags.isdisjoint(tags))
        )

    def matches(self, period: Period) -> bool:
        """Whether ``period`` is selected."""
        return self.accepts(period.kind, period.name, period.tags)

    def describe(self) -> str:
        """``kind blackout``, ``name oktoberfest``, ``tag peak`` joined."""
        parts = []
        for label, values in (("kind", self.kinds), ("name", self.names), ("tag", self.tags)):
            if values:
                parts.append(f"{label} {'/'.join(sorted(values))}")
        return " and ".join(parts) or "any period"


_ANY = Selector()

# A row: what the periods of one rule share, as plain data (Period's fields without start
# and end, the source as path, line, column).
_ROW_FIELDS = ("name", "kind", "calendar", "territory", "all_day", "tags", "path", "line", "column", "description")


def _row_of(p: Period) -> tuple[Any, ...]:
    s = p.source
    return (p.name, p.kind, p.calendar, p.territory, p.all_day, p.tags, s.path, s.line, s.column, p.description)


def _runs(values: list[Any]) -> dict[str, list[Any]]:
    """A row field's column as JSON: ``{"each": [v, ...]}``, or ``{"runs": [[v, n], ...]}``
    (``n`` rows in a row with the value ``v``) when that is shorter: a calendar's own
    fields (its name, territory, file) repeat for every period of it."""
    runs: list[list[Any]] = []
    for value in values:
        if runs and runs[-1][0] == value and type(runs[-1][0]) is type(value):
            runs[-1][1] += 1
        else:
            runs.append([value, 1])
    return {"runs": runs} if 2 * len(runs) <= len(values) else {"each": list(values)}


def _column(data: Any, count: int) -> list[Any]:
    """The ``count`` values of a column :func:`_runs` gave; raises ``TypeError``/``ValueError``."""
    if type(data) is not dict or len(data) != 1:
        raise TypeError("a row column is {each: [...]} or {runs: [[value, count], ...]}")
    if "each" in data:
        values = data["each"]
        if type(values) is not list:
            raise TypeError("a row column's values are a list")
    else:
        runs = data["runs"]
        if type(runs) is not list or not set(map(type, runs)) <= {list} or not set(map(len, runs)) <= {2}:
            raise TypeError("a row column's runs are [value, count] pairs")
        found, counts = (list(c) for c in zip(*runs, strict=True)) if runs else ([], [])
        if not _ints(counts) or (counts and min(counts) < 1):
            raise ValueError("a run counts at least one row")
        values = list(chain.from_iterable(map(repeat, found, counts)))
    if len(values) != count:
        raise ValueError("the row columns differ in length")
    return values


def _row_columns(data: Any) -> list[list[Any]]:
    """The row fields (:data:`_ROW_FIELDS`), a column each, checked a column at a time in C
    (``"".join`` refuses anything but strings); raises ``TypeError`` or ``ValueError``."""
    if type(data) is not dict or type(data.get("count")) is not int or type(data.get("columns")) is not list:
        raise TypeError("the rows are {count: n, columns: [...]}")
    if len(data["columns"]) != len(_ROW_FIELDS):
        raise ValueError("index rows of another layout")
    columns = [_column(column, data["count"]) for column in data["columns"]]
    names, kinds, calendars, territories, all_days, tags, paths, lines, cols, descriptions = columns
    if not set(map(type, tags)) <= {list}:
        raise TypeError("a row's tags are a list")
    for strings in (names, kinds, calendars, paths, descriptions, chain.from_iterable(tags)):
        "".join(strings)  # the check itself
    if not (
        set(map(type, territories)) <= {str, type(None)} and set(map(type, all_days)) <= {bool}
        and set(map(type, lines)) | set(map(type, cols)) <= {int}
    ):  # fmt: skip
        raise TypeError("a row's territory is a string or null, all_day a bool, line and column ints")
    return columns


class CalendarIndex:
    """The periods of one calendar over ``[lo, hi)`` (epoch seconds), ready for queries.

    Periods that overlap the range are kept whole; a question about an instant outside the
    range is a :class:`HorizonError`, never a silent empty answer.
    """

    # Elementary segments and their periods, swept by the first ``active_at`` (absent before).
    _bounds: list[int]
    _segments: list[tuple[Period, ...]]

    def __init__(self, periods: Iterable[Period], *, tz: ZoneInfo, lo: int, hi: int) -> None:
        kept = [p for p in periods if p.end > lo and p.start < hi]
        starts, ends, names = [p.start for p in kept], [p.end for p in kept], [p.name for p in kept]
        if not _in_order(starts, ends, names):
            kept.sort(key=lambda p: (p.start, p.end, p.name))
            starts, ends, names = [p.start for p in kept], [p.end for p in kept], [p.name for p in kept]
        # One row a period: the rows are only read to select, and the periods are all made.
        self._setup(tz, lo, hi, starts, ends, list(range(len(kept))))
        self._names, self._kinds, self._tags = names, [p.kind for p in kept], [p.tags for p in kept]
        self._made: list[Period | None] = list(kept)
        self._fields: list[list[Any]] = []  # not needed: every period is made

    def _setup(self, tz: ZoneInfo, lo: int, hi: int, starts: list[int], ends: list[int], row_of: list[int]) -> None:
        self.tz = tz
        self.lo = lo
        self.hi = hi
        self._starts = starts
        self._ends = ends
        self._row_of = row_of
        self._max_len = max(map(sub, ends, starts), default=0)
        self._all: tuple[Period, ...] | None = None
        self._selected: dict[Selector, tuple[list[int], list[int], IntervalSet]] = {}

    # -- columns: the plain-data form ----------------------------------------------------------

    def columns(self) -> dict[str, Any]:
        """The index as JSON-ready data: ``lo``, ``hi``, the distinct ``rows`` (their ``count``
        and one column a field named in ``row_fields``, see :func:`_runs`) and the parallel
        int arrays ``start``, ``end``, ``row``."""
        rows: dict[tuple[Any, ...], int] = {}
        row_of = [rows.setdefault(_row_of(p), len(rows)) for p in self.periods]
        fields = [list(c) for c in zip(*rows, strict=True)] if rows else [[] for _ in _ROW_FIELDS]
        fields[5] = [list(tags) for tags in fields[5]]
        return {"lo": self.lo, "hi": self.hi, "row_fields": list(_ROW_FIELDS),
                "rows": {"count": len(rows), "columns": [_runs(c) for c in fields]},
                "start": list(self._starts), "end": list(self._ends), "row": row_of}  # fmt: skip

    @classmethod
    def from_columns(cls, columns: dict[str, Any], *, tz: ZoneInfo) -> CalendarIndex:
        """The index :meth:`columns` gave. Checks the types, lengths, range and order of the
        data (raises ``ValueError``, ``TypeError`` or ``KeyError``), so that a damaged cache
        entry is refused, never used; makes no :class:`Period` until a query returns one.
        (Like the cache itself, this guards against damage, not against whoever may write
        the cache folder: they could store other periods in the right shape.)"""
        lo, hi, starts, ends, row_of, rows = (columns[k] for k in ("lo", "hi", "start", "end", "row", "rows"))
        if columns["row_fields"] != list(_ROW_FIELDS):
            raise ValueError("index rows of another layout")
        fields = _row_columns(rows)
        names, kinds, tags = fields[0], fields[1], fields[5]
        if not (_ints([lo, hi]) and _ints(starts) and _ints(ends) and _ints(row_of)):
            raise TypeError("the index columns are lists of ints")
        if not len(starts) == len(ends) == len(row_of):
            raise ValueError("the index columns differ in length")
        if starts and (min(ends) <= lo or max(starts) >= hi or not all(map(le, starts, ends))):
            raise ValueError("a period outside the index's range")
        if row_of and (min(row_of) < 0 or max(row_of) >= len(names)):
            raise ValueError("a period of a row that is not there")
        # Sorted by start is what the binary searches need (columns() gives (start, end, name)
        # order; the order of equal starts only orders a listing, and is not checked: cheap).
        if not all(map(le, starts, islice(starts, 1, None))):
            raise ValueError("the index columns are not in order")
        index = cls.__new__(cls)
        index._setup(tz, lo, hi, starts, ends, row_of)
        index._fields = fields
        index._names, index._kinds, index._tags = names, kinds, list(map(tuple, tags))
        index._made = [None] * len(starts)
        return index

    # -- periods, made when asked for ----------------------------------------------------------

    def _period(self, i: int) -> Period:
        made = self._made[i]
        if made is None:
            r = self._row_of[i]
            names, kinds, calendars, territories, all_days, _, paths, lines, columns, descriptions = self._fields
            made = self._made[i] = Period(
                names[r], kinds[r], self._starts[i], self._ends[i], calendars[r], territories[r], all_days[r],
                self._tags[r], Location(paths[r], lines[r], columns[r]), descriptions[r],
            )  # fmt: skip
        return made

    @property
    def periods(self) -> tuple[Period, ...]:
        """Every period of the index, sorted by start."""
        if self._all is None:
            self._all = tuple(self._period(i) for i in range(len(self._starts)))
        return self._all

    @staticmethod
    def _sweep(periods: Sequence[Period]) -> tuple[list[int], list[tuple[Period, ...]]]:
        # Elementary segments between consecutive boundaries, each with its active periods:
        # an instant query is then one binary search.
        events: dict[int, list[tuple[int, int]]] = {}
        for i, p in enumerate(periods):
            events.setdefault(p.start, []).append((1, i))
            events.setdefault(p.end, []).append((-1, i))
        bounds: list[int] = []
        segments: list[tuple[Period, ...]] = []
        active: dict[int, Period] = {}
        for t in sorted(events):
            for delta, i in events[t]:
                if delta > 0:
                    active[i] = periods[i]
                else:
                    active.pop(i, None)
            bounds.append(t)
            segments.append(tuple(active[i] for i in sorted(active)))
        return bounds, segments

    def _check(self, ts: int) -> None:
        if not self.lo <= ts < self.hi:
            raise HorizonError(f"{iso(ts)} is outside the expanded range {iso(self.lo)} to {iso(self.hi)}")

    def active_at(self, at: int | datetime) -> tuple[Period, ...]:
        """The periods that cover the instant."""
        # The hot path of every decision: one range test and one binary search, nothing else.
        ts = at if isinstance(at, int) else to_ts(at)
        if not self.lo <= ts < self.hi:
            self._check(ts)
        try:
            i = bisect_right(self._bounds, ts) - 1
        except AttributeError:  # the first instant query sweeps the segments
            self._bounds, self._segments = self._sweep(self.periods)
            i = bisect_right(self._bounds, ts) - 1
        return self._segments[i] if i >= 0 else ()

    def overlapping(self, lo: int, hi: int, selector: Selector = _ANY) -> list[Period]:
        """The periods that overlap ``[lo, hi)``, sorted by start."""
        first = bisect_left(self._starts, lo - self._max_len)
        last = bisect_left(self._starts, hi)
        ends, row_of, kinds, names, tags = self._ends, self._row_of, self._kinds, self._names, self._tags
        return [
            self._period(i)
            for i in range(first, last)
            if ends[i] > lo and selector.accepts(kinds[row_of[i]], names[row_of[i]], tags[row_of[i]])
        ]

    def _select(self, selector: Selector) -> tuple[list[int], list[int], IntervalSet]:
        cached = self._selected.get(selector)
        if cached is None:
            # Selector.accepts a column at a time, with C-level maps (one set lookup a row and
            # criterion; the tags asked once per distinct tag tuple): thousands of rows are cheap.
            tests: list[Iterator[bool]] = []
            if selector.kinds:
                tests.append(map(selector.kinds.__contains__, self._kinds))
            if selector.names:
                tests.append(map(selector.names.__contains__, self._names))
            if selector.tags:
                tagged = {tags: not selector.tags.isdisjoint(tags) for tags in set(self._tags)}
                tests.append(map(tagged.__getitem__, self._tags))
            chosen = list(range(len(self._starts)))
            if tests:
                chosen_rows = list(tests[0]) if len(tests) == 1 else list(map(all, zip(*tests, strict=True)))
                chosen = list(compress(chosen, map(chosen_rows.__getitem__, self._row_of)))
            starts = list(map(self._starts.__getitem__, chosen))
            union = IntervalSet.of(zip(starts, map(self._ends.__getitem__, chosen), strict=True))
            cached = self._selected[selector] = (chosen, starts, union)
        return cached

    def select(self, selector: Selector) -> list[Period]:
        """All periods the selector matches, sorted by start."""
        return [self._period(i) for i in self._select(selector)[0]]

    def union(self, selector: Selector) -> IntervalSet:
        """The selected periods merged into disjoint intervals."""
        return self._select(selector)[2]

    def next_start(self, selector: Selector, after: int | datetime) -> Period | None:
        """The first selected period that starts strictly after the instant."""
        ts = after if isinstance(after, int) else to_ts(after)
        self._check(ts)
        chosen, starts, _ = self._select(selector)
        i = bisect_right(starts, ts)
        return self._period(chosen[i]) if i < len(chosen) else None


def _in_order(starts: list[int], ends: list[int], names: list[str]) -> bool:
    """Whether the periods are sorted by (start, end, name), the order queries rely on."""
    keys = list(zip(starts, ends, names, strict=True))
    return all(map(le, keys, islice(keys, 1, None)))


def _ints(values: list[Any]) -> bool:
    return type(values) is list and set(map(type, values)) <= {int}
