"""The calendar language and its expansion: real dates, DST, year ends, leap days, holidays."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import holidays
import pytest

from seasongate._calendar import Selector, build_index, load_calendar
from seasongate._errors import HorizonError
from seasongate._time import from_ts
from tests.calhelp import calendar_from, local_span, occurrences
from tests.conftest import CALENDARS


@pytest.fixture(scope="module")
def de_by():  # type: ignore[no-untyped-def]
    return load_calendar(CALENDARS / "de-by.yaml")


@pytest.fixture(scope="module")
def ch_zh():  # type: ignore[no-untyped-def]
    return load_calendar(CALENDARS / "ch-zh.yaml")


@pytest.mark.parametrize(
    ("year", "first", "last"),
    [
        (2001, date(2001, 9, 22), date(2001, 10, 7)),
        (2010, date(2010, 9, 18), date(2010, 10, 4)),  # the 200th: one day longer
        (2023, date(2023, 9, 16), date(2023, 10, 3)),  # ends on German Unity Day
        (2024, date(2024, 9, 21), date(2024, 10, 6)),
        (2026, date(2026, 9, 19), date(2026, 10, 4)),
    ],
)
def test_oktoberfest_reproduces_the_real_dates(de_by, year: int, first: date, last: date) -> None:  # type: ignore[no-untyped-def]
    assert occurrences(de_by, "oktoberfest", year) == [(first, last)]


@pytest.mark.parametrize("year", [2020, 2021])
def test_oktoberfest_cancelled_years_have_no_festival_and_no_preparation(de_by, year: int) -> None:  # type: ignore[no-untyped-def]
    assert occurrences(de_by, "oktoberfest", year) == []
    assert occurrences(de_by, "oktoberfest-preparation", year) == []


def test_relative_periods_follow_their_reference(de_by) -> None:  # type: ignore[no-untyped-def]
    # 45 days before 19 September 2026, and 14 days after 4 October 2026.
    assert occurrences(de_by, "oktoberfest-preparation", 2026) == [(date(2026, 8, 5), date(2026, 9, 18))]
    assert occurrences(de_by, "oktoberfest-optimization", 2026) == [(date(2026, 10, 5), date(2026, 10, 18))]
    assert occurrences(de_by, "spargel-optimization", 2026) == [(date(2026, 6, 25), date(2026, 7, 8))]


def test_christmas_peak_crosses_the_year_end(de_by) -> None:  # type: ignore[no-untyped-def]
    index = build_index(de_by, 2027, 2027)
    active = {p.name for p in index.active_at(int(from_ts(0).replace(year=2027, month=1, day=3).timestamp()))}
    assert "christmas-peak" in active  # the 2026 occurrence reaches into January 2027
    assert occurrences(de_by, "christmas-peak", 2026) == [(date(2026, 12, 1), date(2027, 1, 6))]


def test_bavarian_holidays_equal_the_holidays_package(de_by) -> None:  # type: ignore[no-untyped-def]
    index = build_index(de_by, 2026, 2027)
    ours = {
        (from_ts(p.start, de_by.tz).date(), p.name)
        for p in index.select(Selector.of(tag="holiday"))
        if from_ts(p.start, de_by.tz).year in (2026, 2027)
    }
    theirs = holidays.country_holidays(
        "DE", subdiv="BY", categories=("public", "catholic"), years=[2026, 2027], language="de"
    )
    expected = {(day, name) for day in theirs for name in theirs.get_list(day)}
    assert ours == expected
    assert (date(2026, 8, 15), "Mariä Himmelfahrt") in ours  # catholic category


def test_zurich_holidays_equal_the_holidays_package(ch_zh) -> None:  # type: ignore[no-untyped-def]
    index = build_index(ch_zh, 2026, 2026)
    ours = {(from_ts(p.start, ch_zh.tz).date(), p.name) for p in index.select(Selector.of(tag="holiday"))
            if from_ts(p.start, ch_zh.tz).year == 2026}  # fmt: skip
    theirs = holidays.country_holidays("CH", subdiv="ZH", years=2026, language="de")
    assert ours == {(day, name) for day in theirs for name in theirs.get_list(day)}
    assert occurrences(ch_zh, "oktoberfest", 2026) == []
    assert occurrences(ch_zh, "spargelsaison", 2026) == [(date(2026, 4, 15), date(2026, 6, 24))]


WINDOW = """
    name: w
    timezone: {tz}
    periods:
      - name: night
        kind: maintenance
        weekly: {{days: [saturday], start: "22:00", end: "04:00"}}
