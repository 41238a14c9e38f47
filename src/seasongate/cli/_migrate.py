"""CLI: ``seasongate migrate``, ``rollback``, ``info``, ``lint``, ``new`` and ``run``.

Each command parses options, calls one function of ``seasongate.api``, prints, and picks the
exit code: 0 done, 1 stopped by the gate (or lint errors), 2 any error. The options they
share arrive as one value (:mod:`seasongate.cli._gate_args`); how they print is
:mod:`seasongate.cli._migrate_output`'s.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any, NoReturn

import click

from seasongate.cli._gate_args import (
    EXIT_ERROR,
    EXIT_OK,
    ExecutorArgs,
    GateArgs,
    executor_args,
    executor_options,
    gate_args,
    gate_options,
    placeholder_option,
    placeholder_values,
    reported,
    show_note,
    step_options,
)
from seasongate.cli._migrate_output import finish, finish_watched, print_info, progress, when

# cli/_flyway takes the shared options by these names (until it takes GateArgs).
_executor_options, _gate_options, _when = executor_options, gate_options, when


def _options(table: str, lock_wait: str, lock_timeout: str, statement_timeout: str, lock_retries: int) -> Any:
    return ExecutorArgs(table, lock_wait, lock_timeout, statement_timeout, lock_retries).options()


def _classes(given: tuple[str, ...]) -> list[str] | None:
    return list(given) or None


# -- migrate / rollback / info ---------------------------------------------------------------


@click.command()
@gate_args
@executor_args
@click.option("--target", help="Apply up to and including this version.")
@step_options(
    classes="Apply only migrations of this class (repeatable), e.g. --class production.",
    dry_run="Show the plan and the gate's verdicts; change nothing.",
    retry="Re-run a transaction=false migration that did not finish (make it safe to re-run first).",
)
@placeholder_option
@click.option(
    "--baseline-on-migrate",
    is_flag=True,
    help="A database without history first gets a BASELINE row at --baseline-version (as Flyway's option).",
)
@click.option("--baseline-version", default="V1", show_default=True, help="Version of --baseline-on-migrate's row.")
@click.option(
    "--health",
    "health",
    type=click.Path(dir_okay=False),
    help="Watch after the run (health file); roll back this run's migrations when degraded (exit 1; 3 inconclusive).",
)
def migrate(
    gate: GateArgs,
    executor: ExecutorArgs,
    target: str | None,
    classes: tuple[str, ...],
    placeholders: tuple[str, ...],
    baseline_version: str,
    health: str | None,
    *,
    dry_run: bool,
    retry_incomplete: bool,
    baseline_on_migrate: bool,
) -> None:
    """Apply pending migrations, asking the gate before each one, then the repeatable
    scripts (R__*.sql) whose checksum changed.

    Exit 0 when everything pending was applied, 1 when the gate stopped the run (what was
    applied and what is pending is listed, with the next allowed time), 2 on any error
    (invalid history, a failing migration, the database unreachable, the lock busy).

    \b
    Examples:
      seasongate migrate --dsn postgresql://crm@db/crm --env production -t DE --class production
      seasongate migrate --env staging -t CH --dry-run --format json
    """
    from seasongate import api

    if health is not None:
        _migrate_watched(gate, executor, health, target, classes, placeholders, dry_run=dry_run)
    with gate.reported():
        project, now, note = gate.open(acts=not dry_run)
        report = api.migrate(
            dsn=gate.dsn, environment=gate.environment, territory=gate.territory, now=now,
            migrations=gate.migrations, project=project, target=target, classes=_classes(classes),
            dry_run=dry_run, retry_incomplete=retry_incomplete, options=executor.options(),
            progress=progress(gate.fmt), placeholders=placeholder_values(placeholders),
            baseline_on_migrate=baseline_version if baseline_on_migrate else None,
        )  # fmt: skip
    finish(report, gate.fmt, note)


def _migrate_watched(
    gate: GateArgs, executor: ExecutorArgs, health: str, target: str | None, classes: tuple[str, ...],
    placeholders: tuple[str, ...], *, dry_run: bool,
) -> NoReturn:  # fmt: skip
    """``migrate --health``: one call into the health api, then its report and exit code."""
    from seasongate import api

    with gate.reported():
        project, now, note = gate.open_watched(dry_run=dry_run)
        result = api.migrate_with_health(
            health, dsn=gate.dsn, environment=gate.environment, territory=gate.territory, now=now,
            migrations=gate.migrations, project=project, target=target, classes=_classes(classes),
            options=executor.options(), progress=progress(gate.fmt), placeholders=placeholder_values(placeholders),
        )  # fmt: skip
    finish_watched(result, gate.fmt, note)


@click.command()
@gate_args
@executor_args
@click.option("--to", "to", required=True, help="Undo every applied migration above this version.")
@step_options(
    classes="Undo only migrations of this class (repeatable; default: every class the policy lets run here).",
    dry_run="Show what would be undone and the gate's verdicts.",
    retry="Run again an undo script (transaction=false) that started and did not finish.",
)
def rollback(
    gate: GateArgs, executor: ExecutorArgs, to: str, classes: tuple[str, ...], *, dry_run: bool, retry_incomplete: bool
) -> None:
    """Run the undo scripts (U<version>__*.sql) of the migrations above --to, newest first.

    Each is gated as a rollback (the shipped policy allows rollbacks in a blackout). Every
    step is planned first: a missing undo script refuses the whole rollback before anything
    runs (exit 2, naming it). Only the classes the policy lets run here are undone unless
    --class says otherwise.

    \b
    Example:
      seasongate rollback --to V224 --env production -t DE
    """
    from seasongate import api

    with gate.reported():
        project, now, note = gate.open(acts=not dry_run)
        report = api.rollback(
            dsn=gate.dsn, to=to, environment=gate.environment, territory=gate.territory, now=now,
            migrations=gate.migrations, project=project, classes=_classes(classes), dry_run=dry_run,
            retry_incomplete=retry_incomplete, options=executor.options(), progress=progress(gate.fmt),
        )  # fmt: skip
    finish(report, gate.fmt, note)


@click.command()
@gate_args
@click.option("--table", default="seasongate_schema_history", show_default=True, help="History table.")
@click.option("--class", "classes", multiple=True, help="Judge only migrations of this class as pending.")
@placeholder_option
def info(gate: GateArgs, table: str, classes: tuple[str, ...], placeholders: tuple[str, ...]) -> None:
    """Every migration with its state (applied, pending, failed, incomplete, changed, missing,
    out of order, ignored gap, baseline), Flyway's state for it (Success, Pending, Baseline,
    Ignored, Missing, Future, Outdated, Failed), when and how long, and the gate's verdict now
    for pending ones; repeatable scripts (R__) last.

    Exit 0, or 2 when the history does not match the folder (the problems are listed).

    \b
    Example:
      seasongate info --dsn postgresql://crm@db/crm --env production -t DE
    """
    from seasongate import api

    with gate.reported():
        project, now, note = gate.open()
        report = api.info(
            dsn=gate.dsn, environment=gate.environment, territory=gate.territory, now=now,
            migrations=gate.migrations, project=project, classes=_classes(classes),
            options=api.ExecutorOptions(table=table), placeholders=placeholder_values(placeholders),
        )  # fmt: skip
    show_note(note)
    print_info(report, gate.fmt)
    sys.exit(EXIT_ERROR if report.problems else EXIT_OK)


# -- lint / new -----------------------------------------------------------------------------------


@click.command()
@click.argument("directory", required=False, default="migrations", type=click.Path(file_okay=False))
@click.option("--policy", type=click.Path(dir_okay=False), help="Take the numbering classes from this policy.")
@click.option("--format", "fmt", type=click.Choice(["text", "json"]), default="text", show_default=True)
def lint(directory: str, policy: str | None, fmt: str) -> None:
    """Check a migrations folder: names, duplicates, gaps, numbering ranges, undo scripts,
    row-level security of territory tables, CREATE INDEX without CONCURRENTLY.

    Findings are printed as path:line:column: code: message. Exit 2 when there is an error.

    \b
    Examples:
      seasongate lint
      seasongate lint migrations --format json
    """
    from seasongate import api

    with reported(fmt):
        report = api.lint(Path(directory), policy=policy)
    if fmt == "json":
        click.echo(json.dumps(report.to_dict(), indent=2, ensure_ascii=False))
    else:
        for finding in report.findings:
            click.echo(finding.render())
        click.echo(
            f"{directory}: {report.files} file(s), {len(report.errors)} error(s), {len(report.warnings)} warning(s)"
        )
    sys.exit(report.exit_code)


@click.command(name="new")
@click.argument("description")
@click.option(
    "--class",
    "migration_class",
    default="production",
    show_default=True,
    help="Migration class, which decides the version range.",
)
@click.option("--migrations", default="migrations", show_default=True, type=click.Path(file_okay=False))
@click.option("--policy", type=click.Path(dir_okay=False), help="Take the numbering classes from this policy.")
@click.option("--risk", type=click.Choice(["low", "medium", "high"]), help="Header risk=.")
@click.option("--duration", help="Header duration=, e.g. 20m.")
@click.option("--no-transaction", is_flag=True, help="Header transaction=false (CREATE INDEX CONCURRENTLY).")
@click.option("--no-undo", is_flag=True, help="Do not create the undo file.")
@click.option("--format", "fmt", type=click.Choice(["text", "json"]), default="text", show_default=True)
def new(
    description: str,
    migration_class: str,
    migrations: str,
    policy: str | None,
    risk: str | None,
    duration: str | None,
    fmt: str,
    *,
    no_transaction: bool,
    no_undo: bool,
) -> None:
    """Create the next free migration file of a class, and its undo file.

    \b
    Example:
      seasongate new "add customer credit hold" --class production
    """
    from seasongate import api

    with reported(fmt):
        created = api.new_migration(
            description, migration_class=migration_class, directory=Path(migrations),
            policy=policy, undo=not no_undo, risk=risk, duration=duration,
            transaction=not no_transaction,
        )  # fmt: skip
    if fmt == "json":
        click.echo(json.dumps(created.to_dict(), indent=2))
    else:
        data = created.to_dict()
        click.echo(f"created {data['path']}")
        if data["undo_path"]:
            click.echo(f"created {data['undo_path']}")
    sys.exit(EXIT_OK)


# -- run ------------------------------------------------------------------------------------------


@click.command(context_settings={"ignore_unknown_options": True, "allow_interspersed_args": False})
@click.option("--env", "environment", required=True, help="Environment, e.g. production.")
@click.option("--territory", "-t", required=True, help="Territory, e.g. DE or CH.")
@click.option("--migration", "-m", help="Version, file name or path (a file's header gives risk and duration).")
@click.option(
    "--class",
    "migration_class",
    help="Migration class of what the command runs, e.g. production (default: from -m, else the policy's).",
)
@click.option("--risk", type=click.Choice(["low", "medium", "high"]), help="Risk (default: header, else policy).")
@click.option("--duration", help="Expected duration, e.g. 20m (default: header, else policy).")
@click.option("--policy", type=click.Path(dir_okay=False), help="Policy file (default: the one covering --env).")
@click.option("--store", envvar="SEASONGATE_STORE", help="Override/audit store URL.")
@click.option("--no-store", is_flag=True, help="Neither read overrides nor write the audit trail.")
@click.option("--at", help="With --dry-run: judge at this instant (ISO 8601) instead of now.")
@click.option("--dry-run", is_flag=True, help="Judge only: print the decision, run nothing (exit 0 or 1).")
@click.option(
    "--format",
    "fmt",
    type=click.Choice(["text", "json"]),
    default="text",
    show_default=True,
    help="How a denial is printed.",
)
@click.option("--health", type=click.Path(dir_okay=False), help="Watch after the command (health file).")
@click.option("--rollback-cmd", help='With --health: the undo command ("flyway undo"), gated as a rollback.')
@click.option("--dsn", envvar="SEASONGATE_DSN", help="With --health: the database of a SQL probe without dsn_env.")
@click.argument("command", nargs=-1, required=True, type=click.UNPROCESSED)
def run(
    environment: str,
    territory: str,
    migration: str | None,
    migration_class: str | None,
    risk: str | None,
    duration: str | None,
    policy: str | None,
    store: str | None,
    at: str | None,
    fmt: str,
    health: str | None,
    rollback_cmd: str | None,
    dsn: str | None,
    command: tuple[str, ...],
    *,
    no_store: bool,
    dry_run: bool,
) -> None:
    """Run COMMAND only if the gate allows it now; exit with its exit code (1 if denied).

    The command's output passes through; SIGTERM and SIGINT reach it; the outcome is audited.

    \b
    Example:
      seasongate run --env production -t DE -m migrations/V226__x.sql -- flyway migrate
    """
    from seasongate import api

    argv = list(command)
    if argv and argv[0] == "--":
        argv = argv[1:]
    gate = GateArgs(environment, territory, policy, store, not no_store, at, fmt, dsn)
    request = api.RequestSpec(environment, territory, migration, migration_class, risk, duration)
    if health is not None:
        _run_watched(gate, argv, request, health, rollback_cmd, dry_run=dry_run)
    with gate.reported():
        project, now, note = gate.open(acts=not dry_run)
        outcome = api.run(argv, request, now=now, project=project, dry_run=dry_run)
    show_note(note)
    if not outcome.ran:
        from seasongate.cli import _format

        if fmt == "json":
            click.echo(_format.decision_json(outcome.decision))
        else:
            click.echo(_format.decision_text(outcome.decision), err=True)
            verdict = "allowed" if outcome.decision.allowed else "denied"
            click.echo(f"seasongate: {verdict}; the command was not run", err=True)
    sys.exit(outcome.exit_code)


def _run_watched(
    gate: GateArgs, argv: list[str], request: Any, health: str, rollback_cmd: str | None, *, dry_run: bool
) -> NoReturn:
    """``run --health``: one call into the health api, then its report and exit code."""
    from seasongate import api

    with gate.reported():
        project, now, note = gate.open_watched(dry_run=dry_run)
        result = api.run_with_health(
            argv, request, health=health, rollback_command=rollback_cmd, now=now, project=project, dsn=gate.dsn
        )
    finish_watched(result, gate.fmt, note)


COMMANDS: list[click.Command] = [migrate, rollback, info, lint, new, run]
