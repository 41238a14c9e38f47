"""``seasongate migrate`` as real processes: four at once, and kill -9 in the middle."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import psycopg
import pytest

from tests.conftest import POLICIES

pytestmark = pytest.mark.postgres


def seasongate() -> list[str]:
    """The console script next to this interpreter (not a shim), else ``python -c``."""
    script = Path(sys.executable).parent / "seasongate"
    if script.is_file():
        return [str(script)]
    return [sys.executable, "-c", "from seasongate.cli import main; main()"]


def migrate_cmd(dsn: str, directory: Path, store: Path, *extra: str) -> list[str]:
    return [
        *seasongate(),
        "migrate",
        "--dsn",
        dsn,
        "--migrations",
        str(directory),
        "--policy",
        str(POLICIES / "staging.yaml"),
        "--env",
        "ci",
        "--territory",
        "DE",
        "--store",
        f"sqlite:///{store}",
        *extra,
    ]


def write(directory: Path, files: dict[str, str]) -> Path:
    directory.mkdir(exist_ok=True)
    for name, text in files.items():
        (directory / name).write_text(text, encoding="utf-8")
    return directory


def wait_for(predicate: object, timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():  # type: ignore[operator]
            return
        time.sleep(0.05)
    pytest.fail(f"timed out waiting for {what}")


def one(dsn: str, query: str) -> object:
    with psycopg.connect(dsn) as conn:
        row = conn.execute(query).fetchone()
    return None if row is None else row[0]


def advisory_locks(dsn: str) -> int:
    return int(
        one(
            dsn,
            "SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND "
            "database = (SELECT oid FROM pg_database "
            "WHERE datname = current_database())",
        )
        or 0
    )


def outcomes(store: Path) -> list[tuple[str, list[tuple[str, bool]]]]:
    """Each ``migration.start`` (its version) with the outcomes (status, reconciled) naming it."""
    from seasongate._store import open_store

    opened = open_store(f"sqlite:///{store}", store.parent)
    try:
        entries = opened.audit_entries()
    finally:
        opened.close()
    found = {e.seq: (str(e.payload["version"]), []) for e in entries if e.action == "migration.start"}
    for e in entries:
        if e.action in ("migration.apply", "migration.rollback"):
            found[int(e.payload["start_seq"])][1].append((str(e.payload["status"]), bool(e.payload["reconciled"])))
    return [found[seq] for seq in sorted(found)]


def test_four_processes_at_once_apply_each_migration_exactly_once(pg_dsn: str, tmp_path: Path) -> None:
    files = {f"V{i}__step_{i}.sql": f"CREATE TABLE t{i} (id int);\nSELECT pg_sleep(0.05);\n" for i in range(1, 7)}
    directory = write(tmp_path / "migrations", files)
    store = tmp_path / "store.db"
    procs = [
        subprocess.Popen(
            migrate_cmd(pg_dsn, directory, store, "--format", "json"),
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for _ in range(4)
    ]
    outputs = [p.communicate(timeout=60) for p in procs]
    assert [p.returncode for p in procs] == [0, 0, 0, 0], outputs
    with psycopg.connect(pg_dsn) as conn:
        rows = conn.execute(
            "SELECT version, count(*), bool_and(success) "
            "FROM seasongate_schema_history GROUP BY 1 ORDER BY version::int"
        ).fetchall()
    assert rows == [(str(i), 1, True) for i in range(1, 7)]
    applied_by = sorted(out.count('"status": "applied"') for out, _ in outputs)
    assert applied_by == [0, 0, 0, 6]  # one process did everything, the others waited


def test_kill_9_leaves_no_partial_migration_and_no_lock(pg_dsn: str, tmp_path: Path) -> None:
    directory = write(tmp_path / "migrations", {
        "V1__a.sql": "CREATE TABLE a (id int);",
        # Sleeps only in the process started with PGOPTIONS below.
        "V2__b.sql": "CREATE TABLE b (id int);\nINSERT INTO b VALUES (1);\n"
                     "SELECT pg_sleep(CASE WHEN current_setting('sg.test_sleep', true) = 'on' "
                     "THEN 60 ELSE 0 END);\n",
        "V3__c.sql": "CREATE TABLE c (id int);",
    })  # fmt: skip
    store = tmp_path / "store.db"
    env = {**os.environ, "PGOPTIONS": "-c sg.test_sleep=on"}
    victim = subprocess.Popen(
        migrate_cmd(pg_dsn, directory, store), env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    )
    try:
        wait_for(
            lambda: (
                one(
                    pg_dsn,
                    "SELECT count(*) FROM pg_stat_activity WHERE "
                    "query LIKE '%pg_sleep(CASE%' AND state = 'active' "
                    "AND pid <> pg_backend_pid() "
                    "AND datname = current_database()",
                )
                == 1
            ),
            20,
            "V2 to run",
        )
        assert advisory_locks(pg_dsn) == 2  # seasongate's lock and Flyway's, on one connection
    finally:
        victim.send_signal(signal.SIGKILL)
        victim.wait(timeout=10)
    assert victim.returncode == -signal.SIGKILL
    # The lock goes with the dead process at once; the orphaned backend notices within ~1s
    # (client_connection_check_interval) and rolls V2 back.
    wait_for(lambda: advisory_locks(pg_dsn) == 0, 5, "the lock to be released")
    wait_for(
        lambda: (
            one(
                pg_dsn,
                "SELECT count(*) FROM pg_stat_activity WHERE "
                "application_name LIKE 'seasongate%' "
                "AND datname = current_database()",
            )
            == 0
        ),
        10,
        "the orphaned backend to end",
    )
    assert one(pg_dsn, "SELECT to_regclass('b')") is None
    with psycopg.connect(pg_dsn) as conn:
        versions = conn.execute(
            "SELECT version, success FROM seasongate_schema_history ORDER BY installed_rank"
        ).fetchall()
    assert versions == [("1", True)]  # no trace of V2: it was never committed
    rerun = subprocess.run(migrate_cmd(pg_dsn, directory, store), capture_output=True, text=True, timeout=60)
    assert rerun.returncode == 0, rerun.stdout + rerun.stderr
    assert "V2" in rerun.stdout and "Done: applied 2 migration(s)." in rerun.stdout
    assert one(pg_dsn, "SELECT count(*) FROM b") == 1
    # Every start has exactly one outcome: the killed V2 is reconciled as not applied.
    assert outcomes(store) == [
        ("V1", [("applied", False)]),
        ("V2", [("failed", True)]),
        ("V2", [("applied", False)]),
        ("V3", [("applied", False)]),
    ]


def test_kill_9_during_a_non_transactional_migration_leaves_a_visible_started_row(pg_dsn: str, tmp_path: Path) -> None:
    directory = write(tmp_path / "migrations", {
        "V1__a.sql": "CREATE TABLE a (id int);",
        "V2__a_idx.sql": "-- seasongate: transaction=false\n"
                         "SELECT pg_sleep(CASE WHEN current_setting('sg.test_sleep', true) = 'on' "
                         "THEN 60 ELSE 0 END);\nCREATE INDEX CONCURRENTLY a_idx ON a (id);\n",
    })  # fmt: skip
    store = tmp_path / "store.db"
    env = {**os.environ, "PGOPTIONS": "-c sg.test_sleep=on"}
    victim = subprocess.Popen(
        migrate_cmd(pg_dsn, directory, store), env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    )
    try:
        wait_for(
            lambda: (
                one(
                    pg_dsn,
                    "SELECT count(*) FROM pg_stat_activity WHERE "
                    "query LIKE '%pg_sleep(CASE%' AND state = 'active' "
                    "AND pid <> pg_backend_pid() "
                    "AND datname = current_database()",
                )
                == 1
            ),
            20,
            "V2 to run",
        )
    finally:
        victim.send_signal(signal.SIGKILL)
        victim.wait(timeout=10)
    wait_for(lambda: advisory_locks(pg_dsn) == 0, 5, "the lock to be released")
    with psycopg.connect(pg_dsn) as conn:
        started = conn.execute(
            "SELECT version, success, f.installed_rank IS NULL FROM seasongate_schema_history "
            "LEFT JOIN seasongate_schema_history_seasongate f USING (installed_rank) WHERE version = '2'"
        ).fetchall()
    assert started == [("2", False, True)]  # started: not successful, no facts written yet
    rerun = subprocess.run(migrate_cmd(pg_dsn, directory, store), capture_output=True, text=True, timeout=60)
    assert rerun.returncode == 2
    assert "V2__a_idx.sql (transaction=false) started on" in rerun.stderr
    assert "--retry-incomplete" in rerun.stderr
    # The refusing run still gave the killed start its outcome, from the history row.
    assert outcomes(store) == [("V1", [("applied", False)]), ("V2", [("incomplete", True)])]
    retried = subprocess.run(
        migrate_cmd(pg_dsn, directory, store, "--retry-incomplete"), capture_output=True, text=True, timeout=60
    )
    assert retried.returncode == 0, retried.stderr
    assert one(pg_dsn, "SELECT to_regclass('a_idx') IS NOT NULL") is True
