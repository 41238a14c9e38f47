"""The PostgreSQL executor on a real server, with a trivial gate callback (no policy)."""

from __future__ import annotations

import threading
import uuid
from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest

from seasongate._executor import (
    AllowAll,
    AuditAnchor,
    ExecutorOptions,
    GateAnswer,
    LockBusy,
    MigrateReport,
    Step,
    StepResult,
    ValidationError,
    build_plan,
    flyway_checksum,
    open_session,
    run_steps,
    scan,
)
from seasongate._versions import Version
from tests.conftest import MIGRATIONS

pytestmark = pytest.mark.postgres
FAST = ExecutorOptions(lock_wait=5, lock_timeout=2, retry_backoff=0.05)


def folder(tmp_path: Path, files: dict[str, str]) -> Path:
    for name, text in files.items():
        (tmp_path / name).write_text(text, encoding="utf-8")
    return tmp_path


def migrate(
    dsn: str, directory: Path, hook: object = None, *, options: ExecutorOptions = FAST, retry_incomplete: bool = False
) -> MigrateReport:
    with open_session(dsn, options) as session:
        plan = build_plan(scan(directory), session.history(), retry_incomplete=retry_incomplete)
        plan.check()
        return run_steps(session, plan.apply_steps(), hook or AllowAll(), operation="migrate")  # type: ignore[arg-type]


def rollback(dsn: str, directory: Path, to: str, *, retry_incomplete: bool = False) -> MigrateReport:
    with open_session(dsn, FAST) as session:
        plan = build_plan(scan(directory), session.history(), retry_incomplete=retry_incomplete)
        plan.check()
        return run_steps(session, plan.rollback_steps(Version.parse(to)), AllowAll(), operation="rollback")


def history(dsn: str) -> list[tuple[object, ...]]:
    if not table_exists(dsn, "seasongate_schema_history"):
        return []
    with psycopg.connect(dsn) as conn:
        return conn.execute(
            "SELECT version, type, script, success, f.installed_rank IS NOT NULL, f.transactional "
            "FROM seasongate_schema_history LEFT JOIN seasongate_schema_history_seasongate f "
            "USING (installed_rank) ORDER BY installed_rank"
        ).fetchall()


def table_exists(dsn: str, name: str) -> bool:
    with psycopg.connect(dsn) as conn:
        row = conn.execute("SELECT to_regclass(%s) IS NOT NULL", (name,)).fetchone()
    return bool(row and row[0])


class Recorder:
    """A gate callback that denies the versions it is told to and remembers every call."""

    def __init__(self, deny: frozenset[str] | set[str] = frozenset()) -> None:
        self.deny = deny
        self.asked: list[Step] = []
        self.recorded: list[StepResult] = []

    def ask(self, step: Step) -> GateAnswer:
        self.asked.append(step)
        if str(step.version) in self.deny:
            return GateAnswer(False, "test-blackout: no", next_allowed_at=None)
        return GateAnswer(True, override_id="ovr-1")

    def start(self, step: Step, answer: GateAnswer) -> AuditAnchor | None:
        return None

    def record(self, step: Step, answer: GateAnswer, result: StepResult) -> None:
        self.recorded.append(result)


# -- the shipped set ----------------------------------------------------------------------------


def test_sample_set_applies_with_flyway_history(pg_dsn: str) -> None:
    hook = Recorder()
    report = migrate(pg_dsn, MIGRATIONS, hook)
    assert report.status == "ok" and report.exit_code == 0
    assert [str(s.version) for s in report.done][-2:] == ["V225", "V10000"]
    with psycopg.connect(pg_dsn) as conn:
        columns = [
            r[0]
            for r in conn.execute(
                "SELECT column_name FROM information_schema.columns "
                "WHERE table_name = 'seasongate_schema_history' ORDER BY ordinal_position"
            )
        ]
        row = conn.execute(
            "SELECT version, description, type, script, checksum, success, gate_verdict, "
            "override_id, sha256, installed_by = current_user FROM seasongate_schema_history "
            "JOIN seasongate_schema_history_seasongate USING (installed_rank) WHERE version = '225'"
        ).fetchone()
    assert columns == [
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
    ]
    v225 = MIGRATIONS / "V225__communication_core.sql"
    assert row is not None
    assert row[:8] == (
        "225",
        "communication core",
        "SQL",
        v225.name,
        flyway_checksum(v225.read_text(encoding="utf-8")),
        True,
        "allow",
        "ovr-1",
    )
    assert len(row[8]) == 64 and row[9] is True
    rows = history(pg_dsn)
    assert len(rows) == 10 and all(r[3] for r in rows)
    assert ("223", "SQL", "V223__orders_delivery_date_index.sql", True, True, False) in rows
    assert [str(q.version) for q in hook.asked] == [str(s.version) for s in report.steps]
    assert migrate(pg_dsn, MIGRATIONS).steps == ()  # nothing left to do


