"""One public function per command; the CLI only parses options and formats results.

Every function that evaluates takes the instant (``at``/``start``) or a clock (``now``) as an
argument: nothing below the CLI reads the clock.
"""

from __future__ import annotations

from seasongate.api._check import (
    Slot,
    SlotsResult,
    ValidationReport,
    WindowsResult,
    build_request,
    check,
    explain,
    find_policy,
    open_policy,
    slots,
    validate,
    windows,
)
from seasongate.api._migrate import info, lint, migrate, new_migration, open_gate, rollback, run
from seasongate.api._overrides import (
    ApprovalOutcome,
    audit_list,
    audit_verify,
    override_approve,
    override_list,
    override_reject,
    override_request,
    override_revoke,
    override_show,
)

__all__ = [
    "ApprovalOutcome",
    "Slot",
    "SlotsResult",
    "ValidationReport",
    "WindowsResult",
    "audit_list",
    "audit_verify",
    "build_request",
    "check",
    "explain",
    "find_policy",
    "info",
    "lint",
    "migrate",
    "new_migration",
    "open_gate",
    "open_policy",
    "override_approve",
    "override_list",
    "override_reject",
    "override_request",
    "override_revoke",
    "override_show",
    "rollback",
    "run",
    "slots",
    "validate",
    "windows",
]
