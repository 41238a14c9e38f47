"""A big calendar expands to exactly what a brute-force oracle computes, and the YAML reader
gives the same data and marks as composing PyYAML's node tree.

The oracle shares no code with the loader or the expansion: it reads its own spec (not the
file) and finds each local wall time's instant by scanning UTC in steps of a quarter hour.
"""

from __future__ import annotations

import json
import random
from datetime import UTC, date, datetime, time, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest
import yaml

from seasongate._calendar import CalendarIndex, Selector, build_index, load_calendar
from seasongate._errors import ConfigError
from seasongate._yaml import KEY, load_yaml
from tests.conftest import CALENDARS, ROOT

BERLIN = ZoneInfo("Europe/Berlin")
QUARTER = 15 * 60
COUNT = 3000


def _instant(day: date, at: time) -> int:
    """The first UTC instant whose Berlin wall time is ``day at``; for a wall time the clocks
    skip, the instant they jump (seasongate's documented rule)."""
    wall = datetime.combine(day, at)
    base = int(datetime.combine(day, at, tzinfo=UTC).timestamp())
    for t in range(base - 3 * 3600, base + 3 * 3600, QUARTER):  # Berlin is UTC+1 or +2
        local = datetime.fromtimestamp(t, BERLIN).replace(tzinfo=None)
        if local == wall:
            return t
        if local > wall:  # skipped: the clocks jumped over it at t
            return t
    raise AssertionError(f"no instant for {wall}")


def _spec(seed: int) -> list[dict[str, Any]]:
    """One-off periods in 2026-2027: all-day spans and timed ones, many on the DST days."""
    rng = random.Random(seed)
    dst = [date(2026, 3, 29), date(2026, 10, 25), date(2027, 3, 28), date(2027, 10, 31)]
    out = []
    for i in range(COUNT):
        first = rng.choice(dst) if i % 5 == 0 else date(2026, 1, 1) + timedelta(days=rng.randrange(725))
        last = first + timedelta(days=rng.choice([0, 0, 0, 1, 3, 6]))
        entry: dict[str, Any] = {"name": f"one-off-{i:05d}", "kind": rng.choice(["blackout", "optimization"]),
                                 "start": first, "end": last}  # fmt: skip
        if i % 3 == 0:
            start_at = time(rng.randrange(24), rng.choice([0, 15, 30, 45]))
            end_at = time(rng.randrange(24), rng.choice([0, 30]))
            if first == last and end_at <= start_at:
                last = first + timedelta(days=1)
                entry["end"] = last
            entry["start_time"], entry["end_time"] = start_at.strftime("%H:%M"), end_at.strftime("%H:%M")
        out.append(entry)
    return out


def _oracle(entry: dict[str, Any]) -> tuple[str, int, int]:
    first, last = entry["start"], entry["end"]
    if "start_time" not in entry:
        return entry["name"], _instant(first, time(0)), _instant(last + timedelta(days=1), time(0))
    start = _instant(first, time.fromisoformat(entry["start_time"]))
    end = _instant(last, time.fromisoformat(entry["end_time"]))
    return entry["name"], start, max(start, end)


def _write(path: Path, spec: list[dict[str, Any]]) -> None:
    lines = ["name: big", "timezone: Europe/Berlin", "territory: DE", f"extends: [{CALENDARS / 'de-by.yaml'}]",
             "periods:"]  # fmt: skip
    for e in spec:
        times = f", start_time: '{e['start_time']}', end_time: '{e['end_time']}'" if "start_time" in e else ""
        lines.append(f"  - {{name: {e['name']}, kind: {e['kind']}, start: {e['start']}, end: {e['end']}{times}}}")
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")


def test_a_big_calendar_expands_as_the_brute_force_oracle_says(tmp_path: Path) -> None:
    spec = _spec(20260925)
    path = tmp_path / "big.yaml"
    _write(path, spec)
    index = build_index(load_calendar(path), 2026, 2027)
    base = build_index(load_calendar(CALENDARS / "de-by.yaml"), 2026, 2027)

    own = {p.name: p for p in index.periods if p.name.startswith("one-off-")}
    assert sorted((p.name, p.start, p.end) for p in own.values()) == sorted(_oracle(e) for e in spec)
    by_name = {e["name"]: e for e in spec}
    for name, p in own.items():
        assert (p.kind, p.all_day, p.calendar, p.territory) == (by_name[name]["kind"],
                                                                  "start_time" not in by_name[name], "big", "DE")  # fmt: skip
        assert (p.source.path, p.source.line) == (str(path), int(name.removeprefix("one-off-")) + 6)
    # The extended calendar's periods are all there, unchanged.
    inherited = [(p.name, p.kind, p.start, p.end) for p in index.periods if not p.name.startswith("one-off-")]
    assert inherited == [(p.name, p.kind, p.start, p.end) for p in base.periods]
    # Queries agree with a scan of every period.
    rng = random.Random(7)
    blackout = Selector.of(kind="blackout")
    for _ in range(300):
        ts = rng.randrange(index.lo, index.hi)
        expected = sorted(p.name for p in index.periods if p.start <= ts < p.end)
        assert sorted(p.name for p in index.active_at(ts)) == expected
        following = [p for p in index.periods if p.start > ts and blackout.matches(p)]
        upcoming = index.next_start(blackout, ts)
        assert (upcoming.start if upcoming else None) == min((p.start for p in following), default=None)


