"""CLI: ``check``, ``explain``, ``slots``, ``validate``.

Each command parses options, calls one api function, formats, and picks the exit code.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Callable
from dataclasses import replace
from datetime import UTC, datetime
from typing import Any

import click

EXIT_OK, EXIT_DENIED, EXIT_ERROR = 0, 1, 2


def _now() -> datetime:
    return datetime.now(UTC)


def _request_options(func: Callable[..., Any]) -> Callable[..., Any]:
    options = [
        click.option(
            "--policy",
            type=click.Path(dir_okay=False),
            help="Policy file (default: the one in policies/ covering --env).",
        ),
        click.option("--env", "environment", required=True, help="Environment, e.g. production."),
        click.option("--territory", "-t", required=True, help="Territory, e.g. DE or CH."),
        click.option(
            "--migration",
            "-m",
            help="Version (V226), file name or path of the migration; omit for 'may anything run now'.",
        ),
        click.option(
            "--risk",
            type=click.Choice(["low", "medium", "high"]),
            help="Risk (default: the file header, else the policy default).",
        ),
        click.option(
            "--duration", help="Expected duration, e.g. 20m (default: the file header, else the policy default)."
        ),
        click.option("--rollback", is_flag=True, help="Ask for running the undo script instead."),
        click.option(
            "--store", envvar="SEASONGATE_STORE", help="Override/audit store URL (sqlite:///path or postgresql://...)."
        ),
        click.option("--no-store", is_flag=True, help="Neither read overrides nor write the audit trail."),
    ]
    for option in reversed(options):
        func = option(func)
    return func


def _instant(
    text: str | None, environment: str, territory: str, policy: str | None
) -> tuple[Any, datetime, str | None]:
    from seasongate._time import parse_instant
    from seasongate.api import open_policy

    loaded = open_policy(policy, environment)
    if text is None:
        return loaded, _now(), None
    tz = loaded.zone(territory)
    moment, was_naive = parse_instant(text, tz)
    note = f"--at {text} has no UTC offset; read as {tz.key} local time" if was_naive else None
    return loaded, moment, note


@click.command()
@_request_options
@click.option(
    "--at", help="Evaluate at this instant (ISO 8601; default now). A time without offset is local to the territory."
)
@click.option("--format", "fmt", type=click.Choice(["text", "json", "github"]), default="text", show_default=True)
def check(environment: str, territory: str, policy: str | None, migration: str | None, risk: str | None,
          duration: str | None, at: str | None, fmt: str, store: str | None,
          *, rollback: bool, no_store: bool) -> None:  # fmt: skip
    """May this migration run now? Exit 0 allowed, 1 denied, 2 error.

    \b
    Examples:
      seasongate check --env production -t DE -m V226
      seasongate check --env production -t DE -m migrations/V225__communication_core.sql --format json
      seasongate check --env production -t CH --duration 45m --at 2026-06-01T22:00+02:00
    """
    from seasongate import api
    from seasongate.cli import _format

    loaded, moment, note = _instant(at, environment, territory, policy)
    decision = api.check(
        environment=environment, territory=territory, at=moment, migration=migration, risk=risk,
        duration=duration, operation="rollback" if rollback else "apply", policy=loaded,
        store=store, use_store=not no_store, recorded_at=_now(),
    )  # fmt: skip
    if note:
        decision = replace(decision, notes=(*decision.notes, note))
    if fmt == "json":
        click.echo(_format.decision_json(decision))
    elif fmt == "github":
        click.echo(_format.decision_github(decision))
        summary = os.environ.get("GITHUB_STEP_SUMMARY")
        if summary:
            with open(summary, "a", encoding="utf-8") as fh:
                fh.write(_format.decision_markdown(decision))
    else:
        click.echo(_format.decision_text(decision))
    if note and fmt == "github":
        click.echo(f"seasongate: note: {note}", err=True)
    sys.exit(EXIT_OK if decision.allowed else EXIT_DENIED)


@click.command()
@_request_options
@click.option("--at", help="Evaluate at this instant (ISO 8601; default now).")
@click.option("--format", "fmt", type=click.Choice(["text", "json"]), default="text", show_default=True)
def explain(environment: str, territory: str, policy: str | None, migration: str | None, risk: str | None,
            duration: str | None, at: str | None, fmt: str, store: str | None,
          *, rollback: bool, no_store: bool) -> None:  # fmt: skip
    """Every rule, whether it matched and why, in plain language.

    \b
    Example:
      seasongate explain --env production -t DE -m V226 --at 2026-09-25T10:00+02:00
    """
    from seasongate import api
    from seasongate.cli import _format

    loaded, moment, note = _instant(at, environment, territory, policy)
    decision, checks = api.explain(
        environment=environment, territory=territory, at=moment, migration=migration, risk=risk,
        duration=duration, operation="rollback" if rollback else "apply", policy=loaded,
        store=store, use_store=not no_store,
    )  # fmt: skip
    if note:
        click.echo(f"note: {note}", err=True)
    click.echo(_format.explain_json(decision, checks) if fmt == "json" else _format.explain_text(decision, checks))
    sys.exit(EXIT_OK if decision.allowed else EXIT_DENIED)


@click.command()
@click.option("--policy", type=click.Path(dir_okay=False), help="Policy file (default: the one covering --env).")
@click.option("--env", "environment", required=True, help="Environment, e.g. production.")
@click.option("--territory", "-t", required=True, help="Territory, e.g. DE.")
@click.option("--duration", required=True, help="How long the migration runs, e.g. 45m.")
@click.option("--risk", type=click.Choice(["low", "medium", "high"]))
@click.option("--migration", "-m", help="Version or file of the migration (its class matters).")
@click.option("--from", "start", help="Search from this instant (ISO 8601; default now).")
@click.option("--days", type=int, default=60, show_default=True, help="How far to search.")
@click.option("--limit", type=int, default=10, show_default=True, help="How many slots to list.")
@click.option("--store", envvar="SEASONGATE_STORE", help="Store URL (approved overrides open slots).")
@click.option("--no-store", is_flag=True, help="Ignore the store.")
@click.option("--format", "fmt", type=click.Choice(["table", "json"]), default="table", show_default=True)
def slots(policy: str | None, environment: str, territory: str, duration: str, risk: str | None,
          migration: str | None, start: str | None, days: int, limit: int, store: str | None, fmt: str,
          *, no_store: bool) -> None:  # fmt: skip
    """When can I run this? The next spans of allowed start times, each long enough to finish.

    \b
    Example:
      seasongate slots --env production -t DE --duration 45m --risk high --days 90
    """
    from seasongate import api
    from seasongate.cli import _format

    loaded, moment, note = _instant(start, environment, territory, policy)
    result = api.slots(
        environment=environment, territory=territory, duration=duration, start=moment, days=days,
        limit=limit, migration=migration, risk=risk, policy=loaded, store=store, use_store=not no_store,
    )  # fmt: skip
    if note:
        click.echo(f"note: {note}", err=True)
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

    moment = parse_instant(at, zone("UTC"))[0] if at else _now()
    report = api.validate(paths, at=moment)
    for problem in report.errors:
        click.echo(f"{problem.render()}", err=True)
    for problem in report.warnings:
        click.echo(f"{problem.render()} (warning)", err=True)
    if report.ok(strict=strict):
        click.echo(f"ok: {len(report.files)} file(s), {len(report.warnings)} warning(s)")
        sys.exit(EXIT_OK)
    sys.exit(EXIT_ERROR)


COMMANDS = [check, explain, slots, validate]
