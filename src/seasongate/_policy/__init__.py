"""Policies: which migrations may run when. Files, compiled rules, the decision engine."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

from seasongate._policy._decision import (
    Decision,
    GrantApproval,
    MigrationInfo,
    OverrideGrant,
    OverrideSpec,
    PeriodRef,
    Reason,
    Request,
    UnappliedOverride,
)
from seasongate._policy._engine import Policy, RuleCheck, Territory
from seasongate._policy._rules import MigrationClass, Rule

if TYPE_CHECKING:
    from seasongate._policy._cache import discover_cached, expand_calendar_cached
    from seasongate._policy._load import load_policy, policy_calendar_paths


def load_policy_cached(path: str | Path) -> Policy:
    """:func:`load_policy`, served from the expansion cache when no file involved changed
    (the cache module loads only when used)."""
    from seasongate._policy._cache import load_policy_cached as load

    return load(path)


def __getattr__(name: str) -> Any:
    # The loader (YAML, pydantic, the calendar compiler) loads on first use: a check served
    # from the expansion cache never needs it.
    if name in ("load_policy", "policy_calendar_paths"):
        from seasongate._policy import _load

        value = getattr(_load, name)
        globals()[name] = value
        return value
    if name in ("expand_calendar_cached", "discover_cached"):
        from seasongate._policy import _cache

        value = getattr(_cache, name)
        globals()[name] = value
        return value
    raise AttributeError(f"module 'seasongate._policy' has no attribute {name!r}")


__all__ = [
    "Decision",
    "GrantApproval",
    "MigrationClass",
    "MigrationInfo",
    "OverrideGrant",
    "OverrideSpec",
    "PeriodRef",
    "Policy",
    "Reason",
    "Request",
    "Rule",
    "RuleCheck",
    "Territory",
    "UnappliedOverride",
    "discover_cached",
    "expand_calendar_cached",
    "load_policy",
    "load_policy_cached",
    "policy_calendar_paths",
]
