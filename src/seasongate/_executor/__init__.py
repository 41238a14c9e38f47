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

from typing import TYPE_CHECKING

from seasongate._lazy import lazy_names

if TYPE_CHECKING:
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
        MigrationScript,
        classify,
        flyway_checksum,
        read_header,
        read_script,
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
    from seasongate._executor._folder import MigrationFolder, scan
    from seasongate._executor._lint import LintReport, lint
    from seasongate._executor._new import NewMigration, create_migration, next_version, slugify
    from seasongate._executor._numbering import Numbering, load_numbering
    from seasongate._executor._pgerrors import LockBusy, LockLost, MigrationFailed
    from seasongate._executor._placeholders import Placeholders, builtin_placeholders, for_script
    from seasongate._executor._plan import (
        AuditAnchor,
        Entry,
        HistoryRow,
        Include,
        Plan,
        Step,
        ValidationError,
        build_plan,
    )
    from seasongate._executor._postgres import Applied, ExecutorOptions, PostgresSession, open_session
    from seasongate._executor._repeatables import RepeatableScript, read_repeatables, read_text, repeatable_checksum
    from seasongate._executor._resolve import MigrationRef, resolve_migration
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


# name -> the module that defines it. Each module loads when one of its names is first used:
# ``info`` needs the folder, the plan and the session, never the linter, the Flyway
# commands or the scaffolding of new files.
_EXPORTS = {
    **dict.fromkeys(
        [
            "AFTER_EACH_MIGRATE",
            "AFTER_EACH_MIGRATE_ERROR",
            "AFTER_MIGRATE",
            "AFTER_MIGRATE_ERROR",
            "BEFORE_EACH_MIGRATE",
            "BEFORE_MIGRATE",
            "Callback",
            "Callbacks",
            "find_callbacks",
        ],
        "seasongate._executor._callbacks",
    ),
    "clean_schemas": "seasongate._executor._clean",
    **dict.fromkeys(
        [
            "DEFAULT_CLASSES",
            "Directives",
            "MigrationScript",
            "classify",
            "flyway_checksum",
            "read_header",
            "read_script",
            "sha256_of",
        ],
        "seasongate._executor._files",
    ),
    **dict.fromkeys(["BLOCKING", "CODES", "Finding"], "seasongate._executor._findings"),
    **dict.fromkeys(
        ["BaselineResult", "FlywayLockBusy", "apply_repair", "read_history", "write_baseline"],
        "seasongate._executor._flyway_db",
    ),
    **dict.fromkeys(["FlywayEntry", "FlywayInfo", "flyway_info"], "seasongate._executor._flyway_info"),
    **dict.fromkeys(["RepairPlan", "plan_repair"], "seasongate._executor._flyway_repair"),
    **dict.fromkeys(["MigrationFolder", "scan"], "seasongate._executor._folder"),
    **dict.fromkeys(["LintReport", "lint"], "seasongate._executor._lint"),
    **dict.fromkeys(["NewMigration", "create_migration", "next_version", "slugify"], "seasongate._executor._new"),
    **dict.fromkeys(["Numbering", "load_numbering"], "seasongate._executor._numbering"),
    **dict.fromkeys(["LockBusy", "LockLost", "MigrationFailed"], "seasongate._executor._pgerrors"),
    **dict.fromkeys(["Placeholders", "builtin_placeholders", "for_script"], "seasongate._executor._placeholders"),
    **dict.fromkeys(
        ["AuditAnchor", "Entry", "HistoryRow", "Include", "Plan", "Step", "ValidationError", "build_plan"],
        "seasongate._executor._plan",
    ),
    **dict.fromkeys(
        ["Applied", "ExecutorOptions", "PostgresSession", "open_session"], "seasongate._executor._postgres"
    ),
    **dict.fromkeys(
        ["RepeatableScript", "read_repeatables", "read_text", "repeatable_checksum"],
        "seasongate._executor._repeatables",
    ),
    **dict.fromkeys(["MigrationRef", "resolve_migration"], "seasongate._executor._resolve"),
    **dict.fromkeys(
        [
            "AllowAll",
            "DONE",
            "DryRun",
            "GateAnswer",
            "GateHook",
            "MigrateReport",
            "PendingItem",
            "StepResult",
            "Target",
            "run_steps",
        ],
        "seasongate._executor._runner",
    ),
    **dict.fromkeys(["Statement", "split_statements"], "seasongate._executor._sql"),
    "applied_text": "seasongate._executor._vcs",
}

__getattr__ = lazy_names(__name__, _EXPORTS, globals())

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
