"""CLI: ``seasongate baseline``, ``repair`` and ``clean``, the commands a DBA coming from Flyway
reaches for. Each parses options, calls one function of ``seasongate.api``, prints, and picks
the exit code: 0 done, 1 refused by the gate (or realignments refused), 2 any error.
"""

from __future__ import annotations

import json
import sys

import click

from seasongate.cli._migrate import (
    _clock,
    _executor_options,
    _fail,
    _gate_options,
    _options,
    _policy,
    _when,
)

EXIT_OK, EXIT_DENIED, EXIT_ERROR = 0, 1, 2


@click.command()
@_gate_options
@_executor_options
@click.option("--version", "version", required=True, help="Everything up to this version counts as applied.")
@click.option("--description", help="Description of the baseline row (default: << Flyway Baseline >>).")
def baseline(
    dsn: str | None, migrations: str, policy: str | None, store: str | None, environment: str, territory: str,
    at: str | None, fmt: str, table: str, lock_wait: str, lock_timeout: str, statement_timeout: str,
    lock_retries: int, version: str, description: str | None, *, no_store: bool,
) -> None:  # fmt: skip
    """Adopt a database that has no history (or an empty one) at --version.

    Writes Flyway's BASELINE row into the history table (created when missing): everything up
    to the version counts as applied, later migrations run with migrate. Audited.

    \b
    Example:
      seasongate baseline --version V225 --table flyway_schema_history --env production -t DE
    """
    from seasongate import api
    from seasongate._errors import SeasongateError

    try:
        loaded = _policy(policy, environment)
        now, _ = _clock(at, loaded, territory, acts=True)
        done = api.baseline(
            dsn=dsn, version=version, environment=environment, territory=territory, now=now,
            description=description, policy=loaded, store=store,
            options=_options(table, lock_wait, lock_timeout, statement_timeout, lock_retries), use_store=not no_store,
        )  # fmt: skip
    except SeasongateError as exc:
        _fail(exc, fmt)
    if fmt == "json":
        click.echo(json.dumps({"version": str(done.version), "installed_rank": done.installed_rank,
                               "created_table": done.created_table, "already": done.already}))  # fmt: skip
    elif done.already:
        click.echo(f"{table} is already baselined at {done.version}; nothing to do.")
    else:
        created = " (history table created)" if done.created_table else ""
        click.echo(f"Baselined {table} at {done.version} (installed_rank {done.installed_rank}){created}.")


@click.command()
@_gate_options
@_executor_options
@click.option("--dry-run", is_flag=True, help="Show what repair would do and the gate's verdicts; change nothing.")
def repair(
    dsn: str | None, migrations: str, policy: str | None, store: str | None, environment: str, territory: str,
    at: str | None, fmt: str, table: str, lock_wait: str, lock_timeout: str, statement_timeout: str,
    lock_retries: int, *, no_store: bool, dry_run: bool,
) -> None:  # fmt: skip
    """Remove failed history rows and realign checksums of files changed only in form.

    As Flyway's repair, with two differences: a checksum is realigned only when the file
    changed in whitespace or comments alone (the applied text is looked up in git by its
    checksum; anything else is refused, named, exit 1), and repair is gated like any change
    here: every version it touches must be allowed now, by the policy or an override. Audited.

    \b
    Example:
      seasongate repair --dry-run --table flyway_schema_history --env production -t DE
    """
    from pathlib import Path

    from seasongate import api
    from seasongate._errors import SeasongateError

    try:
        loaded = _policy(policy, environment)
        now, note = _clock(at, loaded, territory, acts=not dry_run)
        report = api.repair(
            dsn=dsn, environment=environment, territory=territory, now=now,
            migrations=Path(migrations), dry_run=dry_run, policy=loaded, store=store,
            options=_options(table, lock_wait, lock_timeout, statement_timeout, lock_retries), use_store=not no_store,
        )  # fmt: skip
    except SeasongateError as exc:
        _fail(exc, fmt)
    if note:
        click.echo(f"seasongate: note: {note}", err=True)
    if fmt == "json":
        click.echo(json.dumps(report.to_dict(), indent=2, ensure_ascii=False))
        sys.exit(report.exit_code)
    plan = report.plan
    would = "would " if dry_run else ""
    if report.status == "nothing" and not plan.refused:
        click.echo("Nothing to repair: no failed rows, no checksum to realign.")
    for row in plan.remove:
        click.echo(
            f"{would}remove failed row {row.installed_rank}: {row.script} "
            f"({row.type}, {row.installed_on:%Y-%m-%d %H:%M})"
        )
    for fix in plan.realign:
        click.echo(
            f"{would}realign checksum of {fix.script}: {fix.row.checksum} -> {fix.checksum} (whitespace/comments only)"
        )
    for refused in plan.refused:
        click.echo(f"refused: {refused}", err=True)
    if report.status == "denied":
        click.echo(f"DENY: the gate does not allow this repair now: {report.reason}", err=True)
        for d in report.decisions:
            if not d.allowed and d.next_allowed_at is not None:
                from seasongate._time import from_ts

                click.echo(f"  next allowed at {_when(from_ts(d.next_allowed_at, d.zone))}", err=True)
                break
    elif report.status == "ok":
        click.echo("Dry run: nothing was changed; the gate allows this repair now." if dry_run else "Repaired.")
    sys.exit(report.exit_code)


@click.command()
@_gate_options
@_executor_options
@click.option("--schema", "schemas", multiple=True, help="Schema to empty (repeatable; default: the history's).")
@click.option("--dry-run", is_flag=True, help="List what would be dropped; change nothing.")
def clean(
    dsn: str | None, migrations: str, policy: str | None, store: str | None, environment: str, territory: str,
    at: str | None, fmt: str, table: str, lock_wait: str, lock_timeout: str, statement_timeout: str,
    lock_retries: int, schemas: tuple[str, ...], *, no_store: bool, dry_run: bool,
) -> None:  # fmt: skip
    """Drop every object in the schemas of a throwaway database (tables, views, functions...).

    Refused outright in an environment the policy marks as protected (protected: [production]),
    whatever the overrides, and where no policy covers the environment. Audited.

    \b
    Example:
      seasongate clean --env development -t DE --dsn postgresql:///crm_scratch
    """
    from seasongate import api
    from seasongate._errors import SeasongateError

    try:
        loaded = _policy(policy, environment)
        now, _ = _clock(at, loaded, territory, acts=not dry_run)
        report = api.clean(
            dsn=dsn, environment=environment, territory=territory, now=now, schemas=schemas, dry_run=dry_run,
            policy=loaded, store=store,
            options=_options(table, lock_wait, lock_timeout, statement_timeout, lock_retries), use_store=not no_store,
        )  # fmt: skip
    except SeasongateError as exc:
        _fail(exc, fmt)
    if fmt == "json":
        click.echo(json.dumps(report.to_dict(), indent=2))
        return
    for item in report.dropped:
        click.echo(f"{'would drop' if dry_run else 'dropped'} {item}")
    click.echo(f"{'Dry run: ' if dry_run else ''}{len(report.dropped)} object(s) in {', '.join(report.schemas)}.")


COMMANDS: list[click.Command] = [baseline, repair, clean]
