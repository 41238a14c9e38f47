"""The options the database commands share, gathered into values: :class:`GateArgs` (where
and when the gate judges, and how to print) and :class:`ExecutorArgs` (how the executor
talks to PostgreSQL). A command decorated with :func:`gate_args` / :func:`executor_args`
receives them as ``gate`` and ``executor`` instead of a dozen loose parameters.
"""

from __future__ import annotations

import functools
import json
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any, NoReturn

import click

from seasongate._errors import InputError, SeasongateError

if TYPE_CHECKING:
    from zoneinfo import ZoneInfo

    from seasongate.api import ExecutorOptions, Placeholders, Project

EXIT_OK, EXIT_DENIED, EXIT_ERROR = 0, 1, 2

Clock = Callable[[], datetime]


def _real_clock() -> datetime:
    return datetime.now(UTC)


def read_at(text: str, tz: ZoneInfo) -> tuple[datetime, str | None]:
    """``--at`` (ISO 8601) read in the territory's zone ``tz``, and the note to show when it
    had no UTC offset."""
    from seasongate._time import parse_instant

    moment, was_naive = parse_instant(text, tz)
    return moment, f"--at {text} has no UTC offset; read as {tz.key} local time" if was_naive else None


def clock(at: str | None, policy: Any, territory: str, *, acts: bool = False) -> tuple[Clock, str | None]:
    """The system clock, or one that starts at ``--at`` and runs at real speed. ``--at``
    judges another instant and so never acts: a command that would change something
    (``acts``: migrate, rollback or run without --dry-run) refuses it."""
    if at is None:
        return _real_clock, None
    start, note = read_at(at, policy.zone(territory))
    if acts:
        raise InputError(
            "--at judges another instant and executes nothing: add --dry-run to see what would happen then"
        )
    origin = time.monotonic()
    return (lambda: start + timedelta(seconds=time.monotonic() - origin)), note


def fail(exc: Exception, fmt: str) -> NoReturn:
    """Errors as one JSON document in json mode; the CLI group prints them otherwise."""
    if fmt != "json":
        raise exc
    click.echo(
        json.dumps({"status": "error", "exit_code": EXIT_ERROR, "error": str(exc)}, indent=2, ensure_ascii=False)
    )
    sys.exit(EXIT_ERROR)


@contextmanager
def reported(fmt: str) -> Iterator[None]:
    """Errors inside as the command reports them (:func:`fail`)."""
    try:
        yield
    except SeasongateError as exc:
        fail(exc, fmt)


def show_note(note: str | None) -> None:
    """A note about how an option was read (``--at`` without offset), on stderr."""
    if note:
        click.echo(f"seasongate: note: {note}", err=True)


@dataclass(frozen=True)
class GateArgs:
    """Where and when the gate judges a database command, and how the command prints."""

    environment: str
    territory: str
    policy: str | None
    store: str | None
    use_store: bool
    at: str | None
    fmt: str
    dsn: str | None = None
    migrations: Path = Path("migrations")

    def project(self) -> Project:
        """The project the command works against (policy + store)."""
        from seasongate import api

        return api.open_project(self.environment, policy=self.policy, store=self.store, use_store=self.use_store)

    def open(self, *, acts: bool = False) -> tuple[Project, Clock, str | None]:
        """The project, the clock the gate judges by and the note on how ``--at`` was read
        (see :func:`clock`; ``acts``: the command changes something)."""
        project = self.project()
        now, note = clock(self.at, project.policy, self.territory, acts=acts)
        return project, now, note

    def open_watched(self, *, dry_run: bool) -> tuple[Project, Clock, str | None]:
        """As :meth:`open` for a run watched after (``--health``), which is always a real one."""
        if dry_run:
            raise InputError("--health watches a real run: it does not go with --dry-run")
        return self.open(acts=True)

    def reported(self) -> AbstractContextManager[None]:
        """Errors inside as the command reports them (:func:`fail`)."""
        return reported(self.fmt)


def duration(text: str, option: str) -> float:
    """A duration option (``30s``, ``5m``, ``1h``), by the one duration rule (a unit is required)."""
    from seasongate._time import parse_duration

    try:
        return float(parse_duration(text))
    except InputError as exc:
        raise InputError(f"{option}: {exc}") from exc


@dataclass(frozen=True)
class ExecutorArgs:
    """How the executor talks to PostgreSQL, as given (durations are read by :meth:`options`)."""

    table: str
    lock_wait: str
    lock_timeout: str
    statement_timeout: str
    lock_retries: int

    def options(self) -> ExecutorOptions:
        """The executor's options; a malformed duration is an error naming its option."""
        from seasongate import api

        return api.ExecutorOptions(
            table=self.table,
            lock_wait=duration(self.lock_wait, "--lock-wait"),
            lock_timeout=duration(self.lock_timeout, "--lock-timeout"),
            statement_timeout=duration(self.statement_timeout, "--statement-timeout"),
            lock_retries=self.lock_retries,
        )


