"""Durations, instants and the local-time rules on DST changes."""

from __future__ import annotations

import re
from datetime import date, datetime, time, timedelta

import pytest

from seasongate._errors import InputError
from seasongate._time import (
    format_duration,
    from_ts,
    local_to_ts,
    parse_duration,
    parse_instant,
    to_ts,
    zone,
)

BERLIN = zone("Europe/Berlin")
ZURICH = zone("Europe/Zurich")


@pytest.mark.parametrize(
    ("text", "seconds"),
    [("20m", 1200), ("4h", 14400), ("1h30m", 5400), ("2d", 172800), ("45s", 45), ("7d", 604800)],
)
def test_parse_duration(text: str | int, seconds: int) -> None:
    assert parse_duration(text) == seconds


@pytest.mark.parametrize("text", ["", "abc", "20x", "-5m", "1.5h", "m", "15", "0m", "0s", "8d", "7d1s"])
def test_parse_duration_refuses_garbage(text: str) -> None:
    with pytest.raises(InputError, match="invalid duration"):
        parse_duration(text)


def test_format_duration_round_trips() -> None:
    for seconds in (60, 1200, 5400, 90000, 3 * 86400):
        assert parse_duration(format_duration(seconds)) == seconds


@pytest.mark.parametrize("tz", [BERLIN, ZURICH], ids=["Berlin", "Zurich"])
def test_nonexistent_local_time_starts_when_clocks_jump(tz: object) -> None:
    # 29 March 2026, 02:30 does not exist: the clocks go from 02:00 to 03:00.
    ts = local_to_ts(date(2026, 3, 29), time(2, 30), tz)  # type: ignore[arg-type]
    moment = from_ts(ts, tz)  # type: ignore[arg-type]
    assert (moment.hour, moment.minute) == (3, 0)
    assert moment.utcoffset() == timedelta(hours=2)


@pytest.mark.parametrize("tz", [BERLIN, ZURICH], ids=["Berlin", "Zurich"])
def test_ambiguous_local_time_takes_first_occurrence(tz: object) -> None:
    # 25 October 2026, 02:30 happens twice; the first is still summer time (+02:00).
    ts = local_to_ts(date(2026, 10, 25), time(2, 30), tz)  # type: ignore[arg-type]
    assert from_ts(ts, tz).utcoffset() == timedelta(hours=2)  # type: ignore[arg-type]
    assert from_ts(ts).isoformat() == "2026-10-25T00:30:00+00:00"


def test_parse_instant_with_offset_and_z() -> None:
    a, naive_a = parse_instant("2026-09-25T10:00+02:00")
    b, naive_b = parse_instant("2026-09-25T08:00Z")
    assert to_ts(a) == to_ts(b)
    assert not naive_a and not naive_b


def test_parse_instant_naive_is_read_in_zone() -> None:
    moment, naive = parse_instant("2026-01-15T10:00", BERLIN)
    assert naive
    assert moment == datetime(2026, 1, 15, 9, 0, tzinfo=zone("UTC"))


def test_parse_instant_refuses_garbage() -> None:
    with pytest.raises(InputError, match="invalid time"):
        parse_instant("next tuesday", BERLIN)


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("2026-03-29T02:30", "does not exist in Europe/Berlin (the clocks jump forward over it)"),
        ("2026-10-25T02:30", "happens twice in Europe/Berlin (the clocks go back): give a UTC offset, "
         "2026-10-25T02:30+02:00 (the first) or 2026-10-25T02:30+01:00 (the second)"),
    ],
)  # fmt: skip
def test_parse_instant_refuses_a_local_time_the_clocks_skip_or_repeat(text: str, message: str) -> None:
    with pytest.raises(InputError, match=re.escape(message)):
        parse_instant(text, BERLIN)
    # With the offset it names one instant, and the hours around the change are ordinary.
    assert parse_instant(text + "+01:00", BERLIN)[0] == datetime.fromisoformat(text + "+01:00")
    assert parse_instant("2026-03-29T03:00", BERLIN)[0] == datetime.fromisoformat("2026-03-29T01:00Z")
