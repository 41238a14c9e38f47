"""CLI: ``explain``, ``slots``, ``validate`` (``check`` and the request options: ``_check``).

Each command parses options, calls one api function, formats, and picks the exit code.
"""

from __future__ import annotations

import sys
from typing import TYPE_CHECKING

import click

from seasongate.cli import _feeds
from seasongate.cli._check import EXIT_DENIED, EXIT_ERROR, EXIT_OK, Where, instant_of, now, request_options

if TYPE_CHECKING:
    from seasongate.api import RequestSpec


@click.command()
@request_options()
@click.option("--at", help="Evaluate at this instant (ISO 8601; default now).")
@click.option("--format", "fmt", type=click.Choice(["text", "json"]), default="text", show_default=True)
def explain(spec: RequestSpec, where: Where, at: str | None, fmt: str) -> None:
    """Every rule, whether it matched and why, in plain language.

    \b
    Example:
      seasongate explain --env production -t DE -m V226 --at 2026-09-25T10:00+02:00
    """
    from seasongate import api
    from seasongate.cli import _format

    project = where.open(spec.environment)
    moment, note = instant_of(at, project, spec.territory)
    decision, checks = api.explain(spec, at=moment, project=project)
    if note:
        click.echo(f"note: {note}", err=True)
    click.echo(_format.explain_json(decision, checks) if fmt == "json" else _format.explain_text(decision, checks))
    sys.exit(EXIT_OK if decision.allowed else EXIT_DENIED)


@click.command()
@request_options(duration_required=True, rollback=False)
@click.option("--from", "start", help="Search from this instant (ISO 8601; default now).")
@click.option("--days", type=int, default=60, show_default=True, help="How far to search.")
@click.option("--limit", type=int, default=10, show_default=True, help="How many slots to list.")
@click.option("--format", "fmt", type=click.Choice(["table", "json", "ics", "csv"]), default="table", show_default=True)
def slots(spec: RequestSpec, where: Where, start: str | None, days: int, limit: int, fmt: str) -> None:
    """When can I run this? The next spans of allowed start times, each long enough to finish.

    \b
    Example:
      seasongate slots --env production -t DE --class production --duration 45m --risk high --days 90
    """
    from seasongate import api
    from seasongate.cli import _format

    project = where.open(spec.environment)
    moment, note = instant_of(start, project, spec.territory)
    result = api.slots(spec, start=moment, days=days, limit=limit, project=project)
    if note:
        click.echo(f"note: {note}", err=True)
    if fmt == "ics":
        sys.stdout.buffer.write(_feeds.slots_ics(result))
        sys.stdout.flush()
    elif fmt == "csv":
        click.echo(_feeds.slots_csv(result), nl=False)
    else:
        click.echo(_format.slots_json(result) if fmt == "json" else _format.slots_text(result))


@click.command()
@click.argument("paths", nargs=-1, type=click.Path())
@click.option("--strict", is_flag=True, help="Treat warnings as errors.")
@click.option("--at", help="Reference instant for the 'no occurrence in 5 years' check (default now).")
def validate(paths: tuple[str, ...], at: str | None, *, strict: bool) -> None:
    """Check calendar and policy files; each problem as path:line:column: field: message.

    \b
    Examples:
      seasongate validate
      seasongate validate calendars/de-by.yaml policies/production.yaml --strict
    """
    from seasongate import api
    from seasongate._time import parse_instant, zone

    moment = parse_instant(at, zone("UTC"))[0] if at else now()
    report = api.validate(paths, at=moment)
    for problem in report.errors:
        click.echo(f"{problem.render()}", err=True)
    for problem in report.warnings:
        click.echo(f"{problem.render()} (warning)", err=True)
    if report.ok(strict=strict):
        click.echo(f"ok: {len(report.files)} file(s), {len(report.warnings)} warning(s)")
        sys.exit(EXIT_OK)
    sys.exit(EXIT_ERROR)


COMMANDS = [explain, slots, validate]
