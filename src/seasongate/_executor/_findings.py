"""Findings about a migrations folder, shared by ``lint`` and by ``migrate``'s validation.

Codes starting with ``E`` are errors, ``W`` warnings. ``BLOCKING`` lists the codes that also
stop ``migrate`` and ``rollback`` (a folder they cannot interpret safely); the others are
lint-only (naming style, missing undo scripts, risky SQL).
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

CODES: dict[str, str] = {
    "E001": "not a migration file name",
    "E002": "duplicate version",
    "E003": "undeclared gap in the numbering",
    "E004": "version outside the numbering ranges",
    "E005": "production migration without an undo script",
    "E006": "territory table without row-level security and a policy",
    "E007": "CREATE INDEX without CONCURRENTLY on an existing table",
    "E008": "invalid seasongate directive",
    "E009": "CONCURRENTLY inside a transactional migration",
    "E010": "description is not snake_case",
    "E011": "invalid numbering configuration",
    "E012": "transaction control (BEGIN, COMMIT, ROLLBACK) in a transactional migration",
    "E013": "migration without statements",
    "E014": "unreadable migration file (not a regular file, too large, not UTF-8)",
    "E020": "a Flyway callback event seasongate does not run",
    "W001": "undo script without a migration",
    "W002": "declared gap is not a gap",
}

BLOCKING = frozenset({"E001", "E002", "E003", "E008", "E011", "E012", "E013", "E014", "E020"})


@dataclass(frozen=True, slots=True)
class Finding:
    """One problem at ``path:line:column``; ``line`` is 0 when it concerns the file as a whole,
    ``column`` 0 when unknown; ``field`` names the header directive a problem is about."""

    path: str
    line: int
    code: str
    message: str
    column: int = 0
    field: str = ""

    @property
    def severity(self) -> str:
        """``error`` or ``warning``."""
        return "error" if self.code.startswith("E") else "warning"

    @property
    def blocking(self) -> bool:
        """Whether ``migrate`` refuses to run because of it."""
        return self.code in BLOCKING

    def render(self) -> str:
        """``path:line:column: code: field: message`` (unknown parts are omitted)."""
        where = self.path
        if self.line:
            where += f":{self.line}" + (f":{self.column}" if self.column else "")
        field = f"{self.field}: " if self.field else ""
        return f"{where}: {self.code}: {field}{self.message}"

    def to_dict(self) -> dict[str, Any]:
        """The JSON form of ``seasongate lint --format json``."""
        return {
            "path": self.path,
            "line": self.line,
            "column": self.column,
            "field": self.field or None,
            "code": self.code,
            "severity": self.severity,
            "message": self.message,
        }


def display_path(path: Path) -> str:
    """``path`` relative to the working directory when it lies below it."""
    text = str(path)
    if not path.is_absolute() or text.startswith("//"):  # POSIX keeps a leading "//": not below cwd
        return text
    # A prefix test on the normalised text: what Path.relative_to decides, without its cost
    # (every file of a folder is shown this way).
    cwd = os.getcwd()
    if text == cwd:
        return "."
    prefix = cwd if cwd.endswith(os.sep) else cwd + os.sep
    return text[len(prefix) :] if text.startswith(prefix) else text
