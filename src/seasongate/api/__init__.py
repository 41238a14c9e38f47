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

__all__ = [
    "Slot",
    "SlotsResult",
    "ValidationReport",
    "WindowsResult",
    "build_request",
    "check",
    "explain",
    "find_policy",
    "open_policy",
    "slots",
    "validate",
    "windows",
]
