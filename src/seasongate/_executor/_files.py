"""The migrations folder: file names, header directives, checksums, numbering classes and gaps.

A folder holds ``V<version>__<description>.sql`` migrations and, optionally, their undo scripts
``U<version>__<description>.sql`` (any subfolder, hidden ones skipped), plus an optional
``numbering.yaml`` that declares intentional gaps::

    # Versions deliberately left unused; lint and migrate accept these gaps.
    ignored_gaps:
      - V217          # loyalty points: abandoned after review
      - V219-V220     # ranges are inclusive

A *gap* is a whole number missing between two migrations of the same class (V1-V7999
production, V8000-V8999 feature, ...): V216 then V218 is a gap at V217 unless declared.
Dotted versions (V2.1) count for their leading number and never create gaps.
"""

from __future__ import annotations

import hashlib
import os
import re
import zlib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from seasongate._errors import ConfigError, InputError
from seasongate._executor._findings import Finding, display_path
from seasongate._executor._names import is_callback, is_repeatable
from seasongate._executor._sql import split_statements
from seasongate._fileio import UnreadableFile, read_regular_file
from seasongate._policy import MigrationClass
from seasongate._time import format_duration, parse_duration
from seasongate._versions import FILE_RE, Version
from seasongate._vocabulary import RISKS

DIRECTIVE_KEYS = ("risk", "duration", "transaction", "reversible", "lock_timeout", "statement_timeout")
NUMBERING_FILE = "numbering.yaml"
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
_LINE_BREAK = re.compile(r"\r\n|\r|\n")  # what Java's BufferedReader.readLine() splits on


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
    crc = 0
    for line in _LINE_BREAK.split(text):
        crc = zlib.crc32(line.encode("utf-8"), crc)
    return crc - (1 << 32) if crc >= (1 << 31) else crc


