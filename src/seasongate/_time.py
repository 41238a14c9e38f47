"""Time helpers: durations, instants and the local-time-to-UTC rules.

Internally an instant is an ``int`` of seconds since the Unix epoch (UTC): comparisons and
binary searches on ints are fast and cannot mix up wall clocks. Aware ``datetime`` objects
are used at the edges only. Nothing here reads the clock.
"""

from __future__ import annotations

import re
from datetime import UTC, date, datetime, time, timedelta, timezone, tzinfo
from functools import lru_cache
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from seasongate._errors import HorizonError, InputError

EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_EPOCH_NAIVE = datetime(1970, 1, 1)  # noqa: DTZ001 - wall-clock arithmetic only
_SECOND = timedelta(seconds=1)

_DURATION_RE = re.compile(
    r"^\s*(?:(?P<d>\d+)\s*d)?\s*(?:(?P<h>\d+)\s*h)?\s*(?:(?P<m>\d+)\s*m(?:in)?)?\s*(?:(?P<s>\d+)\s*s)?\s*$",
    re.ASCII,
)
MAX_RUN = 7 * 86400
"""The longest duration a migration (or any duration option) may state: seven days."""


def parse_duration(text: str | int, *, maximum: int | None = MAX_RUN) -> int:
    """Parse ``"30s"``, ``"20m"``, ``"4h"``, ``"1h30m"``, ``"2d"`` into seconds.

    The one rule for every duration option, header and policy field: a number needs a unit
    (a bare ``20`` is an error: minutes or seconds would be a guess), and the duration is
    more than zero and at most ``maximum`` seconds (seven days unless the caller says; None
    when the caller bounds it itself, as a calendar period does).
    """
    if isinstance(text, bool):
        raise InputError(f"invalid duration {text!r}")
    raw = str(text).strip()
    if isinstance(text, int) or (raw.isascii() and raw.isdigit()):
        example = f"{raw}m or {raw}s" if raw.strip("0") else "15m"  # "0m" would be refused next
        raise InputError(f"invalid duration {raw!r}: a number needs a unit, e.g. {example}")
    match = _DURATION_RE.match(raw) if len(raw) <= 40 else None
    if not raw or not match or not any(match.groupdict().values()):
        shown = raw if len(raw) <= 40 else raw[:37] + "..."
        raise InputError(f"invalid duration {shown!r}: use a number with a unit, e.g. 30s, 20m, 4h, 1h30m, 2d")
    parts = {k: int(v) if v else 0 for k, v in match.groupdict().items()}
    seconds = parts["d"] * 86400 + parts["h"] * 3600 + parts["m"] * 60 + parts["s"]
    if seconds <= 0:
        raise InputError(f"invalid duration {raw!r}: must be longer than zero")
    if maximum is not None and seconds > maximum:
        raise InputError(f"invalid duration {raw!r}: at most {format_duration(maximum)}")
    return seconds


def format_duration(seconds: int) -> str:
    """Render seconds compactly: ``5400 -> '1h30m'``, ``90000 -> '1d1h'``."""
    if seconds == 0:
        return "0m"
    sign = "-" if seconds < 0 else ""
    seconds = abs(seconds)
    days, rest = divmod(seconds, 86400)
    hours, rest = divmod(rest, 3600)
    minutes, secs = divmod(rest, 60)
    out = ""
    if days:
        out += f"{days}d"
    if hours:
        out += f"{hours}h"
    if minutes:
        out += f"{minutes}m"
    if secs:
        out += f"{secs}s"
    return sign + out


@lru_cache(maxsize=64)
def zone(name: str) -> ZoneInfo:
    """The IANA time zone ``name``; raises :class:`InputError` for an unknown one."""
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError) as exc:
        raise InputError(f"unknown time zone {name!r} (use an IANA name such as Europe/Berlin)") from exc


