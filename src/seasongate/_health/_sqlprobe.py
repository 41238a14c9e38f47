"""The SQL probe: a representative query run against the target database, its latency
measured by the client (for teams without Prometheus) and, where ``pg_stat_statements`` is
loaded, cross-checked against the server's own execution time of the same statement."""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any

from seasongate._dsn import redact
from seasongate._health._prometheus import QueryRejected, SourceError

STATEMENT_TIMEOUT_MS = 30_000


@dataclass(frozen=True)
class ProbeRun:
    """One batch: the client's latencies (seconds) and, when the server can tell, its mean
    execution time of the same statement over the batch (``server_calls`` executions)."""

    latencies: tuple[float, ...]
    server_mean: float | None = None
    server_calls: int = 0

    def cross_check(self) -> dict[str, Any] | None:
        """Client and server means side by side (None without ``pg_stat_statements``)."""
        if self.server_mean is None:
            return None
        client = sum(self.latencies) / len(self.latencies)
        return {
            "client_mean_seconds": client,
            "server_mean_seconds": self.server_mean,
            "server_calls": self.server_calls,
            "client_overhead_seconds": client - self.server_mean,
        }


def probe(dsn: str, query: str, runs: int) -> ProbeRun:
    """Run ``query`` ``runs`` times in a read-only session; the latencies in seconds.

    The session is read-only and has a statement timeout: a probe never changes the database
    and never hangs the watch.
    """
    import psycopg

    try:
        with psycopg.connect(dsn, autocommit=True, connect_timeout=10) as conn:
            conn.execute("SET default_transaction_read_only = on")
            conn.execute(f"SET statement_timeout = {STATEMENT_TIMEOUT_MS}")
            statement = _statement_id(conn, query)
            before = _server_totals(conn, statement)
            latencies = []
            for _ in range(runs):
                started = time.perf_counter()  # a stopwatch, not the clock: latency only
                with conn.cursor() as cur:
                    cur.execute(query.encode())
                    if cur.description is not None:
                        cur.fetchall()
                latencies.append(time.perf_counter() - started)
            after = _server_totals(conn, statement)
    except (psycopg.errors.SyntaxError, psycopg.errors.UndefinedTable, psycopg.errors.UndefinedColumn,
            psycopg.errors.ReadOnlySqlTransaction) as exc:  # fmt: skip
        raise QueryRejected(f"the database rejected the probe: {redact(str(exc).strip(), dsn)}") from exc
    except psycopg.Error as exc:
        raise SourceError(f"SQL probe: {redact(str(exc).strip(), dsn)}") from exc
    if before is None or after is None or after[0] <= before[0]:
        return ProbeRun(tuple(latencies))
    calls = after[0] - before[0]
    return ProbeRun(tuple(latencies), (after[1] - before[1]) / 1000 / calls, calls)


def _statement_id(conn: Any, query: str) -> int | None:
    """The statement's query identifier (``EXPLAIN VERBOSE``), when pg_stat_statements can
    report on it; None otherwise (the extension is not installed or not loaded)."""
    import psycopg

    try:
        installed = conn.execute("SELECT 1 FROM pg_extension WHERE extname = 'pg_stat_statements'").fetchone()
        if installed is None:
            return None
        conn.execute("SELECT 1 FROM pg_stat_statements LIMIT 1").fetchall()  # loaded (shared_preload_libraries)?
        plan = conn.execute(b"EXPLAIN (VERBOSE, FORMAT JSON) " + query.encode()).fetchone()[0]
    except psycopg.Error:
        return None
    found = plan[0].get("Query Identifier") if isinstance(plan, list) and plan else None
    return int(found) if found else None


def _server_totals(conn: Any, statement: int | None) -> tuple[int, float] | None:
    """Calls and total execution milliseconds of the statement in this database."""
    if statement is None:
        return None
    row = conn.execute(
        "SELECT coalesce(sum(calls), 0), coalesce(sum(total_exec_time), 0) FROM pg_stat_statements"
        " WHERE queryid = %s AND dbid = (SELECT oid FROM pg_database WHERE datname = current_database())",
        (statement,),
    ).fetchone()
    return int(row[0]), float(row[1])
