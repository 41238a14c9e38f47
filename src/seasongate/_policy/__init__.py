"""Policies: which migrations may run when. Files, compiled rules, the decision engine."""

from __future__ import annotations

from pathlib import Path

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
from seasongate._policy._load import load_policy, policy_calendar_paths
from seasongate._policy._rules import MigrationClass, Rule


def load_policy_cached(path: str | Path) -> Policy:
    """:func:`load_policy`, served from the expansion cache when no file involved changed
    (the cache module loads only when used)."""
    from seasongate._policy._cache import load_policy_cached as load

    return load(Path(path))


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
    "load_policy",
    "load_policy_cached",
    "policy_calendar_paths",
]