def to_ts(moment: datetime) -> int:
    """Seconds since the epoch of an aware datetime (fractions of a second are dropped)."""
    if moment.tzinfo is None or moment.utcoffset() is None:
        raise InputError(f"naive datetime {moment.isoformat()} where an aware one is needed")
    return int((moment - EPOCH) // timedelta(seconds=1))


def from_ts(ts: int, tz: tzinfo = UTC) -> datetime:
    """The aware datetime of epoch seconds ``ts`` in zone ``tz``; an instant beyond the dates
    Python represents (near the year 9999) is a :class:`HorizonError`, not a traceback."""
    try:
        return (EPOCH + timedelta(seconds=ts)).astimezone(tz)
    except OverflowError:
        raise HorizonError("an instant near or past the year 9999 is beyond the years calendars answer") from None


def iso(ts: int, tz: tzinfo = UTC) -> str:
    """ISO 8601 with the UTC offset, to the second."""
    return from_ts(ts, tz).isoformat(timespec="seconds")


@lru_cache(maxsize=1024)
def _folds(at: time) -> tuple[time, time]:
    return at.replace(fold=0), at.replace(fold=1)


def local_to_ts(day: date, at: time, tz: ZoneInfo) -> int:
    """The instant of wall-clock ``day at`` in ``tz``.

    The rules for the two DST oddities: a wall time that does not exist (02:30 on the
    spring-forward night) is the instant the clocks jump (03:00 local); an ambiguous wall
    time (02:30 on the fall-back night) is its first occurrence.
    """
    first, second = _folds(at)
    naive = datetime.combine(day, first)
    # ZoneInfo reads the wall-clock fields (and fold) of a naive datetime: the fast path.
    early = tz.utcoffset(naive)
    late = tz.utcoffset(datetime.combine(day, second))
    assert early is not None and late is not None
    wall = (naive - _EPOCH_NAIVE) // _SECOND
    # zoneinfo reads a wall time in a gap or a fold with the offset from before the change
    # (fold=0) or after it (fold=1); the two agree everywhere else.
    if early >= late:  # ordinary, or ambiguous: the first occurrence
        return int(wall - early // _SECOND)
    # Nonexistent: the clocks jumped forward over it. Find the first instant with the new
    # offset, between the two readings.
    lo, hi = int(wall - late // _SECOND), int(wall - early // _SECOND)
    while lo < hi:
        mid = (lo + hi) // 2
        if from_ts(mid, tz).utcoffset() == late:
            hi = mid
        else:
            lo = mid + 1
    return lo


def local_midnight_ts(day: date, tz: ZoneInfo) -> int:
    """The instant a local calendar day begins."""
    return local_to_ts(day, time(0, 0), tz)


def parse_instant(text: str, tz: ZoneInfo | None = None) -> tuple[datetime, bool]:
    """Parse an ISO 8601 instant; returns ``(aware datetime, was_naive)``.

    ``Z`` and offsets are honoured. A naive time is read in ``tz`` (the territory's zone), and
    the caller should say so; a naive time the clocks skip or show twice (a DST change) is an
    :class:`InputError` asking for an offset.
    """
    raw = text.strip()
    try:
        parsed = datetime.fromisoformat(raw.replace("z", "Z"))
    except ValueError as exc:
        raise InputError(
            f"invalid time {text!r}: use ISO 8601, e.g. 2026-09-25T10:00+02:00 or 2026-09-25T08:00Z"
        ) from exc
    if parsed.tzinfo is not None:
        try:
            return parsed.astimezone(UTC), False
        except OverflowError as exc:  # 9999-12-31T23:59-05:00 is past the end of datetime
            raise InputError(f"invalid time {text!r}: out of range") from exc
    if tz is None:
        raise InputError(f"time {text!r} has no UTC offset and there is no zone to read it in")
    _refuse_dst_oddity(text, parsed, tz)
    try:
        return from_ts(local_to_ts(parsed.date(), parsed.time(), tz), UTC), True
    except OverflowError as exc:
        raise InputError(f"invalid time {text!r}: out of range") from exc


def _refuse_dst_oddity(text: str, wall: datetime, tz: ZoneInfo) -> None:
    """A wall time the clocks skip or show twice names no single instant: a user who typed it
    must say which one (calendars read such times by fixed rules; an option is not guessed)."""
    try:
        early, late = tz.utcoffset(wall.replace(fold=0)), tz.utcoffset(wall.replace(fold=1))
    except OverflowError:
        return  # out of range: the conversion says so
    if early is None or late is None or early == late:
        return

    def stamp(offset: timedelta) -> str:
        return wall.replace(tzinfo=timezone(offset)).isoformat(timespec="minutes")
    if early < late:
        raise InputError(
            f"time {text!r} does not exist in {tz.key} (the clocks jump forward over it): "
            f"give a UTC offset, e.g. {stamp(early)}, or a time that exists"
        )
    raise InputError(
        f"time {text!r} happens twice in {tz.key} (the clocks go back): "
        f"give a UTC offset, {stamp(early)} (the first) or {stamp(late)} (the second)"
    )


def parse_date(text: str) -> date:
    """Parse ``YYYY-MM-DD``."""
    try:
        return date.fromisoformat(text.strip())
    except ValueError as exc:
        raise InputError(f"invalid date {text!r}: use YYYY-MM-DD") from exc


def parse_clock(text: str) -> time:
    """Parse a wall-clock time ``HH:MM`` (``24:00`` is not a time of day; use an end of 00:00)."""
    try:
        hour, minute = (int(x) for x in text.strip().split(":"))
        return time(hour, minute)
    except ValueError as exc:
        raise InputError(f"invalid time of day {text!r}: use HH:MM, e.g. 06:00") from exc