def _node_marks(node: Any, at: tuple[Any, ...], out: dict[tuple[Any, ...], tuple[int, int]]) -> None:
    """The oracle for marks: walk PyYAML's composed node tree."""
    out[at] = (node.start_mark.line + 1, node.start_mark.column + 1)
    if isinstance(node, yaml.MappingNode):
        for key_node, value_node in node.value:
            key = yaml.safe_load(yaml.serialize(key_node))
            out[(KEY, *at, key)] = (key_node.start_mark.line + 1, key_node.start_mark.column + 1)
            _node_marks(value_node, (*at, key), out)
    elif isinstance(node, yaml.SequenceNode):
        for i, item in enumerate(node.value):
            _node_marks(item, (*at, i), out)


SHIPPED_YAML = sorted(
    {*ROOT.glob("calendars/*.yaml"), *ROOT.glob("policies/*.yaml"), *ROOT.glob("health/*.yaml"),
     *ROOT.glob("src/seasongate/_bundled/**/*.yaml")}
)  # fmt: skip


@pytest.mark.parametrize("path", SHIPPED_YAML, ids=lambda p: p.name)
def test_the_yaml_reader_gives_pyyamls_data_and_marks(path: Path) -> None:
    data, marks = load_yaml(path)
    text = path.read_text(encoding="utf-8")
    assert data == yaml.safe_load(text)
    expected: dict[tuple[Any, ...], tuple[int, int]] = {}
    _node_marks(yaml.compose(text, Loader=yaml.SafeLoader), (), expected)
    assert marks == expected


def test_the_yaml_reader_expands_aliases_and_refuses_what_it_refused(tmp_path: Path) -> None:
    path = tmp_path / "x.yaml"
    path.write_text("a: &x {p: 1, q: [2, {r: s}]}\nb: *x\nc: [*x]\n", encoding="utf-8")
    data, marks = load_yaml(path)
    assert data == {"a": {"p": 1, "q": [2, {"r": "s"}]}, "b": data["a"], "c": [data["a"]]}
    assert data["b"] is not data["a"]  # each use is its own copy
    assert marks[("b", "q", 1, "r")] == marks[("a", "q", 1, "r")] == marks[("c", 0, "q", 1, "r")] == (1, 25)
    for body, message in [
        ("a: *nope\n", "1:4: YAML syntax error: found undefined alias"),
        ("a: &x 1\nb: &x 2\n", "2:4: YAML syntax error: found duplicate anchor"),
        ("a: 1\n---\nb: 2\n", "2:1: YAML syntax error: expected a single document in the stream"),
        ("a: &x [1, *x]\n", "alias bomb"),
        ("b: &x {c: 1}\nd:\n  <<: *x\n", "3:3: YAML merge keys (<<) are not supported"),
        ("? [a]\n: 1\n", "1:3: mapping keys must be plain scalars"),
        ("a: 2026-02-30\n", "1:4: a: invalid value '2026-02-30'"),
        ("a: " + "[" * 300 + "]" * 300 + "\n", "collections nest deeper than"),
    ]:
        path.write_text(body, encoding="utf-8")
        with pytest.raises(ConfigError, match=message.replace("(", r"\(").replace(")", r"\)").replace("*", r"\*")):
            load_yaml(path)


def test_an_index_round_trips_through_its_columns_and_refuses_damaged_ones(tmp_path: Path) -> None:
    spec = _spec(11)[:500]
    _write(tmp_path / "big.yaml", spec)
    index = build_index(load_calendar(tmp_path / "big.yaml"), 2026, 2027)
    data = json.loads(json.dumps(index.columns()))
    again = CalendarIndex.from_columns(data, tz=index.tz)
    assert again.periods == index.periods
    fresh = CalendarIndex.from_columns(json.loads(json.dumps(index.columns())), tz=index.tz)
    for selector in (Selector.of(kind="blackout"), Selector.of(tag="peak"), Selector.of(name="oktoberfest")):
        assert fresh.union(selector) == index.union(selector)
        assert fresh.select(selector) == index.select(selector)
        at = index.lo + 200 * 86400
        assert fresh.next_start(selector, at) == index.next_start(selector, at)
        assert fresh.overlapping(at, at + 30 * 86400, selector) == index.overlapping(at, at + 30 * 86400, selector)
    assert fresh.active_at(index.lo + 7) == index.active_at(index.lo + 7)

    def damaged(change: Any) -> dict[str, Any]:
        copy: dict[str, Any] = json.loads(json.dumps(index.columns()))
        change(copy)
        return copy

    def first(c: dict[str, Any], field: int) -> list[Any]:
        """Where row 0's value of a field is: a column of each row's value, or its first run."""
        column = c["rows"]["columns"][field]
        return column["each"] if "each" in column else column["runs"][0]

    for bad in [
        damaged(lambda c: c["start"].reverse()),
        damaged(lambda c: c["row"].__setitem__(0, c["rows"]["count"])),
        damaged(lambda c: c["end"].pop()),
        damaged(lambda c: c["start"].__setitem__(0, "0")),
        damaged(lambda c: c["end"].__setitem__(0, c["start"][0] - 1)),
        damaged(lambda c: first(c, 4).__setitem__(0, "yes")),
        damaged(lambda c: first(c, 0).__setitem__(0, 7)),
        damaged(lambda c: c["rows"]["columns"][2]["runs"][0].__setitem__(1, 0)),
        damaged(lambda c: c["rows"]["columns"][2]["runs"][0].__setitem__(1, 2)),
        damaged(lambda c: c["rows"]["columns"][0]["each"].pop()),
        damaged(lambda c: c["rows"]["columns"].pop()),
        damaged(lambda c: c["rows"].__setitem__("count", 1)),
        damaged(lambda c: c["row_fields"].reverse()),
        damaged(lambda c: c.pop("hi")),
    ]:
        with pytest.raises((ValueError, TypeError, KeyError)):
            CalendarIndex.from_columns(bad, tz=index.tz)
