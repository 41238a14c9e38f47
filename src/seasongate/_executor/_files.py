"""One migration file: its name, header directives, checksums and the checks of its body.

``V<version>__<description>.sql`` migrations, ``U<version>__<description>.sql`` undo scripts;
the folder that holds them is :mod:`._folder`, its ``numbering.yaml`` :mod:`._numbering`.
"""


from __future__ import annotations

import hashlib
import re
import zlib
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from seasongate._errors import ConfigError, InputError
from seasongate._executor._findings import Finding, display_path
from seasongate._executor._script import ScriptFile
from seasongate._executor._sql import has_statement, split_statements
from seasongate._fileio import UnreadableFile, read_regular_file
from seasongate._policy import MigrationClass
from seasongate._time import format_duration, parse_duration
from seasongate._versions import FILE_RE, Version
from seasongate._vocabulary import RISKS

DIRECTIVE_KEYS = ("risk", "duration", "transaction", "reversible", "lock_timeout", "statement_timeout")
MAX_MIGRATION_SECONDS = 7 * 86400  # the longest duration a migration may declare
_SNAKE = re.compile(r"^[a-z0-9]+(?:_[a-z0-9]+)*$")
# A header comment that talks to seasongate: ``seasongate:`` and anything that looks like a
# misspelt attempt at it (``seasongate risk=high``), so that no directive is silently ignored.
_DIRECTIVE = re.compile(r"^seasongate\b\s*(?P<colon>:)?(?P<body>.*)$", re.IGNORECASE)
_LATE_DIRECTIVE = re.compile(r"^[ \t]*--[ \t]*seasongate[ \t]*:", re.IGNORECASE | re.MULTILINE)
_MAX_SCRIPT_BYTES = 64 * 1024 * 1024
# Statements that end or open a transaction; ``BEGIN ATOMIC`` (a function body) and
# ``ROLLBACK TO SAVEPOINT`` (stays inside the transaction) are not among them.
_TX_CONTROL = re.compile(
    r"^(?:begin|commit|rollback(?!\s+(?:work\s+|transaction\s+)?to\b)|abort|end|start\s+transaction|"
    r"prepare\s+transaction)\b(?!\s+atomic)",
    re.IGNORECASE,
)
_TX_WORDS = re.compile(r"\b(?:begin|commit|rollback|abort|end|start|prepare)\b", re.IGNORECASE)


# --- checksums -------------------------------------------------------------------------------


def _decode(data: bytes) -> str:
    text = data.decode("utf-8")
    return text[1:] if text.startswith("\ufeff") else text


def flyway_checksum(text: str) -> int:
    """Flyway's checksum: CRC32 over the UTF-8 bytes of each line, line breaks excluded.

    Flyway reads the file line by line (``\\n``, ``\\r\\n`` and ``\\r`` end a line, nothing
    else), drops a leading BOM and feeds each line without its terminator to one CRC32; the
    result is a signed 32-bit integer. So line endings never change the checksum.
    """
    if text.startswith("\ufeff"):
        text = text[1:]
    # CRC32 fed line after line is the CRC32 of the lines joined: the text without its breaks.
    crc = zlib.crc32(text.replace("\r\n", "").replace("\r", "").replace("\n", "").encode("utf-8"))
    return crc - (1 << 32) if crc >= (1 << 31) else crc


def sha256_of(text: str) -> str:
    """SHA-256 of the text with a BOM dropped and line endings normalized to ``\\n``."""
    if text.startswith("\ufeff"):
        text = text[1:]
    normalized = text.replace("\r\n", "\n").replace("\r", "\n")
    return hashlib.sha256(normalized.encode("utf-8")).hexdigest()


# --- directives ------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Directives:
    """What the header comment ``-- seasongate: risk=high duration=20m transaction=false`` says.

    Durations are seconds; None means "not declared" (the policy default or the history
    estimate applies).
    """

    risk: str | None = None
    duration: int | None = None
    transaction: bool = True
    # transaction=false only: its undo script has been checked to run again safely after a
    # half-done attempt, so `migrate --health` may roll it back automatically.
    reversible: bool = False
    lock_timeout: int | None = None
    statement_timeout: int | None = None


