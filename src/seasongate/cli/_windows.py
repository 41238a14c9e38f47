"""CLI: ``windows`` and its formats (table, JSON, CSV, iCalendar, the year at a glance)."""

from __future__ import annotations

import csv
import io
import json
import sys
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any

import click

from seasongate._time import format_duration, from_ts, iso
from seasongate._vocabulary import PERIOD_KINDS
from seasongate.cli import _feeds

if TYPE_CHECKING:
    from seasongate.api import Period, WindowsResult


@click.command()
@click.option(
    "--calendar", "calendars", multiple=True, type=click.Path(dir_okay=False), help="Calendar file (repeatable)."
)
@click.option(
    "--territory",
    "-t",
    "territories",
    multiple=True,
    help="Territory whose calendar to show, from the project's policy (repeatable: listed side by side). Default DE.",
)
@click.option("--from", "start", help="First day (YYYY-MM-DD; default today).")
@click.option("--to", "end", help="Last day, inclusive (YYYY-MM-DD).")
@click.option("--days", type=int, help="Number of days (default 365).")
@click.option("--kind", "kinds", multiple=True, help=f"Only these kinds (repeatable): {', '.join(PERIOD_KINDS)}.")
@click.option(
    "--format", "fmt", type=click.Choice(["table", "json", "csv", "ics", "html"]), default="table", show_default=True
)
@_feeds.year_options
def windows(calendars: tuple[str, ...], territories: tuple[str, ...], start: str | None, end: str | None,
            days: int | None, kinds: tuple[str, ...], fmt: str, **year: Any) -> None:  # fmt: skip
    """The periods of a calendar: blackouts, preparation, maintenance and optimization windows.

    \b
    Examples:
      seasongate windows --territory DE --days 365
      seasongate windows -t DE -t CH --from 2026-12-01 --days 31
      seasongate windows --calendar calendars/ch-zh.yaml --kind blackout --format json
      seasongate windows -t DE --from 2027-01-01 --to 2027-12-31 --format ics > seasons.ics
      seasongate windows --format html --year 2027 -t DE -t CH -m V226 --duration 45m --risk high > 2027.html
    """
    from seasongate import api
    from seasongate._errors import InputError
    from seasongate._time import parse_date

    _feeds.year_only_check(fmt, year)
    if fmt == "html":
        _feeds.year_html(territory=territories, calendars=calendars, start=start, end=end, days=days, options=year,
                         today=datetime.now(UTC))  # fmt: skip
        return
    if calendars and territories:
        raise InputError("give --calendar or --territory, not both")
    if end is not None and days is not None:
        raise InputError("give --to or --days, not both")
    first = parse_date(start) if start else datetime.now(UTC).date()
    if days is not None and days < 1:
        raise InputError(f"--days must be at least 1, got {days}")
    try:
        last = parse_date(end) + timedelta(days=1) if end is not None else first + timedelta(days=days or 365)
    except OverflowError:
        raise InputError("the range ends after the year 9999; calendars answer 1990-2100") from None
    result = api.windows(start=first, end=last, calendars=calendars, territories=territories, kinds=kinds)
    if fmt == "json":
        click.echo(windows_json(result))
    elif fmt == "csv":
        click.echo(windows_csv(result), nl=False)
    elif fmt == "ics":
        sys.stdout.buffer.write(windows_ics(result))
        sys.stdout.flush()
    else:
        click.echo(windows_table(result))


def _calendar_tz(result: WindowsResult, period: Period) -> Any:
    for cal in result.calendars:
        if cal.name == period.calendar:
            return cal.tz
    return UTC


def _end_display(period: Period, tz: Any) -> str:
    if period.all_day:
        return (from_ts(period.end, tz).date() - timedelta(days=1)).isoformat()
    return from_ts(period.end, tz).strftime("%Y-%m-%d %H:%M %Z")


def windows_table(result: WindowsResult) -> str:
    """One line per period; a territory column when several territories are listed."""
    from seasongate.cli._format import _table

    if not result.periods:
        return f"No periods between {result.start} and {result.end}."
    several = result.several_territories
    rows = [("start", "end", "duration", "kind", "name", "calendar", *(("territory",) if several else ()))]
    for p in result.periods:
        tz = _calendar_tz(result, p)
        start = from_ts(p.start, tz).strftime("%Y-%m-%d" if p.all_day else "%Y-%m-%d %H:%M %Z")
        length = p.end - p.start
        dur = f"{round(length / 86400)}d" if p.all_day else format_duration(length)
        territory = (p.territory or "-",) if several else ()
        rows.append((start, _end_display(p, tz), dur, p.kind, p.name, p.calendar, *territory))
    return _table(rows)


def _window_dict(result: WindowsResult, p: Period) -> dict[str, Any]:
    tz = _calendar_tz(result, p)
    return {
        "name": p.name,
        "kind": p.kind,
        "calendar": p.calendar,
        "territory": p.territory,
        "start": iso(p.start, tz),
        "end": iso(p.end, tz),
        "all_day": p.all_day,
        "tags": list(p.tags),
        "description": p.description,
        "source": str(p.source),
    }


def windows_json(result: WindowsResult) -> str:
    """A JSON array of periods (ISO 8601 with the local offset, end exclusive)."""
    return json.dumps([_window_dict(result, p) for p in result.periods], indent=2, ensure_ascii=False)


def windows_csv(result: WindowsResult) -> str:
    """The JSON fields except the description, tags separated by spaces."""
    buffer = io.StringIO()
    fields = ["name", "kind", "calendar", "territory", "start", "end", "all_day", "tags", "source"]
    writer = csv.DictWriter(buffer, fieldnames=fields, extrasaction="ignore", lineterminator="\n")
    writer.writeheader()
    for p in result.periods:
        row = _window_dict(result, p)
        row["tags"] = " ".join(row["tags"])
        writer.writerow(row)
    return buffer.getvalue()


def windows_ics(result: WindowsResult) -> bytes:
    """RFC 5545 (see :func:`seasongate._render.periods_ics`): the same input gives the same bytes."""
    from seasongate._render import periods_ics

    return periods_ics(result)


COMMANDS = [windows]
