"""The migration commands: migrate, rollback, info, lint, new, run.

One public function per command; each returns a result dataclass and never prints. Those
that evaluate the gate take the clock (``now``), which they call once per migration; the
CLI builds it from ``--at`` or the system clock. Each opens its project (policy + store) as
one :class:`~seasongate.api._project.Project` (or, for Python callers, its fields as
keywords: ``policy``, ``store``, ``project_dir``, ``use_store``). ``open_gate`` gives the
same gate to Python callers (Alembic ``env.py``, your own executor).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Unpack

from seasongate._executor import DEFAULT_CLASSES, ExecutorOptions, MigrateReport, StepResult
from seasongate._gate import InfoReport
from seasongate._gate import info as gate_info
from seasongate._gate import migrate as gate_migrate
from seasongate._gate import rollback as gate_rollback
from seasongate._lazy import lazy_names
from seasongate._versions import Version
from seasongate.api._gated import (
    DSN_ENV,
    MIGRATIONS,
    Database,
    DatabaseFields,
    database_of,
    gated,
    open_gate,
    refuse_unknown,
    version_option,
)
from seasongate.api._project import Project, open_project, project_of
from seasongate.api._request import CommandFields, spec_of

if TYPE_CHECKING:
    from seasongate._executor import LintReport, NewMigration
    from seasongate._gate import RunOutcome
    from seasongate._policy import MigrationClass, Policy
    from seasongate.api._request import RequestSpec

# ``lint``, ``new`` and ``run`` load their modules when called: ``migrate``, ``rollback`` and
# ``info`` never need the linter, the file scaffolding or the child-process runner.
__getattr__ = lazy_names(
    __name__,
    {"LintReport": "seasongate._executor", "NewMigration": "seasongate._executor", "RunOutcome": "seasongate._gate"},
    globals(),
)

__all__ = [
    "DSN_ENV",
    "MIGRATIONS",
    "Database",
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


def migrate(
    database: Database | None = None,
    *,
    environment: str,
    territory: str,
    now: Callable[[], datetime],
    project: Project | None = None,
    target: str | Version | None = None,
    classes: Sequence[str] | None = None,
    dry_run: bool = False,
    retry_incomplete: bool = False,
    progress: Callable[[StepResult], None] | None = None,
    baseline_on_migrate: str | Version | None = None,
    **fields: Unpack[DatabaseFields],
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
    db = database_of(database, fields)
    chosen = db.url
    wanted = version_option(target, "--target")
    baseline = version_option(baseline_on_migrate, "--baseline-version")
    with gated(project_of(project, fields, environment), now, environment, territory) as gate:
        return gate_migrate(
            gate, chosen, db.migrations, target=wanted, classes=classes, dry_run=dry_run,
            retry_incomplete=retry_incomplete, options=db.options, progress=progress,
            placeholders=db.placeholder_values(), baseline_on_migrate=baseline,
        )  # fmt: skip


def rollback(
    database: Database | None = None,
    *,
    to: str | Version,
    classes: Sequence[str] | None = None,
    environment: str,
    territory: str,
    now: Callable[[], datetime],
    project: Project | None = None,
    dry_run: bool = False,
    retry_incomplete: bool = False,
    progress: Callable[[StepResult], None] | None = None,
    **fields: Unpack[DatabaseFields],
) -> MigrateReport:
    """Undo the applied migrations above ``to``, highest first (``seasongate rollback``): of
    ``classes`` when given, else of every class the policy lets run here. Refuses before the
    first step when an undo script is missing
    (:class:`~seasongate._executor.ValidationError`). The database and the project are given
    as for :func:`migrate`."""
    db = database_of(database, fields)
    chosen = db.url
    wanted = version_option(to, "--to")
    assert wanted is not None
    with gated(project_of(project, fields, environment), now, environment, territory) as gate:
        return gate_rollback(
            gate, chosen, db.migrations, to=wanted, classes=classes, dry_run=dry_run,
            retry_incomplete=retry_incomplete, options=db.options, progress=progress,
            placeholders=db.placeholder_values(),
        )  # fmt: skip


def info(
    database: Database | None = None,
    *,
    classes: Sequence[str] | None = None,
    environment: str,
    territory: str,
    now: Callable[[], datetime],
    project: Project | None = None,
    **fields: Unpack[DatabaseFields],
) -> InfoReport:
    """Every migration with its state (seasongate's and Flyway's) and, for pending ones, the
    gate's verdict now."""
    db = database_of(database, fields)
    chosen = db.url
    with gated(project_of(project, fields, environment), now, environment, territory) as gate:
        return gate_info(
            gate, chosen, db.migrations, classes=classes, options=db.options, placeholders=db.placeholder_values()
        )


def _numbering(policy: str | Path | Policy | None) -> Sequence[MigrationClass]:
    """The migration classes that number the files: the policy's when one is given."""
    if policy is None:
        return DEFAULT_CLASSES
    return open_project(None, policy=policy, use_store=False).policy.migration_classes


def lint(
    directory: Path = MIGRATIONS,
    *,
    policy: str | Path | Policy | None = None,
) -> LintReport:
    """Lint a migrations folder; the numbering classes come from ``policy`` when given."""
    from seasongate._executor import lint as lint_folder

    return lint_folder(directory, classes=_numbering(policy))


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
    from seasongate._executor import create_migration
    from seasongate._time import parse_duration

    seconds = None
    if duration is not None:
        seconds = duration if isinstance(duration, int) else parse_duration(duration)
    return create_migration(
        directory,
        description,
        migration_class=migration_class,
        classes=_numbering(policy),
        undo=undo,
        risk=risk,
        duration=seconds,
        transaction=transaction,
    )


def run(
    command: Sequence[str],
    request: RequestSpec | None = None,
    *,
    now: Callable[[], datetime],
    project: Project | None = None,
    dry_run: bool = False,
    **fields: Unpack[CommandFields],
) -> RunOutcome:
    """Run ``command`` if the gate allows it now (``seasongate run -- COMMAND``).

    The request is a :class:`~seasongate.api.RequestSpec` (or its fields as keywords:
    ``environment``, ``territory``, ``migration``, ``migration_class``, ``risk``,
    ``duration``); ``migration`` may be a migration file path, whose header supplies risk and
    duration. The command's output passes through; its exit code is the outcome's (1 when
    denied). ``dry_run`` judges and runs nothing (no audit entry, no override spent).
    """
    refuse_unknown(fields, CommandFields)
    spec = spec_of(request, fields)
    asked = spec.resolve()
    with gated(project_of(project, fields, spec.environment), now, spec.environment, spec.territory) as gate:
        from seasongate._gate import run_command

        return run_command(gate, list(command), asked, dry_run=dry_run)
