"""The migration commands: migrate, rollback, info, lint, new, run.

One public function per command; each returns a result dataclass and never prints. Those
that evaluate the gate take the clock (``now``), which they call once per migration; the
CLI builds it from ``--at`` or the system clock. ``open_gate`` gives the same gate to
Python callers (Alembic ``env.py``, your own executor).
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING

from seasongate._errors import InputError
from seasongate._executor import (
    DEFAULT_CLASSES,
    ExecutorOptions,
    LintReport,
    MigrateReport,
    NewMigration,
    Placeholders,
    StepResult,
    create_migration,
)
from seasongate._executor import lint as lint_folder
from seasongate._gate import Gate, InfoReport, RunOutcome, run_command
from seasongate._gate import info as gate_info
from seasongate._gate import migrate as gate_migrate
from seasongate._gate import rollback as gate_rollback
from seasongate._versions import Version
from seasongate.api._check import open_policy

if TYPE_CHECKING:
    from seasongate._policy import Policy
    from seasongate._store import Store

DSN_ENV = "SEASONGATE_DSN"
MIGRATIONS = Path("migrations")

__all__ = [
    "DSN_ENV",
    "ExecutorOptions",
    "InfoReport",
    "LintReport",
    "MigrateReport",
    "NewMigration",
    "RunOutcome",
    "info",
    "lint",
    "migrate",
    "new_migration",
    "open_gate",
    "rollback",
    "run",
]


def _dsn(dsn: str | None) -> str:
    chosen = (dsn or "").strip() or os.environ.get(DSN_ENV, "").strip()
    if not chosen:
        raise InputError(f"no database given: use --dsn URL or set {DSN_ENV}")
    return chosen


def _version(value: str | Version | None, what: str) -> Version | None:
    if value is None or isinstance(value, Version):
        return value
    try:
        return Version.parse(value)
    except InputError as exc:
        raise InputError(f"{what}: {exc}") from exc


def open_gate(
    *,
    now: Callable[[], datetime],
    record_clock: Callable[[], datetime] | None = None,
    environment: str | None = None,
    territory: str | None = None,
    policy: str | Path | Policy | None = None,
    store: str | Store | None = None,
    project_dir: Path | None = None,
    use_store: bool = True,
) -> Gate:
    """A :class:`~seasongate._gate.Gate` with the policy covering ``environment`` (or the one
    given) and the override/audit store (``use_store=False``: no overrides, no audit).

    ``now`` is the clock the gate judges by; ``record_clock`` (default ``now``) stamps the
    audit entries, the real clock when a run is judged at a simulated instant. The caller
    owns the store; close it with ``gate.store.close()`` when done.
    """
    loaded = open_policy(policy, environment, project_dir)
    opened: Store | None = None
    if use_store:
        from seasongate.api._check import _open_store

        opened = _open_store(store, project_dir)
    return Gate(loaded, opened, now=now, record_clock=record_clock, environment=environment, territory=territory)


@contextmanager
def _gate(
    now: Callable[[], datetime],
    environment: str,
    territory: str,
    policy: str | Path | Policy | None,
    store: str | Store | None,
    project_dir: Path | None,
    *,
    use_store: bool,
) -> Iterator[Gate]:
    from seasongate._store import Store as StoreClass

    gate = open_gate(
        now=now,
        environment=environment,
        territory=territory,
        policy=policy,
        store=store,
        project_dir=project_dir,
        use_store=use_store,
    )
    try:
        yield gate
    finally:
        if gate.store is not None and not isinstance(store, StoreClass):
            gate.store.close()


def migrate(
    *,
    dsn: str | None,
    environment: str,
    territory: str,
    now: Callable[[], datetime],
    migrations: Path = MIGRATIONS,
    policy: str | Path | Policy | None = None,
    store: str | Store | None = None,
    target: str | Version | None = None,
    classes: Sequence[str] | None = None,
    dry_run: bool = False,
    retry_incomplete: bool = False,
    options: ExecutorOptions | None = None,
    progress: Callable[[StepResult], None] | None = None,
    project_dir: Path | None = None,
    use_store: bool = True,
    placeholders: Mapping[str, str] | Placeholders | None = None,
    baseline_on_migrate: str | Version | None = None,
) -> MigrateReport:
    """Apply the pending migrations, each gated at its own start (``seasongate migrate``),
    then the repeatable scripts whose checksum changed.

    Raises before anything runs when the history does not match the folder
    (:class:`~seasongate._executor.ValidationError`), the lock stays busy
    (:class:`~seasongate._executor.LockBusy`) or the database cannot be reached; otherwise
    returns the report (``exit_code``: 0 done, 1 stopped by the gate, 2 a migration failed).
    ``dry_run`` reads the history without the lock and changes nothing (it reads the active
    overrides but writes no audit entry and spends none).

    ``now`` is the clock the gate judges by, called at each migration's start. A run that
    changes the database is judged by the real clock: a simulated one (``--at``) is for dry
    runs only; the CLI refuses it otherwise.
    """
    chosen = _dsn(dsn)
    wanted = _version(target, "--target")
    with _gate(now, environment, territory, policy, store, project_dir, use_store=use_store) as gate:
        return gate_migrate(
            gate,
            chosen,
            migrations,
            target=wanted,
            classes=classes,
            dry_run=dry_run,
            retry_incomplete=retry_incomplete,
            options=options,
            progress=progress,
            placeholders=as_placeholders(placeholders),
            baseline_on_migrate=_version(baseline_on_migrate, "--baseline-version"),
        )


def as_placeholders(values: Mapping[str, str] | Placeholders | None) -> Placeholders:
    """Placeholder values (``${name}``) as the executor takes them."""
    if isinstance(values, Placeholders):
        return values
    return Placeholders(dict(values or {}))


def rollback(
    *,
    dsn: str | None,
    to: str | Version,
    environment: str,
    territory: str,
    now: Callable[[], datetime],
    migrations: Path = MIGRATIONS,
    policy: str | Path | Policy | None = None,
    store: str | Store | None = None,
    classes: Sequence[str] | None = None,
    dry_run: bool = False,
    retry_incomplete: bool = False,
    options: ExecutorOptions | None = None,
    progress: Callable[[StepResult], None] | None = None,
    project_dir: Path | None = None,
    use_store: bool = True,
    placeholders: Mapping[str, str] | Placeholders | None = None,
) -> MigrateReport:
    """Undo the applied migrations above ``to``, highest first (``seasongate rollback``): of
    ``classes`` when given, else of every class the policy lets run here. Refuses before the
    first step when an undo script is missing
    (:class:`~seasongate._executor.ValidationError`)."""
    chosen = _dsn(dsn)
    wanted = _version(to, "--to")
    assert wanted is not None
    with _gate(now, environment, territory, policy, store, project_dir, use_store=use_store) as gate:
        return gate_rollback(
            gate, chosen, migrations, to=wanted, classes=classes, dry_run=dry_run,
            retry_incomplete=retry_incomplete, options=options, progress=progress,
            placeholders=as_placeholders(placeholders),
        )  # fmt: skip


def info(
    *,
    dsn: str | None,
    environment: str,
    territory: str,
    now: Callable[[], datetime],
    migrations: Path = MIGRATIONS,
    policy: str | Path | Policy | None = None,
    store: str | Store | None = None,
    classes: Sequence[str] | None = None,
    options: ExecutorOptions | None = None,
    project_dir: Path | None = None,
    use_store: bool = True,
    placeholders: Mapping[str, str] | Placeholders | None = None,
) -> InfoReport:
    """Every migration with its state (seasongate's and Flyway's) and, for pending ones, the
    gate's verdict now."""
    chosen = _dsn(dsn)
    with _gate(now, environment, territory, policy, store, project_dir, use_store=use_store) as gate:
        return gate_info(
            gate, chosen, migrations, classes=classes, options=options, placeholders=as_placeholders(placeholders)
        )