_GATE_OPTIONS = [
    click.option("--dsn", envvar="SEASONGATE_DSN", help="Target database URL (or SEASONGATE_DSN)."),
    click.option("--migrations", "migrations", envvar="SEASONGATE_MIGRATIONS", default="migrations",
                 show_default=True, type=click.Path(file_okay=False), help="Migrations folder."),
    click.option("--policy", type=click.Path(dir_okay=False),
                 help="Policy file (default: the one in policies/ covering --env)."),
    click.option("--store", envvar="SEASONGATE_STORE",
                 help="Override/audit store URL (sqlite:///path or postgresql://...)."),
    click.option("--no-store", is_flag=True, help="Neither read overrides nor write the audit trail."),
    click.option("--env", "environment", required=True, help="Environment, e.g. production."),
    click.option("--territory", "-t", required=True, help="Territory, e.g. DE or CH."),
    click.option("--at", help="With --dry-run (or on info): judge as if the run started at this instant (ISO 8601; "
                 "the clock then runs on). Without offset: local to the territory."),
    click.option("--format", "fmt", type=click.Choice(["text", "json"]), default="text", show_default=True),
]  # fmt: skip

_EXECUTOR_OPTIONS = [
    click.option("--table", default="seasongate_schema_history", show_default=True,
                 help="History table (in schema public)."),
    click.option("--lock-wait", default="60s", show_default=True,
                 help="How long to wait for another run's migration lock."),
    click.option("--lock-timeout", default="5s", show_default=True,
                 help="lock_timeout of each statement (header lock_timeout= overrides)."),
    click.option("--statement-timeout", default="30m", show_default=True,
                 help="statement_timeout of each statement (header overrides)."),
    click.option("--lock-retries", default=3, show_default=True, type=click.IntRange(0, 20),
                 help="Retries of a statement that hit the lock timeout (backoff 1s, 2s...)."),
]  # fmt: skip


def _decorate(options: list[Callable[..., Any]], func: Callable[..., Any]) -> Callable[..., Any]:
    for option in reversed(options):
        func = option(func)
    return func


def gate_options(func: Callable[..., Any]) -> Callable[..., Any]:
    """The shared options as loose parameters (``cli/_flyway`` takes them so)."""
    return _decorate(_GATE_OPTIONS, func)


def executor_options(func: Callable[..., Any]) -> Callable[..., Any]:
    """The executor options as loose parameters (``cli/_flyway`` takes them so)."""
    return _decorate(_EXECUTOR_OPTIONS, func)


def gate_args(func: Callable[..., Any]) -> Callable[..., Any]:
    """The shared options, received by the command as one :class:`GateArgs` (``gate``)."""

    @functools.wraps(func)
    def command(**kw: Any) -> Any:
        gate = GateArgs(
            kw.pop("environment"), kw.pop("territory"), kw.pop("policy"), kw.pop("store"), not kw.pop("no_store"),
            kw.pop("at"), kw.pop("fmt"), kw.pop("dsn"), Path(kw.pop("migrations")),
        )  # fmt: skip
        return func(gate=gate, **kw)

    return gate_options(command)


def executor_args(func: Callable[..., Any]) -> Callable[..., Any]:
    """The executor options, received by the command as one :class:`ExecutorArgs` (``executor``)."""

    @functools.wraps(func)
    def command(**kw: Any) -> Any:
        names = ("table", "lock_wait", "lock_timeout", "statement_timeout", "lock_retries")
        return func(executor=ExecutorArgs(*(kw.pop(name) for name in names)), **kw)

    return executor_options(command)


def step_options(*, classes: str, dry_run: str, retry: str) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    """``--class`` (repeatable), ``--dry-run`` and ``--retry-incomplete``, with each command's help."""
    return functools.partial(_decorate, [
        click.option("--class", "classes", multiple=True, help=classes),
        click.option("--dry-run", is_flag=True, help=dry_run),
        click.option("--retry-incomplete", is_flag=True, help=retry),
    ])  # fmt: skip


def placeholder_option(func: Callable[..., Any]) -> Callable[..., Any]:
    """``--placeholder NAME=VALUE`` (repeatable)."""
    return click.option(
        "--placeholder",
        "placeholders",
        multiple=True,
        metavar="NAME=VALUE",
        help="Value of ${NAME} in the scripts (over the configuration file's [placeholders]).",
    )(func)


def placeholder_values(items: tuple[str, ...]) -> Placeholders:
    """The placeholders of this run: the configuration file's, then ``--placeholder`` ones."""
    from seasongate.api import Placeholders

    obj = click.get_current_context().find_root().obj or {}
    prefix, suffix, enabled = obj.get("placeholder_syntax", ("${", "}", True))
    values = dict(obj.get("placeholders", {}))
    if items:  # the configuration module loads only when --placeholder is given
        from seasongate.api import parse_placeholder_options

        values.update(parse_placeholder_options(items))
    return Placeholders(values, prefix, suffix, enabled)
