"""Flyway's schema history: its table, its rows, its lock and the states ``flyway info`` shows.

Everything here follows Flyway's own sources (``JdbcTableSchemaHistory``, ``SchemaHistory``,
the PostgreSQL ``createMetaDataTable.sql``, ``PostgreSQLAdvisoryLockTemplate``,
``ChecksumCalculator`` and ``MigrationInfoImpl``), so that a history seasongate continues
stays one that Flyway reads, validates and continues:

* a new row gets ``max(installed_rank) + 1`` (a ``SCHEMA`` marker row gets 0);
  ``installed_on`` is left to the column default ``now()``; ``installed_by`` is the configured
  user or ``current_user``; ``description`` is the file name's description with ``_`` turned
  into spaces (at most 200 characters, ``...`` at the end), ``script`` the path relative to the
  migrations folder (at most 1000, ``...`` at the start);
* a baseline row is ``(version, '<< Flyway Baseline >>', 'BASELINE', '<< Flyway Baseline >>',
  NULL checksum, execution_time 0, success true)``;
* a repeatable row has a NULL version and the checksum of the script *after* placeholder
  replacement (a versioned row: of the raw file), so a changed placeholder value re-applies it;
* the advisory lock is ``pg_advisory_lock(77431708279161 + hash)``: the magic number is
  "Flyway" in ASCII, the hash is Java's ``String.hashCode`` of the quoted table name
  ``"public"."flyway_schema_history"``. Session and transaction advisory locks on one key
  exclude each other, so holding it keeps a stray ``flyway migrate`` out whichever lock mode
  it is configured with.

Pure functions of files and rows, plus the SQL texts; no connection is opened here.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

from seasongate._errors import MigrationError
from seasongate._executor._files import (
    Directives,
    MigrationScript,
    classify,
    flyway_checksum,
    parse_directives,
    sha256_of,
)
from seasongate._executor._findings import Finding, display_path
from seasongate._executor._names import REPEATABLE_RE
from seasongate._executor._plan import APPLY_TYPES as _APPLY_TYPES
from seasongate._executor._plan import BASELINE_TYPES as _BASELINE_TYPES
from seasongate._executor._plan import ROW_TYPES, HistoryRow
from seasongate._policy import MigrationClass
from seasongate._versions import Version

FLYWAY_TABLE = "flyway_schema_history"
LOCK_MAGIC = 77431708279161  # 0x466c79776179: "Flyway"
BASELINE_DESCRIPTION = "<< Flyway Baseline >>"
SCHEMA_DESCRIPTION = "<< Flyway Schema Creation >>"


# The states ``flyway info`` shows (MigrationState's display names).
SUCCESS = "Success"
PENDING = "Pending"
BASELINE = "Baseline"
BELOW_BASELINE = "Below Baseline"
IGNORED = "Ignored"
MISSING = "Missing"
FAILED = "Failed"
FAILED_MISSING = "Failed (Missing)"
FUTURE = "Future"
FAILED_FUTURE = "Failed (Future)"
OUTDATED = "Outdated"
SUPERSEDED = "Superseded"
UNDONE = "Undone"
DELETED = "Deleted"
OUT_OF_ORDER = "Out of Order"


# --- Flyway's conventions -----------------------------------------------------------------------


def java_string_hash(text: str) -> int:
    """Java's ``String.hashCode()``: ``s[0]*31^(n-1) + ... + s[n-1]`` over UTF-16 code units,
    as a signed 32-bit integer."""
    data = text.encode("utf-16-be")
    h = 0
    for i in range(0, len(data), 2):
        h = (31 * h + ((data[i] << 8) | data[i + 1])) & 0xFFFFFFFF
    return h - (1 << 32) if h >= (1 << 31) else h


def quote_ident(name: str) -> str:
    """PostgreSQL's quoting as Flyway does it: ``"name"`` with ``"`` doubled."""
    return '"' + name.replace('"', '""') + '"'


