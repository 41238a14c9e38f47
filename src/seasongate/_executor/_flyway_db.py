"""Flyway's history on a PostgreSQL connection: its lock, reading it, writing to it
(``baseline``, a ``repair`` plan). Emptying schemas (``clean``) is in ``_clean``.

Each function takes an open psycopg connection in autocommit mode (the executor's migration
or lock connection) and runs what Flyway would run; psycopg is imported lazily.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from seasongate._errors import MigrationError
from seasongate._executor._flyway import (
    BASELINE_DESCRIPTION,
    COLUMNS,
    baseline_row,
    create_table_sql,
    deleted_row,
    insert_sql,
    lock_key,
    next_rank,
    quote_ident,
    row_from_db,
    select_sql,
)
from seasongate._executor._flyway_repair import RepairPlan
from seasongate._executor._pghistory import columns_of
from seasongate._executor._plan import HistoryRow
from seasongate._executor._postgres import LockBusy
from seasongate._versions import Version

if TYPE_CHECKING:
    import psycopg

SIDE_SUFFIX = "_seasongate"


class FlywayLockBusy(LockBusy):
    """Flyway's advisory lock on this history is held by another session (a running Flyway)."""


def take_flyway_lock(
    conn: psycopg.Connection[Any],
    schema: str,
    table: str,
    *,
    wait: float,
    sleep: Callable[[float], None] = time.sleep,
    clock: Callable[[], float] = time.monotonic,
) -> int:
    """Take Flyway's session-level advisory lock on ``schema.table`` (what ``flyway migrate``
    takes), polling with ``pg_try_advisory_lock`` so that waiting holds no snapshot; returns
    the key. Raises :class:`FlywayLockBusy` naming the holder after ``wait`` seconds."""
    key = lock_key(schema, table)
    deadline = clock() + max(0.0, wait)
    pause = 0.05
    while True:
        row = conn.execute("SELECT pg_try_advisory_lock(%s)", (key,)).fetchone()
        if row and row[0]:
            return key
        if clock() >= deadline:
            raise _busy(conn, key, wait)
        sleep(pause)
        pause = min(pause * 2, 1.0)


def release_flyway_lock(conn: psycopg.Connection[Any], schema: str, table: str) -> None:
    """Release the lock taken by :func:`take_flyway_lock` (closing the session does too)."""
    conn.execute("SELECT pg_advisory_unlock(%s)", (lock_key(schema, table),))


def _busy(conn: psycopg.Connection[Any], key: int, wait: float) -> FlywayLockBusy:
    high, low = (key >> 32) & 0xFFFFFFFF, key & 0xFFFFFFFF
    row = conn.execute(
        """SELECT a.pid, a.usename, a.application_name, a.client_addr::text
             FROM pg_locks l JOIN pg_stat_activity a ON a.pid = l.pid
            WHERE l.locktype = 'advisory' AND l.granted AND l.objsubid = 1
              AND l.database = (SELECT oid FROM pg_database WHERE datname = current_database())
              AND l.classid = %s::bigint::oid AND l.objid = %s::bigint::oid""",
        (high, low),
    ).fetchone()
    if row is None:
        return FlywayLockBusy(f"Flyway's migration lock was busy for {wait:g}s; the holder is gone now, run again")
    pid, user, app, addr = row
    client = f" from {addr}" if addr else ""
    return FlywayLockBusy(
        f"Flyway's migration lock on this history is held by pid {pid} ({app or 'unknown application'}, user "
        f"{user}{client}), probably a running `flyway migrate`; gave up after {wait:g}s (--lock-wait)",
        holder_pid=int(pid),
    )


def table_exists(conn: psycopg.Connection[Any], schema: str, table: str) -> bool:
    """Whether ``schema.table`` exists."""
    row = conn.execute(
        "SELECT to_regclass(%s) IS NOT NULL", (f"{quote_ident(schema)}.{quote_ident(table)}",)
    ).fetchone()
    return bool(row and row[0])


def check_flyway_table(conn: psycopg.Connection[Any], schema: str, table: str) -> None:
    """Refuse a table that does not have Flyway's ten columns."""
    present = columns_of(conn, schema, (table,)).get(table, set())
    missing = [c for c in COLUMNS if c not in present]
    if missing:
        raise MigrationError(
            f"table {schema}.{table} is not a Flyway schema history (missing columns: {', '.join(missing)})"
        )


