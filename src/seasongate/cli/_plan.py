"""CLI: ``check``, ``explain``, ``slots``, ``validate``.

Each command parses options, calls one api function, formats, and picks the exit code.
"""

from __future__ import annotations

import functools
import os
import sys
from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

import click

from seasongate._vocabulary import RISKS
from seasongate.cli import _feeds

if TYPE_CHECKING:
    from seasongate.api import Project, RequestSpec

EXIT_OK, EXIT_DENIED, EXIT_ERROR = 0, 1, 2


def _now() -> datetime:
    return datetime.now(UTC)


@dataclass(frozen=True)
class _Where:
    """Where the request is judged: the policy and store options, before the project opens."""

    policy: str | None
    store: str | None
    use_store: bool

    def open(self, environment: str) -> Project:
        from seasongate import api

        return api.open_project(environment, policy=self.policy, store=self.store, use_store=self.use_store)


def _request_options(*, duration_required: bool = False, rollback: bool = True) -> Callable[..., Any]:
    """The options that state a request and where it is judged; the command receives them
    as one :class:`RequestSpec` (``spec``) and one :class:`_Where` (``where``)."""
    options = [
        click.option("--policy", type=click.Path(dir_okay=False),
                     help="Policy file (default: the one in policies/ covering --env)."),
        click.option("--env", "environment", required=True, help="Environment, e.g. production."),
        click.option("--territory", "-t", required=True, help="Territory, e.g. DE or CH."),
        click.option("--migration", "-m",
                     help="Version (V226), file name or path of the migration; omit for 'may anything run now'."),
        click.option("--class", "migration_class",
                     help="Migration class (e.g. production) when no -m says it; unknown counts against the run."),
        click.option("--risk", type=click.Choice(RISKS),
                     help="Risk (default: the file header, else the policy default)."),
        click.option("--duration", required=duration_required,
                     help="Expected duration with a unit, e.g. 20m (default: the file header, else the policy's)."),
        click.option("--store", envvar="SEASONGATE_STORE",
                     help="Override/audit store URL (sqlite:///path or postgresql://...)."),
        click.option("--no-store", is_flag=True, help="Neither read overrides nor write the audit trail."),
    ]  # fmt: skip
    if rollback:
        options.append(click.option("--rollback", is_flag=True, help="Ask for running the undo script instead."))

    def decorate(func: Callable[..., Any]) -> Callable[..., Any]:
        @functools.wraps(func)
        def command(**kw: Any) -> Any:
            from seasongate.api import RequestSpec

            spec = RequestSpec(
                kw.pop("environment"), kw.pop("territory"), kw.pop("migration"), kw.pop("migration_class"),
                kw.pop("risk"), kw.pop("duration"), "rollback" if kw.pop("rollback", False) else "apply",
            )  # fmt: skip
            where = _Where(kw.pop("policy"), kw.pop("store"), not kw.pop("no_store"))
            return func(spec=spec, where=where, **kw)

        for option in reversed(options):
            command = option(command)
        return command

    return decorate


def _instant(text: str | None, project: Project, territory: str) -> tuple[datetime, str | None]:
    from seasongate._time import parse_instant

    if text is None:
        return _now(), None
    tz = project.policy.zone(territory)
    moment, was_naive = parse_instant(text, tz)
    note = f"--at {text} has no UTC offset; read as {tz.key} local time" if was_naive else None
    return moment, note


@click.command()
@_request_options()
@click.option(
    "--at", help="Evaluate at this instant (ISO 8601; default now). A time without offset is local to the territory."
)
@click.option(
    "--format", "fmt", type=click.Choice(["text", "json", "github", "dotenv"]), default="text", show_default=True
)
def check(spec: RequestSpec, where: _Where, at: str | None, fmt: str) -> None:
    """May this migration run now? Exit 0 allowed, 1 denied, 2 error.

    \b
    Examples:
      seasongate check --env production -t DE -m V226
      seasongate check --env production -t DE -m migrations/V225__communication_core.sql --format json
      seasongate check --env production -t CH --class production --duration 45m --at 2026-06-01T22:00+02:00
    """
    from seasongate import api
    from seasongate._errors import SeasongateError
    from seasongate.cli import _format

    try:
        project = where.open(spec.environment)
        moment, note = _instant(at, project, spec.territory)
        decision = api.check(spec, at=moment, project=project, recorded_at=_now())
    except SeasongateError as exc:
        if fmt != "github":
            raise
        click.echo(_format.error_github(exc, _migration_file(spec)))
        click.echo(f"seasongate: error: {exc}", err=True)
        sys.exit(EXIT_ERROR)
    if note:
        decision = replace(decision, notes=(*decision.notes, note))
    if fmt == "json":
        click.echo(_format.decision_json(decision))
    elif fmt == "dotenv":
        click.echo(_feeds.decision_dotenv(decision), nl=False)
    elif fmt == "github":
        click.echo(_format.decision_github(decision, _migration_file(spec)))
        summary = os.environ.get("GITHUB_STEP_SUMMARY")
        if summary:
            with open(summary, "a", encoding="utf-8") as fh:
                fh.write(_format.decision_markdown(decision))
    else:
        click.echo(_format.decision_text(decision))
    if note and fmt == "github":
        click.echo(f"seasongate: note: {note}", err=True)
    sys.exit(EXIT_OK if decision.allowed else EXIT_DENIED)


def _migration_file(spec: RequestSpec) -> str | None:
    """The migration file the request names, for an annotation's ``file=``."""
    from pathlib import Path

    if spec.migration and spec.migration.lower().endswith(".sql") and Path(spec.migration).is_file():
        return spec.migration
    return None


@click.command()
@_request_options()
@click.option("--at", help="Evaluate at this instant (ISO 8601; default now).")
@click.option("--format", "fmt", type=click.Choice(["text", "json"]), default="text", show_default=True)
def explain(spec: RequestSpec, where: _Where, at: str | None, fmt: str) -> None:
    """Every rule, whether it matched and why, in plain language.

    \b
    Example:
      seasongate explain --env production -t DE -m V226 --at 2026-09-25T10:00+02:00
    """
    from seasongate import api
    from seasongate.cli import _format

    project = where.open(spec.environment)
    moment, note = _instant(at, project, spec.territory)
    decision, checks = api.explain(spec, at=moment, project=project)
    if note:
        click.echo(f"note: {note}", err=True)
    click.echo(_format.explain_json(decision, checks) if fmt == "json" else _format.explain_text(decision, checks))
    sys.exit(EXIT_OK if decision.allowed else EXIT_DENIED)


@click.command()
@_request_options(duration_required=True, rollback=False)
@click.option("--from", "start", help="Search from this instant (ISO 8601; default now).")
@click.option("--days", type=int, default=60, show_default=True, help="How far to search.")
@click.option("--limit", type=int, default=10, show_default=True, help="How many slots to list.")
@click.option("--format", "fmt", type=click.Choice(["table", "json", "ics", "csv"]), default="table", show_default=True)
def slots(spec: RequestSpec, where: _Where, start: str | None, days: int, limit: int, fmt: str) -> None:
    """When can I run this? The next spans of allowed start times, each long enough to finish.

    \b
    Example:
      seasongate slots --env production -t DE --class production --duration 45m --risk high --days 90
    """
    from seasongate import api
    from seasongate.cli import _format

    project = where.open(spec.environment)
    moment, note = _instant(start, project, spec.territory)
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