def lock_key(schema: str, table: str) -> int:
    """The single bigint key of Flyway's PostgreSQL advisory lock on this history table."""
    return LOCK_MAGIC + java_string_hash(f"{quote_ident(schema)}.{quote_ident(table)}")


def abbreviate_description(description: str) -> str:
    """Flyway's ``AbbreviationUtils.abbreviateDescription``: at most 200 characters."""
    return description if len(description) <= 200 else description[:197] + "..."


def abbreviate_script(script: str) -> str:
    """Flyway's ``AbbreviationUtils.abbreviateScript``: at most 1000 characters, the end kept."""
    return script if len(script) <= 1000 else "..." + script[-997:]


def version_text(version: Version) -> str:
    """A version as Flyway stores it: ``225`` or ``2.1``."""
    return ".".join(str(p) for p in version.parts)


def create_table_sql(schema: str, table: str) -> str:
    """Flyway's PostgreSQL ``createMetaDataTable.sql`` for ``schema.table``."""
    t = f"{quote_ident(schema)}.{quote_ident(table)}"
    return (
        f"CREATE TABLE {t} (\n"
        '    "installed_rank" INT NOT NULL,\n'
        '    "version" VARCHAR(50),\n'
        '    "description" VARCHAR(200) NOT NULL,\n'
        '    "type" VARCHAR(20) NOT NULL,\n'
        '    "script" VARCHAR(1000) NOT NULL,\n'
        '    "checksum" INTEGER,\n'
        '    "installed_by" VARCHAR(100) NOT NULL,\n'
        '    "installed_on" TIMESTAMP NOT NULL DEFAULT now(),\n'
        '    "execution_time" INTEGER NOT NULL,\n'
        '    "success" BOOLEAN NOT NULL\n'
        ");\n"
        f'ALTER TABLE {t} ADD CONSTRAINT {quote_ident(table + "_pk")} PRIMARY KEY ("installed_rank");\n'
        f'CREATE INDEX {quote_ident(table + "_s_idx")} ON {t} ("success");'
    )


def insert_sql(schema: str, table: str) -> str:
    """Flyway's insert (``installed_on`` from the column default), with psycopg placeholders
    ``%(installed_rank)s, %(version)s, ... %(success)s``."""
    t = f"{quote_ident(schema)}.{quote_ident(table)}"
    return (
        f'INSERT INTO {t} ("installed_rank", "version", "description", "type", "script", "checksum", '
        '"installed_by", "execution_time", "success") VALUES (%(installed_rank)s, %(version)s, '
        "%(description)s, %(type)s, %(script)s, %(checksum)s, %(installed_by)s, %(execution_time)s, "
        "%(success)s)"
    )


def select_sql(schema: str, table: str) -> str:
    """Flyway's read of the history (every row, by installed rank)."""
    t = f"{quote_ident(schema)}.{quote_ident(table)}"
    return (
        'SELECT "installed_rank", "version", "description", "type", "script", "checksum", '
        f'"installed_by", "installed_on", "execution_time", "success" FROM {t} ORDER BY "installed_rank"'
    )


@dataclass(frozen=True, slots=True)
class FlywayRow:
    """The values of one history row as Flyway writes it (``installed_on`` is the server's)."""

    installed_rank: int
    version: str | None
    description: str
    type: str
    script: str
    checksum: int | None
    installed_by: str
    execution_time: int
    success: bool

    def params(self) -> dict[str, Any]:
        """The parameters of :func:`insert_sql`."""
        return {
            "installed_rank": self.installed_rank,
            "version": self.version,
            "description": self.description,
            "type": self.type,
            "script": self.script,
            "checksum": self.checksum,
            "installed_by": self.installed_by,
            "execution_time": self.execution_time,
            "success": self.success,
        }


def next_rank(rows: Sequence[HistoryRow]) -> int:
    """Flyway's ``calculateInstalledRank``: one more than the highest rank (1 when empty)."""
    return max((r.installed_rank for r in rows), default=0) + 1