def lint(
    directory: Path = MIGRATIONS,
    *,
    policy: str | Path | Policy | None = None,
) -> LintReport:
    """Lint a migrations folder; the numbering classes come from ``policy`` when given."""
    classes = DEFAULT_CLASSES
    if policy is not None:
        classes = open_policy(policy, None).migration_classes
    return lint_folder(directory, classes=classes)


def new_migration(
    description: str,
    *,
    migration_class: str = "production",
    directory: Path = MIGRATIONS,
    policy: str | Path | Policy | None = None,
    undo: bool = True,
    risk: str | None = None,
    duration: str | int | None = None,
    transaction: bool = True,
) -> NewMigration:
    """Create the next free migration file of ``migration_class`` (and its undo file)."""
    from seasongate._time import parse_duration

    classes = DEFAULT_CLASSES
    if policy is not None:
        classes = open_policy(policy, None).migration_classes
    seconds = None
    if duration is not None:
        seconds = duration if isinstance(duration, int) else parse_duration(duration)
    return create_migration(
        directory,
        description,
        migration_class=migration_class,
        classes=classes,
        undo=undo,
        risk=risk,
        duration=seconds,
        transaction=transaction,
    )


def run(
    command: Sequence[str],
    *,
    environment: str,
    territory: str,
    now: Callable[[], datetime],
    migration: str | None = None,
    migration_class: str | None = None,
    risk: str | None = None,
    duration: str | int | None = None,
    policy: str | Path | Policy | None = None,
    store: str | Store | None = None,
    project_dir: Path | None = None,
    use_store: bool = True,
    dry_run: bool = False,
) -> RunOutcome:
    """Run ``command`` if the gate allows it now (``seasongate run -- COMMAND``).

    The command's output passes through; its exit code is the outcome's (1 when denied).
    ``migration`` may be a migration file path, whose header supplies risk and duration.
    ``dry_run`` judges and runs nothing (no audit entry, no override spent).
    """
    from seasongate.api._check import build_request

    request = build_request(
        environment=environment, territory=territory, migration=migration, risk=risk, duration=duration,
        migration_class=migration_class,
    )  # fmt: skip
    with _gate(now, environment, territory, policy, store, project_dir, use_store=use_store) as gate:
        return run_command(gate, list(command), request, dry_run=dry_run)
