"""iCalendar (RFC 5545) feeds: calendar periods (``windows --format ics``, the dashboard's
``/calendar/DE.ics``) and allowed start windows (``slots --format ics``).

Stable UIDs and a DTSTAMP derived from the data, never the clock: the same input gives the
same bytes, so a subscribed calendar (Outlook, Google Calendar) sees no churn.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Sequence
from datetime import UTC, date, datetime, timedelta
from typing import TYPE_CHECKING, Any, Protocol
from zoneinfo import ZoneInfo

from seasongate._time import from_ts

if TYPE_CHECKING:
    from seasongate._calendar import Calendar, Period


class PeriodFeed(Protocol):
    """What a calendar feed is made of (``seasongate.api.WindowsResult`` is one)."""

    @property
    def periods(self) -> Sequence[Period]: ...
    @property
    def calendars(self) -> Sequence[Calendar]: ...
    @property
    def start(self) -> date: ...
    @property
    def end(self) -> date: ...
    @property
    def territories(self) -> Sequence[str]: ...
    @property
    def several_territories(self) -> bool:
        """Whether the periods come from more than one territory (then each says which)."""


_STAMP = datetime(2000, 1, 1, tzinfo=UTC)  # not the clock: the feed must be byte-identical for the same input


def _uid(*parts: object) -> str:
    return hashlib.sha256("|".join(str(p) for p in parts).encode()).hexdigest()[:24] + "@seasongate"


def _calendar(name: str, zones: Iterable[str], start: date, end: date) -> Any:
    import icalendar

    cal = icalendar.Calendar()
    cal.add("prodid", "-//seasongate//seasonal calendar//EN")
    cal.add("version", "2.0")
    cal.add("calscale", "GREGORIAN")
    cal.add("x-wr-calname", name)
    first, last = start - timedelta(days=400), end + timedelta(days=400)
    for key in dict.fromkeys(zones):
        cal.add_component(icalendar.Timezone.from_tzid(key, first_date=first, last_date=last))
    return cal


def _ics_instant(ts: int, tz: Any) -> datetime:
    """Local time with its zone, or UTC where the local time is ambiguous: RFC 5545 reads a
    local time in the repeated hour of the autumn change as its first occurrence."""
    local = from_ts(ts, tz)
    if local.replace(fold=1 - local.fold).utcoffset() != local.utcoffset():
        return from_ts(ts, UTC)
    return local


def periods_ics(result: PeriodFeed) -> bytes:
    """RFC 5545: all-day periods as DATE values (exclusive end), timed ones with TZID and a
    VTIMEZONE (UTC in the repeated hour of the autumn change); the same input gives the same
    bytes.

    UID names the territory, calendar, period and its occurrence (the year of a yearly period,
    else its local start day), not its times: a moved period keeps its UID, and its SEQUENCE and
    DTSTAMP, derived from its times rather than from the clock, change, so a subscribed client
    replaces it.
    """
    import icalendar

    names = ", ".join(dict.fromkeys(c.name for c in result.calendars))
    cal = _calendar("seasongate: " + names, (c.timezone for c in result.calendars), result.start, result.end)
    annual = {c.name: c.annual_names() for c in result.calendars}
    zones_by_calendar = {c.name: c.tz for c in result.calendars}
    several = result.several_territories
    for p in result.periods:
        tz = zones_by_calendar.get(p.calendar, UTC)
        local_start = from_ts(p.start, tz)
        occurrence = str(local_start.year) if p.name in annual.get(p.calendar, ()) else local_start.date().isoformat()
        identity = f"{p.territory or ''}|{p.calendar}|{p.name}|{occurrence}"
        times = hashlib.sha256(f"{identity}|{p.start}|{p.end}".encode()).digest()
        event = icalendar.Event()
        event.add("uid", f"{hashlib.sha256(identity.encode()).hexdigest()[:24]}@seasongate")
        # Deterministic, and different whenever the period's times change.
        event.add("dtstamp", _STAMP + timedelta(seconds=int.from_bytes(times[:3])))
        event.add("sequence", int.from_bytes(times[3:5]))
        where = f", {p.territory}" if several and p.territory else ""
        event.add("summary", f"{p.name} ({p.kind}{where})")
        if p.all_day:
            event.add("dtstart", local_start.date())
            event.add("dtend", from_ts(p.end, tz).date())
        else:
            event.add("dtstart", _ics_instant(p.start, tz))
            event.add("dtend", _ics_instant(p.end, tz))
        if p.description:
            event.add("description", p.description)
        event.add("categories", [p.kind, *p.tags, *([p.territory] if p.territory else [])])
        event.add("transp", "TRANSPARENT")
        cal.add_component(event)
    data: bytes = cal.to_ical()
    return data


def slots_ics(
    spans: Sequence[tuple[int, int, int]], *, tz: ZoneInfo, title: str, scope: str, start: int, end: int
) -> bytes:
    """Allowed start windows as events: each event runs from the earliest to the latest
    allowed start (``spans`` holds ``(earliest, latest, finish_by)`` epoch seconds); the
    description says by when a run started at the latest is finished."""
    import icalendar

    cal = _calendar(f"seasongate: {title}", [tz.key], from_ts(start, tz).date(), from_ts(end, tz).date())
    for earliest, latest, finish_by in spans:
        event = icalendar.Event()
        event.add("uid", _uid(scope, earliest, latest))
        event.add("dtstamp", _STAMP)
        event.add("summary", f"may start: {title}")
        event.add("dtstart", from_ts(earliest, tz))
        event.add("dtend", from_ts(max(latest, earliest + 60), tz))
        event.add(
            "description",
            f"Any start from {from_ts(earliest, tz):%Y-%m-%d %H:%M %Z} to {from_ts(latest, tz):%Y-%m-%d %H:%M %Z} "
            f"is allowed; a run started last is finished by {from_ts(finish_by, tz):%Y-%m-%d %H:%M %Z}.",
        )
        event.add("categories", ["allowed-start"])
        event.add("transp", "TRANSPARENT")
        cal.add_component(event)
    data: bytes = cal.to_ical()
    return data


__all__ = ["PeriodFeed", "periods_ics", "slots_ics"]
