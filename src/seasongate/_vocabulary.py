"""The words every layer shares, defined once: risk, operation, period kind.

Each is a ``Literal`` type (so pydantic models and mypy check it) with the tuple of its
values beside it (for ``click.Choice``, messages and membership tests). Import these; never
spell the values again.
"""

from __future__ import annotations

from typing import Literal, get_args

Risk = Literal["low", "medium", "high"]
"""How dangerous a migration is, as its header or the request states it."""
RISKS: tuple[Risk, ...] = get_args(Risk)

Operation = Literal["apply", "rollback"]
"""What a migration step does: apply a ``V`` script, or undo it with its ``U`` script."""
OPERATIONS: tuple[Operation, ...] = get_args(Operation)

PeriodKind = Literal["blackout", "preparation", "maintenance", "optimization"]
"""The kinds of calendar period, strongest first (a day shows its strongest kind)."""
PERIOD_KINDS: tuple[PeriodKind, ...] = get_args(PeriodKind)

__all__ = ["OPERATIONS", "PERIOD_KINDS", "RISKS", "Operation", "PeriodKind", "Risk"]

REPEATABLE_CLASS = "repeatable"
"""The migration class of every repeatable script (``R__name.sql``): a policy needs no version
range for it, and its rules name it like any class (``classes: [repeatable]``)."""
