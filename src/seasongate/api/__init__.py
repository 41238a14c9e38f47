"""One public function per command; the CLI only parses options and formats results.

Every function that evaluates takes the instant (``at``/``start``) or a clock (``now``) as an
argument: nothing below the CLI reads the clock.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from seasongate.api._check import (
    check,
    explain,
)
from seasongate.api._project import Project, find_policy, open_policy, open_project
from seasongate.api._request import RequestSpec, build_request
from seasongate.api._slots import Slot, SlotsResult, slots

# The migrate and override commands load their modules (the executor, the gate, the store
# rules) only when used: ``seasongate check`` imports this package on every pipeline run.
_LAZY = {
    **dict.fromkeys(["ValidationReport", "validate"], "seasongate.api._validate"),
    **dict.fromkeys(["WindowsResult", "windows"], "seasongate.api._windows"),
    **dict.fromkeys(
        ["ExecutorOptions", "info", "lint", "migrate", "new_migration", "open_gate", "rollback", "run"],
        "seasongate.api._migrate",
    ),
    **dict.fromkeys(["ConfigReport", "load_project_config", "show_config"], "seasongate.api._config"),
    **dict.fromkeys(["baseline", "clean", "repair"], "seasongate.api._flyway"),
    **dict.fromkeys(
        [
            "ApprovalOutcome", "audit_head", "audit_list", "audit_verify", "override_approve", "override_list",
            "override_reject", "override_request", "override_revoke", "override_show",
        ],
        "seasongate.api._overrides",
    ),
    **dict.fromkeys(["calendar_feed", "export_blackouts", "year_view"], "seasongate.api._views"),
    "serve": "seasongate.api._web",
    **dict.fromkeys(
        ["WatchedRun", "health_check", "load_health_file", "migrate_with_health", "run_with_health"],
        "seasongate.api._health",
    ),
    # The types results are made of, for callers that format them (the CLI among them).
    **dict.fromkeys(["Decision", "Reason", "RuleCheck"], "seasongate._policy"),
    **dict.fromkeys(["Period"], "seasongate._calendar"),
    **dict.fromkeys(["OverrideRecord"], "seasongate._overrides"),
    **dict.fromkeys(["AuditEntry"], "seasongate._store"),
    **dict.fromkeys(["Placeholders"], "seasongate._executor"),
    **dict.fromkeys(["parse_placeholder_options"], "seasongate._config"),
}  # fmt: skip


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'seasongate.api' has no attribute {name!r}")
    import importlib

    value = getattr(importlib.import_module(module), name)
    globals()[name] = value
    return value


if TYPE_CHECKING:
    from seasongate._calendar import Period
    from seasongate._config import parse_placeholder_options
    from seasongate._executor import Placeholders
    from seasongate._overrides import OverrideRecord
    from seasongate._policy import Decision, Reason, RuleCheck
    from seasongate._store import AuditEntry
    from seasongate.api._config import ConfigReport, load_project_config, show_config
    from seasongate.api._flyway import baseline, clean, repair
    from seasongate.api._health import (
        WatchedRun,
        health_check,
        load_health_file,
        migrate_with_health,
        run_with_health,
    )
    from seasongate.api._migrate import ExecutorOptions, info, lint, migrate, new_migration, open_gate, rollback, run
    from seasongate.api._overrides import (
        ApprovalOutcome,
        audit_head,
        audit_list,
        audit_verify,
        override_approve,
        override_list,
        override_reject,
        override_request,
        override_revoke,
        override_show,
    )
    from seasongate.api._validate import ValidationReport, validate
    from seasongate.api._views import calendar_feed, export_blackouts, year_view
    from seasongate.api._web import serve
    from seasongate.api._windows import WindowsResult, windows

__all__ = [
    "ApprovalOutcome",
    "AuditEntry",
    "ConfigReport",
    "Decision",
    "ExecutorOptions",
    "OverrideRecord",
    "Period",
    "Placeholders",
    "Project",
    "Reason",
    "RequestSpec",
    "RuleCheck",
    "Slot",
    "SlotsResult",
    "ValidationReport",
    "WatchedRun",
    "WindowsResult",
    "audit_head",
    "audit_list",
    "audit_verify",
    "baseline",
    "build_request",
    "calendar_feed",
    "check",
    "clean",
    "explain",
    "export_blackouts",
    "find_policy",
    "health_check",
    "info",
    "lint",
    "load_health_file",
    "load_project_config",
    "migrate",
    "migrate_with_health",
    "new_migration",
    "open_gate",
    "open_policy",
    "open_project",
    "override_approve",
    "override_list",
    "override_reject",
    "override_request",
    "override_revoke",
    "override_show",
    "parse_placeholder_options",
    "repair",
    "rollback",
    "run",
    "run_with_health",
    "serve",
    "show_config",
    "slots",
    "validate",
    "windows",
    "year_view",
]
