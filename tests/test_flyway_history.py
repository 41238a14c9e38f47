"""Flyway's schema history: lock key, rows as Flyway writes them, the states of ``info``, repair."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import psycopg
import pytest

from seasongate._errors import MigrationError
from seasongate._executor import DEFAULT_CLASSES, HistoryRow, flyway_checksum, scan
from seasongate._executor._files import _decode
from seasongate._executor._flyway import (
    abbreviate_description,
    abbreviate_script,
    baseline_row,
    insert_sql,
    java_string_hash,
    lock_key,
    migration_row,
    row_from_db,
    select_sql,
)
from seasongate._executor._flyway_info import (
    BASELINE,
    BELOW_BASELINE,
    DELETED,
    FAILED,
    FUTURE,
    IGNORED,
    MISSING,
    OUTDATED,
    PENDING,
    SUCCESS,
    SUPERSEDED,
    FlywayInfo,
    flyway_info,
)
from seasongate._executor._flyway_repair import plan_repair, sql_fingerprint
from seasongate._executor._repeatables import read_repeatables
from seasongate._versions import Version
from tests.flyway_seed import RLS_POLICIES_EDITED, V226, history_rows, seed_database, seed_folder

AT = datetime(2026, 1, 5, 22, 0, tzinfo=UTC)


# -- Flyway's conventions -----------------------------------------------------------------------


def test_java_string_hash_is_javas() -> None:
    # Values of String.hashCode() in Java.
    assert java_string_hash("") == 0
    assert java_string_hash("hello") == 99162322
    assert java_string_hash("polygenelubricants") == -2147483648  # the famous Integer.MIN_VALUE
    assert java_string_hash("ö€") == 246 * 31 + 8364  # UTF-16 code units, not UTF-8 bytes
    assert java_string_hash("\U0001f600") == 0xD83D * 31 + 0xDE00  # a surrogate pair


def test_lock_key_is_flyways_magic_plus_the_quoted_table_hash() -> None:
    magic = int.from_bytes(b"Flyway", "big")
    assert magic == 77431708279161
    assert lock_key("public", "flyway_schema_history") == magic + java_string_hash('"public"."flyway_schema_history"')
    assert lock_key("crm", "flyway_schema_history") != lock_key("public", "flyway_schema_history")


def test_abbreviations_as_flyway() -> None:
    assert abbreviate_description("x" * 200) == "x" * 200
    assert abbreviate_description("x" * 201) == "x" * 197 + "..."
    long = "d/" * 600 + "V1__a.sql"
    assert abbreviate_script(long) == "..." + long[-997:] and len(abbreviate_script(long)) == 1000


def test_a_baseline_with_its_own_description_is_written_as_flyways_baseline_marker() -> None:
    # Flyway's addBaselineMarker: the description is also the script; both are abbreviated.
    long = "adopted from the legacy deployment " * 8
    marker = baseline_row(Version((225,)), installed_rank=1, installed_by="dba", description=long)
    assert marker.description == long[:197] + "..." and len(marker.description) == 200
    assert marker.script == long and marker.type == "BASELINE" and marker.checksum is None
    assert baseline_row(Version((1,)), installed_rank=1, installed_by="dba").script == "<< Flyway Baseline >>"


# -- states --------------------------------------------------------------------------------------


def row(rank: int, version: str | None, script: str, *, kind: str = "SQL", checksum: int | None = 0,
        success: bool = True, description: str | None = None) -> HistoryRow:  # fmt: skip
    desc = description if description is not None else script.split("__", 1)[-1].removesuffix(".sql").replace("_", " ")
    return HistoryRow(rank, Version.parse(version) if version else None, desc, kind, script, checksum, "flyway", AT,
                      10, success)  # fmt: skip


def files(tmp_path: Path, names: dict[str, str]) -> Path:
    for name, text in names.items():
        (tmp_path / name).write_text(text, encoding="utf-8")
    return tmp_path


def info_of(directory: Path, rows: list[HistoryRow]) -> FlywayInfo:
    folder = scan(directory)
    repeatables, _ = read_repeatables(directory.glob("*.sql"), lambda p: _decode(p.read_bytes()))
    return flyway_info(folder.migrations, repeatables, rows, classes=DEFAULT_CLASSES)


def states(info: FlywayInfo) -> list[tuple[str | None, str, str]]:
    return [(None if e.version is None else str(e.version), e.description, e.state) for e in info.entries]


def test_baseline_below_baseline_success_pending(tmp_path: Path) -> None:
    d = files(tmp_path, {"V1__a.sql": "SELECT 1;", "V2__b.sql": "SELECT 2;", "V3__c.sql": "SELECT 3;"})
    rows = [
        row(1, "2", "<< Flyway Baseline >>", kind="BASELINE", checksum=None, description="<< Flyway Baseline >>"),
    ]
    info = info_of(d, rows)
    assert states(info) == [
        ("V2", "<< Flyway Baseline >>", BASELINE),
        ("V1", "a", BELOW_BASELINE),
        ("V2", "b", BELOW_BASELINE),
        ("V3", "c", PENDING),
    ]
    assert info.baseline == Version((2,)) and [m.name for m in info.pending] == ["V3__c.sql"]
    assert info.problems == ()


def test_ignored_missing_future_failed(tmp_path: Path) -> None:
    d = files(tmp_path, {"V1__a.sql": "SELECT 1;", "V2__b.sql": "SELECT 2;", "V3__c.sql": "SELECT 3;"})
    rows = [
        row(1, "1", "V1__a.sql", checksum=flyway_checksum("SELECT 1;")),
        row(2, "3", "V3__c.sql", checksum=flyway_checksum("SELECT 3;"), success=False),
        row(3, "4", "V4__d.sql"),
    ]
    info = info_of(d, rows)
    by = {e.version: e for e in info.entries}
    assert by[Version((1,))].state == SUCCESS and by[Version((1,))].problem is None
    assert by[Version((2,))].state == IGNORED and "V4 is" in (by[Version((2,))].problem or "")
    assert by[Version((3,))].state == FAILED and "repair" in (by[Version((3,))].problem or "")
    assert by[Version((4,))].state == FUTURE
    assert len(info.problems) == 3 and info.pending == ()
    rows[2] = row(3, "2.5", "V2_5__d.sql")
    assert info_of(d, rows).state_of(Version((2, 5))) == MISSING


def test_ignored_is_judged_per_class(tmp_path: Path) -> None:
    d = files(tmp_path, {"V226__a.sql": "SELECT 1;", "V10000__t.sql": "SELECT 2;"})
    rows = [row(1, "10000", "V10000__t.sql", checksum=flyway_checksum("SELECT 2;"))]
    assert info_of(d, rows).state_of(Version((226,))) == PENDING


def test_changed_file_is_a_checksum_mismatch_naming_both_checksums(tmp_path: Path) -> None:
    d = files(tmp_path, {"V1__a.sql": "SELECT 2;"})
    info = info_of(d, [row(1, "1", "V1__a.sql", checksum=flyway_checksum("SELECT 1;"))])
    [problem] = info.problems
    assert "V1__a.sql: checksum mismatch" in problem
    assert str(flyway_checksum("SELECT 1;")) in problem and str(flyway_checksum("SELECT 2;")) in problem


def test_repeatable_success_outdated_superseded_pending(tmp_path: Path) -> None:
    d = files(tmp_path, {"R__views.sql": "CREATE VIEW v2 AS SELECT 2;"})
    old, older = flyway_checksum("CREATE VIEW v1 AS SELECT 1;"), flyway_checksum("CREATE VIEW v0 AS SELECT 0;")
    rows = [row(1, None, "R__views.sql", checksum=older), row(2, None, "R__views.sql", checksum=old)]
    info = info_of(d, rows)
    assert states(info) == [(None, "views", SUPERSEDED), (None, "views", OUTDATED), (None, "views", PENDING)]
    assert [r.name for r in info.pending_repeatables] == ["R__views.sql"]
    rows.append(row(3, None, "R__views.sql", checksum=flyway_checksum("CREATE VIEW v2 AS SELECT 2;")))
    info = info_of(d, rows)
    assert info.repeatable_state("views") == SUCCESS and info.pending_repeatables == ()


def test_repeatable_checksum_after_placeholders_decides(tmp_path: Path) -> None:
    d = files(tmp_path, {"R__grants.sql": "GRANT SELECT ON t TO ${role};"})
    after = flyway_checksum("GRANT SELECT ON t TO reporting;")
    repeatables, _ = read_repeatables(d.glob("*.sql"), lambda p: p.read_text())
    rows = [row(1, None, "R__grants.sql", checksum=after)]
    same = flyway_info((), repeatables, rows, repeatable_checksums={repeatables[0].path: after})
    assert same.pending_repeatables == ()
    other = flyway_info((), repeatables, rows, repeatable_checksums={repeatables[0].path: after + 1})
    assert len(other.pending_repeatables) == 1


def test_unknown_row_type_is_an_error_naming_the_row() -> None:
    values = (7, "3", "x", "MYSTERY", "V3__x.sql", 1, "flyway", AT, 1, True)
    with pytest.raises(MigrationError, match="row 7 has type 'MYSTERY'"):
        row_from_db(values)


# -- repair ---------------------------------------------------------------------------------------


def test_fingerprint_ignores_layout_and_comments_only() -> None:
    base = "CREATE TABLE a (id int, note text DEFAULT 'x  y');\n"
    assert sql_fingerprint(base) == sql_fingerprint(
        "-- a comment\nCREATE  TABLE a(\n  id int , /* c */ note text\n DEFAULT 'x  y' ) ;"
    )
    assert sql_fingerprint(base) != sql_fingerprint(base.replace("'x  y'", "'x y'"))  # inside a string
    assert sql_fingerprint(base) != sql_fingerprint(base.replace("int", "bigint"))
    assert sql_fingerprint("SELECT a b") != sql_fingerprint("SELECT ab")
    assert sql_fingerprint("SELECT $$a  b$$") != sql_fingerprint("SELECT $$a b$$")


def test_repair_plan_removes_failed_rows_and_realigns_only_cosmetic_changes(tmp_path: Path) -> None:
    applied_1, applied_2 = "SELECT 1;\n", "SELECT 2;\n"
    d = files(
        tmp_path, {"V1__a.sql": "-- explained now\nSELECT   1;\n", "V2__b.sql": "SELECT 3;\n", "V3__c.sql": "SELECT 4;"}
    )
    rows = [
        row(1, "1", "V1__a.sql", checksum=flyway_checksum(applied_1)),
        row(2, "2", "V2__b.sql", checksum=flyway_checksum(applied_2)),
        row(3, "3", "V3__c.sql", checksum=flyway_checksum("SELECT 4;"), success=False),
    ]
    info = info_of(d, rows)
    folder = scan(d)
    plan = plan_repair(info, rows, folder.migrations, {"V1__a.sql": applied_1, "V2__b.sql": applied_2})
    assert [r.installed_rank for r in plan.remove] == [3]
    assert [(a.script, a.checksum) for a in plan.realign] == [
        ("V1__a.sql", flyway_checksum("-- explained now\nSELECT   1;\n"))
    ]
    assert len(plan.refused) == 1 and plan.refused[0].startswith("V2__b.sql: changed beyond whitespace")
    unknown = plan_repair(info, rows, folder.migrations, {})
    assert unknown.realign == () and len(unknown.refused) == 2 and "not known" in unknown.refused[0]


def test_repair_plan_marks_missing_and_future_migrations_deleted(tmp_path: Path) -> None:
    # Flyway's repair (deleteMissingMigrations): an applied migration whose file is gone gets a
    # DELETE row, Missing or Future alike; a failed one is removed instead.
    d = files(tmp_path, {"V1__a.sql": "SELECT 1;", "V3__c.sql": "SELECT 3;"})
    rows = [
        row(1, "1", "V1__a.sql", checksum=flyway_checksum("SELECT 1;")),
        row(2, "2", "V2__b.sql"),
        row(3, "3", "V3__c.sql", checksum=flyway_checksum("SELECT 3;")),
        row(4, "4", "V4__d.sql"),
        row(5, None, "R__gone.sql"),
        row(6, "5", "V5__e.sql", success=False),
    ]
    info = info_of(d, rows)
    plan = plan_repair(info, rows, scan(d).migrations, {})
    assert [r.script for r in plan.delete] == ["V2__b.sql", "V4__d.sql", "R__gone.sql"]
    assert [r.installed_rank for r in plan.remove] == [6] and not plan.empty
    assert [r["script"] for r in plan.to_dict()["delete"]] == ["V2__b.sql", "V4__d.sql", "R__gone.sql"]


def test_a_delete_row_ends_what_came_before_it(tmp_path: Path) -> None:
    d = files(tmp_path, {"V1__a.sql": "SELECT 1;"})
    gone = [row(1, "1", "V1__a.sql", checksum=flyway_checksum("SELECT 1;")), row(2, "2", "V2__b.sql"),
            row(3, None, "R__gone.sql"), row(4, "2", "V2__b.sql", kind="DELETE"),
            row(5, None, "R__gone.sql", kind="DELETE")]  # fmt: skip
    info = info_of(d, gone)
    assert info.problems == ()
    assert ("V2", "b", DELETED) in states(info) and (None, "gone", DELETED) in states(info)
    back = info_of(files(tmp_path, {"R__gone.sql": "SELECT 0;"}), gone)  # the file comes back: it runs again
    assert [r.name for r in back.pending_repeatables] == ["R__gone.sql"] and back.problems == ()


# -- on a real PostgreSQL: the seed built by Flyway ----------------------------------------------

pg = pytest.mark.postgres


@pg
def test_seed_history_reads_as_flyway_wrote_it(pg_dsn: str, tmp_path: Path) -> None:
    d = seed_folder(tmp_path / "migrations")
    written = seed_database(pg_dsn, d)
    with psycopg.connect(pg_dsn, autocommit=True) as conn:
        rows = [row_from_db(r) for r in conn.execute(select_sql("public", "flyway_schema_history")).fetchall()]
    assert len(rows) == len(written) == 12
    info = info_of(d, rows)
    assert info.problems == ()
    by_state: dict[str, list[str]] = {}
    for e in info.entries:
        by_state.setdefault(e.state, []).append(e.script)
    assert by_state[BASELINE] == ["<< Flyway Baseline >>"]
    assert len(by_state[SUCCESS]) == 10 + 1  # V100, V214-V225 but the gaps V217, V219, V220; R__
    assert PENDING not in by_state
    (d / "V226__order_notes.sql").write_text(V226, encoding="utf-8")
    info = info_of(d, rows)
    assert [m.name for m in info.pending] == ["V226__order_notes.sql"] and info.problems == ()
    (d / "R__rls_policies.sql").write_text(RLS_POLICIES_EDITED, encoding="utf-8")
    info = info_of(d, rows)
    assert info.repeatable_state("rls_policies") == PENDING
    assert [e.state for e in info.entries if e.category == "Repeatable"] == [OUTDATED, PENDING]


@pg
def test_rows_seasongate_builds_are_the_rows_flyway_writes(pg_dsn: str, tmp_path: Path) -> None:
    d = seed_folder(tmp_path / "migrations")
    written = seed_database(pg_dsn, d)
    folder = scan(d)
    script = folder.by_version()[Version((225,))]
    ours = migration_row(script, folder=d, installed_rank=100, installed_by="flyway", execution_ms=52, success=True)
    base = baseline_row(Version((1,)), installed_rank=101, installed_by="flyway")
    with psycopg.connect(pg_dsn, autocommit=True) as conn:
        conn.execute(insert_sql("public", "flyway_schema_history"), ours.params())
        conn.execute(insert_sql("public", "flyway_schema_history"), base.params())
    rows = {r[0]: r for r in history_rows(pg_dsn)}
    flyways = next(r for r in written if r[4] == script.name)
    # Every column but the rank, the time and the duration is what Flyway wrote for V225.
    assert rows[100][1:6] == flyways[1:6] and rows[100][6] == "flyway" and rows[100][9] is True
    assert rows[101][1:6] == written[0][1:6] and rows[101][8] == 0


@pg
def test_flyways_lock_and_ours_exclude_each_other(pg_dsn: str) -> None:
    key = lock_key("public", "flyway_schema_history")
    with psycopg.connect(pg_dsn, autocommit=True) as ours, psycopg.connect(pg_dsn, autocommit=True) as flyway:
        ours.execute("SELECT pg_advisory_lock(%s)", (key,))
        # Flyway's default (postgresql.transactional.lock=true) and its session-level mode.
        with flyway.transaction():
            assert flyway.execute(f"SELECT pg_try_advisory_xact_lock({key})").fetchone() == (False,)
        assert flyway.execute(f"SELECT pg_try_advisory_lock({key})").fetchone() == (False,)
        ours.execute("SELECT pg_advisory_unlock(%s)", (key,))
        assert flyway.execute(f"SELECT pg_try_advisory_lock({key})").fetchone() == (True,)


# -- on a real PostgreSQL: lock, baseline, repair, clean ------------------------------------------


@pg
def test_a_running_flyway_holds_the_lock_and_is_named(pg_dsn: str) -> None:
    from seasongate._executor._flyway_db import FlywayLockBusy, release_flyway_lock, take_flyway_lock

    key = lock_key("public", "flyway_schema_history")
    with psycopg.connect(pg_dsn, autocommit=True, application_name="Flyway by Redgate") as flyway, \
            psycopg.connect(pg_dsn, autocommit=True) as ours:  # fmt: skip
        flyway.execute(f"SELECT pg_advisory_lock({key})")
        with pytest.raises(FlywayLockBusy, match=r"held by pid \d+ \(Flyway by Redgate"):
            take_flyway_lock(ours, "public", "flyway_schema_history", wait=0.2)
        flyway.execute(f"SELECT pg_advisory_unlock({key})")
        assert take_flyway_lock(ours, "public", "flyway_schema_history", wait=0.2) == key
        assert flyway.execute(f"SELECT pg_try_advisory_lock({key})").fetchone() == (False,)
        release_flyway_lock(ours, "public", "flyway_schema_history")
        assert flyway.execute(f"SELECT pg_try_advisory_lock({key})").fetchone() == (True,)


@pg
def test_baseline_creates_flyways_table_and_row(pg_dsn: str) -> None:
    from seasongate._executor._flyway_db import read_history, write_baseline

    with psycopg.connect(pg_dsn, autocommit=True) as conn:
        done = write_baseline(conn, "public", "flyway_schema_history", Version((225,)), installed_by=None)
        assert done.created_table and not done.already and done.installed_rank == 1
        again = write_baseline(conn, "public", "flyway_schema_history", Version((225,)), installed_by=None)
        assert again.already
        with pytest.raises(MigrationError, match="already baselined at V225"):
            write_baseline(conn, "public", "flyway_schema_history", Version((300,)), installed_by=None)
        [row_] = read_history(conn, "public", "flyway_schema_history")
        columns = conn.execute(
            "SELECT column_name, data_type, is_nullable FROM information_schema.columns "
            "WHERE table_name = 'flyway_schema_history' ORDER BY ordinal_position"
        ).fetchall()
        user = conn.execute("SELECT current_user").fetchone()
    assert (row_.version, row_.type, row_.description, row_.script, row_.checksum, row_.execution_time) == (
        Version((225,)), "BASELINE", "<< Flyway Baseline >>", "<< Flyway Baseline >>", None, 0,
    )  # fmt: skip
    assert user is not None and row_.installed_by == user[0]
    assert [c[0] for c in columns][:10] == ["installed_rank", "version", "description", "type", "script", "checksum",
                                            "installed_by", "installed_on", "execution_time", "success"]  # fmt: skip
    assert dict((c[0], c[1]) for c in columns)["installed_on"] == "timestamp without time zone"


@pg
def test_baseline_refuses_a_history_with_migrations(pg_dsn: str, tmp_path: Path) -> None:
    from seasongate._executor._flyway_db import write_baseline

    seed_database(pg_dsn, seed_folder(tmp_path / "m"))
    with psycopg.connect(pg_dsn, autocommit=True) as conn:
        conn.execute("DELETE FROM flyway_schema_history WHERE type = 'BASELINE'")
        with pytest.raises(MigrationError, match=r"already holds 11 migration row\(s\)"):
            write_baseline(conn, "public", "flyway_schema_history", Version((225,)), installed_by="x")


@pg
def test_repair_removes_failed_rows_and_realigns_checksums(pg_dsn: str, tmp_path: Path) -> None:
    from seasongate._executor._flyway_db import apply_repair, read_history

    d = seed_folder(tmp_path / "m")
    seed_database(pg_dsn, d)
    original = (d / "V100__customer_notes.sql").read_text()
    (d / "V100__customer_notes.sql").write_text("-- reviewed 2026\n" + original.replace("    ", "  "))
    with psycopg.connect(pg_dsn, autocommit=True) as conn:
        conn.execute(
            "INSERT INTO flyway_schema_history VALUES (13, '226', 'x', 'SQL', 'V226__x.sql', 1, 'flyway', now(), 5, false)"
        )
        rows = read_history(conn, "public", "flyway_schema_history")
        folder = scan(d)
        info = info_of(d, rows)
        assert any("V100__customer_notes.sql: checksum mismatch" in p for p in info.problems)
        plan = plan_repair(info, rows, folder.migrations, {"V100__customer_notes.sql": original})
        assert [r.installed_rank for r in plan.remove] == [13] and len(plan.realign) == 1
        apply_repair(conn, "public", "flyway_schema_history", plan)
        after = read_history(conn, "public", "flyway_schema_history")
    assert [r.installed_rank for r in after] == list(range(1, 13))
    assert info_of(d, after).problems == ()


@pg
def test_repair_marks_a_missing_migration_deleted_as_flyway_does(pg_dsn: str, tmp_path: Path) -> None:
    from seasongate._executor._flyway_db import apply_repair, read_history

    d = seed_folder(tmp_path / "m")
    seed_database(pg_dsn, d)
    (d / "V100__customer_notes.sql").unlink()
    with psycopg.connect(pg_dsn, autocommit=True) as conn:
        rows = read_history(conn, "public", "flyway_schema_history")
        info = info_of(d, rows)
        assert any(p.startswith("V100__customer_notes.sql") and "(Missing)" in p for p in info.problems)
        plan = plan_repair(info, rows, scan(d).migrations, {})
        [applied] = plan.delete
        apply_repair(conn, "public", "flyway_schema_history", plan, installed_by="dba")
        after = read_history(conn, "public", "flyway_schema_history")
    marker = after[-1]
    assert len(after) == len(rows) + 1 and marker.installed_rank == max(r.installed_rank for r in rows) + 1
    assert (marker.version, marker.description, marker.type, marker.script, marker.checksum) == (
        applied.version, applied.description, "DELETE", applied.script, applied.checksum,
    )  # fmt: skip
    assert (marker.installed_by, marker.execution_time, marker.success) == ("dba", 0, True)
    assert info_of(d, after).problems == ()


@pg
def test_a_long_description_is_abbreviated_as_flyway_abbreviates_it(pg_dsn: str, tmp_path: Path) -> None:
    from seasongate._executor import AllowAll, ExecutorOptions, build_plan, open_session, run_steps

    words = "_".join(["keep", "the", "customer", "notes", "apart"] * 8)  # 239 characters
    d = files(tmp_path, {f"V1__{words}.sql": "CREATE TABLE long_named (id int);"})
    with open_session(pg_dsn, ExecutorOptions(table="flyway_schema_history", lock_wait=5)) as session:
        plan = build_plan(scan(d), session.history())
        run_steps(session, plan.apply_steps(), AllowAll(), operation="migrate")
        [written] = session.history()
    assert written.description == words.replace("_", " ")[:197] + "..." and len(written.description) == 200


@pg
def test_clean_drops_every_object_but_keeps_the_schema(pg_dsn: str, tmp_path: Path) -> None:
    from seasongate._executor._clean import clean_schemas

    seed_database(pg_dsn, seed_folder(tmp_path / "m"))
    with psycopg.connect(pg_dsn, autocommit=True) as conn:
        conn.execute(
            "CREATE TYPE mood AS ENUM ('ok'); CREATE DOMAIN posint AS int CHECK (VALUE > 0);"
            "CREATE FUNCTION f(a int) RETURNS int LANGUAGE sql AS 'SELECT a';"
            "CREATE VIEW v AS SELECT 1 AS one; CREATE MATERIALIZED VIEW mv AS SELECT 1 AS one;"
            "CREATE SEQUENCE s; COMMENT ON SCHEMA public IS 'kept'"
        )
        dropped = clean_schemas(conn, ["public"])
        left = conn.execute(
            "SELECT (SELECT count(*) FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace WHERE n.nspname = 'public')"
            " + (SELECT count(*) FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace WHERE n.nspname = 'public')"
            " + (SELECT count(*) FROM pg_type t JOIN pg_namespace n ON n.oid = t.typnamespace WHERE n.nspname = 'public')"
        ).fetchone()
        comment = conn.execute("SELECT obj_description('public'::regnamespace)").fetchone()
    assert left == (0,) and comment == ("kept",)
    assert "TABLE public.flyway_schema_history" in dropped and "TYPE public.mood" in dropped


def test_the_applied_text_is_found_in_git_by_its_checksum(tmp_path: Path) -> None:
    import subprocess

    from seasongate._executor._vcs import applied_text

    def git(*args: str) -> None:
        subprocess.run(["git", "-c", "user.name=t", "-c", "user.email=t@example.org", *args], cwd=tmp_path,
                       check=True, capture_output=True)  # fmt: skip

    path = tmp_path / "migrations" / "V100__customer_notes.sql"
    path.parent.mkdir()
    assert applied_text(path, 1) is None  # not a repository
    git("init", "-q")
    path.write_text("CREATE TABLE a (id int);\n")
    git("add", ".")
    git("commit", "-qm", "V100")
    path.write_text("-- notes\nCREATE TABLE a (id  int);\n")
    git("commit", "-qam", "reformat")
    path.write_text("CREATE TABLE a (id bigint);\n")  # uncommitted
    assert applied_text(path, flyway_checksum("CREATE TABLE a (id int);\n")) == "CREATE TABLE a (id int);\n"
    assert (
        applied_text(path, flyway_checksum("-- notes\nCREATE TABLE a (id  int);\n"))
        == "-- notes\nCREATE TABLE a (id  int);\n"
    )
    assert applied_text(path, 12345) is None