def migration_row(
    script: MigrationScript | RepeatableScript,
    *,
    folder: Path,
    installed_rank: int,
    installed_by: str,
    execution_ms: int,
    success: bool,
    checksum: int | None = None,
) -> FlywayRow:
    """The row Flyway writes after running ``script`` (type ``SQL``)."""
    version = None if isinstance(script, RepeatableScript) else version_text(script.version)
    return FlywayRow(
        installed_rank,
        version,
        abbreviate_description(script.description.replace("_", " ")),
        "SQL",
        abbreviate_script(script_name(script.path, folder)),
        script.checksum if checksum is None else checksum,
        installed_by,
        max(0, execution_ms),
        success,
    )


def baseline_row(version: Version, *, installed_rank: int, installed_by: str) -> FlywayRow:
    """The ``BASELINE`` row Flyway's ``baseline`` writes."""
    return FlywayRow(
        installed_rank,
        version_text(version),
        BASELINE_DESCRIPTION,
        "BASELINE",
        BASELINE_DESCRIPTION,
        None,
        installed_by,
        0,
        success=True,
    )


def script_name(path: Path, folder: Path) -> str:
    """Flyway's ``script`` column: the path relative to the migrations folder, ``/``-separated."""
    try:
        return path.relative_to(folder).as_posix()
    except ValueError:
        return path.name


def read_text(path: Path) -> str:
    """A script's text: a regular file of at most 64 MiB, UTF-8, a leading BOM dropped."""
    from seasongate._executor._files import _decode
    from seasongate._fileio import UnreadableFile, read_regular_file

    try:
        return _decode(read_regular_file(path, limit=64 * 1024 * 1024))
    except UnicodeDecodeError as exc:
        raise MigrationError(f"{display_path(path)}: not UTF-8 text ({exc.reason} at byte {exc.start})") from exc
    except UnreadableFile as exc:
        raise MigrationError(f"{display_path(path)}: {exc}") from exc


# --- repeatable scripts --------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class RepeatableScript:
    """A repeatable migration ``R__<description>.sql``: re-applied whenever its checksum changes.

    ``checksum`` is Flyway's CRC32 of the raw file; the checksum recorded and compared is that
    of the text after placeholder replacement (:func:`repeatable_checksum`).
    """

    path: Path
    description: str
    sql: str = field(repr=False)
    checksum: int
    sha256: str
    directives: Directives

    @property
    def name(self) -> str:
        """The file name, ``R__rls_policies.sql``."""
        return self.path.name

    @property
    def title(self) -> str:
        """The description as Flyway shows and stores it: underscores become spaces."""
        return self.description.replace("_", " ")


def repeatable_checksum(text_after_placeholders: str) -> int:
    """The checksum Flyway records for a repeatable: CRC32 of the text after placeholders."""
    return flyway_checksum(text_after_placeholders)


def read_repeatable(path: Path, text: str) -> tuple[RepeatableScript | None, list[Finding]]:
    """A repeatable script from its (already decoded) text; not an ``R__`` name: ``None``."""
    match = REPEATABLE_RE.match(path.name)
    if not match:
        return None, []
    shown = display_path(path)
    directives, findings = parse_directives(text, shown)
    return (
        RepeatableScript(path, match.group("description"), text, flyway_checksum(text), sha256_of(text), directives),
        findings,
    )


# --- reading rows --------------------------------------------------------------------------------


def row_from_db(values: Sequence[Any], *, source: str = FLYWAY_TABLE) -> HistoryRow:
    """A :class:`HistoryRow` from the ten columns of :func:`select_sql`; an unknown row type or an
    unreadable version is an error naming the row (fail closed: never guess what it meant)."""
    rank, version, description, kind, script, checksum, installed_by, installed_on, ms, success = values
    if kind not in ROW_TYPES:
        raise MigrationError(
            f"{source} row {rank} has type {kind!r}, which seasongate does not know "
            f"(known: {', '.join(ROW_TYPES)}); nothing was run"
        )
    parsed: Version | None = None
    if version is not None and str(version).strip():
        try:
            parsed = Version.parse(str(version))
        except Exception as exc:  # InputError: a version seasongate cannot order
            raise MigrationError(
                f"{source} row {rank}: version {version!r} is not a version seasongate can order"
            ) from exc
    return HistoryRow(
        int(rank),
        parsed,
        description or "",
        kind,
        script or "",
        None if checksum is None else int(checksum),
        installed_by or "",
        installed_on,
        None if ms is None else int(ms),
        bool(success),
    )


