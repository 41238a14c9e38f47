"""``seasongate lint``: the folder's structure plus a few rules about the SQL itself.

The SQL rules read statements through the lexer in ``_sql`` (comments dropped, strings and
dollar-quoted bodies emptied), so a ``CREATE INDEX`` inside a string or a function body does
not count. They follow tables by name across the folder, in version order.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from seasongate._executor._files import DEFAULT_CLASSES, MigrationScript, classify
from seasongate._executor._findings import Finding, display_path
from seasongate._executor._folder import MigrationFolder, scan
from seasongate._executor._sql import Statement, line_of, normalize_ident, split_statements
from seasongate._policy import MigrationClass

_IDENT = r'(?:"(?:[^"]|"")+"|[A-Za-z_][\w$]*)'
_QNAME = rf"{_IDENT}(?:\s*\.\s*{_IDENT})*"
_FLAGS = re.IGNORECASE | re.DOTALL

_CREATE_TABLE = re.compile(
    r"^create\s+(?:(?:global|local)\s+)?(?:(?:temporary|temp|unlogged)\s+)?table\s+"
    rf"(?:if\s+not\s+exists\s+)?(?P<name>{_QNAME})\s*(?P<rest>.*)$",
    _FLAGS,
)
_CREATE_INDEX = re.compile(
    r"^create\s+(?:unique\s+)?index\s+(?P<conc>concurrently\s+)?(?:if\s+not\s+exists\s+)?"
    rf"(?:(?P<index>{_QNAME})\s+)?on\s+(?:only\s+)?(?P<table>{_QNAME})",
    _FLAGS,
)
_ALTER_TABLE = re.compile(
    rf"^alter\s+table\s+(?:if\s+exists\s+)?(?:only\s+)?(?P<name>{_QNAME})\s+(?P<rest>.*)$", _FLAGS
)
_ADD_TERRITORY = re.compile(r'\badd\s+(?:column\s+)?(?:if\s+not\s+exists\s+)?"?territory"?\s', re.IGNORECASE)
_ENABLE_RLS = re.compile(r"\benable\s+row\s+level\s+security\b", re.IGNORECASE)
_DISABLE_RLS = re.compile(r"\bdisable\s+row\s+level\s+security\b", re.IGNORECASE)
_CREATE_POLICY = re.compile(rf"^create\s+policy\s+{_IDENT}\s+on\s+(?P<table>{_QNAME})", _FLAGS)
_DROP_POLICY = re.compile(rf"^drop\s+policy\s+(?:if\s+exists\s+)?{_IDENT}\s+on\s+(?P<table>{_QNAME})", _FLAGS)
_DROP_TABLE = re.compile(
    r"^drop\s+table\s+(?:if\s+exists\s+)?(?P<names>.+?)"
    r"(?:\s+(?:cascade|restrict))?$",
    _FLAGS,
)
_CONCURRENTLY = re.compile(
    r"^(?:create\s+(?:unique\s+)?index\s+concurrently|drop\s+index\s+concurrently|"
    r"reindex\b.*\bconcurrently|alter\s+table\b.*\bdetach\s+partition\b.*\bconcurrently)\b",
    _FLAGS,
)
_CONSTRAINT_WORDS = {"constraint", "primary", "unique", "check", "foreign", "exclude", "like"}
_TERRITORY_WORD = re.compile(r"\bterritory\b", re.IGNORECASE)


@dataclass(frozen=True, slots=True)
class LintReport:
    """The findings of one lint run, sorted by path and line."""

    directory: Path
    findings: tuple[Finding, ...]
    files: int

    @property
    def errors(self) -> tuple[Finding, ...]:
        """The findings that fail the run."""
        return tuple(f for f in self.findings if f.severity == "error")

    @property
    def warnings(self) -> tuple[Finding, ...]:
        """The findings that do not fail the run."""
        return tuple(f for f in self.findings if f.severity == "warning")

    @property
    def exit_code(self) -> int:
        """2 when a finding makes the folder unusable for ``migrate`` (a broken input: header,
        name, duplicate, gap, empty or unreadable file, transaction control), else 1 when
        there is an error, else 0."""
        if any(f.blocking for f in self.findings):
            return 2
        return 1 if self.errors else 0

    def to_dict(self) -> dict[str, Any]:
        """JSON form of ``seasongate lint --format json``."""
        return {
            "directory": display_path(self.directory),
            "files": self.files,
            "errors": len(self.errors),
            "warnings": len(self.warnings),
            "exit_code": self.exit_code,
            "findings": [f.to_dict() for f in self.findings],
        }


@dataclass
class _Table:
    territory_at: tuple[str, int] | None = None  # where the territory column was introduced
    rls: bool = False
    policies: int = 0
    created_in: Any = None  # version that created it


def lint(directory: Path, *, classes: Sequence[MigrationClass] = DEFAULT_CLASSES) -> LintReport:
    """Lint a migrations folder. Raises only when the folder itself cannot be read."""
    from seasongate._errors import ConfigError

    try:
        folder = scan(directory, classes=classes)
    except ConfigError as exc:
        return LintReport(directory, (Finding(exc.path or display_path(directory), exc.line, "E011", exc.message),), 0)
    findings = list(folder.findings)
    findings.extend(_structure(folder))
    findings.extend(_sql_rules(folder))
    findings.sort(key=lambda f: (f.path, f.line, f.code))
    count = len(folder.migrations) + len(folder.undo)
    return LintReport(directory, tuple(findings), count)


def _structure(folder: MigrationFolder) -> list[Finding]:
    out: list[Finding] = []
    names = ", ".join(f"{c.name} ({c.describe()})" for c in folder.classes)
    for script in folder.migrations:
        cls = classify(script.version, folder.classes)
        shown = display_path(script.path)
        if cls is None:
            out.append(Finding(shown, 0, "E004", f"{script.version} is outside every numbering range ({names})"))
        elif cls.name == "production" and script.version not in folder.undo:
            expected = f"U{str(script.version)[1:]}__{script.description}.sql"
            out.append(
                Finding(shown, 0, "E005", f"production migration {script.version} has no undo script (add {expected})")
            )
    versions = {m.version for m in folder.migrations}
    for version, undo in sorted(folder.undo.items()):
        if version not in versions:
            out.append(
                Finding(display_path(undo.path), 0, "W001", f"undo script for {version}, which has no migration")
            )
    return out


def _sql_rules(folder: MigrationFolder) -> list[Finding]:
    out: list[Finding] = []
    tables: dict[str, _Table] = {}
    undo_scripts = list(folder.undo.values())
    for script in [*folder.migrations, *undo_scripts]:
        shown = display_path(script.path)
        statements = split_statements(script.sql)
        if not statements:
            continue  # E013, reported by scan
        created_here = set()
        for st in statements:
            m = _CREATE_TABLE.match(st.code)
            if m:
                created_here.add(normalize_ident(m.group("name")))
        for st in statements:
            out.extend(_statement_rules(script, shown, st, created_here))
            if script.kind == "V":
                _track(tables, script, shown, st)
    for name, table in sorted(tables.items()):
        if table.territory_at is None:
            continue
        missing = []
        if not table.rls:
            missing.append(f"ALTER TABLE {name} ENABLE ROW LEVEL SECURITY")
        if table.policies <= 0:
            missing.append(f"CREATE POLICY ... ON {name} USING (territory = current_setting('app.territory', true))")
        if missing:
            path, line = table.territory_at
            out.append(
                Finding(
                    path,
                    line,
                    "E006",
                    f"table {name} has a territory column but no row-level security (add {' and '.join(missing)})",
                )
            )
    return out


def _statement_rules(script: MigrationScript, shown: str, st: Statement, created_here: set[str]) -> list[Finding]:
    out: list[Finding] = []
    code = st.code
    index = _CREATE_INDEX.match(code)
    if index and not index.group("conc"):
        table = normalize_ident(index.group("table"))
        if table not in created_here:
            out.append(
                Finding(
                    shown,
                    st.line,
                    "E007",
                    f"CREATE INDEX on {table}, which an earlier migration created, "
                    "blocks writes while it builds: use CREATE INDEX CONCURRENTLY in "
                    "a migration with `-- seasongate: transaction=false`",
                )
            )
    if script.transactional and _CONCURRENTLY.match(code):
        out.append(
            Finding(
                shown,
                st.line,
                "E009",
                "CONCURRENTLY cannot run inside a transaction: add `-- seasongate: transaction=false` to the header",
            )
        )
    return out


def _track(tables: dict[str, _Table], script: MigrationScript, shown: str, st: Statement) -> None:
    code = st.code
    m = _CREATE_TABLE.match(code)
    if m:
        name = normalize_ident(m.group("name"))
        table = tables.setdefault(name, _Table())
        table.created_in = script.version
        if _has_territory_column(m.group("rest")):
            table.territory_at = (shown, _line_of_word(script.sql, st))
        return
    m = _ALTER_TABLE.match(code)
    if m:
        name = normalize_ident(m.group("name"))
        rest = m.group("rest") + " "
        table = tables.setdefault(name, _Table())
        if _ADD_TERRITORY.search(rest):
            table.territory_at = (shown, _line_of_word(script.sql, st))
        if _ENABLE_RLS.search(rest):
            table.rls = True
        if _DISABLE_RLS.search(rest):
            table.rls = False
        return
    m = _CREATE_POLICY.match(code)
    if m:
        tables.setdefault(normalize_ident(m.group("table")), _Table()).policies += 1
        return
    m = _DROP_POLICY.match(code)
    if m:
        tables.setdefault(normalize_ident(m.group("table")), _Table()).policies -= 1
        return
    m = _DROP_TABLE.match(code)
    if m:
        for raw in m.group("names").split(","):
            tables.pop(normalize_ident(raw), None)


def _has_territory_column(rest: str) -> bool:
    rest = rest.strip()
    if not rest.startswith("("):
        return False
    depth = 0
    item = ""
    items: list[str] = []
    for ch in rest:
        if ch == "(":
            depth += 1
            if depth == 1:
                continue
        elif ch == ")":
            depth -= 1
            if depth == 0:
                items.append(item)
                break
        if depth == 1 and ch == ",":
            items.append(item)
            item = ""
            continue
        item += ch
    for element in items:
        words = element.split()
        if not words or words[0].lower() in _CONSTRAINT_WORDS:
            continue
        if normalize_ident(words[0]) == "territory":
            return True
    return False


def _line_of_word(sql: str, st: Statement) -> int:
    match = _TERRITORY_WORD.search(sql, st.offset)
    return line_of(sql, match.start()) if match else st.line
