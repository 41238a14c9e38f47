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

import importlib
from typing import TYPE_CHECKING, Any

from seasongate._version import __version__ as __version__

# name -> module that defines it
_EXPORTS = {
    # calendars
    "Calendar": "seasongate._calendar",
    "CalendarIndex": "seasongate._calendar",
    "Period": "seasongate._calendar",
    "Selector": "seasongate._calendar",
    "load_calendar": "seasongate._calendar",
    # policies and decisions
    "Decision": "seasongate._policy",
    "OverrideGrant": "seasongate._policy",
    "Policy": "seasongate._policy",
    "Reason": "seasongate._policy",
    "Request": "seasongate._policy",
    "load_policy": "seasongate._policy",
    "Version": "seasongate._versions",
    # the store
    "Store": "seasongate._store",
    "open_store": "seasongate._store",
    # the api: one function per command
    "audit_head": "seasongate.api",
    "audit_list": "seasongate.api",
    "audit_verify": "seasongate.api",
    "check": "seasongate.api",
    "explain": "seasongate.api",
    "health_check": "seasongate.api",
    "load_health_file": "seasongate.api",
    "override_approve": "seasongate.api",
    "override_list": "seasongate.api",
    "override_reject": "seasongate.api",
    "override_request": "seasongate.api",
    "override_revoke": "seasongate.api",
    "override_show": "seasongate.api",
    "slots": "seasongate.api",
    "validate": "seasongate.api",
    "windows": "seasongate.api",
    "info": "seasongate.api",
    "lint": "seasongate.api",
    "migrate": "seasongate.api",
    "migrate_with_health": "seasongate.api",
    "new_migration": "seasongate.api",
    "open_gate": "seasongate.api",
    "rollback": "seasongate.api",
    "run": "seasongate.api",
    "load_project_config": "seasongate.api",
    "show_config": "seasongate.api",
    "baseline": "seasongate.api",
    "clean": "seasongate.api",
    "repair": "seasongate.api",
    "run_with_health": "seasongate.api",
    "Gate": "seasongate._gate",
    # errors
    "ConfigError": "seasongate._errors",
    "GateDenied": "seasongate._errors",
    "HorizonError": "seasongate._errors",
    "InputError": "seasongate._errors",
    "MigrationError": "seasongate._errors",
    "OverrideError": "seasongate._errors",
    "SeasongateError": "seasongate._errors",
    "StoreError": "seasongate._errors",
}

__all__ = [
    "Calendar",
    "CalendarIndex",
    "ConfigError",
    "Decision",
    "Gate",
    "GateDenied",
    "HorizonError",
    "InputError",
    "MigrationError",
    "OverrideError",
    "OverrideGrant",
    "Period",
    "Policy",
    "Reason",
    "Request",
    "SeasongateError",
    "Selector",
    "Store",
    "StoreError",
    "Version",
    "audit_head",
    "audit_list",
    "audit_verify",
    "baseline",
    "check",
    "clean",
    "explain",
    "health_check",
    "info",
    "lint",
    "load_calendar",
    "load_health_file",
    "load_policy",
    "load_project_config",
    "migrate",
    "migrate_with_health",
    "new_migration",
    "open_gate",
    "open_store",
    "override_approve",
    "override_list",
    "override_reject",
    "override_request",
    "override_revoke",
    "override_show",
    "repair",
    "rollback",
    "run",
    "run_with_health",
    "show_config",
    "slots",
    "validate",
    "windows",
]


def __getattr__(name: str) -> Any:
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'seasongate' has no attribute {name!r}")
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted([*__all__, "__version__"])


if TYPE_CHECKING:
    from seasongate._calendar import Calendar, CalendarIndex, Period, Selector, load_calendar
    from seasongate._errors import (
        ConfigError,
        GateDenied,
        HorizonError,
        InputError,
        MigrationError,
        OverrideError,
        SeasongateError,
        StoreError,
    )
    from seasongate._gate import Gate
    from seasongate._policy import Decision, OverrideGrant, Policy, Reason, Request, load_policy
    from seasongate._store import Store, open_store
    from seasongate._versions import Version
    from seasongate.api import (
        audit_head,
        audit_list,
        audit_verify,
        check,
        explain,
        health_check,
        info,
        lint,
        load_health_file,
        migrate,
        migrate_with_health,
        new_migration,
        open_gate,
        override_approve,
        override_list,
        override_reject,
        override_request,
        override_revoke,
        override_show,
        rollback,
        run,
        run_with_health,
        slots,
        validate,
        windows,
    )
