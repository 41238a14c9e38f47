"""Calendars of thousands of periods: the fast path (YAML read with only its collections
marked, selections a column at a time, rows stored as runs) gives the answers of the slow one,
and a problem in the last of 8,000 periods is still placed at its line and column."""

from __future__ import annotations

import json
import random
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import pytest

from seasongate._calendar import CalendarIndex, Selector, build_index, load_calendar
from seasongate._calendar import _load as calendar_load
from seasongate._errors import ConfigError, ConfigErrors
from seasongate._yaml import KEY, load_yaml, read_text
from tests.conftest import CALENDARS

COUNT = 8000
FIRST_LINE = 6  # the line of periods[0]: five lines of header before it


def _entry(i: int) -> str:
    day = date(2026, 1, 1) + timedelta(days=i % 730)
    kind = ("blackout", "optimization", "maintenance")[i % 3]
    tags = ", tags: [peak]" if i % 7 == 0 else ", tags: [peak, quiet]" if i % 11 == 0 else ""
    times = ", start_time: '10:00', end_time: '12:30'" if i % 5 == 0 else ""
    return f"  - {{name: one-off-{i:05d}, kind: {kind}, start: {day}, end: {day + timedelta(days=i % 3)}{tags}{times}}}"


def _write(path: Path, last: str | None = None) -> Path:
    lines = ["name: large", "timezone: Europe/Berlin", "territory: DE", f"extends: [{CALENDARS / 'de-by.yaml'}]",
             "periods:", *(_entry(i) for i in range(COUNT))]  # fmt: skip
    if last is not None:
        lines[-1] = last
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def _placed_rules(path: Path) -> list[Any]:
    """The slow path: the file read with every scalar and key marked, its rules ordered."""
    loaded = calendar_load._load_text(path.resolve(), (), display=path, text=read_text(path), placed=True)
    return calendar_load._dependency_order(loaded.rules)


def test_a_large_calendar_loads_as_the_slow_path_does(tmp_path: Path) -> None:
    path = _write(tmp_path / "large.yaml")
    calendar = load_calendar(path)
    assert list(calendar.rules) == _placed_rules(path)
    own = [r for r in calendar.rules if r.name.startswith("one-off-")]
    assert len(own) == COUNT
    assert [(r.source.line, r.source.column) for r in own] == [(FIRST_LINE + i, 5) for i in range(COUNT)]


def test_reading_with_only_collections_marked_keeps_their_marks(tmp_path: Path) -> None:
    path = _write(tmp_path / "large.yaml")
    data, full = load_yaml(path)
    light_data, light = load_yaml(path, scalar_marks=False)
    assert light_data == data
    collections = {at: mark for at, mark in full.items() if at[:1] != (KEY,) and at in light}
    assert light == collections
    assert light[("periods", COUNT - 1)] == (FIRST_LINE + COUNT - 1, 5)
    assert ("periods", 0, "name") in full and ("periods", 0, "name") not in light


def test_a_large_index_answers_as_a_scan_of_its_periods(tmp_path: Path) -> None:
    index = build_index(load_calendar(_write(tmp_path / "large.yaml")), 2026, 2027)
    again = CalendarIndex.from_columns(json.loads(json.dumps(index.columns())), tz=index.tz)
    assert again.periods == index.periods
    rng = random.Random(3)
    selectors = [Selector.of(kind="blackout"), Selector.of(tag="peak"), Selector.of(tag=["quiet", "holiday"]),
                 Selector.of(name=["one-off-00007", "oktoberfest"]), Selector.of(kind="blackout", tag="peak"),
                 Selector.of(kind=["blackout", "maintenance"], tag="quiet", name=["one-off-00077", "one-off-00099"]),
                 Selector()]  # fmt: skip
    for selector in selectors:
        expected = [p for p in index.periods if selector.matches(p)]
        assert index.select(selector) == again.select(selector) == expected
        assert again.union(selector) == index.union(selector)
    for _ in range(300):
        ts = rng.randrange(index.lo, index.hi)
        assert again.active_at(ts) == index.active_at(ts) == tuple(p for p in index.periods if p.start <= ts < p.end)


def _problems(path: Path) -> list[str]:
    with pytest.raises(ConfigError) as info:
        load_calendar(path)
    items = info.value.problems if isinstance(info.value, ConfigErrors) else [info.value]
    return [p.render() for p in items]


LAST = FIRST_LINE + COUNT - 1


@pytest.mark.parametrize(
    ("last", "at", "expected"),
    [
        ("  - {name: x, kind: blakout, start: 2026-05-01, end: 2026-05-02}", "blakout",
         "periods[7999].kind: unknown period kind 'blakout'"),
        ("  - {name: x, kind: blackout, start: 2026-05-01, end: 2026-05-02, colour: red}", "colour",
         "periods[7999].colour: unknown key"),
        ("  - {name: x, kind: blackout, start: 2026-05-03, end: 2026-05-02}", "2026-05-02",
         "periods[7999].end: end 2026-05-02 is before start 2026-05-03"),
        ("  - {name: x, kind: blackout, start: 2026-05-01, end: 2026-05-02, start_time: '25:00'}", "'25:00'",
         "periods[7999].start_time: invalid time of day '25:00'"),
        ("  - {name: one-off-00003, kind: blackout, start: 2026-05-01, end: 2026-05-02}", "one-off-00003",
         "periods[7999].name: duplicate period name 'one-off-00003' (first at periods[3])"),
    ],
    ids=["validation", "unknown-key", "compile", "clock", "duplicate"],
)
def test_a_problem_in_period_7999_names_its_line_and_column(tmp_path: Path, last: str, at: str, expected: str) -> None:
    path = _write(tmp_path / "large.yaml", last)
    found = _problems(path)
    assert len(found) == 1
    assert found[0].startswith(f"{path}:{LAST}:{last.index(at) + 1}: {expected}")
