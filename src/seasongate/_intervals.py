"""Sets of half-open integer intervals ``[start, end)`` and the algebra on them.

An :class:`IntervalSet` is a sorted list of disjoint, non-touching intervals of epoch
seconds. Every query is a binary search; every operation is a linear merge. This is the
whole of the "when" in seasongate: a rule's times, the allowed starts of a migration and the
free slots are all interval sets, so answers are exact instead of found by stepping.
"""

from __future__ import annotations

from bisect import bisect_right
from collections.abc import Iterable, Iterator


class IntervalSet:
    """An immutable union of half-open intervals ``[start, end)`` over integers."""

    __slots__ = ("ends", "starts")

    def __init__(self, starts: list[int], ends: list[int]) -> None:
        # Trusted constructor: callers guarantee sorted, disjoint, non-touching, non-empty.
        self.starts = starts
        self.ends = ends

    @classmethod
    def empty(cls) -> IntervalSet:
        """The empty set."""
        return cls([], [])

    @classmethod
    def of(cls, pairs: Iterable[tuple[int, int]]) -> IntervalSet:
        """The union of ``pairs`` (any order, may overlap; empty pairs are dropped)."""
        ordered = sorted((s, e) for s, e in pairs if e > s)
        starts: list[int] = []
        ends: list[int] = []
        for s, e in ordered:
            if ends and s <= ends[-1]:
                if e > ends[-1]:
                    ends[-1] = e
            else:
                starts.append(s)
                ends.append(e)
        return cls(starts, ends)

    def __iter__(self) -> Iterator[tuple[int, int]]:
        return zip(self.starts, self.ends, strict=True)

    def __len__(self) -> int:
        return len(self.starts)

    def __bool__(self) -> bool:
        return bool(self.starts)

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, IntervalSet):
            return NotImplemented
        return self.starts == other.starts and self.ends == other.ends

    def __hash__(self) -> int:
        return hash((tuple(self.starts), tuple(self.ends)))

    def __repr__(self) -> str:
        return f"IntervalSet({list(self)!r})"

    def contains(self, t: int) -> bool:
        """Whether instant ``t`` is inside the set."""
        i = bisect_right(self.starts, t) - 1
        return i >= 0 and t < self.ends[i]

    def containing(self, t: int) -> tuple[int, int] | None:
        """The interval that contains ``t``, if any."""
        i = bisect_right(self.starts, t) - 1
        if i >= 0 and t < self.ends[i]:
            return self.starts[i], self.ends[i]
        return None

    def next_start(self, t: int) -> int | None:
        """The first start at or after ``t``: ``t`` itself when ``t`` is inside the set."""
        i = bisect_right(self.starts, t) - 1
        if i >= 0 and t < self.ends[i]:
            return t
        if i + 1 < len(self.starts):
            return self.starts[i + 1]
        return None

    def union(self, other: IntervalSet) -> IntervalSet:
        """Points in either set."""
        if not other:
            return self
        if not self:
            return other
        return IntervalSet.of([*self, *other])

    def intersection(self, other: IntervalSet) -> IntervalSet:
        """Points in both sets."""
        a_s, a_e, b_s, b_e = self.starts, self.ends, other.starts, other.ends
        i = j = 0
        starts: list[int] = []
        ends: list[int] = []
        while i < len(a_s) and j < len(b_s):
            lo = max(a_s[i], b_s[j])
            hi = min(a_e[i], b_e[j])
            if lo < hi:
                starts.append(lo)
                ends.append(hi)
            if a_e[i] < b_e[j]:
                i += 1
            else:
                j += 1
        return IntervalSet(starts, ends)

    def complement(self, lo: int, hi: int) -> IntervalSet:
        """Points of ``[lo, hi)`` not in the set."""
        starts: list[int] = []
        ends: list[int] = []
        cursor = lo
        for s, e in self:
            if e <= lo:
                continue
            if s >= hi:
                break
            if s > cursor:
                starts.append(cursor)
                ends.append(s)
            cursor = max(cursor, e)
        if cursor < hi:
            starts.append(cursor)
            ends.append(hi)
        return IntervalSet(starts, ends)

    def difference(self, other: IntervalSet) -> IntervalSet:
        """Points in this set and not in ``other``."""
        if not self or not other:
            return self
        return self.intersection(other.complement(self.starts[0], self.ends[-1]))

    def touching_starts(self, duration: int) -> IntervalSet:
        """Starts ``t`` whose run ``[t, t + duration)`` overlaps the set.

        A run of zero duration is treated as the single instant ``t``.
        """
        d = max(duration, 1)
        if d == 1:
            return self
        return IntervalSet.of((s - d + 1, e) for s, e in self)

    def fitting_starts(self, duration: int) -> IntervalSet:
        """Starts ``t`` whose whole run ``[t, t + duration)`` lies inside the set."""
        d = max(duration, 1)
        if d == 1:
            return self
        starts: list[int] = []
        ends: list[int] = []
        for s, e in self:
            last = e - d + 1
            if last > s:
                starts.append(s)
                ends.append(last)
        return IntervalSet(starts, ends)

