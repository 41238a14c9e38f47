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

from seasongate._executor._callbacks import (
    AFTER_EACH_MIGRATE,
    AFTER_EACH_MIGRATE_ERROR,
    AFTER_MIGRATE,
    AFTER_MIGRATE_ERROR,
    BEFORE_EACH_MIGRATE,
    BEFORE_MIGRATE,
    Callback,
    Callbacks,
    find_callbacks,
)
from seasongate._executor._clean import clean_schemas
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
from seasongate._executor._flyway_db import (
    BaselineResult,
    FlywayLockBusy,
    apply_repair,
    read_history,
    write_baseline,
)
from seasongate._executor._flyway_info import FlywayEntry, FlywayInfo, flyway_info
from seasongate._executor._flyway_repair import RepairPlan, plan_repair
from seasongate._executor._lint import LintReport, lint
from seasongate._executor._new import NewMigration, create_migration, next_version, slugify
from seasongate._executor._placeholders import Placeholders, builtin_placeholders, for_script
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
from seasongate._executor._repeatables import RepeatableScript, read_repeatables, read_text, repeatable_checksum
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
from seasongate._executor._vcs import applied_text

__all__ = [
    "AFTER_EACH_MIGRATE",
    "AFTER_EACH_MIGRATE_ERROR",
    "AFTER_MIGRATE",
    "AFTER_MIGRATE_ERROR",
    "BEFORE_EACH_MIGRATE",
    "BEFORE_MIGRATE",
    "BLOCKING",
    "CODES",
    "DEFAULT_CLASSES",
    "DONE",
    "AllowAll",
    "Applied",
    "AuditAnchor",
    "BaselineResult",
    "Callback",
    "Callbacks",
    "Directives",
    "DryRun",
    "Entry",
    "ExecutorOptions",
    "Finding",
    "FlywayEntry",
    "FlywayInfo",
    "FlywayLockBusy",
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
    "Placeholders",
    "Plan",
    "PostgresSession",
    "RepairPlan",
    "RepeatableScript",
    "Statement",
    "Step",
    "StepResult",
    "Target",
    "ValidationError",
    "applied_text",
    "apply_repair",
    "build_plan",
    "builtin_placeholders",
    "classify",
    "clean_schemas",
    "create_migration",
    "find_callbacks",
    "flyway_checksum",
    "flyway_info",
    "for_script",
    "lint",
    "load_numbering",
    "next_version",
    "open_session",
    "plan_repair",
    "read_header",
    "read_history",
    "read_repeatables",
    "read_script",
    "read_text",
    "repeatable_checksum",
    "resolve_migration",
    "run_steps",
    "scan",
    "sha256_of",
    "slugify",
    "split_statements",
    "write_baseline",
]
