"""One public function per command; the CLI only parses options and formats results.

Every function that evaluates takes the instant (``at``/``start``) or a clock (``now``) as an
argument: nothing below the CLI reads the clock.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from seasongate._lazy import lazy_names
from seasongate.api._check import check as check
from seasongate.api._check import explain as explain
from seasongate.api._project import Project as Project
from seasongate.api._project import find_policy as find_policy
from seasongate.api._project import open_policy as open_policy
from seasongate.api._project import open_project as open_project
from seasongate.api._project import open_store as open_store
from seasongate.api._request import RequestSpec as RequestSpec
from seasongate.api._request import build_request as build_request

# The migrate and override commands load their modules (the executor, the gate, the store
# rules) only when used: ``seasongate check`` imports this package on every pipeline run.
_LAZY = {
    **dict.fromkeys(["Slot", "SlotsResult", "slots"], "seasongate.api._slots"),
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


__getattr__ = lazy_names(__name__, _LAZY, globals())


if TYPE_CHECKING:
    from seasongate._calendar import Period as Period
    from seasongate._config import parse_placeholder_options as parse_placeholder_options
    from seasongate._executor import Placeholders as Placeholders
    from seasongate._overrides import OverrideRecord as OverrideRecord
    from seasongate._policy import Decision as Decision
    from seasongate._policy import Reason as Reason
    from seasongate._policy import RuleCheck as RuleCheck
    from seasongate._store import AuditEntry as AuditEntry
    from seasongate.api._config import ConfigReport as ConfigReport
    from seasongate.api._config import load_project_config as load_project_config
    from seasongate.api._config import show_config as show_config
    from seasongate.api._flyway import baseline as baseline
    from seasongate.api._flyway import clean as clean
    from seasongate.api._flyway import repair as repair
    from seasongate.api._health import WatchedRun as WatchedRun
    from seasongate.api._health import health_check as health_check
    from seasongate.api._health import load_health_file as load_health_file
    from seasongate.api._health import migrate_with_health as migrate_with_health
    from seasongate.api._health import run_with_health as run_with_health
    from seasongate.api._migrate import ExecutorOptions as ExecutorOptions
    from seasongate.api._migrate import info as info
    from seasongate.api._migrate import lint as lint
    from seasongate.api._migrate import migrate as migrate
    from seasongate.api._migrate import new_migration as new_migration
    from seasongate.api._migrate import open_gate as open_gate
    from seasongate.api._migrate import rollback as rollback
    from seasongate.api._migrate import run as run
    from seasongate.api._overrides import ApprovalOutcome as ApprovalOutcome
    from seasongate.api._overrides import audit_head as audit_head
    from seasongate.api._overrides import audit_list as audit_list
    from seasongate.api._overrides import audit_verify as audit_verify
    from seasongate.api._overrides import override_approve as override_approve
    from seasongate.api._overrides import override_list as override_list
    from seasongate.api._overrides import override_reject as override_reject
    from seasongate.api._overrides import override_request as override_request
    from seasongate.api._overrides import override_revoke as override_revoke
    from seasongate.api._overrides import override_show as override_show
    from seasongate.api._slots import Slot as Slot
    from seasongate.api._slots import SlotsResult as SlotsResult
    from seasongate.api._slots import slots as slots
    from seasongate.api._validate import ValidationReport as ValidationReport
    from seasongate.api._validate import validate as validate
    from seasongate.api._views import calendar_feed as calendar_feed
    from seasongate.api._views import export_blackouts as export_blackouts
    from seasongate.api._views import year_view as year_view
    from seasongate.api._web import serve as serve
    from seasongate.api._windows import WindowsResult as WindowsResult
    from seasongate.api._windows import windows as windows

# The names imported above and the lazy ones, in one sorted list.
__all__ = sorted(
    ["Project", "RequestSpec", "build_request", "check", "explain", "find_policy", "open_policy", "open_project",
     "open_store", *_LAZY]
)  # fmt: skip
