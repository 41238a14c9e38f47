"""CLI: ``check``, and the options every planning command states its request with.

``seasongate check`` sits on every deployment pipeline's critical path: this module imports
only what a check needs (``explain``, ``slots`` and ``validate`` live in ``_plan``, the
export formats in ``_feeds``, each loaded when used).
"""

from __future__ import annotations

import functools
import os
import sys
from collections.abc import Callable
from dataclasses import replace
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any, NamedTuple

import click

from seasongate._vocabulary import RISKS

if TYPE_CHECKING:
    from seasongate.api import Project, RequestSpec

EXIT_OK, EXIT_DENIED, EXIT_ERROR = 0, 1, 2


def now() -> datetime:
    return datetime.now(UTC)


class Where(NamedTuple):
    """Where the request is judged: the policy and store options, before the project opens.

    (A named tuple, not a frozen dataclass: building one at import costs a check ~1 ms.)"""

    policy: str | None
    store: str | None
    use_store: bool

    def open(self, environment: str) -> Project:
        from seasongate import api

        return api.open_project(environment, policy=self.policy, store=self.store, use_store=self.use_store)


def request_options(*, duration_required: bool = False, rollback: bool = True) -> Callable[..., Any]:
    """The options that state a request and where it is judged; the command receives them
    as one :class:`RequestSpec` (``spec``) and one :class:`Where` (``where``)."""
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
            where = Where(kw.pop("policy"), kw.pop("store"), not kw.pop("no_store"))
            return func(spec=spec, where=where, **kw)

        for option in reversed(options):
            command = option(command)
        return command

    return decorate


def instant_of(text: str | None, project: Project, territory: str) -> tuple[datetime, str | None]:
    from seasongate._time import parse_instant

    if text is None:
        return now(), None
    tz = project.policy.zone(territory)
    moment, was_naive = parse_instant(text, tz)
    note = f"--at {text} has no UTC offset; read as {tz.key} local time" if was_naive else None
    return moment, note


@click.command()
@request_options()
@click.option(
    "--at", help="Evaluate at this instant (ISO 8601; default now). A time without offset is local to the territory."
)
@click.option(
    "--format", "fmt", type=click.Choice(["text", "json", "github", "dotenv"]), default="text", show_default=True
)
def check(spec: RequestSpec, where: Where, at: str | None, fmt: str) -> None:
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
        moment, note = instant_of(at, project, spec.territory)
        decision = api.check(spec, at=moment, project=project, recorded_at=now())
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
        from seasongate.cli import _feeds

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


COMMANDS = [check]