def parse_directives(text: str, path: str) -> tuple[Directives, list[Finding]]:
    """Read the directives of a script's header; every problem comes back as an E008 finding
    with its line and column. This is the one header parser: ``lint``, ``migrate``,
    ``check -m FILE`` and ``run -m FILE`` all read headers through it (see
    :func:`read_header`), so a header that one command refuses, none accepts."""
    values: dict[str, Any] = {}
    problems: list[Finding] = []
    if "seasongate" not in text.lower():
        return Directives(), problems
    lines = text.splitlines()
    body = 0
    for number, raw in enumerate(lines, start=1):
        stripped = raw.strip()
        if stripped and not stripped.startswith("--"):
            body = number
            break
        if not stripped:
            continue
        comment = stripped[2:].lstrip(" \t-")
        match = _DIRECTIVE.match(comment)
        if not match:
            continue
        start = raw.index(comment) + 1 + (match.start("body"))
        if match.group("colon") is None:
            if "=" in match.group("body"):
                problems.append(
                    Finding(path, number, "E008", "a directive line is written `-- seasongate: key=value`", start)
                )
            continue
        _read_directive(match.group("body"), number, start, path, values, problems)
    rest = "\n".join(lines[body - 1 :]) if body else ""
    for match in _LATE_DIRECTIVE.finditer(rest):
        number = body + match.string.count("\n", 0, match.start())
        problems.append(
            Finding(
                path,
                number,
                "E008",
                "seasongate directive after the first statement; move it to the header comment at the top of the file",
                1,
            )
        )
    return Directives(**values), problems


_ITEM = re.compile(r"\S+")


def _read_directive(
    body: str, number: int, offset: int, path: str, values: dict[str, Any], problems: list[Finding]
) -> None:
    items = [(m.group(0), offset + m.start()) for m in _ITEM.finditer(body)]
    if not items:
        problems.append(Finding(path, number, "E008", "empty directive: write e.g. `seasongate: risk=high`", offset))
    index = 0
    while index < len(items):
        item, column = items[index]
        index += 1
        key, sep, value = item.partition("=")
        key = key.strip().lower()
        following = items[index][0] if index < len(items) else ""
        if not sep and following.startswith("="):
            problems.append(Finding(path, number, "E008", f"write {key}=value without spaces around '='", column, key))
            index += 1 if following != "=" else 2
            continue
        if not sep or not value:
            problems.append(Finding(path, number, "E008", f"directive {item!r} needs a value (key=value)", column, key))
            continue
        if value.endswith(","):
            problems.append(
                Finding(path, number, "E008", "directives are separated by spaces, not commas", column, key)
            )
            continue
        if key not in DIRECTIVE_KEYS:
            problems.append(
                Finding(
                    path, number, "E008", f"unknown directive {key!r} (known: {', '.join(DIRECTIVE_KEYS)})", column, key
                )
            )
            continue
        if key in values:
            problems.append(Finding(path, number, "E008", f"directive {key!r} given twice", column, key))
            continue
        try:
            values[key] = _directive_value(key, value)
        except InputError as exc:
            problems.append(Finding(path, number, "E008", str(exc), column + len(key) + 1, key))


def _directive_value(key: str, value: str) -> Any:
    if key == "risk":
        if value.lower() not in RISKS:
            raise InputError(f"invalid risk {value!r} (valid: {', '.join(RISKS)})")
        return value.lower()
    if key in ("transaction", "reversible"):
        if value.lower() not in ("true", "false"):
            raise InputError(f"invalid value {value!r} (valid: true, false)")
        return value.lower() == "true"
    seconds = parse_duration(value)
    if seconds <= 0:
        raise InputError(f"invalid duration {value!r}: must be longer than zero")
    if seconds > MAX_MIGRATION_SECONDS:
        raise InputError(f"invalid duration {value!r}: at most {format_duration(MAX_MIGRATION_SECONDS)}")
    return seconds


# --- scripts ---------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class MigrationScript(ScriptFile):
    """One migration (``kind='V'``) or undo (``kind='U'``) file, read and checksummed."""

    kind: str
    version: Version
    description: str  # from the file name, e.g. communication_core
    path: Path
    sql: str = field(repr=False)
    checksum: int
    sha256: str
    directives: Directives

    @property
    def risk(self) -> str | None:
        """The declared risk, or None."""
        return self.directives.risk

    @property
    def duration(self) -> int | None:
        """The declared duration in seconds, or None."""
        return self.directives.duration

    @property
    def transactional(self) -> bool:
        """Whether the script runs in one transaction (``transaction=false`` turns it off)."""
        return self.directives.transaction