# --- states ----------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class FlywayEntry:
    """One line of ``info`` in Flyway's terms.

    ``category`` is ``Versioned``, ``Repeatable``, ``Baseline`` or ``Schema``; ``problem`` is
    set when validation fails on it (what ``flyway validate`` would report, and what stops
    ``migrate``).
    """

    category: str
    version: Version | None
    description: str
    state: str
    script: str
    checksum: int | None = None
    row: HistoryRow | None = None
    problem: str | None = None

    @property
    def installed_on(self) -> datetime | None:
        """When its row was written."""
        return None if self.row is None else self.row.installed_on

    def to_dict(self) -> dict[str, Any]:
        """JSON form."""
        return {
            "category": self.category,
            "version": None if self.version is None else str(self.version),
            "description": self.description,
            "state": self.state,
            "script": self.script,
            "checksum": self.checksum,
            "installed_rank": None if self.row is None else self.row.installed_rank,
            "installed_on": None
            if self.row is None or self.row.installed_on is None
            else self.row.installed_on.isoformat(),
            "problem": self.problem,
        }


@dataclass(frozen=True, slots=True)
class FlywayInfo:
    """The folder compared with a Flyway history."""

    entries: tuple[FlywayEntry, ...]
    baseline: Version | None
    pending: tuple[MigrationScript, ...]
    pending_repeatables: tuple[RepeatableScript, ...]

    @property
    def problems(self) -> tuple[str, ...]:
        """What validation reports (each stops ``migrate``)."""
        return tuple(e.problem for e in self.entries if e.problem)

    def state_of(self, version: Version) -> str | None:
        """The state of the versioned migration ``version`` (the file's, when there is one)."""
        found = [e for e in self.entries if e.category == "Versioned" and e.version == version]
        return found[-1].state if found else None

    def repeatable_state(self, description: str) -> str | None:
        """The state of the repeatable file with this description."""
        found = [
            e for e in self.entries if e.category == "Repeatable" and e.description == description.replace("_", " ")
        ]
        return found[-1].state if found else None


def _latest_of(latest: Mapping[Version, tuple[str, HistoryRow]], version: Version) -> tuple[str, HistoryRow | None]:
    found = latest.get(version)
    return ("", None) if found is None else found


def _checksum_problem(name: str, row: HistoryRow, checksum: int) -> str:
    when = "" if row.installed_on is None else f" on {row.installed_on:%Y-%m-%d %H:%M}"
    return (
        f"{name}: checksum mismatch: applied to database{when} with checksum {row.checksum}, "
        f"resolved locally {checksum}; restore the file (put the change in a new migration), or if it "
        "changed only in whitespace or comments run `seasongate repair`"
    )