def test_rls_hides_other_territories_from_a_non_owner(pg_dsn: str) -> None:
    migrate(pg_dsn, MIGRATIONS)
    role = f"crm_app_{uuid.uuid4().hex[:8]}"
    with psycopg.connect(pg_dsn, autocommit=True) as conn:
        conn.execute(f"CREATE ROLE {role} NOLOGIN")
        try:
            conn.execute(f"GRANT SELECT ON communication_threads, customers TO {role}")
            owner = conn.execute("SELECT count(*) FROM communication_threads").fetchone()
            with conn.transaction():
                conn.execute(f"SET LOCAL ROLE {role}")
                conn.execute("SET LOCAL app.territory = 'DE'")
                seen = conn.execute("SELECT territory, count(*) FROM communication_threads GROUP BY 1").fetchall()
                ch = conn.execute("SELECT count(*) FROM communication_threads WHERE territory = 'CH'").fetchone()
                customers = conn.execute("SELECT DISTINCT territory FROM customers").fetchall()
            with conn.transaction():
                conn.execute(f"SET LOCAL ROLE {role}")
                unset = conn.execute("SELECT count(*) FROM communication_threads").fetchone()
        finally:
            conn.execute(f"DROP OWNED BY {role}")
            conn.execute(f"DROP ROLE {role}")
    assert owner == (4,)  # the owner is exempt: both territories
    assert seen == [("DE", 2)]
    assert ch == (0,)
    assert customers == [("DE",)]
    assert unset == (0,)  # no app.territory, no rows


# -- validation before anything runs ---------------------------------------------------------------


BASE = {"V1__a.sql": "CREATE TABLE a (id int);\n", "V2__b.sql": "CREATE TABLE b (id int);\n"}


def refused(dsn: str, directory: Path) -> str:
    before = history(dsn)
    with pytest.raises(ValidationError) as info:
        migrate(dsn, directory)
    assert history(dsn) == before  # nothing ran
    return str(info.value)


def test_changed_file_is_refused(pg_dsn: str, tmp_path: Path) -> None:
    directory = folder(tmp_path, BASE)
    migrate(pg_dsn, directory)
    (directory / "V2__b.sql").write_text("CREATE TABLE b (id bigint);\n", encoding="utf-8")
    (directory / "V3__c.sql").write_text("CREATE TABLE c (id int);\n", encoding="utf-8")
    message = refused(pg_dsn, directory)
    assert "V2__b.sql was changed after it was applied" in message
    assert not table_exists(pg_dsn, "c")


def test_line_endings_alone_are_not_a_change(pg_dsn: str, tmp_path: Path) -> None:
    directory = folder(tmp_path, BASE)
    migrate(pg_dsn, directory)
    (directory / "V2__b.sql").write_bytes(b"CREATE TABLE b (id int);\r\n")
    assert migrate(pg_dsn, directory).status == "ok"


def test_missing_file_is_refused(pg_dsn: str, tmp_path: Path) -> None:
    directory = folder(tmp_path, BASE)
    migrate(pg_dsn, directory)
    (directory / "V2__b.sql").unlink()
    assert "V2 (V2__b.sql) was applied" in refused(pg_dsn, directory)


def test_out_of_order_is_refused(pg_dsn: str, tmp_path: Path) -> None:
    directory = folder(
        tmp_path, {"V1__a.sql": "SELECT 1;", "V3__c.sql": "SELECT 1;", "numbering.yaml": "ignored_gaps: [V2]\n"}
    )
    migrate(pg_dsn, directory)
    (directory / "V2__b.sql").write_text("SELECT 2;", encoding="utf-8")
    (directory / "numbering.yaml").unlink()
    assert "V2__b.sql is pending but V3 is already applied (out of order)" in refused(pg_dsn, directory)


def test_out_of_order_is_judged_per_class(pg_dsn: str, tmp_path: Path) -> None:
    directory = folder(tmp_path, {"V1__a.sql": "SELECT 1;", "V10000__data.sql": "SELECT 1;"})
    migrate(pg_dsn, directory)
    (directory / "V2__b.sql").write_text("SELECT 2;", encoding="utf-8")
    report = migrate(pg_dsn, directory)
    assert [str(s.version) for s in report.done] == ["V2"]


