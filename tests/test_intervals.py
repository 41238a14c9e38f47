"""IntervalSet algebra against a brute-force oracle over small integer ranges."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from seasongate._intervals import IntervalSet

LO, HI = 0, 60
pairs = st.lists(st.tuples(st.integers(LO, HI), st.integers(LO, HI)), max_size=8)


def points(s: IntervalSet) -> set[int]:
    return {t for a, b in s for t in range(a, b)}


def raw_points(ps: list[tuple[int, int]]) -> set[int]:
    return {t for a, b in ps for t in range(a, b)}


@given(pairs)
def test_of_merges_into_sorted_disjoint_intervals(ps: list[tuple[int, int]]) -> None:
    s = IntervalSet.of(ps)
    assert points(s) == raw_points(ps)
    for (a1, b1), (a2, _) in zip(s, list(s)[1:], strict=False):
        assert a1 < b1 < a2  # disjoint and not touching


@given(pairs, pairs)
def test_union_intersection_difference(a: list[tuple[int, int]], b: list[tuple[int, int]]) -> None:
    sa, sb = IntervalSet.of(a), IntervalSet.of(b)
    assert points(sa.union(sb)) == raw_points(a) | raw_points(b)
    assert points(sa.intersection(sb)) == raw_points(a) & raw_points(b)
    assert points(sa.difference(sb)) == raw_points(a) - raw_points(b)
    assert points(sa.complement(LO, HI)) == set(range(LO, HI)) - raw_points(a)


@given(pairs, st.integers(0, 10))
def test_touching_and_fitting_starts(a: list[tuple[int, int]], d: int) -> None:
    s = IntervalSet.of(a)
    inside = points(s)
    run = max(d, 1)
    for t in range(LO - 12, HI + 2):
        span = set(range(t, t + run))
        assert s.touching_starts(d).contains(t) == bool(span & inside), t
        assert s.fitting_starts(d).contains(t) == span.issubset(inside), t


@settings(max_examples=200)
@given(pairs, st.integers(LO - 2, HI + 2))
def test_queries(a: list[tuple[int, int]], t: int) -> None:
    s = IntervalSet.of(a)
    inside = points(s)
    assert s.contains(t) == (t in inside)
    after = [x for x in inside if x >= t]
    assert s.next_start(t) == (min(after) if after else None)
    span = s.containing(t)
    if t in inside:
        assert span is not None and span[0] <= t < span[1]
    else:
        assert span is None