def read_history(conn: psycopg.Connection[Any], schema: str, table: str) -> list[HistoryRow]:
    """Every row of Flyway's history (empty when the table does not exist)."""
    if not table_exists(conn, schema, table):
        return []
    check_flyway_table(conn, schema, table)
    source = f"{schema}.{table}"
    return [row_from_db(r, source=source) for r in conn.execute(select_sql(schema, table)).fetchall()]


def create_history_table(conn: psycopg.Connection[Any], schema: str, table: str) -> None:
    """Create Flyway's history table (Flyway's own DDL), in one transaction."""
    with conn.transaction():
        conn.execute(create_table_sql(schema, table))


@dataclass(frozen=True, slots=True)
class BaselineResult:
    """What ``baseline`` did: the row written, or why nothing needed doing."""

    version: Version
    installed_rank: int | None
    created_table: bool
    already: bool


def write_baseline(
    conn: psycopg.Connection[Any],
    schema: str,
    table: str,
    version: Version,
    *,
    installed_by: str | None,
    description: str = BASELINE_DESCRIPTION,
) -> BaselineResult:
    """Flyway's ``baseline``: on a database without history (or an empty one) write the
    ``BASELINE`` row. Already baselined at this version: nothing to do. A history that holds
    migrations, or another baseline, is refused (as Flyway refuses it)."""
    created = False
    if not table_exists(conn, schema, table):
        create_history_table(conn, schema, table)
        created = True
    check_flyway_table(conn, schema, table)
    rows = read_history(conn, schema, table)
    baselines = [r for r in rows if r.type in ("BASELINE", "INIT", "SQL_BASELINE")]
    if baselines:
        if baselines[0].version == version:
            return BaselineResult(version, baselines[0].installed_rank, created_table=False, already=True)
        raise MigrationError(
            f"{schema}.{table} is already baselined at {baselines[0].version} (row {baselines[0].installed_rank}); "
            f"it cannot be baselined again at {version}"
        )
    others = [r for r in rows if r.type != "SCHEMA"]
    if others:
        raise MigrationError(
            f"{schema}.{table} already holds {len(others)} migration row(s) (the first: {others[0].script}); "
            "baseline is for a database without history: use migrate"
        )
    user = installed_by or _current_user(conn)
    row = baseline_row(version, installed_rank=next_rank(rows), installed_by=user, description=description)
    conn.execute(insert_sql(schema, table), row.params())
    return BaselineResult(version, row.installed_rank, created_table=created, already=False)


def _current_user(conn: psycopg.Connection[Any]) -> str:
    found = conn.execute("SELECT current_user").fetchone()
    return str(found[0]) if found else ""


def apply_repair(
    conn: psycopg.Connection[Any], schema: str, table: str, plan: RepairPlan, *, installed_by: str | None = None
) -> None:
    """Carry out a repair plan in one transaction: delete the failed rows (and their rows in
    the side table ``<table>_seasongate``, when there is one), add a ``DELETE`` row for each
    missing migration (``installed_by``: default ``current_user``), set the realigned checksums."""
    from psycopg import sql

    t = sql.Identifier(schema, table)
    side = sql.Identifier(schema, table + SIDE_SUFFIX)
    has_side = table_exists(conn, schema, table + SIDE_SUFFIX)
    with conn.transaction():
        for row in plan.remove:
            conn.execute(
                sql.SQL("DELETE FROM {} WHERE installed_rank = %s AND NOT success").format(t), (row.installed_rank,)
            )
            if has_side:
                conn.execute(sql.SQL("DELETE FROM {} WHERE installed_rank = %s").format(side), (row.installed_rank,))
        if plan.delete:
            found = conn.execute(sql.SQL("SELECT coalesce(max(installed_rank), 0) + 1 FROM {}").format(t)).fetchone()
            rank = int(found[0]) if found else 1
            user = installed_by or _current_user(conn)
            for offset, applied in enumerate(plan.delete):
                marker = deleted_row(applied, installed_rank=rank + offset, installed_by=user)
                conn.execute(insert_sql(schema, table), marker.params())
        for fix in plan.realign:
            conn.execute(
                sql.SQL("UPDATE {} SET checksum = %s WHERE installed_rank = %s AND checksum = %s").format(t),
                (fix.checksum, fix.row.installed_rank, fix.row.checksum),
            )
            if has_side and fix.sha256 is not None:
                conn.execute(
                    sql.SQL("UPDATE {} SET sha256 = %s WHERE installed_rank = %s").format(side),
                    (fix.sha256, fix.row.installed_rank),
                )
