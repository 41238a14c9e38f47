"""The executor never calls a half-done migration done (issue 9 items 1-5), headers are read by
one strict parser (issue 15), and the history has Flyway's exact layout plus a side table.

Every test that involves the database runs against the suite's real PostgreSQL.
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path

import psycopg
import pytest
from click.testing import CliRunner

from seasongate._errors import ConfigError, InputError
from seasongate._executor import (
    AllowAll,
    ExecutorOptions,
    GateAnswer,
    LockLost,
    MigrateReport,
    Step,
    StepResult,
    ValidationError,
    build_plan,
    open_session,
    read_header,
    resolve_migration,
    run_steps,
    scan,
)
from seasongate._versions import Version
from seasongate.cli import main
from tests.conftest import MIGRATIONS
from tests.pgcluster import Cluster

FAST = ExecutorOptions(lock_wait=10, lock_timeout=2, retry_backoff=0.05)
ROWS = 300_000  # enough that CREATE INDEX CONCURRENTLY takes a while and has to wait
V223 = "V223__orders_delivery_date_index.sql"
INDEX = "orders_open_delivery_date_idx"


def write(directory: Path, files: dict[str, str]) -> Path:
    directory.mkdir(parents=True, exist_ok=True)
    for name, text in files.items():
        (directory / name).write_text(text, encoding="utf-8")
    return directory


def migrate(
    dsn: str,
    directory: Path,
    hook: object = None,
    *,
    options: ExecutorOptions = FAST,
    retry_incomplete: bool = False,
    target: str | None = None,
) -> MigrateReport:
    with open_session(dsn, options) as session:
        plan = build_plan(
            scan(directory),
            session.history(),
            retry_incomplete=retry_incomplete,
            target=None if target is None else Version.parse(target),
        )
        plan.check()
        return run_steps(session, plan.apply_steps(), hook or AllowAll(), operation="migrate")  # type: ignore[arg-type]


def one(dsn: str, query: str, params: tuple[object, ...] | None = None) -> object:
    with psycopg.connect(dsn, autocommit=True) as conn:
        row = conn.execute(query, params).fetchone()  # type: ignore[arg-type]
    return None if row is None else row[0]


def invalid_indexes(dsn: str) -> list[str]:
    with psycopg.connect(dsn) as conn:
        return [r[0] for r in conn.execute("SELECT indexrelid::regclass::text FROM pg_index WHERE NOT indisvalid")]


def history(dsn: str) -> list[tuple[object, ...]]:
    with psycopg.connect(dsn) as conn:
        return conn.execute(
            "SELECT h.version, h.success, f.installed_rank IS NOT NULL FROM seasongate_schema_history h "
            "LEFT JOIN seasongate_schema_history_seasongate f USING (installed_rank) ORDER BY installed_rank"
        ).fetchall()


def wait_for(predicate: Callable[[], bool], timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return
        time.sleep(0.05)
    pytest.fail(f"timed out waiting for {what}")


class Hook:
    """A gate callback that runs ``before[version]`` before allowing it."""

    def __init__(self, before: dict[str, Callable[[], None]]) -> None:
        self.before = before

    def ask(self, step: Step) -> GateAnswer:
        action = self.before.get(str(step.version))
        if action is not None:
            action()
        return GateAnswer(True)

    def start(self, step: Step, answer: GateAnswer) -> None:
        """No audit trail: nothing to anchor."""

    def record(self, step: Step, answer: GateAnswer, result: StepResult) -> None:
        """Nothing to record."""


@pytest.fixture(scope="module")
def crm_template(pg_cluster: Cluster, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A database with the shipped migrations applied up to V222 and ``ROWS`` orders to index,
    built once and copied for each test (CREATE DATABASE ... TEMPLATE)."""
    name = f"crm_{uuid.uuid4().hex[:12]}"
    with psycopg.connect(pg_cluster.dsn(), autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    dsn = pg_cluster.dsn(name)
    assert migrate(dsn, MIGRATIONS, target="V222").status == "ok"
    with psycopg.connect(dsn, autocommit=True) as conn:
        conn.execute("INSERT INTO customers (customer_no, name, territory) VALUES ('K1', 'Gasthof', 'DE')")
        conn.execute(
            "INSERT INTO orders (customer_id, territory, order_no, delivery_date, status) "
            "SELECT (SELECT id FROM customers), 'DE', 'O' || g, DATE '2026-11-01' + g %% 60, "
            "CASE WHEN g %% 3 = 0 THEN 'open' ELSE 'delivered' END FROM generate_series(1, %s) g",
            (ROWS,),
        )
        conn.execute("VACUUM ANALYZE orders")
    yield name
    with psycopg.connect(pg_cluster.dsn(), autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@pytest.fixture
def crm(pg_cluster: Cluster, crm_template: str, tmp_path: Path) -> Iterator[tuple[str, Path]]:
    """A copy of the template database and of the shipped migrations folder."""
    directory = tmp_path / "migrations"
    shutil.copytree(MIGRATIONS, directory)
    name = f"t_{uuid.uuid4().hex[:12]}"
    with psycopg.connect(pg_cluster.dsn(), autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}" TEMPLATE "{crm_template}"')
    yield pg_cluster.dsn(name), directory
    with psycopg.connect(pg_cluster.dsn(), autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def snapshot_holder(dsn: str) -> psycopg.Connection[object]:
    """A second session holding a snapshot, as a report or a pg_dump does."""
    conn: psycopg.Connection[object] = psycopg.connect(dsn)  # type: ignore[assignment]
    conn.isolation_level = psycopg.IsolationLevel.REPEATABLE_READ
    conn.execute("SELECT count(*) FROM customers")
    return conn


# -- item 1: an invalid index is never "applied" -------------------------------------------------


@pytest.mark.postgres
def test_cic_cancelled_by_lock_timeout_is_a_failure_naming_the_invalid_index(crm: tuple[str, Path]) -> None:
    dsn, directory = crm
    holder = snapshot_holder(dsn)
    try:
        options = ExecutorOptions(lock_wait=10, lock_timeout=0.5, lock_retries=0)
        report = migrate(dsn, directory, options=options, target="V223")
    finally:
        holder.close()
    assert report.status == "failed"
    error = report.error or ""
    assert error.startswith(f"{V223}:5: canceling statement due to lock timeout")
    assert f"INVALID index left behind: {INDEX}" in error and f"DROP INDEX CONCURRENTLY {INDEX}" in error
    assert invalid_indexes(dsn) == [INDEX]
    assert history(dsn)[-1] == ("223", False, True)  # recorded, not successful
    # A plain re-run refuses; --retry-incomplete drops the leftover and builds a valid index.
    with pytest.raises(ValidationError, match="did not finish"):
        migrate(dsn, directory, target="V223")
    again = migrate(dsn, directory, retry_incomplete=True, target="V223")
    assert [(str(s.version), s.status) for s in again.steps] == [("V223", "applied")], again.error
    assert invalid_indexes(dsn) == []
    assert one(dsn, "SELECT indisvalid FROM pg_index WHERE indexrelid = %s::regclass", (INDEX,)) is True


@pytest.mark.postgres
def test_lock_timeout_retry_removes_the_leftover_first_and_ends_valid(crm: tuple[str, Path]) -> None:
    dsn, directory = crm
    holder = snapshot_holder(dsn)
    # The snapshot is let go once the first attempt has timed out: its invalid index is then
    # dropped or built anew under another oid. A timer would race a slow start of the run.
    released = threading.Event()

    def index_oid() -> int | None:
        with psycopg.connect(dsn, autocommit=True) as conn:
            row = conn.execute("SELECT to_regclass(%s)::oid", (INDEX,)).fetchone()
        return None if row is None or row[0] is None else int(row[0])

    def release_after_the_first_timeout() -> None:
        deadline = time.monotonic() + 60
        first = None
        while time.monotonic() < deadline:
            now = index_oid()
            if first is None:
                first = now
            elif now != first:
                break
            time.sleep(0.02)
        holder.rollback()
        released.set()

    threading.Thread(target=release_after_the_first_timeout, daemon=True).start()
    try:
        options = ExecutorOptions(lock_wait=10, lock_timeout=0.4, lock_retries=8, retry_backoff=0.1)
        report = migrate(dsn, directory, options=options, target="V223")
    finally:
        released.wait(65)
        holder.close()
    assert report.status == "ok", report.error
    assert report.steps[0].retries >= 1
    assert invalid_indexes(dsn) == []
    assert one(dsn, "SELECT indisvalid FROM pg_index WHERE indexrelid = %s::regclass", (INDEX,)) is True


@pytest.mark.postgres
def test_an_index_statement_that_is_skipped_over_an_invalid_index_is_a_failure(pg_dsn: str, tmp_path: Path) -> None:
    directory = write(
        tmp_path,
        {
            "V1__t.sql": "CREATE TABLE t (id int);\nINSERT INTO t VALUES (1), (1);\n",
            "V2__t_idx.sql": "-- seasongate: transaction=false\nCREATE UNIQUE INDEX CONCURRENTLY t_idx ON t (id);\n",
        },
    )
    report = migrate(pg_dsn, directory)
    assert report.status == "failed"
    assert "could not create unique index" in (report.error or "")
    assert "INVALID index left behind: t_idx" in (report.error or "")
    # Someone "fixes" the script with IF NOT EXISTS: skipped, the index would stay invalid.
    (directory / "V2__t_idx.sql").write_text(
        "-- seasongate: transaction=false\nCREATE UNIQUE INDEX CONCURRENTLY IF NOT EXISTS t_idx ON t (id);\n",
        encoding="utf-8",
    )
    with psycopg.connect(pg_dsn, autocommit=True) as conn:
        conn.execute("DELETE FROM t WHERE ctid = (SELECT min(ctid) FROM t)")  # the data is repaired
    again = migrate(pg_dsn, directory, retry_incomplete=True)
    assert again.status == "ok", again.error  # the retry dropped its own leftover, then built it
    assert invalid_indexes(pg_dsn) == []


@pytest.mark.postgres
def test_a_waiting_run_holds_no_snapshot_that_blocks_the_running_index_build(crm: tuple[str, Path]) -> None:
    dsn, directory = crm
    waiter_result: list[object] = []

    def second_run() -> None:
        try:
            with open_session(dsn, ExecutorOptions(lock_wait=60)) as waiting:
                waiter_result.append(waiting.history()[-1].version)
        except Exception as exc:
            waiter_result.append(exc)

    waiter = threading.Thread(target=second_run)

    def start_waiter() -> None:
        waiter.start()
        time.sleep(0.5)  # the second run is now waiting for the lock

    options = ExecutorOptions(lock_wait=10, lock_timeout=1, lock_retries=0)
    report = migrate(dsn, directory, Hook({"V223": start_waiter}), options=options, target="V223")
    waiter.join(timeout=60)
    assert report.status == "ok", report.error
    assert report.steps[0].retries == 0
    assert invalid_indexes(dsn) == []
    assert waiter_result == [Version((223,))]  # it got the lock afterwards and saw V223


_KILLABLE = """
import sys
from pathlib import Path
from seasongate._executor import AllowAll, ExecutorOptions, build_plan, open_session, run_steps, scan
from seasongate._versions import Version
options = ExecutorOptions(lock_wait=30, lock_timeout=120)
with open_session(sys.argv[1], options) as session:
    plan = build_plan(scan(Path(sys.argv[2])), session.history(), target=Version.parse(sys.argv[3]))
    plan.check()
    run_steps(session, plan.apply_steps(), AllowAll(), operation="migrate")
"""


def start_run(dsn: str, directory: Path, target: str) -> subprocess.Popen[bytes]:
    return subprocess.Popen(
        [sys.executable, "-c", _KILLABLE, dsn, str(directory), target],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )


def activity(dsn: str, where: str) -> int:
    return int(
        one(
            dsn,
            "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() "
            f"AND pid <> pg_backend_pid() AND {where}",
        )
        or 0
    )


@pytest.mark.postgres
def test_retry_incomplete_after_kill_9_mid_v223_leaves_a_valid_index(crm: tuple[str, Path]) -> None:
    dsn, directory = crm
    holder = snapshot_holder(dsn)  # keeps the index build waiting, so the kill lands mid-V223
    victim = start_run(dsn, directory, "V223")
    try:
        wait_for(
            lambda: activity(dsn, "query LIKE '%CREATE INDEX CONCURRENTLY%' AND state = 'active'") == 1,
            30,
            "V223 to run",
        )
        time.sleep(0.3)
    finally:
        victim.send_signal(signal.SIGKILL)
        victim.wait(timeout=10)
    wait_for(lambda: activity(dsn, "application_name LIKE 'seasongate%'") == 0, 10, "the dead run's backend to end")
    holder.close()
    assert invalid_indexes(dsn) == [INDEX]  # what the kill left behind
    assert history(dsn)[-1] == ("223", False, False)  # started, never finished
    report = migrate(dsn, directory, retry_incomplete=True, target="V223")
    assert [(str(s.version), s.status) for s in report.steps] == [("V223", "applied")]
    assert invalid_indexes(dsn) == []
    assert one(dsn, "SELECT indisvalid FROM pg_index WHERE indexrelid = %s::regclass", (INDEX,)) is True


# -- item 2: transaction control in a transactional migration -----------------------------------


@pytest.mark.postgres
def test_commit_in_a_transactional_migration_is_refused_before_anything_runs(pg_dsn: str, tmp_path: Path) -> None:
    directory = write(
        tmp_path,
        {
            "V1__first.sql": "CREATE TABLE first (id int);\n",
            "V2__a.sql": "CREATE TABLE a (id int);\n-- a comment; COMMIT;\nCOMMIT;\nSELECT 'ROLLBACK;';\n"
            "CREATE FUNCTION f() RETURNS int LANGUAGE plpgsql AS $$ BEGIN COMMIT; RETURN 1; END $$;\n",
        },
    )
    with pytest.raises(ValidationError) as info:
        migrate(pg_dsn, directory)
    message = str(info.value)
    assert f"{directory / 'V2__a.sql'}:3: E012: COMMIT in a migration that runs in one transaction" in message
    assert message.count("E012") == 1  # not the comment, the string or the function body
    assert one(pg_dsn, "SELECT to_regclass('first')") is None  # nothing ran, not even V1
    # Declared transaction=false, the author takes responsibility: it runs.
    text = (directory / "V2__a.sql").read_text(encoding="utf-8")
    (directory / "V2__a.sql").write_text("-- seasongate: transaction=false\n" + text, encoding="utf-8")
    assert migrate(pg_dsn, directory).status == "ok"


# -- item 3: empty and non-regular files ---------------------------------------------------------


@pytest.mark.postgres
def test_an_empty_migration_and_a_fifo_are_errors_before_anything_runs(pg_dsn: str, tmp_path: Path) -> None:
    directory = write(
        tmp_path,
        {
            "V1__first.sql": "CREATE TABLE first (id int);\n",
            "V2__empty.sql": "-- nothing yet\n/* still nothing */\n\n",
        },
    )
    os.mkfifo(directory / "V3__x.sql")
    started = time.monotonic()
    with pytest.raises(ValidationError) as info:
        migrate(pg_dsn, directory)
    assert time.monotonic() - started < 30  # the FIFO without a writer did not block
    message = str(info.value)
    assert "V2__empty.sql:1: E013: no SQL statements in this file" in message
    assert "V3__x.sql: E014: not a regular file (a FIFO)" in message
    assert one(pg_dsn, "SELECT to_regclass('first')") is None
    lint = CliRunner().invoke(main, ["lint", str(directory)])
    assert lint.exit_code == 2 and "E013" in lint.output and "E014" in lint.output


@pytest.mark.postgres
def test_migrate_command_refuses_such_a_folder_with_exit_2_naming_each_line(pg_dsn: str, tmp_path: Path) -> None:
    from tests.conftest import POLICIES

    directory = write(
        tmp_path / "migrations",
        {
            "V1__first.sql": "CREATE TABLE first (id int);\n",
            "V2__tx.sql": "CREATE TABLE a (id int);\nCOMMIT;\n",
            "V3__empty.sql": "-- to do\n",
            "numbering.yaml": "ignored_gaps: [V4]\n",
        },
    )
    os.mkfifo(directory / "V5__fifo.sql")
    args = ["--dsn", pg_dsn, "--migrations", str(directory), "--policy", str(POLICIES / "staging.yaml")]
    result = CliRunner().invoke(main, ["migrate", *args, "--env", "ci", "-t", "DE", "--no-store"])
    assert result.exit_code == 2, result.output
    assert "V2__tx.sql:2: E012: COMMIT in a migration that runs in one transaction" in result.output
    assert "V3__empty.sql:1: E013" in result.output and "V5__fifo.sql: E014: not a regular file" in result.output
    assert one(pg_dsn, "SELECT to_regclass('first')") is None


# -- item 4: idle timeouts and a lost lock ---------------------------------------------------------


def lock_holders(dsn: str) -> int:
    """Sessions holding advisory locks (a run holds two: its own and Flyway's)."""
    return int(
        one(
            dsn,
            "SELECT count(DISTINCT pid) FROM pg_locks WHERE locktype = 'advisory' AND granted "
            "AND database = (SELECT oid FROM pg_database WHERE datname = current_database())",
        )
        or 0
    )


@pytest.mark.postgres
def test_idle_session_timeout_does_not_drop_the_lock(pg_dsn: str, tmp_path: Path) -> None:
    if int(str(one(pg_dsn, "SHOW server_version_num"))) < 140000:
        pytest.fail("idle_session_timeout needs PostgreSQL 14 or later")
    dbname = str(one(pg_dsn, "SELECT current_database()"))
    with psycopg.connect(pg_dsn, autocommit=True) as conn:
        conn.execute(f"ALTER DATABASE \"{dbname}\" SET idle_session_timeout = '2s'")
        conn.execute(f"ALTER DATABASE \"{dbname}\" SET idle_in_transaction_session_timeout = '2s'")
    directory = write(tmp_path, {"V1__a.sql": "CREATE TABLE a (id int);", "V2__b.sql": "CREATE TABLE b (id int);"})
    seen: list[int] = []

    def slow_gate() -> None:  # the gate takes its time (a store far away, a human)
        time.sleep(3.5)
        seen.append(lock_holders(pg_dsn))

    report = migrate(pg_dsn, directory, Hook({"V2": slow_gate}))
    assert report.status == "ok", report.error
    assert seen == [1]  # 3.5 s idle with a 2 s timeout, and the lock was still held
    assert [r[:2] for r in history(pg_dsn)] == [("1", True), ("2", True)]


@pytest.mark.postgres
def test_a_lost_lock_stops_the_run_before_the_next_migration(pg_dsn: str, tmp_path: Path) -> None:
    directory = write(tmp_path, {"V1__a.sql": "CREATE TABLE a (id int);", "V2__b.sql": "CREATE TABLE b (id int);"})
    with open_session(pg_dsn, FAST) as session:
        plan = build_plan(scan(directory), session.history())
        session.ensure_locked()  # held
        pid = session.backend_pid

        def kill_the_lock() -> None:  # an operator's pg_terminate_backend, a failover...
            one(pg_dsn, "SELECT pg_terminate_backend(%s)", (pid,))

        with pytest.raises(LockLost, match="lost the migration lock"):
            run_steps(session, plan.apply_steps(), Hook({"V2": kill_the_lock}), operation="migrate")  # type: ignore[arg-type]
    assert [r[:2] for r in history(pg_dsn)] == [("1", True)]
    assert one(pg_dsn, "SELECT to_regclass('b')") is None


@pytest.mark.postgres
def test_a_script_that_releases_the_lock_commits_nothing(pg_dsn: str, tmp_path: Path) -> None:
    # The lock check runs inside the migration's transaction, after the script: a row is only
    # ever committed while the run holds both locks.
    directory = write(tmp_path, {"V1__a.sql": "CREATE TABLE a (id int);\nSELECT pg_advisory_unlock_all();"})
    with pytest.raises(LockLost, match="lost the migration lock"):
        migrate(pg_dsn, directory)
    assert history(pg_dsn) == []
    assert one(pg_dsn, "SELECT to_regclass('a')") is None


@pytest.mark.postgres
def test_a_transactional_migration_is_one_round_trip(pg_dsn: str, tmp_path: Path) -> None:
    # Script, lock check, history row and facts travel as one query: the executor adds no
    # statement of its own per migration (a structural count, not a timing).
    files = {f"V{i}__t{i}.sql": f"CREATE TABLE t{i} (id int);" for i in range(1, 6)}
    directory = write(tmp_path, files)
    with open_session(pg_dsn, FAST) as session:
        plan = build_plan(scan(directory), session.history())
        sent: list[object] = []
        execute = session.conn.execute

        def counting(query: object, *args: object, **kwargs: object) -> object:
            sent.append(query)
            return execute(query, *args, **kwargs)  # type: ignore[arg-type]

        session.conn.execute = counting  # type: ignore[method-assign]
        report = run_steps(session, plan.apply_steps(), AllowAll(), operation="migrate")
    assert report.status == "ok", report.error
    assert len(sent) == len(files)
    assert [r[:2] for r in history(pg_dsn)] == [(str(i), True) for i in range(1, 6)]


# -- item 5: no new run beside a dead run's backend ----------------------------------------------------


@pytest.mark.postgres
def test_an_immediate_rerun_after_kill_9_waits_for_the_dead_runs_backend(pg_dsn: str, tmp_path: Path) -> None:
    directory = write(
        tmp_path,
        {
            "V1__a.sql": "CREATE TABLE a (id int);",
            "V2__b.sql": "CREATE TABLE b (id int);\nINSERT INTO b VALUES (1);\nSELECT pg_sleep(0.8);\n",
            "V3__c.sql": "CREATE TABLE c (id int);",
        },
    )
    for _ in range(3):
        victim = start_run(pg_dsn, directory, "V3")
        wait_for(lambda: activity(pg_dsn, "query LIKE '%pg_sleep(0.8)%' AND state = 'active'") == 1, 30, "V2")
        victim.send_signal(signal.SIGKILL)
        victim.wait(timeout=10)
        with open_session(pg_dsn, ExecutorOptions(lock_wait=30)) as rerun:
            # The lock is free only once the dead run's backend has ended.
            others = activity(pg_dsn, f"application_name LIKE 'seasongate%' AND pid <> {rerun.backend_pid}")
            plan = build_plan(scan(directory), rerun.history())
            plan.check()
            report = run_steps(rerun, plan.apply_steps(), AllowAll(), operation="migrate")
        assert others == 0
        assert report.status == "ok", report.error
        assert [r[:2] for r in history(pg_dsn)] == [("1", True), ("2", True), ("3", True)]
        assert one(pg_dsn, "SELECT count(*) FROM b") == 1
        with psycopg.connect(pg_dsn, autocommit=True) as conn:  # next round from V1 again
            conn.execute("DROP TABLE b, c; DELETE FROM seasongate_schema_history WHERE version <> '1'")


# -- the history layout ----------------------------------------------------------------------------


@pytest.mark.postgres
def test_history_table_is_exactly_flywys_and_facts_live_beside_it(pg_dsn: str, tmp_path: Path) -> None:
    directory = write(tmp_path, {"V1__a.sql": "CREATE TABLE a (id int);", "V2__b.sql": "CREATE TABLE b (id int);"})
    with open_session(pg_dsn, FAST) as session:
        plan = build_plan(scan(directory), session.history())
        session.apply(plan.pending[0], verdict="allow", override_id="ovr-7", audit=(41, "ab" * 32))
        session.apply(plan.pending[1])
        rows = session.history()
    with psycopg.connect(pg_dsn) as conn:
        columns = conn.execute(
            "SELECT column_name, data_type, character_maximum_length, is_nullable, column_default "
            "FROM information_schema.columns WHERE table_name = 'seasongate_schema_history' "
            "ORDER BY ordinal_position"
        ).fetchall()
        constraints = conn.execute(
            "SELECT conname, contype FROM pg_constraint WHERE conrelid = 'seasongate_schema_history'::regclass"
        ).fetchall()
        indexes = conn.execute(
            "SELECT indexname, indexdef FROM pg_indexes WHERE tablename = 'seasongate_schema_history' ORDER BY 1"
        ).fetchall()
    assert columns == [
        ("installed_rank", "integer", None, "NO", None),
        ("version", "character varying", 50, "YES", None),
        ("description", "character varying", 200, "NO", None),
        ("type", "character varying", 20, "NO", None),
        ("script", "character varying", 1000, "NO", None),
        ("checksum", "integer", None, "YES", None),
        ("installed_by", "character varying", 100, "NO", None),
        ("installed_on", "timestamp without time zone", None, "NO", "now()"),
        ("execution_time", "integer", None, "NO", None),
        ("success", "boolean", None, "NO", None),
    ]
    assert constraints == [("seasongate_schema_history_pk", "p")]
    assert [i[0] for i in indexes] == ["seasongate_schema_history_pk", "seasongate_schema_history_s_idx"]
    assert "(success)" in indexes[1][1]
    first, second = rows
    assert (first.gate_verdict, first.override_id, first.audit_seq, first.audit_hash) == (
        "allow",
        "ovr-7",
        41,
        "ab" * 32,
    )
    assert first.sha256 == plan.pending[0].sha256 and first.transactional
    assert (second.gate_verdict, second.audit_seq) == (None, None)
    assert first.installed_on.tzinfo is not None  # aware, read in the server's time zone


LEGACY = """CREATE TABLE seasongate_schema_history (
    installed_rank integer NOT NULL PRIMARY KEY, version varchar(50), description varchar(200) NOT NULL,
    type varchar(20) NOT NULL, script varchar(1000) NOT NULL, checksum integer,
    installed_by varchar(100) NOT NULL, installed_on timestamptz NOT NULL DEFAULT now(),
    execution_time integer, success boolean NOT NULL, gate_verdict varchar(20), override_id varchar(100),
    sha256 char(64), transactional boolean NOT NULL DEFAULT true);
INSERT INTO seasongate_schema_history VALUES
    (1, '1', 'a', 'SQL', 'V1__a.sql', %(crc)s, 'me', now(), 5, true, 'allow', 'ovr-1', %(sha)s, true),
    (2, '2', 'b idx', 'SQL', 'V2__b_idx.sql', 0, 'me', now(), NULL, false, 'allow', NULL, NULL, false);
CREATE TABLE a (id int);"""


@pytest.mark.postgres
def test_a_table_of_the_old_layout_is_converted_in_place(pg_dsn: str, tmp_path: Path) -> None:
    directory = write(
        tmp_path,
        {
            "V1__a.sql": "CREATE TABLE a (id int);",
            "V2__b_idx.sql": "-- seasongate: transaction=false\nCREATE INDEX CONCURRENTLY IF NOT EXISTS b_idx ON a (id);",
        },
    )
    v1 = scan(directory).migrations[0]
    with psycopg.connect(pg_dsn, autocommit=True) as conn:
        conn.execute(LEGACY.replace("%(crc)s", str(v1.checksum)).replace("%(sha)s", f"'{v1.sha256}'"))
    # Read-only (info), the old layout is read as it is.
    with open_session(pg_dsn, FAST, lock=False) as reader:
        assert [(r.gate_verdict, r.execution_time) for r in reader.history()] == [("allow", 5), ("allow", None)]
    # Under the lock it is converted, and the started V2 stays incomplete.
    with pytest.raises(ValidationError, match=r"V2__b_idx.sql \(transaction=false\) started on"):
        migrate(pg_dsn, directory)
    with psycopg.connect(pg_dsn) as conn:
        columns = [r[0] for r in conn.execute(
            "SELECT column_name FROM information_schema.columns "
            "WHERE table_name = 'seasongate_schema_history' ORDER BY ordinal_position"
        )]  # fmt: skip
    assert len(columns) == 10 and "gate_verdict" not in columns
    assert history(pg_dsn) == [("1", True, True), ("2", False, False)]
    assert migrate(pg_dsn, directory, retry_incomplete=True).status == "ok"
    with open_session(pg_dsn, FAST, lock=False) as reader:
        rows = reader.history()
    assert (rows[0].override_id, rows[0].sha256) == ("ovr-1", v1.sha256)
    assert rows[-1].success and not rows[-1].transactional


@pytest.mark.postgres
def test_a_flyway_table_without_facts_is_read_and_gets_its_side_table_under_the_lock(pg_dsn: str) -> None:
    with psycopg.connect(pg_dsn, autocommit=True) as conn:
        conn.execute(_create_history(conn))
        conn.execute(
            "INSERT INTO seasongate_schema_history VALUES "
            "(1, '1', '<< Flyway Baseline >>', 'BASELINE', '<< Flyway Baseline >>', NULL, 'flyway', now(), 0, true)"
        )
    with open_session(pg_dsn, FAST, lock=False) as reader:
        rows = reader.history()
    assert [(r.type, r.success, r.transactional, r.gate_verdict) for r in rows] == [("BASELINE", True, True, None)]
    assert one(pg_dsn, "SELECT to_regclass('seasongate_schema_history_seasongate')") is None  # read-only
    open_session(pg_dsn, FAST).close()
    assert one(pg_dsn, "SELECT to_regclass('seasongate_schema_history_seasongate') IS NOT NULL") is True


def _create_history(conn: psycopg.Connection[object]) -> object:
    """The executor's own DDL for the history table, with the same names (no side table)."""
    from seasongate._executor import _pghistory

    return _pghistory.HistoryTables(conn, FAST.schema, FAST.table).q(_pghistory.CREATE_HISTORY)  # type: ignore[arg-type]


# -- issue 15: one strict header parser --------------------------------------------------------------


@pytest.mark.parametrize(
    ("header", "where", "message"),
    [
        ("risk=hihg duration=2h", ":2:21: risk", "invalid risk 'hihg'"),
        ("risk=high, duration=5m", ":2:16: risk", "separated by spaces, not commas"),
        ("risk = high", ":2:16: risk", "without spaces around '='"),
        ("riks=high", ":2:16: riks", "unknown directive 'riks'"),
        ("duration=5x", ":2:25: duration", "invalid duration '5x'"),
        ("duration=0s", ":2:25: duration", "must be longer than zero"),
        ("duration=8d", ":2:25: duration", "at most 7d"),
    ],
)
def test_every_header_error_is_an_error_for_every_command(
    tmp_path: Path, header: str, where: str, message: str
) -> None:
    path = tmp_path / "V225__x.sql"
    path.write_text(f"-- title\n-- seasongate: {header}\nSELECT 1;\n", encoding="utf-8")
    with pytest.raises(ConfigError) as info:
        read_header(path)
    assert f"V225__x.sql{where}" in str(info.value) and message in str(info.value)
    with pytest.raises(ConfigError):
        resolve_migration(str(path))  # the -m FILE path of check and run
    lint = CliRunner().invoke(main, ["lint", str(tmp_path)])
    assert lint.exit_code == 2 and message in lint.output
    assert any(f.code == "E008" for f in scan(tmp_path).blocking)  # migrate refuses


def test_a_misspelt_directive_line_is_not_ignored(tmp_path: Path) -> None:
    path = write(tmp_path, {"V1__x.sql": "-- seasongate risk=high\nSELECT 1;\n"}) / "V1__x.sql"
    with pytest.raises(ConfigError, match="written `-- seasongate: key=value`"):
        read_header(path)


def test_a_bare_file_name_is_looked_up_in_the_migrations_folder(tmp_path: Path) -> None:
    folder = write(
        tmp_path / "migrations",
        {
            "V225__x.sql": "-- seasongate: risk=high duration=20m\nSELECT 1;\n",
            "U225__x.sql": "-- seasongate: duration=5m\nSELECT 1;\n",
        },
    )
    ref = resolve_migration("V225__x.sql", migrations=folder)
    assert (ref.version, ref.operation, ref.risk, ref.duration, ref.path) == (
        Version((225,)), "apply", "high", 1200, folder / "V225__x.sql"
    )  # fmt: skip
    undo = resolve_migration("U225__x.sql", migrations=folder)
    assert (undo.version, undo.operation, undo.risk, undo.duration) == (Version((225,)), "rollback", "high", 300)
    with pytest.raises(InputError, match=r"V226__y\.sql not found in"):
        resolve_migration("V226__y.sql", migrations=folder)
    assert resolve_migration("V226").operation == "apply"
