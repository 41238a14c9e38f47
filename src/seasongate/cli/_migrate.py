"""CLI: ``seasongate migrate``, ``rollback``, ``info``, ``lint``, ``new`` and ``run``.

Each command parses options, calls one function of ``seasongate.api``, prints, and picks the
exit code: 0 done, 1 stopped by the gate (or lint errors), 2 any error.
"""

from __future__ import annotations

import json
import sys
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any, NoReturn

import click

EXIT_OK, EXIT_DENIED, EXIT_ERROR = 0, 1, 2


# -- shared options and helpers ---------------------------------------------------------------


def _duration(text: str, option: str) -> float:
    """A duration option (``30s``, ``5m``, ``1h``), by the one duration rule (a unit is required)."""
    from seasongate._errors import InputError
    from seasongate._time import parse_duration

    try:
        return float(parse_duration(text))
    except InputError as exc:
        raise InputError(f"{option}: {exc}") from exc


def _real_clock() -> datetime:
    return datetime.now(UTC)


def _clock(
    at: str | None, policy: Any, territory: str, *, acts: bool = False
) -> tuple[Callable[[], datetime], str | None]:
    """The system clock, or one that starts at ``--at`` and runs at real speed. ``--at``
    judges another instant and so never acts: a command that would change something
    (``acts``: migrate, rollback or run without --dry-run) refuses it."""
    if at is None:
        return _real_clock, None
    from seasongate._time import parse_instant

    tz = policy.zone(territory)
    start, was_naive = parse_instant(at, tz)
    if acts:
        from seasongate._errors import InputError

        raise InputError(
            "--at judges another instant and executes nothing: add --dry-run to see what would happen then"
        )
    note = f"--at {at} has no UTC offset; read as {tz.key} local time" if was_naive else None
    origin = time.monotonic()
    return (lambda: start + timedelta(seconds=time.monotonic() - origin)), note


def _policy(policy: str | None, environment: str) -> Any:
    from seasongate.api import open_policy

    return open_policy(policy, environment)


def _options(table: str, lock_wait: str, lock_timeout: str, statement_timeout: str, lock_retries: int) -> Any:
    from seasongate import api

    return api.ExecutorOptions(
        table=table,
        lock_wait=_duration(lock_wait, "--lock-wait"),
        lock_timeout=_duration(lock_timeout, "--lock-timeout"),
        statement_timeout=_duration(statement_timeout, "--statement-timeout"),
        lock_retries=lock_retries,
    )


def _gate_options(func: Callable[..., Any]) -> Callable[..., Any]:
    options = [
        click.option("--dsn", envvar="SEASONGATE_DSN", help="Target database URL (or SEASONGATE_DSN)."),
        click.option(
            "--migrations",
            "migrations",
            envvar="SEASONGATE_MIGRATIONS",
            default="migrations",
            show_default=True,
            type=click.Path(file_okay=False),
            help="Migrations folder.",
        ),
        click.option(
            "--policy",
            type=click.Path(dir_okay=False),
            help="Policy file (default: the one in policies/ covering --env).",
        ),
        click.option(
            "--store", envvar="SEASONGATE_STORE", help="Override/audit store URL (sqlite:///path or postgresql://...)."
        ),
        click.option("--no-store", is_flag=True, help="Neither read overrides nor write the audit trail."),
        click.option("--env", "environment", required=True, help="Environment, e.g. production."),
        click.option("--territory", "-t", required=True, help="Territory, e.g. DE or CH."),
        click.option(
            "--at",
            help="With --dry-run (or on info): judge as if the run started at this instant (ISO 8601; "
            "the clock then runs on). Without offset: local to the territory.",
        ),
        click.option("--format", "fmt", type=click.Choice(["text", "json"]), default="text", show_default=True),
    ]
    for option in reversed(options):
        func = option(func)
    return func