"""


@pytest.mark.parametrize("tz", ["Europe/Berlin", "Europe/Zurich"])
def test_overnight_window_on_dst_nights(tmp_path: Path, tz: str) -> None:
    cal = calendar_from(tmp_path, WINDOW.format(tz=tz))
    index = build_index(cal, 2026, 2026)
    by_day = {from_ts(p.start, cal.tz).date(): p for p in index.select(Selector.of(name="night"))}
    spring = by_day[date(2026, 3, 28)]  # clocks go forward that night
    autumn = by_day[date(2026, 10, 24)]  # clocks go back that night
    normal = by_day[date(2026, 6, 6)]
    assert (spring.end - spring.start) == 5 * 3600
    assert (autumn.end - autumn.start) == 7 * 3600
    assert (normal.end - normal.start) == 6 * 3600
    assert local_span(autumn, cal) == ("2026-10-24 22:00+0200", "2026-10-25 04:00+0100")


def test_window_starting_at_a_nonexistent_time_begins_at_the_jump(tmp_path: Path) -> None:
    cal = calendar_from(
        tmp_path,
        """
        name: x
        timezone: Europe/Berlin
        periods:
          - name: early
            kind: maintenance
            daily: {start: "02:30", duration: 1h}
    """,
    )
    index = build_index(cal, 2026, 2026)
    night = next(
        p for p in index.select(Selector.of(name="early")) if from_ts(p.start, cal.tz).date() == date(2026, 3, 29)
    )
    assert local_span(night, cal) == ("2026-03-29 03:00+0200", "2026-03-29 04:00+0200")


def test_leap_day_and_february_end(tmp_path: Path) -> None:
    cal = calendar_from(
        tmp_path,
        """
        name: leap
        timezone: Europe/Berlin
        periods:
          - name: month-end
            kind: optimization
            start: "02-29"
            end: "03-01"
    """,
    )
    assert occurrences(cal, "month-end", 2028) == [(date(2028, 2, 29), date(2028, 3, 1))]
    assert occurrences(cal, "month-end", 2027) == [(date(2027, 2, 28), date(2027, 3, 1))]


def test_easter_rrule_one_off_and_timed_periods(tmp_path: Path) -> None:
    cal = calendar_from(
        tmp_path,
        """
        name: mix
        timezone: Europe/Berlin
        periods:
          - name: corpus-christi
            kind: blackout
            start: {easter: 60}
            end: {easter: 60}
          - name: release-train
            kind: maintenance
            rrule: "FREQ=MONTHLY;BYDAY=1TU"
            time: "20:00"
            duration: 3h
          - name: inventory
            kind: blackout
            start: 2027-03-01
            end: 2027-03-14
          - name: cutover
            kind: maintenance
            start: 2026-12-31
            end: 2027-01-01
            start_time: "23:00"
            end_time: "01:30"
    """,
    )
    assert occurrences(cal, "corpus-christi", 2026) == [(date(2026, 6, 4), date(2026, 6, 4))]
    index = build_index(cal, 2026, 2027)
    trains = [from_ts(p.start, cal.tz) for p in index.select(Selector.of(name="release-train"))]
    assert trains[0].isoformat() == "2026-01-06T20:00:00+01:00"  # first Tuesday of 2026
    assert all(t.weekday() == 1 and t.day <= 7 and t.hour == 20 for t in trains)
    assert occurrences(cal, "inventory", 2027) == [(date(2027, 3, 1), date(2027, 3, 14))]
    assert occurrences(cal, "inventory", 2026) == []
    (cutover,) = index.select(Selector.of(name="cutover"))
    assert local_span(cutover, cal) == ("2026-12-31 23:00+0100", "2027-01-01 01:30+0100")


def test_extends_replaces_a_period_of_the_same_name(tmp_path: Path) -> None:
    (tmp_path / "base.yaml").write_text(
        "name: base\ntimezone: Europe/Berlin\nperiods:\n"
        "  - {name: spargelsaison, kind: blackout, start: '04-15', end: '06-24'}\n",
        encoding="utf-8",
    )
    cal = calendar_from(
        tmp_path,
        """
        name: early-spring
        extends: [base.yaml]
        periods:
          - name: spargelsaison
            kind: blackout
            start: "04-15"
            end: "06-24"
            exceptions:
              2027: {start: 2027-04-08}
    """,
    )
    assert cal.timezone == "Europe/Berlin"  # inherited
    assert occurrences(cal, "spargelsaison", 2027) == [(date(2027, 4, 8), date(2027, 6, 24))]
    assert occurrences(cal, "spargelsaison", 2026) == [(date(2026, 4, 15), date(2026, 6, 24))]


def test_outside_the_supported_years_is_an_error(de_by) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(HorizonError, match="outside 1990-2100"):
        de_by.expand(2101, 2102)
    with pytest.raises(HorizonError, match="holidays of DE are known for 1991"):
        de_by.expand(1990, 1990)  # holidays would silently return nothing
    index = build_index(de_by, 2026, 2026)
    with pytest.raises(HorizonError, match="outside the expanded range"):
        index.active_at(0)


def test_index_queries(de_by) -> None:  # type: ignore[no-untyped-def]
    index = build_index(de_by, 2026, 2026)
    at = int(from_ts(0).replace(year=2026, month=9, day=25, hour=8).timestamp())
    names = {p.name for p in index.active_at(at)}
    assert names == {"oktoberfest"}
    nxt = index.next_start(Selector.of(kind="blackout"), at)
    assert nxt is not None and nxt.name == "Tag der Deutschen Einheit"
    (fest,) = index.overlapping(at, at + 1, Selector.of(name="oktoberfest"))
    assert from_ts(fest.end, de_by.tz).isoformat() == "2026-10-05T00:00:00+02:00"
    union = index.union(Selector.of(kind="blackout"))
    span = union.containing(at)
    assert span is not None and from_ts(span[1], de_by.tz).date() == date(2026, 10, 5)