def sha256_of(text: str) -> str:
    """SHA-256 of the text with a BOM dropped and line endings normalized to ``\\n``."""
    if text.startswith("\ufeff"):
        text = text[1:]
    normalized = "\n".join(_LINE_BREAK.split(text))
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
class MigrationScript:
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
    def name(self) -> str:
        """The file name, ``V225__communication_core.sql`` (Flyway's ``script``)."""
        return self.path.name

    @property
    def title(self) -> str:
        """The description as Flyway shows it: underscores become spaces."""
        return self.description.replace("_", " ")

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
    shown = display_path(path)
    match = FILE_RE.match(path.name)
    if not match:
        return None, [
            Finding(
                shown,
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
        return None, [Finding(shown, 0, "E014", f"not UTF-8 text ({exc.reason} at byte {exc.start})")]
    except UnreadableFile as exc:
        return None, [Finding(shown, 0, "E014", str(exc))]
    directives, problems = parse_directives(text, shown)
    description = match.group("description")
    findings = list(problems)
    if not _SNAKE.match(description):
        findings.append(
            Finding(
                shown,
                0,
                "E010",
                f"description {description!r} should be snake_case (lower-case letters, digits and single underscores)",
            )
        )
    findings.extend(_body_findings(text, shown, transactional=directives.transaction))
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
    statements = split_statements(text)
    if not statements:
        return [Finding(shown, 1, "E013", "no SQL statements in this file (only comments or whitespace)")]
    if not transactional or not _TX_WORDS.search(text):
        return []
    out = []
    for st in statements:
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


@dataclass(frozen=True, slots=True)
class MigrationRef:
    """What ``-m`` names: a version, or a migration or undo file with its header read.

    ``operation`` is ``apply`` for a version or a ``V`` file and ``rollback`` for a ``U`` file;
    ``risk`` and ``duration`` (seconds) come from the file's header (None when not declared or
    no file was named); ``path`` is the file that was read.
    """

    version: Version
    description: str | None
    operation: str
    risk: str | None = None
    duration: int | None = None
    path: Path | None = None


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


def resolve_migration(ref: str, *, migrations: Path | None = None) -> MigrationRef:
    """Interpret what ``check -m``/``run -m`` were given, failing closed.

    ``V226`` is a version. A path to a ``.sql`` file is read and its header must be valid
    (:func:`read_header`). A bare file name (``V225__communication_core.sql``) is looked up
    in ``migrations`` (default ``./migrations``) and must exist there. A ``U`` file names the
    rollback of its version (operation ``rollback``), never its apply. Raises
    :class:`InputError` or :class:`ConfigError`.
    """
    raw = ref.strip()
    if not raw:
        raise InputError("empty migration reference: give a version such as V226 or a migration file")
    name = raw.replace("\\", "/").rsplit("/", 1)[-1]
    if not name.lower().endswith(".sql"):
        return MigrationRef(Version.parse(name), None, "apply")
    match = FILE_RE.match(name)
    if not match:
        raise InputError(
            f"invalid migration file name {name!r}: expected V<version>__<description>.sql "
            "or U<version>__<description>.sql"
        )
    path = Path(raw)
    if "/" not in raw.replace("\\", "/"):
        folder = migrations if migrations is not None else Path("migrations")
        found = _candidates(folder, name) if folder.is_dir() else []
        if not found and path.exists():
            found = [path]
        if not found:
            raise InputError(f"migration file {name} not found in {display_path(folder)} (give its path)")
        if len(found) > 1:
            raise InputError(f"migration file {name} is ambiguous: {', '.join(display_path(p) for p in found)}")
        path = found[0]
    elif not path.exists() and not path.is_symlink():
        raise InputError(f"migration file {raw} does not exist")
    directives = read_header(path)
    risk, duration = directives.risk, directives.duration
    operation = "apply"
    if match.group("prefix") == "U":
        operation = "rollback"
        sibling = next(iter(_candidates(path.parent, f"V{match.group('version')}__")), None)
        if sibling is not None and risk is None:
            risk = read_header(sibling).risk
    return MigrationRef(
        Version.parse(match.group("version")), match.group("description"), operation, risk, duration, path
    )


def _candidates(folder: Path, name: str) -> list[Path]:
    """Files below ``folder`` called ``name`` (or starting with it, for a ``V<n>__`` prefix)."""
    if name.endswith("__"):
        return sorted(p for p in folder.glob(f"{name}*.sql") if not p.is_dir())
    depth = len(folder.parts)
    return sorted(p for p in folder.rglob(name) if not any(part.startswith(".") for part in p.parts[depth:]))


# --- numbering -------------------------------------------------------------------------------


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


@dataclass(frozen=True, slots=True)
class Numbering:
    """The numbering configuration: which whole versions are deliberately unused."""

    ignored_gaps: frozenset[int] = frozenset()
    path: Path | None = None
    lines: Mapping[int, int] = field(default_factory=dict)  # gap -> line in the file


_GAP_RE = re.compile(r"^\s*[Vv]?(\d+)\s*(?:-\s*[Vv]?(\d+))?\s*$")


def load_numbering(directory: Path) -> Numbering:
    """Read ``numbering.yaml`` of a migrations folder (absent: no declared gaps)."""
    from seasongate._yaml import format_loc, load_yaml

    path = directory / NUMBERING_FILE
    if not path.is_file():
        return Numbering()
    shown = display_path(path)
    data, marks = load_yaml(path)
    if not isinstance(data, dict):
        raise ConfigError("expected a mapping with the key ignored_gaps", path=shown, line=1, column=1)
    for key in data:
        if key != "ignored_gaps":
            line, _ = marks.get((key,), (1, 1))
            raise ConfigError("unknown key (known: ignored_gaps)", path=shown, line=line, column=1, field=str(key))
    items = data.get("ignored_gaps") or []
    if not isinstance(items, list):
        line, col = marks.get(("ignored_gaps",), (1, 1))
        raise ConfigError(
            "expected a list such as [V217, V219-V220]", path=shown, line=line, column=col, field="ignored_gaps"
        )
    gaps: dict[int, int] = {}
    for index, item in enumerate(items):
        line, col = marks.get(("ignored_gaps", index), (1, 1))
        match = _GAP_RE.match(str(item)) if isinstance(item, (str, int)) else None
        if not match or isinstance(item, bool):
            raise ConfigError(
                f"invalid gap {item!r}: use a whole version such as V217 or a range V219-V220",
                path=shown,
                line=line,
                column=col,
                field=format_loc(("ignored_gaps", index)),
            )
        low = int(match.group(1))
        high = int(match.group(2) or low)
        if high < low or high - low > 100_000:
            raise ConfigError(
                f"invalid gap range {item!r}",
                path=shown,
                line=line,
                column=col,
                field=format_loc(("ignored_gaps", index)),
            )
        for number in range(low, high + 1):
            gaps.setdefault(number, line)
    return Numbering(frozenset(gaps), path, gaps)


# --- the folder ------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class MigrationFolder:
    """Everything in a migrations folder, with the structural problems found while reading.

    ``migrations`` is sorted by version and holds one script per version (the first of a
    duplicate pair, which is reported as E002); ``undo`` maps versions to the undo scripts that
    were read, ``undo_paths`` to every undo file found (a folder scanned with
    ``read_undo=False`` reads none: :meth:`undo_script` reads one when it is needed).
    """

    directory: Path
    migrations: tuple[MigrationScript, ...]
    undo: Mapping[Version, MigrationScript]
    numbering: Numbering
    classes: tuple[MigrationClass, ...]
    findings: tuple[Finding, ...]
    undo_paths: Mapping[Version, Path] = field(default_factory=dict)

    def undo_script(self, version: Version) -> tuple[MigrationScript | None, tuple[Finding, ...]]:
        """The undo script of ``version``; read now, with its findings, when the scan did not
        read it (a script the scan read has its findings in :attr:`findings`). (None, ()) when
        there is none."""
        script = self.undo.get(version)
        if script is not None:
            return script, ()
        path = self.undo_paths.get(version)
        if path is None:
            return None, ()
        read, findings = read_script(path)
        return read, tuple(findings)

    def by_version(self) -> dict[Version, MigrationScript]:
        """The migrations keyed by version."""
        return {m.version: m for m in self.migrations}

    @property
    def blocking(self) -> tuple[Finding, ...]:
        """The findings that stop ``migrate`` (naming, duplicates, gaps, directives)."""
        return tuple(f for f in self.findings if f.blocking)

    def gaps(self) -> list[tuple[int, bool]]:
        """Every whole version missing between two migrations of one class, and whether
        it is declared in ``numbering.yaml``."""
        majors: dict[str, set[int]] = {}
        for script in self.migrations:
            cls = classify(script.version, self.classes)
            if cls is not None:
                majors.setdefault(cls.name, set()).add(script.version.major)
        out: list[tuple[int, bool]] = []
        for present in majors.values():
            low, high = min(present), max(present)
            out.extend((n, n in self.numbering.ignored_gaps) for n in range(low + 1, high) if n not in present)
        return sorted(out)


def sql_files(directory: Path) -> list[Path]:
    """Every ``.sql`` entry below ``directory`` that is not a directory (hidden folders and
    files skipped; symbolic links to folders not followed), by name. Not only regular files:
    a FIFO or device named like a migration is an error (E014), never silently skipped."""
    found: list[Path] = []
    pending = [str(directory)]
    while pending:
        try:
            listing = os.scandir(pending.pop())
        except PermissionError:
            continue  # as pathlib's rglob: a folder that cannot be listed holds nothing
        with listing as entries:
            for entry in entries:
                if entry.name.startswith("."):
                    continue
                if entry.is_dir():
                    if not entry.is_symlink():
                        pending.append(entry.path)
                elif entry.name.lower().endswith(".sql"):
                    found.append(Path(entry.path))
    return sorted(found, key=lambda p: (p.name, str(p)))


def scan(
    directory: Path, *, classes: Sequence[MigrationClass] = DEFAULT_CLASSES, read_undo: bool = True
) -> MigrationFolder:
    """Read a migrations folder. Raises MigrationError when it is missing or unreadable and
    ConfigError for a broken ``numbering.yaml``; everything else becomes a finding.

    ``read_undo=False`` (``info``, ``rollback``) lists the undo scripts without reading them:
    their findings are those of their names only, and :meth:`MigrationFolder.undo_script`
    reads the ones a rollback undoes."""
    if not directory.is_dir():
        raise InputError(f"migrations folder {display_path(directory)} does not exist (use --migrations DIR)")
    numbering = load_numbering(directory)
    findings: list[Finding] = []
    versioned: dict[Version, MigrationScript] = {}
    undo: dict[Version, MigrationScript] = {}
    undo_paths: dict[Version, Path] = {}
    for path in sql_files(directory):
        if is_repeatable(path.name) or is_callback(path.name):
            continue  # read by the Flyway layer: seasongate._executor._flyway, _callbacks
        if not read_undo:
            named = FILE_RE.match(path.name)
            if named is not None and named.group("prefix") == "U":
                version = Version.parse(named.group("version"))
                if version in undo_paths:
                    findings.append(_duplicate(path, "undo script", version, undo_paths[version]))
                else:
                    undo_paths[version] = path
                continue
        script, problems = read_script(path)
        findings.extend(problems)
        if script is None:
            continue
        target = versioned if script.kind == "V" else undo
        other = target.get(script.version)
        if other is not None:
            kind = "migration" if script.kind == "V" else "undo script"
            findings.append(_duplicate(path, kind, script.version, other.path))
            continue
        target[script.version] = script
        if script.kind == "U":
            undo_paths[script.version] = path
    classes = tuple(classes)
    folder = MigrationFolder(
        directory, tuple(versioned[v] for v in sorted(versioned)), undo, numbering, classes, (), undo_paths
    )
    for number, declared in folder.gaps():
        if not declared:
            after = max((m for m in folder.migrations if m.version.major < number), key=lambda m: m.version)
            findings.append(
                Finding(
                    display_path(after.path),
                    0,
                    "E003",
                    f"V{number} is missing after {after.version}: add it to "
                    f"ignored_gaps in {NUMBERING_FILE} if the gap is intended",
                )
            )
    present = {m.version.major for m in folder.migrations}
    if numbering.path is not None:
        for number in sorted(numbering.ignored_gaps & present):
            findings.append(
                Finding(
                    display_path(numbering.path),
                    numbering.lines.get(number, 0),
                    "W002",
                    f"V{number} is declared as a gap but a migration with that number exists",
                )
            )
    return MigrationFolder(
        folder.directory, folder.migrations, folder.undo, numbering, classes, tuple(findings), undo_paths
    )


def _duplicate(path: Path, kind: str, version: Version, other: Path) -> Finding:
    return Finding(display_path(path), 0, "E002", f"duplicate {kind} version {version}: also {display_path(other)}")