def _executor_options(func: Callable[..., Any]) -> Callable[..., Any]:
    options = [
        click.option(
            "--table", default="seasongate_schema_history", show_default=True, help="History table (in schema public)."
        ),
        click.option(
            "--lock-wait", default="60s", show_default=True, help="How long to wait for another run's migration lock."
        ),
        click.option(
            "--lock-timeout",
            default="5s",
            show_default=True,
            help="lock_timeout of each statement (header lock_timeout= overrides).",
        ),
        click.option(
            "--statement-timeout",
            default="30m",
            show_default=True,
            help="statement_timeout of each statement (header overrides).",
        ),
        click.option(
            "--lock-retries",
            default=3,
            show_default=True,
            type=click.IntRange(0, 20),
            help="Retries of a statement that hit the lock timeout (backoff 1s, 2s...).",
        ),
    ]
    for option in reversed(options):
        func = option(func)
    return func


def _placeholder_option(func: Callable[..., Any]) -> Callable[..., Any]:
    return click.option(
        "--placeholder",
        "placeholders",
        multiple=True,
        metavar="NAME=VALUE",
        help="Value of ${NAME} in the scripts (over the configuration file's [placeholders]).",
    )(func)


def _placeholders(items: tuple[str, ...]) -> Any:
    """The placeholders of this run: the configuration file's, then ``--placeholder`` ones."""
    from seasongate.api import Placeholders, parse_placeholder_options

    obj = click.get_current_context().find_root().obj or {}
    prefix, suffix, enabled = obj.get("placeholder_syntax", ("${", "}", True))
    values = {**obj.get("placeholders", {}), **parse_placeholder_options(items)}
    return Placeholders(values, prefix, suffix, enabled)


def _fail(exc: Exception, fmt: str) -> NoReturn:
    """Errors as one JSON document in json mode; the CLI group prints them otherwise."""
    if fmt != "json":
        raise exc
    click.echo(
        json.dumps({"status": "error", "exit_code": EXIT_ERROR, "error": str(exc)}, indent=2, ensure_ascii=False)
    )
    sys.exit(EXIT_ERROR)


def _when(moment: datetime | None) -> str:
    return "-" if moment is None else moment.strftime("%Y-%m-%d %H:%M %Z").strip()


def _step_line(step: Any) -> str:
    took = "-" if step.seconds is None else f"{step.seconds:.2f}s"
    text = f"{step.version!s:<8} {step.description[:40]:<40} {step.verdict or '-':<6} {took:>8}  {step.status}"
    if step.status == "denied" and step.reason:
        text += f": {step.reason}"
        if step.next_allowed_at is not None:
            text += f" (next allowed {_when(step.next_allowed_at)})"
    elif step.override_id:
        text += f" (override {step.override_id})"
    if step.error:
        text += f": {step.error}"
    return text


class _TerminalProgress:
    """One line per migration on stdout; on a terminal, a progress bar on stderr below them
    while a long run goes on."""

    WIDTH = 24

    def __init__(self, *, bar: bool) -> None:
        self.bar = bar
        self.started = time.monotonic()
        self.shown = False

    def starting(self, index: int, total: int, label: str) -> None:
        if not self.bar or total < 2:
            return
        filled = self.WIDTH * index // total
        elapsed = time.monotonic() - self.started
        text = f"[{'#' * filled}{'.' * (self.WIDTH - filled)}] {index}/{total} {elapsed:5.0f}s  {label[:40]}"
        click.echo("\r" + text.ljust(80), nl=False, err=True)
        self.shown = True

    def __call__(self, step: Any) -> None:
        if self.shown:
            click.echo("\r" + " " * 80 + "\r", nl=False, err=True)
            self.shown = False
        click.echo(_step_line(step))


def _progress(fmt: str) -> Callable[[Any], None] | None:
    if fmt == "json":
        return None
    return _TerminalProgress(bar=sys.stderr.isatty())


def _summary(report: Any) -> str:
    verb = "applied" if report.operation == "migrate" else "rolled back"
    done = [str(s.version) for s in report.done]
    lines = []
    if report.dry_run:
        would = [str(s.version) for s in report.steps if s.status.startswith("would")]
        if report.status == "ok":
            lines.append(
                f"Dry run: would have {verb} {len(would)} migration(s); nothing changed."
                if would
                else "Dry run: nothing to do."
            )
        else:
            lines.append(
                f"Dry run: would stop before {report.pending[0].version}"
                f"{' after ' + ', '.join(would) if would else ''}; nothing changed."
            )
        return "\n".join(lines)
    if report.status == "ok":
        lines.append(f"Done: {verb} {len(done)} migration(s)." if done else "Nothing to do.")
        return "\n".join(lines)
    stop = report.stopped_at
    if report.status == "denied" and stop is not None:
        lines.append(f"Stopped by the gate before {stop.version}: {stop.reason}.")
        lines.append(f"Next allowed: {_when(stop.next_allowed_at)}.")
    lines.append(f"{verb.capitalize()}: {', '.join(done) if done else 'none'}.")
    if report.pending:
        left = "Still pending" if report.operation == "migrate" else "Not rolled back (still applied)"
        lines.append(f"{left}: {', '.join(str(p.version) for p in report.pending)}.")
    return "\n".join(lines)


