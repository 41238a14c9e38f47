"""What every layer above the calendar sees of it: a concrete period and the years answered.

Kept apart from the rules and their expansion so that a check served from the expansion cache
imports only this, the index and the compiled calendar (no date maths, no ``dateutil``).
"""

from __future__ import annotations

from dataclasses import dataclass

from seasongate._errors import Location

MIN_YEAR = 1990
MAX_YEAR = 2100


@dataclass(frozen=True, slots=True)
class Period:
    """A concrete period: ``[start, end)`` in epoch seconds, end exclusive."""

    name: str
    kind: str
    start: int
    end: int
    calendar: str
    territory: str | None
    all_day: bool
    tags: tuple[str, ...]
    source: Location
    description: str = ""
