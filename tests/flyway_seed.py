"""The seed's situation: a CRM database that Flyway built, with its ``flyway_schema_history``.

Written here the way Flyway writes it, independently of seasongate's Flyway module: Flyway's
PostgreSQL DDL, one INSERT per row with Flyway's column values (checksum by Flyway's CRC32,
``installed_by``, ``execution_time``), a ``BASELINE`` row at V1, the versioned migrations
V100 and V214-V225 (with the intentional gap V217/V219/V220, and V101-V213 squashed into the
baseline, both declared in ``numbering.yaml``) and a repeatable ``R__rls_policies.sql``.
"""

from __future__ import annotations

import shutil
from datetime import UTC, datetime, timedelta
from pathlib import Path

import psycopg

from seasongate._executor import flyway_checksum
from tests.conftest import MIGRATIONS

FLYWAY_DDL = """
CREATE TABLE "public"."flyway_schema_history" (
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
ALTER TABLE "public"."flyway_schema_history" ADD CONSTRAINT "flyway_schema_history_pk" PRIMARY KEY ("installed_rank");
CREATE INDEX "flyway_schema_history_s_idx" ON "public"."flyway_schema_history" ("success");
"""

V100 = """-- Notes on customers, written by the sales team.
CREATE TABLE customer_notes (
    id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    body text NOT NULL
);
"""

RLS_POLICIES = """-- Row-level security policies that are not tied to one migration (re-created on change).
DROP POLICY IF EXISTS customers_reporting ON customers;
CREATE POLICY customers_reporting ON customers FOR SELECT
    USING (current_setting('app.reporting', true) = 'on');
"""

RLS_POLICIES_EDITED = (
    RLS_POLICIES
    + """DROP POLICY IF EXISTS orders_reporting ON orders;
CREATE POLICY orders_reporting ON orders FOR SELECT
    USING (current_setting('app.reporting', true) = 'on');
"""
)

V226 = """-- seasongate: risk=low duration=5m
CREATE TABLE order_notes (
    id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    order_id bigint NOT NULL,
    body text NOT NULL
);
"""

NUMBERING = """ignored_gaps:
  - V101-V213   # before the adoption: squashed into the baseline
  - V217        # loyalty points: abandoned
  - V219-V220   # EDI order import: moved to the integration platform
"""

SHIPPED = [p for p in sorted(MIGRATIONS.glob("V2*.sql")) if p.name < "V226"]


def seed_folder(directory: Path) -> Path:
    """The migrations folder of the seed: V100, the shipped V214-V225 and their undo scripts,
    R__rls_policies.sql and numbering.yaml (V226 is added by the test that wants it)."""
    directory.mkdir(parents=True, exist_ok=True)
    for path in SHIPPED:
        shutil.copy(path, directory / path.name)
        undo = MIGRATIONS / ("U" + path.name[1:])
        if undo.exists():
            shutil.copy(undo, directory / undo.name)
    (directory / "V100__customer_notes.sql").write_text(V100, encoding="utf-8")
    (directory / "R__rls_policies.sql").write_text(RLS_POLICIES, encoding="utf-8")
    (directory / "numbering.yaml").write_text(NUMBERING, encoding="utf-8")
    return directory


def _description(name: str) -> str:
    return name.split("__", 1)[1].removesuffix(".sql").replace("_", " ")


def seed_database(dsn: str, directory: Path) -> list[tuple[object, ...]]:
    """Run the seed's migrations for real and write the history Flyway would have written.

    Returns the rows written (as the ten column values, installed_on included).
    """
    started = datetime(2024, 3, 4, 22, 15, tzinfo=UTC)
    rows: list[tuple[object, ...]] = [
        (1, "1", "<< Flyway Baseline >>", "BASELINE", "<< Flyway Baseline >>", None, "flyway", started, 0, True)
    ]
    scripts = [directory / "V100__customer_notes.sql", *(directory / p.name for p in SHIPPED)]
    with psycopg.connect(dsn, autocommit=True) as conn:
        conn.execute(FLYWAY_DDL)
        for index, path in enumerate(scripts, start=2):
            text = path.read_text(encoding="utf-8")
            conn.execute(text.encode("utf-8"))
            version = path.name[1:].split("__", 1)[0]
            on = started + timedelta(days=7 * index)
            rows.append(
                (index, version, _description(path.name), "SQL", path.name, flyway_checksum(text), "flyway", on,
                 40 + 3 * index, True)
            )  # fmt: skip
        repeatable = directory / "R__rls_policies.sql"
        text = repeatable.read_text(encoding="utf-8")
        conn.execute(text.encode("utf-8"))
        rank = len(rows) + 1
        rows.append(
            (rank, None, "rls policies", "SQL", repeatable.name, flyway_checksum(text), "flyway",
             started + timedelta(days=7 * rank), 12, True)
        )  # fmt: skip
        for row in rows:
            conn.execute(
                'INSERT INTO "public"."flyway_schema_history" ("installed_rank", "version", "description", "type", '
                '"script", "checksum", "installed_by", "installed_on", "execution_time", "success") '
                "VALUES (%s, %s, %s, %s, %s, %s, %s, %s AT TIME ZONE 'UTC', %s, %s)",
                row,
            )
    return rows


def history_rows(dsn: str) -> list[tuple[object, ...]]:
    """Every row of ``flyway_schema_history``, by installed rank."""
    with psycopg.connect(dsn, autocommit=True) as conn:
        return conn.execute(
            'SELECT "installed_rank", "version", "description", "type", "script", "checksum", "installed_by", '
            '"installed_on", "execution_time", "success" FROM "public"."flyway_schema_history" '
            'ORDER BY "installed_rank"'
        ).fetchall()