def test_duplicate_version_and_undeclared_gap_are_refused(pg_dsn: str, tmp_path: Path) -> None:
    directory = folder(tmp_path, {**BASE, "V2__again.sql": "SELECT 1;", "V4__d.sql": "SELECT 1;"})
    message = refused(pg_dsn, directory)
    assert "E002" in message and "duplicate migration version V2" in message
    assert "E003" in message and "V3 is missing after V2" in message
    assert not table_exists(pg_dsn, "a")


# -- failures ---------------------------------------------------------------------------------------


def test_failing_migration_is_rolled_back_recorded_and_stops_the_run(pg_dsn: str, tmp_path: Path) -> None:
    directory = folder(tmp_path, {
        "V1__a.sql": "CREATE TABLE a (id int);",
        "V2__b.sql": "CREATE TABLE b (id int);\nINSERT INTO b SELECT id FROM nope;\n",
        "V3__c.sql": "CREATE TABLE c (id int);",
    })  # fmt: skip
    report = migrate(pg_dsn, directory)
    assert report.status == "failed" and report.exit_code == 2
    assert report.error is not None
    assert report.error.startswith('V2__b.sql:2: relation "nope" does not exist (SQLSTATE 42P01)')
    assert [str(p.version) for p in report.pending] == ["V2", "V3"]
    assert not table_exists(pg_dsn, "b") and not table_exists(pg_dsn, "c")
    assert history(pg_dsn) == [
        ("1", "SQL", "V1__a.sql", True, True, True),
        ("2", "SQL", "V2__b.sql", False, True, True),
    ]
    # Fixed, the failed migration is retried and the run goes on.
    (directory / "V2__b.sql").write_text("CREATE TABLE b (id int);\n", encoding="utf-8")
    again = migrate(pg_dsn, directory)
    assert [str(s.version) for s in again.done] == ["V2", "V3"]
    assert table_exists(pg_dsn, "c")


def test_error_lines_are_lines_of_the_file_whatever_runs_before_them(pg_dsn: str, tmp_path: Path) -> None:
    directory = folder(tmp_path, {
        "V1__tx.sql": "-- seasongate: lock_timeout=3s\nCREATE TABLE a (id int);\n\nSELECT nope FROM a;\n",
        "V2__auto.sql": "-- seasongate: transaction=false\nCREATE TABLE b (id int);\n"
                        "-- a comment before the statement\nSELECT\n  nope FROM b;\n",
    })  # fmt: skip
    report = migrate(pg_dsn, directory)
    assert (report.error or "").startswith('V1__tx.sql:4: column "nope" does not exist')
    (directory / "V1__tx.sql").write_text("CREATE TABLE a (id int);\n", encoding="utf-8")
    report = migrate(pg_dsn, directory)
    assert (report.error or "").startswith('V2__auto.sql:5: column "nope" does not exist')


def test_statement_timeout_from_the_header(pg_dsn: str, tmp_path: Path) -> None:
    directory = folder(tmp_path, {"V1__slow.sql": "-- seasongate: statement_timeout=1s\nSELECT pg_sleep(3);\n"})
    report = migrate(pg_dsn, directory)
    assert report.status == "failed"
    assert "canceling statement due to statement timeout" in (report.error or "")


def test_non_transactional_failure_is_incomplete_until_retried(pg_dsn: str, tmp_path: Path) -> None:
    directory = folder(tmp_path, {
        "V1__a.sql": "CREATE TABLE a (id int);\nINSERT INTO a VALUES (1), (1);",
        "V2__a_idx.sql": "-- seasongate: transaction=false\n"
                         "CREATE UNIQUE INDEX CONCURRENTLY a_idx ON a (id);\n",
    })  # fmt: skip
    report = migrate(pg_dsn, directory)
    assert report.status == "failed" and "could not create unique index" in (report.error or "")
    assert history(pg_dsn)[-1] == ("2", "SQL", "V2__a_idx.sql", False, True, False)
    with pytest.raises(ValidationError, match="did not finish; its effects may be partial"):
        migrate(pg_dsn, directory)
    with psycopg.connect(pg_dsn, autocommit=True) as conn:  # the operator repairs the data
        conn.execute("DROP INDEX a_idx; DELETE FROM a")
    again = migrate(pg_dsn, directory, retry_incomplete=True)
    assert [str(s.version) for s in again.done] == ["V2"]
    assert history(pg_dsn)[-1][3] is True


