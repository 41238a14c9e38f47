"""Migration files, validation, lint and the PostgreSQL executor.

This layer knows nothing of stores (it sits beside ``_store``, below ``_gate``): the one run
loop takes a :class:`GateHook` callback; the plan's steps carry their direction.

    folder = scan(Path("migrations"))
    with open_session(dsn) as session:              # connects, takes the migration lock
        plan = build_plan(folder, session.history())
        plan.check()                                # changed, missing, out of order, gaps...
        report = run_steps(session, plan.apply_steps(), AllowAll(), operation="migrate")
"""

from __future__ import annotations

from seasongate._executor._files import (
    DEFAULT_CLASSES,
    Directives,
    MigrationFolder,
    MigrationRef,
    MigrationScript,
    Numbering,
    classify,
    flyway_checksum,
    load_numbering,
    read_header,
    read_script,
    resolve_migration,
    scan,
    sha256_of,
)
from seasongate._executor._findings import BLOCKING, CODES, Finding
from seasongate._executor._lint import LintReport, lint
from seasongate._executor._new import NewMigration, create_migration, next_version, slugify
from seasongate._executor._plan import AuditAnchor, Entry, HistoryRow, Include, Plan, Step, ValidationError, build_plan
from seasongate._executor._postgres import (
    Applied,
    ExecutorOptions,
    LockBusy,
    LockLost,
    MigrationFailed,
    PostgresSession,
    open_session,
)
from seasongate._executor._runner import (
    DONE,
    AllowAll,
    DryRun,
    GateAnswer,
    GateHook,
    MigrateReport,
    PendingItem,
    StepResult,
    Target,
    run_steps,
)
from seasongate._executor._sql import Statement, split_statements

__all__ = [
    "BLOCKING",
    "CODES",
    "DEFAULT_CLASSES",
    "DONE",
    "AllowAll",
    "Applied",
    "AuditAnchor",
    "Directives",
    "DryRun",
    "Entry",
    "ExecutorOptions",
    "Finding",
    "GateAnswer",
    "GateHook",
    "HistoryRow",
    "Include",
    "LintReport",
    "LockBusy",
    "LockLost",
    "MigrateReport",
    "MigrationFailed",
    "MigrationFolder",
    "MigrationRef",
    "MigrationScript",
    "NewMigration",
    "Numbering",
    "PendingItem",
    "Plan",
    "PostgresSession",
    "Statement",
    "Step",
    "StepResult",
    "Target",
    "ValidationError",
    "build_plan",
    "classify",
    "create_migration",
    "flyway_checksum",
    "lint",
    "load_numbering",
    "next_version",
    "open_session",
    "read_header",
    "read_script",
    "resolve_migration",
    "run_steps",
    "scan",
    "sha256_of",
    "slugify",
    "split_statements",
]