def _finish(report: Any, fmt: str, note: str | None) -> None:
    if note:
        click.echo(f"seasongate: note: {note}", err=True)
    if fmt == "json":
        click.echo(json.dumps(report.to_dict(), indent=2, ensure_ascii=False))
    else:
        click.echo(_summary(report))
        if report.status == "failed" and report.error:
            click.echo(f"seasongate: error: {report.error}", err=True)
    sys.exit(report.exit_code)


# -- migrate / rollback / info ---------------------------------------------------------------


@click.command()
@_gate_options
@_executor_options
@click.option("--target", help="Apply up to and including this version.")
@click.option(
    "--class",
    "classes",
    multiple=True,
    help="Apply only migrations of this class (repeatable), e.g. --class production.",
)
@click.option("--dry-run", is_flag=True, help="Show the plan and the gate's verdicts; change nothing.")
@click.option(
    "--retry-incomplete",
    is_flag=True,
    help="Re-run a transaction=false migration that did not finish (make it safe to re-run first).",
)
@_placeholder_option
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
    dsn: str | None,
    migrations: str,
    policy: str | None,
    store: str | None,
    environment: str,
    territory: str,
    at: str | None,
    fmt: str,
    table: str,
    lock_wait: str,
    lock_timeout: str,
    statement_timeout: str,
    lock_retries: int,
    target: str | None,
    classes: tuple[str, ...],
    placeholders: tuple[str, ...],
    baseline_version: str,
    health: str | None,
    *,
    no_store: bool,
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
    from pathlib import Path

    from seasongate import api
    from seasongate._errors import SeasongateError

    if health is not None:
        _migrate_watched(
            health, dsn, migrations, loaded=_policy(policy, environment), store=store, environment=environment,
            territory=territory, at=at, fmt=fmt, options=_options(table, lock_wait, lock_timeout, statement_timeout,
            lock_retries), target=target, classes=classes, no_store=no_store, dry_run=dry_run,
        )  # fmt: skip
    try:
        loaded = _policy(policy, environment)
        now, note = _clock(at, loaded, territory, acts=not dry_run)
        report = api.migrate(
            dsn=dsn, environment=environment, territory=territory, now=now,
            migrations=Path(migrations), policy=loaded, store=store, target=target,
            classes=list(classes) or None, dry_run=dry_run, retry_incomplete=retry_incomplete,
            options=_options(table, lock_wait, lock_timeout, statement_timeout, lock_retries),
            progress=_progress(fmt), use_store=not no_store, placeholders=_placeholders(placeholders),
            baseline_on_migrate=baseline_version if baseline_on_migrate else None,
        )  # fmt: skip
    except SeasongateError as exc:
        _fail(exc, fmt)
    _finish(report, fmt, note)


def _migrate_watched(
    health: str, dsn: str | None, migrations: str, *, loaded: Any, store: str | None, environment: str,
    territory: str, at: str | None, fmt: str, options: Any, target: str | None, classes: tuple[str, ...],
    no_store: bool, dry_run: bool,
) -> NoReturn:  # fmt: skip
    """``migrate --health``: one call into the health api, then its report and exit code."""
    from pathlib import Path

    from seasongate import api
    from seasongate._errors import InputError, SeasongateError

    try:
        if dry_run:
            raise InputError("--health watches a real run: it does not go with --dry-run")
        now, note = _clock(at, loaded, territory, acts=True)
        result = api.migrate_with_health(
            health, dsn=dsn, environment=environment, territory=territory, now=now,
            migrations=Path(migrations), policy=loaded, store=store, target=target, classes=list(classes) or None,
            options=options, progress=_progress(fmt), use_store=not no_store,
        )  # fmt: skip
    except SeasongateError as exc:
        _fail(exc, fmt)
    _finish_watched(result, fmt, note)


