"""The SQL probe: a representative query run against the target database, its latency
measured by the client (for teams without Prometheus)."""

from __future__ import annotations

import time

from seasongate._dsn import redact
from seasongate._health._prometheus import QueryRejected, SourceError

STATEMENT_TIMEOUT_MS = 30_000


def probe(dsn: str, query: str, runs: int) -> list[float]:
    """Run ``query`` ``runs`` times in a read-only session; the latencies in seconds.

    The session is read-only and has a statement timeout: a probe never changes the database
    and never hangs the watch.
    """
    import psycopg

    try:
        with psycopg.connect(dsn, autocommit=True, connect_timeout=10) as conn:
            conn.execute("SET default_transaction_read_only = on")
            conn.execute(f"SET statement_timeout = {STATEMENT_TIMEOUT_MS}")
            latencies = []
            for _ in range(runs):
                started = time.perf_counter()  # a stopwatch, not the clock: latency only
                with conn.cursor() as cur:
                    cur.execute(query.encode())
                    if cur.description is not None:
                        cur.fetchall()
                latencies.append(time.perf_counter() - started)
            return latencies
    except (psycopg.errors.SyntaxError, psycopg.errors.UndefinedTable, psycopg.errors.UndefinedColumn,
            psycopg.errors.ReadOnlySqlTransaction) as exc:  # fmt: skip
        raise QueryRejected(f"the database rejected the probe: {redact(str(exc).strip(), dsn)}") from exc
    except psycopg.Error as exc:
        raise SourceError(f"SQL probe: {redact(str(exc).strip(), dsn)}") from exc
