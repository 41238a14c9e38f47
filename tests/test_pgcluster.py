"""The suite's own PostgreSQL server is real and reachable."""

from __future__ import annotations

import pytest


@pytest.mark.postgres
def test_server_answers_and_database_is_fresh(pg_dsn: str) -> None:
    import psycopg

    with psycopg.connect(pg_dsn) as conn:
        version = conn.execute("SHOW server_version_num").fetchone()
        tables = conn.execute("SELECT count(*) FROM information_schema.tables WHERE table_schema = 'public'").fetchone()
    assert version is not None and int(version[0]) >= 120000
    assert tables == (0,)
