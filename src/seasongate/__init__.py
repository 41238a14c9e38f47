"""seasongate: a seasonal business-calendar policy engine that gates database migrations.

The public API, loaded lazily so that ``import seasongate`` (and ``seasongate check``) stays
fast::

    import seasongate
    policy = seasongate.load_policy("policies/production.yaml")
    decision = policy.evaluate(seasongate.Request("production", "DE", seasongate.Version.parse("V226")), at=now)

One function per command lives in :mod:`seasongate.api` (``check``, ``slots``, ``windows``,
``override_request``, ``migrate``...); the names below are re-exported here.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from seasongate._lazy import lazy_names
from seasongate._version import __version__ as __version__

# name -> module that defines it
_EXPORTS = {
    **dict.fromkeys(["Calendar", "CalendarIndex", "Period", "Selector", "load_calendar"], "seasongate._calendar"),
    **dict.fromkeys(
        ["Decision", "OverrideGrant", "Policy", "Reason", "Request", "load_policy"], "seasongate._policy"
    ),
    "Version": "seasongate._versions",
    **dict.fromkeys(["Store", "open_store"], "seasongate._store"),
    "Gate": "seasongate._gate",
    # the api: one function per command
    **dict.fromkeys(
        [
            "audit_head", "audit_list", "audit_verify", "baseline", "calendar_feed", "check", "clean", "explain",
            "export_blackouts", "health_check", "info", "lint", "load_health_file", "load_project_config",
            "migrate", "migrate_with_health", "new_migration", "open_gate", "override_approve", "override_list",
            "override_reject", "override_request", "override_revoke", "override_show", "repair", "rollback",
            "run", "run_with_health", "serve", "show_config", "slots", "validate", "windows", "year_view",
        ],
        "seasongate.api",
    ),
    **dict.fromkeys(
        [
            "ConfigError", "GateDenied", "HorizonError", "InputError", "MigrationError", "OverrideError",
            "SeasongateError", "StoreError",
        ],
        "seasongate._errors",
    ),
}  # fmt: skip

__all__ = sorted(_EXPORTS)

__getattr__ = lazy_names(__name__, _EXPORTS, globals())


def __dir__() -> list[str]:
    return sorted([*__all__, "__version__"])


if TYPE_CHECKING:
    from seasongate._calendar import Calendar as Calendar
    from seasongate._calendar import CalendarIndex as CalendarIndex
    from seasongate._calendar import Period as Period
    from seasongate._calendar import Selector as Selector
    from seasongate._calendar import load_calendar as load_calendar
    from seasongate._errors import ConfigError as ConfigError
    from seasongate._errors import GateDenied as GateDenied
    from seasongate._errors import HorizonError as HorizonError
    from seasongate._errors import InputError as InputError
    from seasongate._errors import MigrationError as MigrationError
    from seasongate._errors import OverrideError as OverrideError
    from seasongate._errors import SeasongateError as SeasongateError
    from seasongate._errors import StoreError as StoreError
    from seasongate._gate import Gate as Gate
    from seasongate._policy import Decision as Decision
    from seasongate._policy import OverrideGrant as OverrideGrant
    from seasongate._policy import Policy as Policy
    from seasongate._policy import Reason as Reason
    from seasongate._policy import Request as Request
    from seasongate._policy import load_policy as load_policy
    from seasongate._store import Store as Store
    from seasongate._store import open_store as open_store
    from seasongate._versions import Version as Version
    from seasongate.api import audit_head as audit_head
    from seasongate.api import audit_list as audit_list
    from seasongate.api import audit_verify as audit_verify
    from seasongate.api import calendar_feed as calendar_feed
    from seasongate.api import check as check
    from seasongate.api import explain as explain
    from seasongate.api import export_blackouts as export_blackouts
    from seasongate.api import health_check as health_check
    from seasongate.api import info as info
    from seasongate.api import lint as lint
    from seasongate.api import load_health_file as load_health_file
    from seasongate.api import migrate as migrate
    from seasongate.api import migrate_with_health as migrate_with_health
    from seasongate.api import new_migration as new_migration
    from seasongate.api import open_gate as open_gate
    from seasongate.api import override_approve as override_approve
    from seasongate.api import override_list as override_list
    from seasongate.api import override_reject as override_reject
    from seasongate.api import override_request as override_request
    from seasongate.api import override_revoke as override_revoke
    from seasongate.api import override_show as override_show
    from seasongate.api import rollback as rollback
    from seasongate.api import run as run
    from seasongate.api import run_with_health as run_with_health
    from seasongate.api import serve as serve
    from seasongate.api import slots as slots
    from seasongate.api import validate as validate
    from seasongate.api import windows as windows
    from seasongate.api import year_view as year_view