def test_lock_timeout_is_retried_with_backoff(pg_dsn: str, tmp_path: Path) -> None:
    directory = folder(
        tmp_path, {"V1__a.sql": "CREATE TABLE a (id int);", "V2__a_col.sql": "ALTER TABLE a ADD COLUMN name text;"}
    )
    migrate(pg_dsn, directory, Recorder(deny={"V2"}))
    blocker = psycopg.connect(pg_dsn)
    blocker.execute("LOCK TABLE a IN ACCESS EXCLUSIVE MODE")
    threading.Timer(0.6, blocker.rollback).start()
    options = ExecutorOptions(lock_timeout=0.2, lock_retries=4, retry_backoff=0.1)
    try:
        report = migrate(pg_dsn, directory, options=options)
    finally:
        blocker.close()
    assert report.status == "ok"
    assert report.steps[0].retries >= 1
    with psycopg.connect(pg_dsn) as conn:
        assert conn.execute(
            "SELECT count(*) FROM information_schema.columns WHERE table_name = 'a' AND column_name = 'name'"
        ).fetchone() == (1,)


def test_lock_timeout_without_retries_fails(pg_dsn: str, tmp_path: Path) -> None:
    directory = folder(
        tmp_path, {"V1__a.sql": "CREATE TABLE a (id int);", "V2__a_col.sql": "ALTER TABLE a ADD COLUMN name text;"}
    )
    migrate(pg_dsn, directory, Recorder(deny={"V2"}))
    with psycopg.connect(pg_dsn) as blocker:
        blocker.execute("LOCK TABLE a IN ACCESS EXCLUSIVE MODE")
        report = migrate(pg_dsn, directory, options=ExecutorOptions(lock_timeout=0.1, lock_retries=0))
    assert report.status == "failed" and "lock timeout" in (report.error or "")


# -- the migration lock ------------------------------------------------------------------------------


def test_a_second_run_waits_then_names_the_holder(pg_dsn: str) -> None:
    with open_session(pg_dsn, FAST) as holder:
        pid = holder.backend_pid
        with pytest.raises(LockBusy) as info:
            open_session(pg_dsn, ExecutorOptions(lock_wait=0.3))
    assert info.value.holder_pid == pid
    assert f"pid {pid} (seasongate migrate" in str(info.value) and " since 20" in str(info.value)
    assert "gave up after 0.3s" in str(info.value)
    open_session(pg_dsn, ExecutorOptions(lock_wait=0.3)).close()  # released with the session


# -- the gate callback ---------------------------------------------------------------------------------


def test_denied_migration_stops_the_run_before_it(pg_dsn: str, tmp_path: Path) -> None:
    directory = folder(
        tmp_path, {"V1__a.sql": "SELECT 1;", "V2__b.sql": "CREATE TABLE b ();", "V3__c.sql": "SELECT 1;"}
    )
    hook = Recorder(deny={"V2"})
    report = migrate(pg_dsn, directory, hook)
    assert (report.status, report.exit_code) == ("denied", 1)
    assert [str(s.version) for s in report.done] == ["V1"]
    assert report.stopped_at is not None and report.stopped_at.reason == "test-blackout: no"
    assert [str(p.version) for p in report.pending] == ["V2", "V3"]
    assert [s.status for s in hook.recorded] == ["applied", "denied"]
    assert not table_exists(pg_dsn, "b")


def test_duration_comes_from_header_then_history_then_default(pg_dsn: str, tmp_path: Path) -> None:
    directory = folder(tmp_path, {
        "V1__a.sql": "-- seasongate: duration=20m\nSELECT 1;", "U1__a.sql": "SELECT 1;",
        "V2__b.sql": "SELECT pg_sleep(0.05);", "U2__b.sql": "SELECT 1;",
    })  # fmt: skip
    first = Recorder()
    migrate(pg_dsn, directory, first)
    assert [(q.duration, q.duration_source) for q in first.asked] == [(1200, "header"), (None, "default")]
    assert rollback(pg_dsn, directory, "V0").status == "ok"
    with open_session(pg_dsn, FAST) as session:
        plan = build_plan(scan(directory), session.history())
    step = plan.step("apply", plan.pending[1])
    assert step.duration_source == "history" and step.duration == 1


