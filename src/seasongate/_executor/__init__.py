"""Migration files, validation, lint and the PostgreSQL executor.

This layer knows nothing of policies or stores (it sits beside ``_store``, below ``_gate``):
the migrate and rollback loops take a :class:`GateHook` callback.

    folder = scan(Path("migrations"))
    with open_session(dsn) as session:              # connects, takes the migration lock
        plan = build_plan(folder, session.history())
        plan.check()                                # changed, missing, out of order, gaps...
        report = run_migrations(session, plan, AllowAll())
"""

from __future__ import annotations

from seasongate._executor._files import (
    DEFAULT_CLASSES,
    ClassRange,
    Directives,
    MigrationFolder,
    MigrationRef,
    MigrationScript,
    Numbering,
    class_ranges,
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
from seasongate._executor._plan import Entry, HistoryRow, Plan, ValidationError, build_plan
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
    AllowAll,
    GateAnswer,
    GateHook,
    GateQuery,
    MigrateReport,
    PendingItem,
    StepResult,
    gate_query,
    run_migrations,
    run_rollback,
)
from seasongate._executor._sql import Statement, split_statements

__all__ = [
    "BLOCKING",
    "CODES",
    "DEFAULT_CLASSES",
    "AllowAll",
    "Applied",
    "ClassRange",
    "Directives",
    "Entry",
    "ExecutorOptions",
    "Finding",
    "GateAnswer",
    "GateHook",
    "GateQuery",
    "HistoryRow",
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
    "StepResult",
    "ValidationError",
    "build_plan",
    "class_ranges",
    "classify",
    "create_migration",
    "flyway_checksum",
    "gate_query",
    "lint",
    "load_numbering",
    "next_version",
    "open_session",
    "read_header",
    "read_script",
    "resolve_migration",
    "run_migrations",
    "run_rollback",
    "scan",
    "sha256_of",
    "slugify",
    "split_statements",
]
