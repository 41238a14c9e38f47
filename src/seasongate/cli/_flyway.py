"""CLI: ``seasongate baseline``, ``repair`` and ``clean``, the commands a DBA coming from Flyway
reaches for. Each parses options, calls one function of ``seasongate.api``, prints, and picks
the exit code: 0 done, 1 refused by the gate (or realignments refused), 2 any error.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Callable
from typing import Any, TypeVar

import click

from seasongate.cli._format import judged_call
from seasongate.cli._migrate import _executor_options, _gate_options, _options, _when

T = TypeVar("T")


def _call(command: Callable[..., T], given: dict[str, Any], *, acts: bool, **arguments: Any) -> T:
    """``command`` (an api function) called with the options every command here shares and
    ``arguments``; errors as every gated command reports them."""

    def call(policy: Any, now: Any) -> T:
        options = _options(given["table"], given["lock_wait"], given["lock_timeout"], given["statement_timeout"],
                           given["lock_retries"])  # fmt: skip
        return command(
            dsn=given["dsn"], environment=given["environment"], territory=given["territory"], now=now, policy=policy,
            store=given["store"], options=options, use_store=not given["no_store"], **arguments,
        )  # fmt: skip

    return judged_call(
        call, policy=given["policy"], environment=given["environment"], territory=given["territory"],
        at=given["at"], fmt=given["fmt"], acts=acts,
    )  # fmt: skip


@click.command()
@_gate_options
@_executor_options
@click.option("--version", "version", required=True, help="Everything up to this version counts as applied.")
@click.option("--description", help="Description of the baseline row (default: << Flyway Baseline >>).")
def baseline(version: str, description: str | None, **given: Any) -> None:
    """Adopt a database that has no history (or an empty one) at --version.

    Writes Flyway's BASELINE row into the history table (created when missing): everything up
    to the version counts as applied, later migrations run with migrate. Audited.

    \b
    Example:
      seasongate baseline --version V225 --table flyway_schema_history --env production -t DE
    """
    from seasongate import api

    done = _call(api.baseline, given, acts=True, version=version, description=description)
    table = given["table"]
    if given["fmt"] == "json":
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
def repair(*, dry_run: bool, **given: Any) -> None:
    """Remove failed history rows, mark missing migrations deleted, realign checksums of files
    changed only in form.

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

    report = _call(api.repair, given, acts=not dry_run, migrations=Path(given["migrations"]), dry_run=dry_run)
    if given["fmt"] == "json":
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
    for row in plan.delete:
        click.echo(f"{would}mark {row.script} deleted (row {row.installed_rank}): its file is gone")
    for fix in plan.realign:
        click.echo(
            f"{would}realign checksum of {fix.script}: {fix.row.checksum} -> {fix.checksum} (whitespace/comments only)"
        )
    for refused in plan.refused:
        click.echo(f"refused: {refused}", err=True)
    if report.status == "denied":
        click.echo(f"DENY: the gate does not allow this repair now: {report.reason}", err=True)
        later = next((d for d in report.decisions if not d.allowed and d.next_allowed_at is not None), None)
        if later is not None and later.next_allowed_at is not None:
            from seasongate._time import from_ts

            click.echo(f"  next allowed at {_when(from_ts(later.next_allowed_at, later.zone))}", err=True)
    elif report.status == "ok":
        click.echo("Dry run: nothing was changed; the gate allows this repair now." if dry_run else "Repaired.")
    sys.exit(report.exit_code)


@click.command()
@_gate_options
@_executor_options
@click.option("--schema", "schemas", multiple=True, help="Schema to empty (repeatable; default: the history's).")
@click.option("--dry-run", is_flag=True, help="List what would be dropped; change nothing.")
def clean(schemas: tuple[str, ...], *, dry_run: bool, **given: Any) -> None:
    """Drop every object in the schemas of a throwaway database (tables, views, functions...).

    Refused outright in an environment the policy marks as protected (protected: [production]),
    whatever the overrides, and where no policy covers the environment. Audited.

    \b
    Example:
      seasongate clean --env development -t DE --dsn postgresql:///crm_scratch
    """
    from seasongate import api

    report = _call(api.clean, given, acts=not dry_run, schemas=schemas, dry_run=dry_run)
    if given["fmt"] == "json":
        click.echo(json.dumps(report.to_dict(), indent=2))
        return
    for item in report.dropped:
        click.echo(f"{'would drop' if dry_run else 'dropped'} {item}")
    click.echo(f"{'Dry run: ' if dry_run else ''}{len(report.dropped)} object(s) in {', '.join(report.schemas)}.")


COMMANDS: list[click.Command] = [baseline, repair, clean]