def flyway_info(
    migrations: Sequence[MigrationScript],
    repeatables: Sequence[RepeatableScript],
    rows: Sequence[HistoryRow],
    *,
    classes: Sequence[MigrationClass] = (),
    repeatable_checksums: Mapping[Path, int] | None = None,
) -> FlywayInfo:
    """Flyway's states of every migration and history row.

    ``classes`` makes "behind the highest applied version" (Ignored) a question per migration
    class, as seasongate's own plan does (test data V10000 applied does not make V226 ignored);
    without classes it is Flyway's single sequence. ``repeatable_checksums`` gives each
    repeatable's checksum after placeholder replacement (default: the raw file's).
    """
    ordered = sorted(rows, key=lambda r: r.installed_rank)
    entries: list[FlywayEntry] = []
    baseline: Version | None = None
    versions: dict[Version, list[HistoryRow]] = {}
    repeat_rows: dict[str, list[HistoryRow]] = {}
    for entry_row in ordered:
        if entry_row.type == "SCHEMA":
            entries.append(
                FlywayEntry("Schema", None, entry_row.description, SUCCESS, entry_row.script, None, entry_row)
            )
        elif entry_row.type in _BASELINE_TYPES:
            if entry_row.version is not None and (baseline is None or entry_row.version > baseline):
                baseline = entry_row.version
            entries.append(
                FlywayEntry(
                    "Baseline", entry_row.version, entry_row.description, BASELINE, entry_row.script, None, entry_row
                )
            )
        elif entry_row.version is None:
            repeat_rows.setdefault(entry_row.description, []).append(entry_row)
        else:
            versions.setdefault(entry_row.version, []).append(entry_row)

    files = {m.version: m for m in migrations}
    top_resolved = max(files, default=None)
    latest: dict[Version, tuple[str, HistoryRow]] = {}
    for version, its_rows in versions.items():
        for one in its_rows:
            if one.type in _APPLY_TYPES:
                latest[version] = ("applied" if one.success else "failed", one)
            elif one.type == "UNDO_SQL" and one.success:
                latest[version] = ("undone", one)
            elif one.type == "DELETE":
                latest[version] = ("deleted", one)

    def class_key(version: Version) -> str | None:
        if not classes:
            return None
        cls = classify(version, classes)
        return None if cls is None else cls.name

    highest: dict[str | None, Version] = {}
    for version, (what, _row) in latest.items():
        if what == "applied":
            key = class_key(version)
            if key not in highest or highest[key] < version:
                highest[key] = version
    if baseline is not None:
        key = class_key(baseline)
        if key not in highest or highest[key] < baseline:
            highest[key] = baseline

    pending: list[MigrationScript] = []
    for version in sorted(set(files) | set(latest)):
        script = files.get(version)
        what, found = _latest_of(latest, version)
        row = found
        name = script.name if script else (row.script if row else "")
        description = script.title if script else (row.description if row else "")
        if what == "applied":
            assert row is not None
            if script is None:
                future = top_resolved is None or version > top_resolved
                state = FUTURE if future else MISSING
                problem = f"{row.script} (version {version}) was applied on {row.installed_on:%Y-%m-%d %H:%M} but " + (
                    "no file here has that version or a higher one (Future): pull the newer migrations"
                    if future
                    else "its file is gone (Missing): restore it"
                )
                entries.append(FlywayEntry("Versioned", version, description, state, name, row.checksum, row, problem))
                continue
            mismatch: str | None = None
            if row.type == "SQL" and row.checksum is not None and row.checksum != script.checksum:
                mismatch = _checksum_problem(script.name, row, script.checksum)
            entries.append(FlywayEntry("Versioned", version, description, SUCCESS, name, row.checksum, row, mismatch))
            continue
        if what == "failed":
            assert row is not None
            state = (
                FAILED
                if script is not None
                else (FAILED_FUTURE if top_resolved is None or version > top_resolved else FAILED_MISSING)
            )
            problem = (
                f"{row.script} (version {version}) failed on {row.installed_on:%Y-%m-%d %H:%M} and its effects may be "
                "partial: check the database, then run `seasongate repair` to remove the failed row"
            )
            entries.append(FlywayEntry("Versioned", version, description, state, name, row.checksum, row, problem))
            continue
        if what in ("undone", "deleted") and row is not None:
            entries.append(
                FlywayEntry(
                    "Versioned",
                    version,
                    row.description,
                    UNDONE if what == "undone" else DELETED,
                    row.script,
                    row.checksum,
                    row,
                )
            )
        if script is None:
            continue
        if baseline is not None and version <= baseline and what == "":
            entries.append(FlywayEntry("Versioned", version, description, BELOW_BASELINE, name, script.checksum))
            continue
        top = highest.get(class_key(version))
        if top is not None and version < top:
            problem = (
                f"{script.name} is not applied but {top} is (Ignored): renumber it above {top}, "
                "or remove it if it was never meant to run"
            )
            entries.append(
                FlywayEntry("Versioned", version, description, IGNORED, name, script.checksum, None, problem)
            )
            continue
        entries.append(FlywayEntry("Versioned", version, description, PENDING, name, script.checksum))
        pending.append(script)

    pending_r: list[RepeatableScript] = []
    resolved_r = {r.title: r for r in repeatables}
    checksums = dict(repeatable_checksums or {})
    for title in sorted(set(resolved_r) | set(repeat_rows)):
        file = resolved_r.get(title)
        its_rows = repeat_rows.get(title, [])
        applied = [r for r in its_rows if r.success]
        last_applied = applied[-1] if applied else None
        current = None if file is None else checksums.get(file.path, file.checksum)
        for row in its_rows:
            if not row.success:
                if row is its_rows[-1]:
                    problem = (
                        f"{row.script} failed on {row.installed_on:%Y-%m-%d %H:%M}: check the database, then "
                        "run `seasongate repair` to remove the failed row"
                    )
                    entries.append(
                        FlywayEntry("Repeatable", None, title, FAILED, row.script, row.checksum, row, problem)
                    )
                continue
            if row is not last_applied:
                entries.append(FlywayEntry("Repeatable", None, title, SUPERSEDED, row.script, row.checksum, row))
            elif file is None:
                problem = (
                    f"{row.script} was applied on {row.installed_on:%Y-%m-%d %H:%M} but its file is gone "
                    "(Missing): restore it"
                )
                entries.append(FlywayEntry("Repeatable", None, title, MISSING, row.script, row.checksum, row, problem))
            elif row.checksum == current:
                entries.append(FlywayEntry("Repeatable", None, title, SUCCESS, row.script, row.checksum, row))
            else:
                entries.append(FlywayEntry("Repeatable", None, title, OUTDATED, row.script, row.checksum, row))
        if file is not None and (last_applied is None or last_applied.checksum != current):
            entries.append(FlywayEntry("Repeatable", None, title, PENDING, file.name, current))
            pending_r.append(file)
    return FlywayInfo(tuple(entries), baseline, tuple(pending), tuple(pending_r))


