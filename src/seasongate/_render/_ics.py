"""iCalendar (RFC 5545) feeds: calendar periods and allowed start windows.

Stable UIDs and a fixed DTSTAMP: the same input gives the same bytes, so a subscribed
calendar (Outlook, Google Calendar) sees no churn and a feed URL can be cached.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Sequence
from datetime import UTC, date, datetime, timedelta
from typing import TYPE_CHECKING, Any
from zoneinfo import ZoneInfo

from seasongate._time import from_ts

if TYPE_CHECKING:
    from seasongate._calendar import Calendar, Period

_STAMP = datetime(2000, 1, 1, tzinfo=UTC)  # fixed: the feed must be byte-identical for the same input


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


def periods_ics(periods: Sequence[Period], calendars: Sequence[Calendar], start: date, end: date) -> bytes:
    """The periods as events: all-day periods as DATE values (exclusive end), timed ones
    with TZID and a VTIMEZONE."""
    import icalendar

    zones = {c.name: c.tz for c in calendars}
    cal = _calendar("seasongate: " + ", ".join(c.name for c in calendars), (c.timezone for c in calendars), start, end)
    for p in periods:
        tz = zones.get(p.calendar, UTC)
        event = icalendar.Event()
        event.add("uid", _uid(p.calendar, p.name, p.start, p.end))
        event.add("dtstamp", _STAMP)
        event.add("summary", f"{p.name} ({p.kind})")
        if p.all_day:
            event.add("dtstart", from_ts(p.start, tz).date())
            event.add("dtend", from_ts(p.end, tz).date())
        else:
            event.add("dtstart", from_ts(p.start, tz))
            event.add("dtend", from_ts(p.end, tz))
        if p.description:
            event.add("description", p.description)
        event.add("categories", [p.kind, *p.tags])
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


__all__ = ["periods_ics", "slots_ics"]
