"""Errors a person can act on.

Every error seasongate shows a user derives from :class:`SeasongateError`; the CLI catches
that base class, prints one line and exits 2. Lower-level exceptions (YAML, pydantic,
sqlite3, psycopg) are converted at the boundary with ``raise ... from``.

    SeasongateError
     ├── ConfigError            a calendar or policy file is wrong (path:line:column: field: msg)
     │    └── ConfigErrors      several ConfigErrors found in one pass (validate)
     ├── InputError             a command-line value or API argument is wrong
     ├── HorizonError           a question outside the range a rule can answer (1990-2100)
     ├── StoreError             the override/audit store cannot be read or written
     │    └── OverrideError     an override operation that the rules refuse
     ├── MigrationError         the migrations folder or history is inconsistent
     └── GateDenied             the gate said no (raised by ``gate.guard``)
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any


class SeasongateError(Exception):
    """Base class of every error that is meant to be shown to a user."""


@dataclass(frozen=True)
class Location:
    """Where in a file something is: 1-based line and column (0 when unknown)."""

    path: str
    line: int = 0
    column: int = 0

    def __str__(self) -> str:
        if self.line:
            return f"{self.path}:{self.line}:{self.column or 1}"
        return self.path


class ConfigError(SeasongateError):
    """A calendar or policy file is wrong; rendered as ``path:line:column: field: message``."""

    def __init__(
        self,
        message: str,
        *,
        path: str = "",
        line: int = 0,
        column: int = 0,
        field: str = "",
        severity: str = "error",
    ) -> None:
        self.message = message
        self.path = path
        self.line = line
        self.column = column
        self.field = field
        self.severity = severity
        super().__init__(self.render())

    @property
    def location(self) -> Location:
        """The file position of the problem."""
        return Location(self.path, self.line, self.column)

    def render(self) -> str:
        """One line: ``path:line:column: field: message``."""
        parts = []
        if self.path:
            parts.append(str(Location(self.path, self.line, self.column)))
        if self.field:
            parts.append(self.field)
        parts.append(self.message)
        return ": ".join(parts)


class ConfigErrors(ConfigError):
    """Several problems found in one pass; ``problems`` holds each of them."""

    def __init__(self, problems: Iterable[ConfigError]) -> None:
        self.problems = list(problems)
        first = self.problems[0]
        super().__init__(first.message, path=first.path, line=first.line, column=first.column, field=first.field)

    def render(self) -> str:
        """All problems, one per line."""
        return "\n".join(p.render() for p in getattr(self, "problems", []))


class InputError(SeasongateError):
    """A command-line option or API argument has a value seasongate cannot use."""


class HorizonError(SeasongateError):
    """A question about a time outside what the calendars can answer."""


class StoreError(SeasongateError):
    """The override and audit store cannot be opened, read or written."""


class OverrideError(StoreError):
    """An override operation that the rules refuse (self-approval, wrong role, expired...)."""


class MigrationError(SeasongateError):
    """The migrations folder or the migration history is inconsistent."""


class GateDenied(SeasongateError):
    """Raised by the Python gate API when a migration may not run now."""

    def __init__(self, message: str, decision: Any = None) -> None:
        self.decision = decision
        super().__init__(message)