# --- repair ------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Realignment:
    """An applied row whose checksum repair sets to the file's (the file changed only in form)."""

    row: HistoryRow
    script: str
    checksum: int
    sha256: str | None = None  # the file's, for the side table of a row seasongate wrote


@dataclass(frozen=True, slots=True)
class RepairPlan:
    """What ``repair`` would do: remove failed rows, realign checksums; ``refused`` lists the
    changed files it will not realign (their SQL changed, or the applied text is unknown)."""

    remove: tuple[HistoryRow, ...]
    realign: tuple[Realignment, ...]
    refused: tuple[str, ...]

    @property
    def empty(self) -> bool:
        """Nothing to do."""
        return not self.remove and not self.realign

    def to_dict(self) -> dict[str, Any]:
        """JSON form."""
        return {
            "remove": [r.to_dict() for r in self.remove],
            "realign": [
                {"installed_rank": a.row.installed_rank, "script": a.script, "from": a.row.checksum, "to": a.checksum}
                for a in self.realign
            ],
            "refused": list(self.refused),
        }


def plan_repair(
    info: FlywayInfo,
    rows: Sequence[HistoryRow],
    migrations: Sequence[MigrationScript],
    originals: Mapping[str, str | None],
) -> RepairPlan:
    """Decide what ``repair`` does.

    Failed rows (``success = false``) are removed, as Flyway's ``removeFailedMigrations`` does.
    A checksum mismatch is realigned only when the applied text is known (``originals`` maps
    the script name to the text whose Flyway checksum is the recorded one, e.g. found in git)
    and the two texts differ in whitespace and comments only; otherwise it is refused, named.
    """
    remove = tuple(r for r in sorted(rows, key=lambda r: r.installed_rank) if not r.success)
    files = {m.version: m for m in migrations}
    realign: list[Realignment] = []
    refused: list[str] = []
    for entry in info.entries:
        if entry.category != "Versioned" or entry.state != SUCCESS or entry.problem is None or entry.row is None:
            continue
        script = files.get(entry.version) if entry.version is not None else None
        if script is None:
            continue
        original = originals.get(script.name)
        if original is None:
            refused.append(
                f"{script.name}: the applied text (checksum {entry.row.checksum}) is not known, so seasongate "
                "cannot tell a cosmetic change from a real one; restore the file from version control"
            )
            continue
        if sql_fingerprint(original) != sql_fingerprint(script.sql):
            refused.append(
                f"{script.name}: changed beyond whitespace and comments since it was applied (checksum "
                f"{entry.row.checksum} -> {script.checksum}); restore it and put the change in a new migration"
            )
            continue
        realign.append(Realignment(entry.row, script.name, script.checksum, script.sha256))
    return RepairPlan(remove, tuple(realign), tuple(refused))


