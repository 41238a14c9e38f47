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
    from seasongate._executor._callbacks import AFTER_EACH_MIGRATE as AFTER_EACH_MIGRATE
    from seasongate._executor._callbacks import AFTER_EACH_MIGRATE_ERROR as AFTER_EACH_MIGRATE_ERROR
    from seasongate._executor._callbacks import AFTER_MIGRATE as AFTER_MIGRATE
    from seasongate._executor._callbacks import AFTER_MIGRATE_ERROR as AFTER_MIGRATE_ERROR
    from seasongate._executor._callbacks import BEFORE_EACH_MIGRATE as BEFORE_EACH_MIGRATE
    from seasongate._executor._callbacks import BEFORE_MIGRATE as BEFORE_MIGRATE
    from seasongate._executor._callbacks import Callback as Callback
    from seasongate._executor._callbacks import Callbacks as Callbacks
    from seasongate._executor._callbacks import find_callbacks as find_callbacks
    from seasongate._executor._clean import clean_schemas as clean_schemas
    from seasongate._executor._files import DEFAULT_CLASSES as DEFAULT_CLASSES
    from seasongate._executor._files import Directives as Directives
    from seasongate._executor._files import MigrationScript as MigrationScript
    from seasongate._executor._files import classify as classify
    from seasongate._executor._files import flyway_checksum as flyway_checksum
    from seasongate._executor._files import read_header as read_header
    from seasongate._executor._files import read_script as read_script
    from seasongate._executor._files import sha256_of as sha256_of
    from seasongate._executor._findings import BLOCKING as BLOCKING
    from seasongate._executor._findings import CODES as CODES
    from seasongate._executor._findings import Finding as Finding
    from seasongate._executor._flyway_db import BaselineResult as BaselineResult
    from seasongate._executor._flyway_db import FlywayLockBusy as FlywayLockBusy
    from seasongate._executor._flyway_db import apply_repair as apply_repair
    from seasongate._executor._flyway_db import read_history as read_history
    from seasongate._executor._flyway_db import write_baseline as write_baseline
    from seasongate._executor._flyway_info import FlywayEntry as FlywayEntry
    from seasongate._executor._flyway_info import FlywayInfo as FlywayInfo
    from seasongate._executor._flyway_info import flyway_info as flyway_info
    from seasongate._executor._flyway_repair import RepairPlan as RepairPlan
    from seasongate._executor._flyway_repair import plan_repair as plan_repair
    from seasongate._executor._folder import MigrationFolder as MigrationFolder
    from seasongate._executor._folder import scan as scan
    from seasongate._executor._lint import LintReport as LintReport
    from seasongate._executor._lint import lint as lint
    from seasongate._executor._new import NewMigration as NewMigration
    from seasongate._executor._new import create_migration as create_migration
    from seasongate._executor._new import next_version as next_version
    from seasongate._executor._new import slugify as slugify
    from seasongate._executor._numbering import Numbering as Numbering
    from seasongate._executor._numbering import load_numbering as load_numbering
    from seasongate._executor._pgerrors import LockBusy as LockBusy
    from seasongate._executor._pgerrors import LockLost as LockLost
    from seasongate._executor._pgerrors import MigrationFailed as MigrationFailed
    from seasongate._executor._placeholders import Placeholders as Placeholders
    from seasongate._executor._placeholders import builtin_placeholders as builtin_placeholders
    from seasongate._executor._placeholders import for_script as for_script
    from seasongate._executor._plan import AuditAnchor as AuditAnchor
    from seasongate._executor._plan import Entry as Entry
    from seasongate._executor._plan import HistoryRow as HistoryRow
    from seasongate._executor._plan import Include as Include
    from seasongate._executor._plan import Plan as Plan
    from seasongate._executor._plan import Step as Step
    from seasongate._executor._plan import ValidationError as ValidationError
    from seasongate._executor._plan import build_plan as build_plan
    from seasongate._executor._postgres import Applied as Applied
    from seasongate._executor._postgres import ExecutorOptions as ExecutorOptions
    from seasongate._executor._postgres import PostgresSession as PostgresSession
    from seasongate._executor._postgres import open_session as open_session
    from seasongate._executor._repeatables import RepeatableScript as RepeatableScript
    from seasongate._executor._repeatables import read_repeatables as read_repeatables
    from seasongate._executor._repeatables import read_text as read_text
    from seasongate._executor._repeatables import repeatable_checksum as repeatable_checksum
    from seasongate._executor._resolve import MigrationRef as MigrationRef
    from seasongate._executor._resolve import resolve_migration as resolve_migration
    from seasongate._executor._runner import DONE as DONE
    from seasongate._executor._runner import AllowAll as AllowAll
    from seasongate._executor._runner import DryRun as DryRun
    from seasongate._executor._runner import GateAnswer as GateAnswer
    from seasongate._executor._runner import GateHook as GateHook
    from seasongate._executor._runner import MigrateReport as MigrateReport
    from seasongate._executor._runner import PendingItem as PendingItem
    from seasongate._executor._runner import StepResult as StepResult
    from seasongate._executor._runner import Target as Target
    from seasongate._executor._runner import run_steps as run_steps
    from seasongate._executor._sql import Statement as Statement
    from seasongate._executor._sql import split_statements as split_statements
    from seasongate._executor._vcs import applied_text as applied_text


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

__all__ = sorted(_EXPORTS)
