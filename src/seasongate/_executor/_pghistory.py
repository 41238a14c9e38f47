"""The history table and its side table on one connection: their layout, reading them, and the
rows a migration writes.

**The history** has exactly Flyway's ten columns (its PostgreSQL ``createMetaDataTable.sql``:
the same types, primary key ``<table>_pk`` and index ``<table>_s_idx``), so Flyway can read and
continue it. seasongate's own facts (gate verdict, override id, SHA-256, transactional flag,
audit anchor) live in ``<table>_seasongate``, keyed by ``installed_rank`` and written in the same
transaction as the finished history row. A table in seasongate's earlier layout (the facts as
extra columns) is converted in place, under the lock, in one transaction.

Rows are written as SQL text with literal values (libpq quotes each text value for the
connection), so that a migration, its lock check and its rows travel as one query.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from seasongate._errors import MigrationError
from seasongate._executor._flyway import COLUMNS  # Flyway's ten columns, one copy
from seasongate._executor._pgerrors import error_text
from seasongate._executor._plan import HistoryRow
from seasongate._versions import Version

if TYPE_CHECKING:
    import psycopg
    from psycopg import sql

FACTS = ("gate_verdict", "override_id", "sha256", "transactional", "audit_seq", "audit_hash")
"""The side table ``<table>_seasongate``, keyed by ``installed_rank``."""
_LEGACY = ("gate_verdict", "override_id", "sha256", "transactional")  # extra columns of the old layout
FACTS_SUFFIX = "_seasongate"
SERVER_MS = "(extract(epoch FROM clock_timestamp() - statement_timestamp()) * 1000)::int"
"""The execution time as the server measures it: since it received the query."""

# Flyway's PostgreSQL createMetaDataTable.sql, names quoted the same way.
CREATE_HISTORY = """CREATE TABLE {t} (
    "installed_rank" INT NOT NULL,
    "version" VARCHAR(50),
    "description" VARCHAR(200) NOT NULL,
    "type" VARCHAR(20) NOT NULL,
    "script" VARCHAR(1000) NOT NULL,
    "checksum" INTEGER,
    "installed_by" VARCHAR(100) NOT NULL,
    "installed_on" TIMESTAMP NOT NULL DEFAULT now(),
    "execution_time" INTEGER NOT NULL,
    "success" BOOLEAN NOT NULL
);
ALTER TABLE {t} ADD CONSTRAINT {pk} PRIMARY KEY ("installed_rank");
CREATE INDEX {s_idx} ON {t} ("success")"""

# ON DELETE CASCADE: Flyway's repair deletes failed rows, and their facts go with them.
_CREATE_FACTS = """CREATE TABLE {f} (
    installed_rank integer PRIMARY KEY REFERENCES {t} (installed_rank) ON DELETE CASCADE,
    gate_verdict varchar(20),
    override_id varchar(100),
    sha256 char(64),
    transactional boolean NOT NULL,
    audit_seq bigint,
    audit_hash varchar(128)
)"""

_HISTORY = (
    "h.installed_rank, h.version, h.description, h.type, h.script, h.checksum, h.installed_by, "
    "h.installed_on::timestamptz, h.execution_time, h.success"
)
_SELECT_JOINED = (
    "SELECT " + _HISTORY + ", f.gate_verdict, f.override_id, f.sha256, f.transactional, f.audit_seq, "
    "f.audit_hash, f.installed_rank IS NOT NULL FROM {t} h LEFT JOIN {f} f USING (installed_rank) "
    "ORDER BY h.installed_rank"
)
_SELECT_FLYWAY = (
    "SELECT " + _HISTORY + ", NULL, NULL, NULL, NULL, NULL, NULL, false FROM {t} h ORDER BY h.installed_rank"
)
_SELECT_LEGACY = (
    "SELECT " + _HISTORY + ", h.gate_verdict, h.override_id, h.sha256, h.transactional, NULL, NULL, "
    "h.transactional OR h.execution_time IS NOT NULL FROM {t} h ORDER BY h.installed_rank"
)


# information_schema.columns, read from pg_catalog directly: the view costs ~10 ms in a database
# with a few thousand tables, this a millisecond. Same rows: relation kinds, no other session's
# temporary schema, and only columns the user owns or has a privilege on.
_COLUMNS_OF = (
    "SELECT c.relname, a.attname FROM pg_catalog.pg_attribute a "
    "JOIN pg_catalog.pg_class c ON c.oid = a.attrelid JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace "
    "WHERE n.nspname = %s AND c.relname = ANY(%s) AND a.attnum > 0 AND NOT a.attisdropped "
    "AND c.relkind IN ('r', 'v', 'f', 'p') AND NOT pg_catalog.pg_is_other_temp_schema(n.oid) "
    "AND (pg_catalog.pg_has_role(c.relowner, 'USAGE') "
    "OR pg_catalog.has_column_privilege(c.oid, a.attnum, 'SELECT, INSERT, UPDATE, REFERENCES'))"
)


def columns_of(conn: psycopg.Connection[Any], schema: str, tables: Sequence[str]) -> dict[str, set[str]]:
    """The column names of each of ``tables`` in ``schema`` that exists and that the user may
    see (what ``information_schema.columns`` lists), in one query."""
    found: dict[str, set[str]] = {}
    for table, column in conn.execute(_COLUMNS_OF, (schema, list(tables))).fetchall():
        found.setdefault(str(table), set()).add(str(column))
    return found


@dataclass(frozen=True, slots=True)
class HistoryRecord:
    """What the history and the side table say about one execution."""

    version: str | None
    description: str
    type: str
    script: str
    checksum: int | None
    installed_by: str | None
    verdict: str | None
    override_id: str | None
    sha256: str
    transactional: bool
    audit: tuple[int, str] | None


class HistoryTables:
    """``schema.table`` and its side table, read and written on ``conn``.

    ``layout``: missing, flyway (with or without the side table) or legacy (seasongate's
    earlier layout), as :meth:`read_layout` found it."""

    def __init__(self, conn: psycopg.Connection[Any], schema: str, table: str) -> None:
        self.conn = conn
        self.schema = schema
        self.table = table
        self.layout = "missing"
        self._facts = False  # whether the side table exists (read_layout, prepare)
        self._inserts: dict[str, str] = {}
        self._escaping: Any = None  # psycopg.pq.Escaping of the connection, made when first needed

    @property
    def facts_table(self) -> str:
        """The side table's name: ``<table>_seasongate``."""
        return self.table + FACTS_SUFFIX

    def q(self, template: str, **parts: sql.Composable) -> sql.Composed:
        """``template`` with ``{t}`` the history table and ``{f}`` the side table."""
        from psycopg import sql

        return sql.SQL(template).format(
            t=sql.Identifier(self.schema, self.table),
            f=sql.Identifier(self.schema, self.facts_table),
            pk=sql.Identifier(self.table + "_pk"),
            s_idx=sql.Identifier(self.table + "_s_idx"),
            **parts,
        )

    # --- layout --------------------------------------------------------------------------------

    def read_layout(self) -> str:
        """Find (and remember) the layout, and whether the side table exists; a table of that
        name that is not a history table is an error. One catalog query for both tables."""
        found = columns_of(self.conn, self.schema, (self.table, self.facts_table))
        columns = found.get(self.table, set())
        self._facts = self.facts_table in found
        if not columns:
            self.layout = "missing"
            return self.layout
        missing = [c for c in COLUMNS if c not in columns]
        if missing:
            raise MigrationError(
                f"table {self.schema}.{self.table} exists but is not a "
                f"migration history table (missing columns: {', '.join(missing)}); "
                "use --table to pick another name"
            )
        self.layout = "legacy" if set(_LEGACY) <= columns else "flyway"
        return self.layout

    def prepare(self) -> None:
        """Under the lock: create what is missing, convert the old layout, in one transaction."""
        import psycopg

        try:
            with self.conn.transaction():
                if self.layout == "missing":
                    self.conn.execute(self.q(CREATE_HISTORY))
                elif self.layout == "legacy":
                    self._convert_legacy()  # creates the side table
                    self._facts = True
                if not self._facts:
                    self.conn.execute(self.q(_CREATE_FACTS))
        except psycopg.Error as exc:
            raise MigrationError(f"cannot create the history tables: {error_text(exc)}") from exc
        self.layout = "flyway"
        self._facts = True

    def _convert_legacy(self) -> None:
        """seasongate's earlier layout kept its facts as extra columns of the history table and
        allowed NULL ``execution_time`` for a started row; move the facts to the side table
        and give the table Flyway's exact shape. A started non-transactional row (no time
        yet) gets no facts, which is how the new layout marks it."""
        self.conn.execute(self.q(_CREATE_FACTS))
        self.conn.execute(
            self.q(
                """INSERT INTO {f} (installed_rank, gate_verdict, override_id, sha256, transactional)
                   SELECT installed_rank, gate_verdict, override_id, sha256, transactional FROM {t}
                    WHERE transactional OR execution_time IS NOT NULL"""
            )
        )
        self.conn.execute(self.q("UPDATE {t} SET execution_time = 0 WHERE execution_time IS NULL"))
        self.conn.execute(
            self.q(
                """ALTER TABLE {t} DROP COLUMN gate_verdict, DROP COLUMN override_id,
                       DROP COLUMN sha256, DROP COLUMN transactional,
                       ALTER COLUMN execution_time SET NOT NULL,
                       ALTER COLUMN installed_on TYPE timestamp"""
            )
        )
        self.conn.execute(self.q('CREATE INDEX IF NOT EXISTS {s_idx} ON {t} ("success")'))

    # --- reading -------------------------------------------------------------------------------

    def next_rank(self) -> int:
        """The installed rank the next row gets."""
        if self.layout == "missing":
            return 1
        row = self.conn.execute(self.q("SELECT coalesce(max(installed_rank), 0) FROM {t}")).fetchone()
        return int(row[0] if row else 0) + 1

    def rows(self) -> list[HistoryRow]:
        """Every history row with its facts, by installed rank (empty when there is no table).

        A row without facts was written by Flyway, or is a ``transaction=false`` migration
        that started and did not finish: successful, it counts as a transactional apply;
        unsuccessful, as incomplete (fail closed), with no execution time.
        """
        if self.layout == "missing":
            return []
        if self.layout == "legacy":
            query = self.q(_SELECT_LEGACY)
        elif self._facts:
            query = self.q(_SELECT_JOINED)
        else:
            query = self.q(_SELECT_FLYWAY)
        out: list[HistoryRow] = []
        for r in self.conn.execute(query).fetchall():
            has_facts = bool(r[16])
            success = bool(r[9])
            transactional = bool(r[13]) if has_facts else success
            execution_time = r[8] if has_facts or success else None
            out.append(
                HistoryRow(
                    int(r[0]),
                    Version.parse(r[1]) if r[1] else None,
                    r[2],
                    r[3],
                    r[4],
                    r[5],
                    r[6],
                    r[7],
                    execution_time,
                    success,
                    r[10],
                    r[11],
                    (r[12] or "").strip() or None,
                    transactional,
                    None if r[14] is None else int(r[14]),
                    r[15],
                )
            )
        return out

    def unfinished(self, record: HistoryRecord) -> bool:
        """Whether the latest row of this version and type is a ``transaction=false`` run that
        did not succeed (killed, or failed part-way)."""
        row = self.conn.execute(
            self.q(
                "SELECT NOT h.success AND coalesce(NOT f.transactional, true) FROM {t} h "
                "LEFT JOIN {f} f USING (installed_rank) WHERE h.version = {v} AND h.type = {k} "
                "ORDER BY h.installed_rank DESC LIMIT 1",
                v=self._sql_literal(record.version),
                k=self._sql_literal(record.type),
            )
        ).fetchone()
        return bool(row and row[0])

    # --- writing -------------------------------------------------------------------------------

    def finished_rows(self, record: HistoryRecord, rank: int, *, ms: str, success: bool) -> str:
        """The history row and its facts, as two INSERT statements with literal values;
        ``ms`` is the SQL of the execution time."""
        return f"{self._history_row(record, rank, ms=ms, success=success)};\n{self._facts_row(record, rank)}"

    def started_row(self, record: HistoryRecord, rank: int) -> str:
        """The *started* row of a ``transaction=false`` script: no facts, not successful."""
        return self._history_row(record, rank, ms="0", success=False)

    def finish(self, record: HistoryRecord, rank: int, ms: int, *, success: bool) -> None:
        """Finish a started row and write its facts, in one transaction."""
        update = self.q("UPDATE {t} SET execution_time = ").as_string(self.conn)
        with self.conn.transaction():
            self.conn.execute(
                f"{update}{ms}, success = {self.literal(success)} WHERE installed_rank = {rank}".encode()
            )
            self.conn.execute(self._facts_row(record, rank).encode())

    def literal(self, value: object) -> str:
        """``value`` as an SQL literal: libpq quotes text for this connection (PQescapeLiteral);
        built per row, so without psycopg's composition machinery."""
        if value is None:
            return "NULL"
        if isinstance(value, bool):
            return "true" if value else "false"
        if isinstance(value, int):
            return str(value)
        if not isinstance(value, str):
            raise TypeError(f"no SQL literal for {type(value).__name__}")
        if self._escaping is None:
            from psycopg.pq import Escaping

            self._escaping = Escaping(self.conn.pgconn)
        quoted: bytes = self._escaping.escape_literal(value.encode())
        return quoted.decode()

    def _sql_literal(self, value: object) -> sql.Composable:
        from psycopg import sql

        return sql.SQL(self.literal(value))

    def _insert(self, table: str) -> str:
        """``INSERT INTO <table> (<columns>) VALUES (``, rendered once per connection."""
        text = self._inserts.get(table)
        if text is None:
            from psycopg import sql

            names = [c for c in COLUMNS if c != "installed_on"] if table == "history" else ["installed_rank", *FACTS]
            columns = sql.SQL(", ").join(sql.Identifier(c) for c in names)
            target = "{t}" if table == "history" else "{f}"
            text = self.q(f"INSERT INTO {target} ({{columns}}) VALUES (", columns=columns).as_string(self.conn)
            self._inserts[table] = text
        return text

    def _history_row(self, record: HistoryRecord, rank: int, *, ms: str, success: bool) -> str:
        q = self.literal
        values = (
            q(rank), q(record.version), q(record.description), q(record.type), q(record.script), q(record.checksum),
            f"coalesce({q(record.installed_by)}, current_user)", ms, q(success),
        )  # fmt: skip
        return self._insert("history") + ", ".join(values) + ")"

    def _facts_row(self, record: HistoryRecord, rank: int) -> str:
        seq, digest = record.audit if record.audit is not None else (None, None)
        facts = (rank, record.verdict, record.override_id, record.sha256, record.transactional, seq, digest)
        return self._insert("facts") + ", ".join(self.literal(v) for v in facts) + ")"