def test_rollback_runs_undo_scripts_newest_first_and_refuses_before_starting_without_one(
    pg_dsn: str, tmp_path: Path
) -> None:
    directory = folder(tmp_path, {
        "V1__a.sql": "CREATE TABLE a (id int);", "U1__a.sql": "DROP TABLE a;",
        "V2__b.sql": "CREATE TABLE b (id int);",
        "V3__c.sql": "CREATE TABLE c (id int);", "U3__c.sql": "DROP TABLE c;",
    })  # fmt: skip
    migrate(pg_dsn, directory)
    before = history(pg_dsn)
    # U2 is missing: nothing is undone, not even V3 above it (issue 9 item 6).
    with pytest.raises(ValidationError, match=r"V2 has no undo script \(expected U2__b.sql\)"):
        rollback(pg_dsn, directory, "V0")
    assert history(pg_dsn) == before
    assert table_exists(pg_dsn, "c") and table_exists(pg_dsn, "b")
    report = rollback(pg_dsn, directory, "V2")
    assert (report.status, report.exit_code) == ("ok", 0)
    assert [(str(s.version), s.status) for s in report.steps] == [("V3", "rolled back")]
    assert not table_exists(pg_dsn, "c") and table_exists(pg_dsn, "a")
    assert history(pg_dsn)[-1] == ("3", "UNDO_SQL", "U3__c.sql", True, True, True)
    # Undone, V3 is pending again and migrate re-applies it.
    assert [str(s.version) for s in migrate(pg_dsn, directory).done] == ["V3"]


@pytest.fixture
def _no_leftover_connections(pg_dsn: str) -> Iterator[None]:
    yield
    with psycopg.connect(pg_dsn) as conn:
        row = conn.execute(
            "SELECT count(*) FROM pg_stat_activity WHERE datname = "
            "current_database() AND application_name LIKE 'seasongate%'"
        ).fetchone()
    assert row == (0,)


@pytest.mark.usefixtures("_no_leftover_connections")
def test_sessions_close_their_connections(pg_dsn: str, tmp_path: Path) -> None:
    directory = folder(tmp_path, BASE)
    assert migrate(pg_dsn, directory).status == "ok"
    with pytest.raises(ValidationError):
        migrate(pg_dsn, folder(tmp_path, {"V4__x.sql": "SELECT 1;"}))


class BrokenAudit(Recorder):
    def record(self, step: Step, answer: GateAnswer, result: StepResult) -> None:
        from seasongate._errors import StoreError

        raise StoreError("disk full")


def test_a_failing_audit_stops_the_run_after_the_migration(pg_dsn: str, tmp_path: Path) -> None:
    directory = folder(tmp_path, BASE)
    report = migrate(pg_dsn, directory, BrokenAudit())
    assert (report.status, report.exit_code) == ("failed", 2)
    assert [str(s.version) for s in report.done] == ["V1"]
    assert [str(p.version) for p in report.pending] == ["V2"]
    assert "V1__a.sql: applied, but recording it (audit trail, override) failed: disk full" in (report.error or "")
    assert table_exists(pg_dsn, "a") and not table_exists(pg_dsn, "b")


def test_an_unfinished_non_transactional_undo_is_named_and_can_be_retried(pg_dsn: str, tmp_path: Path) -> None:
    files = {
        "V1__base.sql": "CREATE TABLE u1 (id int);\n",
        "U1__base.sql": "DROP TABLE u1;\n",
        "V2__idx.sql": "-- seasongate: transaction=false\nCREATE INDEX CONCURRENTLY u1_idx ON u1 (id);\n",
        "U2__idx.sql": "-- seasongate: transaction=false\nDROP INDEX CONCURRENTLY u1_idx;\nDROP TABLE nope;\n",
    }
    directory = folder(tmp_path, files)
    assert migrate(pg_dsn, directory).status == "ok"
    assert rollback(pg_dsn, directory, "V1").status == "failed"
    # Neither migrate nor a plain rollback goes on; the problem names the undo script.
    with pytest.raises(ValidationError, match=r"U2__idx.sql \(transaction=false\) started undoing V2"):
        migrate(pg_dsn, directory)
    with pytest.raises(ValidationError, match="run rollback --retry-incomplete"):
        rollback(pg_dsn, directory, "V1")
    # Made safe to re-run, the undo is retried; migrate never re-applied V2 on top.
    (directory / "U2__idx.sql").write_text(
        "-- seasongate: transaction=false\nDROP INDEX CONCURRENTLY IF EXISTS u1_idx;\n", encoding="utf-8"
    )
    retried = rollback(pg_dsn, directory, "V1", retry_incomplete=True)
    assert [(str(s.version), s.status) for s in retried.steps] == [("V2", "rolled back")]
    with psycopg.connect(pg_dsn) as conn:
        assert conn.execute("SELECT to_regclass('u1_idx')").fetchone() == (None,)