def read_script(path: Path) -> tuple[MigrationScript | None, list[Finding]]:
    """Parse one ``.sql`` file; a file that cannot be a migration gives (None, [finding]):
    a name that is not a migration's (E001), or a file that is not a regular file, too large
    or not UTF-8 (E014). An empty script (E013), transaction control in a transactional one
    (E012) and header errors (E008) come back as findings beside the script."""
    match = FILE_RE.match(path.name)
    if not match:
        return None, [
            Finding(
                display_path(path),
                0,
                "E001",
                f"{path.name!r} is not a migration file name: expected "
                "V<version>__<description>.sql or U<version>__<description>.sql "
                "(or R__<description>.sql for a repeatable one)",
            )
        ]
    try:
        text = _decode(read_regular_file(path, limit=_MAX_SCRIPT_BYTES))
    except UnicodeDecodeError as exc:
        return None, [Finding(display_path(path), 0, "E014", f"not UTF-8 text ({exc.reason} at byte {exc.start})")]
    except UnreadableFile as exc:
        return None, [Finding(display_path(path), 0, "E014", str(exc))]
    # The findings are made without the path and given the shown path when there are any:
    # most scripts have none, and the shown path costs a look at the working directory.
    directives, problems = parse_directives(text, "")
    description = match.group("description")
    findings = list(problems)
    if not _SNAKE.match(description):
        findings.append(
            Finding(
                "",
                0,
                "E010",
                f"description {description!r} should be snake_case (lower-case letters, digits and single underscores)",
            )
        )
    findings.extend(_body_findings(text, "", transactional=directives.transaction))
    if findings:
        shown = display_path(path)
        findings = [replace(f, path=shown) for f in findings]
    script = MigrationScript(
        kind=match.group("prefix"),
        version=Version.parse(match.group("version")),
        description=description,
        path=path,
        sql=text,
        checksum=flyway_checksum(text),
        sha256=sha256_of(text),
        directives=directives,
    )
    return script, findings


def _body_findings(text: str, shown: str, *, transactional: bool) -> list[Finding]:
    """An empty script, and transaction control in a script that runs in one transaction:
    both would be recorded as applied without being what they claim."""
    if not has_statement(text):
        return [Finding(shown, 1, "E013", "no SQL statements in this file (only comments or whitespace)")]
    if not transactional or not _TX_WORDS.search(text):
        return []
    out = []
    for st in split_statements(text):
        if _TX_CONTROL.match(st.code):
            words = st.code.split()
            word = " ".join(words[:2] if words[0].lower() in ("start", "prepare") else words[:1]).upper()
            out.append(
                Finding(
                    shown,
                    st.line,
                    "E012",
                    f"{word} in a migration that runs in one transaction: it would commit part of the "
                    "migration on its own; remove it, or declare `-- seasongate: transaction=false` "
                    "and make the script safe to re-run",
                )
            )
    return out


def read_header(path: Path) -> Directives:
    """The header directives of one migration file, or an error: the one header check that
    every command uses. Raises :class:`ConfigError` (``file:line:column: field: message``)
    for any header problem and :class:`InputError` when the file cannot be read."""
    script, findings = read_script(path)
    for finding in findings:
        if finding.code in ("E008", "E014", "E001"):
            raise ConfigError(
                finding.message,
                path=finding.path,
                line=finding.line,
                column=finding.column,
                field=finding.field,
            )
    assert script is not None
    return script.directives


# --- numbering classes -----------------------------------------------------------------------


DEFAULT_CLASSES: tuple[MigrationClass, ...] = (
    MigrationClass("production", Version((1,)), Version((7999,))),
    MigrationClass("feature", Version((8000,)), Version((8999,))),
    MigrationClass("integration", Version((9000,)), Version((9999,))),
    MigrationClass("testdata", Version((10000,)), None),
)


def classify(version: Version, classes: Sequence[MigrationClass]) -> MigrationClass | None:
    """The first class containing ``version``."""
    for cls in classes:
        if cls.contains(version):
            return cls
    return None