_TOKEN = re.compile(
    r"""
    (?P<space>\s+)
  | (?P<line>--[^\n]*)
  | (?P<block>/\*)
  | (?P<dollar>\$(?:[^\W\d]\w*)?\$)
  | (?P<string>[eE]?'(?:[^']|'')*')
  | (?P<ident>"(?:[^"]|"")*")
  | (?P<word>\w+|[^\s\w'"])
    """,
    re.VERBOSE,
)


def sql_fingerprint(text: str) -> tuple[str, ...]:
    """The tokens of a script with whitespace and comments dropped: two scripts with the same
    fingerprint differ only in layout and comments. String literals, quoted identifiers and
    dollar-quoted bodies are kept verbatim (a space inside them is a real change)."""
    if text.startswith("\ufeff"):
        text = text[1:]
    out: list[str] = []
    i = 0
    n = len(text)
    while i < n:
        if text.startswith("/*", i):
            depth = 0
            while i < n:
                if text.startswith("/*", i):
                    depth += 1
                    i += 2
                elif text.startswith("*/", i):
                    depth -= 1
                    i += 2
                    if depth == 0:
                        break
                else:
                    i += 1
            out.append(" ")
            continue
        match = _TOKEN.match(text, i)
        if match is None:  # an unterminated quote: keep the rest verbatim
            out.append(text[i:])
            break
        kind = match.lastgroup
        token = match.group(0)
        if kind == "dollar":
            close = text.find(token, match.end())
            end = n if close < 0 else close + len(token)
            out.append(text[i:end])
            i = end
            continue
        i = match.end()
        if kind in ("space", "line"):
            out.append(" ")
        else:
            out.append(token)
    # Adjacent word pieces separated by nothing stay joined; a separator matters only between
    # two word characters (``a b`` is not ``ab``), so collapse separators to one marker.
    tokens: list[str] = []
    gap = False
    for piece in out:
        if piece == " ":
            gap = True
            continue
        if gap and tokens and _wordy(tokens[-1][-1]) and _wordy(piece[0]):
            tokens.append(" ")
        tokens.append(piece)
        gap = False
    return tuple(tokens)


def _wordy(ch: str) -> bool:
    return ch.isalnum() or ch in "_$"


def read_repeatables(paths: Iterable[Path], decode: Any) -> tuple[list[RepeatableScript], list[Finding]]:
    """Read every ``R__`` script among ``paths`` (``decode(path) -> str`` reads one file)."""
    out: list[RepeatableScript] = []
    findings: list[Finding] = []
    seen: dict[str, Path] = {}
    for path in sorted(paths, key=lambda p: (p.name, str(p))):
        if not REPEATABLE_RE.match(path.name):
            continue
        script, problems = read_repeatable(path, decode(path))
        findings.extend(problems)
        if script is None:
            continue
        other = seen.get(script.title)
        if other is not None:
            findings.append(
                Finding(
                    display_path(path), 0, "E002", f"duplicate repeatable {script.name}: also {display_path(other)}"
                )
            )
            continue
        seen[script.title] = path
        out.append(script)
    return out, findings
