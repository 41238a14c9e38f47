"""Flyway's schema history table: its DDL, its rows, its advisory lock key.

Everything here follows Flyway's own sources (``JdbcTableSchemaHistory``, ``SchemaHistory``,
the PostgreSQL ``createMetaDataTable.sql``, ``PostgreSQLAdvisoryLockTemplate`` and
``AbbreviationUtils``), so that a history seasongate continues stays one that Flyway reads,
validates and continues:

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

Pure functions of files and rows, plus the SQL texts; no connection is opened here. The
states ``flyway info`` shows are in ``_flyway_info``, ``repair`` in ``_flyway_repair``, what
runs on a connection in ``_flyway_db``.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from seasongate._errors import MigrationError
from seasongate._executor._files import MigrationScript
from seasongate._executor._plan import ROW_TYPES, HistoryRow
from seasongate._executor._repeatables import RepeatableScript
from seasongate._versions import Version

FLYWAY_TABLE = "flyway_schema_history"
LOCK_MAGIC = 77431708279161  # 0x466c79776179: "Flyway"
BASELINE_DESCRIPTION = "<< Flyway Baseline >>"

COLUMNS = (
    "installed_rank",
    "version",
    "description",
    "type",
    "script",
    "checksum",
    "installed_by",
    "installed_on",
    "execution_time",
    "success",
)
"""The history table's columns, in Flyway's order (seasongate's facts live in a side table)."""


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
    written = [c for c in COLUMNS if c != "installed_on"]
    return (
        f"INSERT INTO {quote_ident(schema)}.{quote_ident(table)} ({', '.join(quote_ident(c) for c in written)}) "
        f"VALUES ({', '.join(f'%({c})s' for c in written)})"
    )


def select_sql(schema: str, table: str) -> str:
    """Flyway's read of the history (every row, by installed rank)."""
    return (
        f"SELECT {', '.join(quote_ident(c) for c in COLUMNS)} FROM {quote_ident(schema)}.{quote_ident(table)} "
        'ORDER BY "installed_rank"'
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
        return asdict(self)


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


def baseline_row(
    version: Version, *, installed_rank: int, installed_by: str, description: str = BASELINE_DESCRIPTION
) -> FlywayRow:
    """The ``BASELINE`` row Flyway's ``baseline`` writes (``addBaselineMarker``: the description
    is also the script, both abbreviated as every row's are)."""
    text = abbreviate_description(description)
    return FlywayRow(installed_rank, version_text(version), text, "BASELINE", abbreviate_script(description), None,
                     installed_by, 0, success=True)  # fmt: skip


def deleted_row(applied: HistoryRow, *, installed_rank: int, installed_by: str) -> FlywayRow:
    """The ``DELETE`` row Flyway's ``repair`` adds for an applied migration whose file is gone
    (``JdbcTableSchemaHistory.delete``): the applied row's values, type ``DELETE``."""
    version = None if applied.version is None else version_text(applied.version)
    return FlywayRow(installed_rank, version, applied.description, "DELETE", applied.script, applied.checksum,
                     installed_by, 0, applied.success)  # fmt: skip


def script_name(path: Path, folder: Path) -> str:
    """Flyway's ``script`` column: the path relative to the migrations folder, ``/``-separated."""
    try:
        return path.relative_to(folder).as_posix()
    except ValueError:
        return path.name


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