def _finish_watched(result: Any, fmt: str, note: str | None) -> NoReturn:
    from seasongate.cli._health import watched_lines

    if note:
        click.echo(f"seasongate: note: {note}", err=True)
    if fmt == "json":
        click.echo(json.dumps(result.to_dict(), indent=2, ensure_ascii=False))
    else:
        if result.migrate is not None:
            click.echo(_summary(result.migrate))
            if result.migrate.status == "failed" and result.migrate.error:
                click.echo(f"seasongate: error: {result.migrate.error}", err=True)
        for line in watched_lines(result):
            click.echo(line)
    sys.exit(result.exit_code)


@click.command()
@_gate_options
@_executor_options
@click.option("--to", "to", required=True, help="Undo every applied migration above this version.")
@click.option(
    "--class",
    "classes",
    multiple=True,
    help="Undo only migrations of this class (repeatable; default: every class the policy lets run here).",
)
@click.option("--dry-run", is_flag=True, help="Show what would be undone and the gate's verdicts.")
@click.option(
    "--retry-incomplete",
    is_flag=True,
    help="Run again an undo script (transaction=false) that started and did not finish.",
)
def rollback(
    dsn: str | None,
    migrations: str,
    policy: str | None,
    store: str | None,
    environment: str,
    territory: str,
    at: str | None,
    fmt: str,
    table: str,
    lock_wait: str,
    lock_timeout: str,
    statement_timeout: str,
    lock_retries: int,
    to: str,
    classes: tuple[str, ...],
    *,
    no_store: bool,
    dry_run: bool,
    retry_incomplete: bool,
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
    from pathlib import Path

    from seasongate import api
    from seasongate._errors import SeasongateError

    try:
        loaded = _policy(policy, environment)
        now, note = _clock(at, loaded, territory, acts=not dry_run)
        report = api.rollback(
            dsn=dsn, to=to, environment=environment, territory=territory, now=now,
            migrations=Path(migrations), policy=loaded, store=store, classes=list(classes) or None,
            dry_run=dry_run, retry_incomplete=retry_incomplete,
            options=_options(table, lock_wait, lock_timeout, statement_timeout, lock_retries),
            progress=_progress(fmt), use_store=not no_store,
        )  # fmt: skip
    except SeasongateError as exc:
        _fail(exc, fmt)
    _finish(report, fmt, note)


@click.command()
@_gate_options
@click.option("--table", default="seasongate_schema_history", show_default=True, help="History table.")
@click.option("--class", "classes", multiple=True, help="Judge only migrations of this class as pending.")
@_placeholder_option
def info(
    dsn: str | None,
    migrations: str,
    policy: str | None,
    store: str | None,
    environment: str,
    territory: str,
    at: str | None,
    fmt: str,
    table: str,
    classes: tuple[str, ...],
    placeholders: tuple[str, ...],
    *,
    no_store: bool,
) -> None:
    """Every migration with its state (applied, pending, failed, incomplete, changed, missing,
    out of order, ignored gap, baseline), Flyway's state for it (Success, Pending, Baseline,
    Ignored, Missing, Future, Outdated, Failed), when and how long, and the gate's verdict now
    for pending ones; repeatable scripts (R__) last.

    Exit 0, or 2 when the history does not match the folder (the problems are listed).

    \b
    Example:
      seasongate info --dsn postgresql://crm@db/crm --env production -t DE
    """
    from pathlib import Path

    from seasongate import api
    from seasongate._errors import SeasongateError

    try:
        loaded = _policy(policy, environment)
        now, note = _clock(at, loaded, territory)
        report = api.info(
            dsn=dsn, environment=environment, territory=territory, now=now,
            migrations=Path(migrations), policy=loaded, store=store,
            classes=list(classes) or None, options=api.ExecutorOptions(table=table),
            use_store=not no_store, placeholders=_placeholders(placeholders),
        )  # fmt: skip
    except SeasongateError as exc:
        _fail(exc, fmt)
    if note:
        click.echo(f"seasongate: note: {note}", err=True)
    if fmt == "json":
        click.echo(json.dumps(report.to_dict(), indent=2, ensure_ascii=False))
    else:
        rows = [("Version", "Description", "State", "Flyway", "Installed on", "Time", "Undo", "Gate now")]
        gap_start = None  # a run of declared gaps shows as one line: V101-V213
        for index, r in enumerate(report.rows):
            if r.state == "ignored gap":
                nxt = report.rows[index + 1] if index + 1 < len(report.rows) else None
                gap_start = gap_start or r.version
                if nxt is not None and nxt.state == "ignored gap" and nxt.version.major == r.version.major + 1:
                    continue
                shown = str(r.version) if gap_start == r.version else f"{gap_start}-{r.version}"
                rows.append((shown, "", r.state, "-", "-", "-", "-", "-"))
                gap_start = None
                continue
            gate = r.reason if r.state == "excluded" else "-"
            if r.verdict:
                gate = r.verdict
                if r.verdict == "deny":
                    gate += f" until {_when(r.next_allowed_at)}" if r.next_allowed_at else " (no window)"
            took = "-" if r.execution_ms is None else f"{r.execution_ms / 1000:.2f}s"
            installed = "-" if r.installed_on is None else _when(r.installed_on.astimezone(report.zone))
            version = r.script or "R" if r.version.repeatable else str(r.version)
            flyway = r.flyway_state or "-"
            undo = "yes" if r.undo else "-"
            rows.append((version, r.description[:40], r.state, flyway, installed, took, undo, gate))
        widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
        for row in rows:
            cells = (cell.ljust(w) for cell, w in zip(row, widths, strict=True))
            click.echo("  ".join(cells).rstrip())
        for problem in report.problems:
            click.echo(f"problem: {problem}", err=True)
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
    from pathlib import Path

    from seasongate import api
    from seasongate._errors import SeasongateError

    try:
        report = api.lint(Path(directory), policy=policy)
    except SeasongateError as exc:
        _fail(exc, fmt)
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
    from pathlib import Path

    from seasongate import api
    from seasongate._errors import SeasongateError

    try:
        created = api.new_migration(
            description, migration_class=migration_class, directory=Path(migrations),
            policy=policy, undo=not no_undo, risk=risk, duration=duration,
            transaction=not no_transaction,
        )  # fmt: skip
    except SeasongateError as exc:
        _fail(exc, fmt)
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
    from seasongate._errors import SeasongateError

    argv = list(command)
    if argv and argv[0] == "--":
        argv = argv[1:]
    if health is not None:
        from seasongate._errors import InputError

        try:
            if dry_run:
                raise InputError("--health watches a real run: it does not go with --dry-run")
            loaded = _policy(policy, environment)
            now, note = _clock(at, loaded, territory, acts=True)
            result = api.run_with_health(
                argv, health=health, rollback_command=rollback_cmd, environment=environment, territory=territory,
                now=now, migration=migration, risk=risk, duration=duration, policy=loaded, store=store,
                use_store=not no_store, dsn=dsn,
            )  # fmt: skip
        except SeasongateError as exc:
            _fail(exc, fmt)
        _finish_watched(result, fmt, note)
    try:
        loaded = _policy(policy, environment)
        now, note = _clock(at, loaded, territory, acts=not dry_run)
        outcome = api.run(
            argv,
            dry_run=dry_run,
            environment=environment,
            territory=territory,
            now=now,
            migration=migration,
            migration_class=migration_class,
            risk=risk,
            duration=duration,
            policy=loaded,
            store=store,
            use_store=not no_store,
        )
    except SeasongateError as exc:
        _fail(exc, fmt)
    if note:
        click.echo(f"seasongate: note: {note}", err=True)
    if not outcome.ran:
        from seasongate.cli import _format

        if fmt == "json":
            click.echo(_format.decision_json(outcome.decision))
        else:
            click.echo(_format.decision_text(outcome.decision), err=True)
            verdict = "allowed" if outcome.decision.allowed else "denied"
            click.echo(f"seasongate: {verdict}; the command was not run", err=True)
    sys.exit(outcome.exit_code)


COMMANDS: list[click.Command] = [migrate, rollback, info, lint, new, run]
