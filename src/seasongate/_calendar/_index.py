"""Fast queries over expanded periods: sorted arrays and binary search, no re-expansion."""

from __future__ import annotations

from bisect import bisect_left, bisect_right
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from zoneinfo import ZoneInfo

from seasongate._calendar._period import Period
from seasongate._errors import HorizonError
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

    def matches(self, period: Period) -> bool:
        """Whether ``period`` is selected."""
        return (
            (not self.kinds or period.kind in self.kinds)
            and (not self.names or period.name in self.names)
            and (not self.tags or not self.tags.isdisjoint(period.tags))
        )

    def describe(self) -> str:
        """``kind blackout``, ``name oktoberfest``, ``tag peak`` joined."""
        parts = []
        for label, values in (("kind", self.kinds), ("name", self.names), ("tag", self.tags)):
            if values:
                parts.append(f"{label} {'/'.join(sorted(values))}")
        return " and ".join(parts) or "any period"


_ANY = Selector()


class CalendarIndex:
    """The periods of one calendar over ``[lo, hi)`` (epoch seconds), ready for queries.

    Periods that overlap the range are kept whole; a question about an instant outside the
    range is a :class:`HorizonError`, never a silent empty answer.
    """

    def __init__(self, periods: Iterable[Period], *, tz: ZoneInfo, lo: int, hi: int) -> None:
        self.tz = tz
        self.lo = lo
        self.hi = hi
        kept = sorted((p for p in periods if p.end > lo and p.start < hi), key=lambda p: (p.start, p.end, p.name))
        self.periods: tuple[Period, ...] = tuple(kept)
        self._starts = [p.start for p in kept]
        self._max_len = max((p.end - p.start for p in kept), default=0)
        self._swept: tuple[list[int], list[tuple[Period, ...]]] | None = None  # built on first active_at
        self._selected: dict[Selector, tuple[list[Period], list[int], IntervalSet]] = {}

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
        ts = at if isinstance(at, int) else to_ts(at)
        self._check(ts)
        if self._swept is None:
            self._swept = self._sweep(self.periods)
        bounds, segments = self._swept
        i = bisect_right(bounds, ts) - 1
        return segments[i] if i >= 0 else ()

    def overlapping(self, lo: int, hi: int, selector: Selector = _ANY) -> list[Period]:
        """The periods that overlap ``[lo, hi)``, sorted by start."""
        first = bisect_left(self._starts, lo - self._max_len)
        last = bisect_left(self._starts, hi)
        return [p for p in self.periods[first:last] if p.end > lo and p.start < hi and selector.matches(p)]

    def _select(self, selector: Selector) -> tuple[list[Period], list[int], IntervalSet]:
        cached = self._selected.get(selector)
        if cached is None:
            chosen = [p for p in self.periods if selector.matches(p)]
            starts = [p.start for p in chosen]
            union = IntervalSet.of((p.start, p.end) for p in chosen)
            cached = self._selected[selector] = (chosen, starts, union)
        return cached

    def select(self, selector: Selector) -> list[Period]:
        """All periods the selector matches, sorted by start."""
        return self._select(selector)[0]

    def union(self, selector: Selector) -> IntervalSet:
        """The selected periods merged into disjoint intervals."""
        return self._select(selector)[2]

    def next_start(self, selector: Selector, after: int | datetime) -> Period | None:
        """The first selected period that starts strictly after the instant."""
        ts = after if isinstance(after, int) else to_ts(after)
        self._check(ts)
        chosen, starts, _ = self._select(selector)
        i = bisect_right(starts, ts)
        return chosen[i] if i < len(chosen) else None
