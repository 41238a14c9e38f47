"""Policies: which migrations may run when. Files, compiled rules, the decision engine."""

from __future__ import annotations

from seasongate._policy._decision import (
    Decision,
    GrantApproval,
    MigrationInfo,
    OverrideGrant,
    OverrideSpec,
    PeriodRef,
    Reason,
    Request,
)
from seasongate._policy._engine import Policy, RuleCheck, Territory
from seasongate._policy._load import load_policy, policy_calendar_paths
from seasongate._policy._rules import MigrationClass, Rule

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
    "load_policy",
    "policy_calendar_paths",
]
