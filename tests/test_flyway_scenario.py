"""The scenario of issue 12, end to end through the CLI on a real PostgreSQL.

A CRM database that Flyway built (V1 baseline, V100, V214-V225 with the declared gap
V217/V219/V220, a repeatable R__rls_policies.sql) is taken over by seasongate in place:
``info`` shows it applied and V226 pending, ``migrate`` in an allowed window applies only
V226 (gated, audited) and appends a row in Flyway's format, a changed V100 is refused with its
checksum named, ``repair --dry-run`` shows the fix, an edited repeatable runs again, and the
history stays one Flyway itself reads without a problem.
"""

from __future__ import annotations

import json
import sqlite3
import subprocess
from collections.abc import Callable
from datetime import datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import psycopg
import pytest
from click.testing import CliRunner, Result

from seasongate import api
from seasongate._executor import flyway_checksum, read_history, scan
from seasongate._executor._flyway import lock_key
from seasongate._executor._flyway_info import flyway_info
from seasongate._executor._repeatables import read_repeatables, read_text
from seasongate.cli import main
from tests.conftest import POLICIES
from tests.flyway_seed import RLS_POLICIES_EDITED, V226, history_rows, seed_database, seed_folder

pytestmark = pytest.mark.postgres

SATURDAY_NIGHT = "2026-01-10T22:00+01:00"  # production allows changes (no peak, no holiday, no business hours)
MONDAY_MORNING = "2026-01-12T10:00+01:00"  # business hours: production and repeatable classes denied


SATURDAY = datetime(2026, 1, 10, 22, 0, tzinfo=ZoneInfo("Europe/Berlin"))
MONDAY = datetime(2026, 1, 12, 10, 0, tzinfo=ZoneInfo("Europe/Berlin"))


def cli(*args: str) -> Result:
    return CliRunner().invoke(main, list(args), catch_exceptions=False)


def frozen(at: datetime) -> Callable[[], datetime]:
    return lambda: at


def api_args(crm: dict[str, object], at: datetime) -> dict[str, Any]:
    """What the acting commands take through the API: the clock frozen in a window (the CLI's
    --at judges another instant but never acts)."""
    return {
        "dsn": crm["dsn"], "environment": "production", "territory": "DE", "now": frozen(at),
        "policy": POLICIES / "production.yaml", "store": f"sqlite:///{crm['store']}",
        "options": api.ExecutorOptions(table="flyway_schema_history"),
    }  # fmt: skip


def git(directory: Path, *args: str) -> None:
    subprocess.run(
        ["git", "-c", "user.name=dba", "-c", "user.email=dba@example.org", *args],
        cwd=directory, check=True, capture_output=True,
    )  # fmt: skip


@pytest.fixture
def crm(pg_dsn: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> dict[str, object]:
    """The seed's database and its migrations folder (a git repository), and the options
    every command takes."""
    monkeypatch.chdir(tmp_path)
    for name in ("SEASONGATE_DSN", "SEASONGATE_STORE", "SEASONGATE_MIGRATIONS"):
        monkeypatch.delenv(name, raising=False)
    folder = seed_folder(tmp_path / "migrations")
    seed_database(pg_dsn, folder)
    git(tmp_path, "init", "-q")
    git(tmp_path, "add", ".")
    git(tmp_path, "commit", "-qm", "the CRM's migrations as Flyway applied them")
    store = tmp_path / "audit.db"
    base = [
        "--dsn", pg_dsn, "--env", "production", "-t", "DE", "--policy", str(POLICIES / "production.yaml"),
        "--migrations", str(folder), "--table", "flyway_schema_history", "--store", f"sqlite:///{store}",
    ]  # fmt: skip
    return {"dsn": pg_dsn, "folder": folder, "base": base, "store": store}


def audit_actions(store: Path) -> list[tuple[str, str]]:
    with sqlite3.connect(store) as db:
        return [(r[0], r[1]) for r in db.execute("SELECT action, subject FROM audit ORDER BY seq")]


def as_flyway_sees_it(dsn: str, folder: Path) -> object:
    """Flyway's own view of the history: its states and validation problems."""
    with psycopg.connect(dsn, autocommit=True) as conn:
        rows = read_history(conn, "public", "flyway_schema_history")
    repeatables, _ = read_repeatables(folder.glob("*.sql"), read_text)
    return flyway_info(scan(folder).migrations, repeatables, rows)


def test_the_scenario_that_proves_it(crm: dict[str, object]) -> None:
    dsn, folder, base = str(crm["dsn"]), Path(str(crm["folder"])), list(crm["base"])  # type: ignore[call-overload]
    (folder / "V226__order_notes.sql").write_text(V226, encoding="utf-8")

    # info: V1 (baseline) to V225 applied, the gap declared, V226 pending and allowed now.
    shown = cli("info", *base, "--at", SATURDAY_NIGHT, "--format", "json")
    assert shown.exit_code == 0, shown.output
    info = {
        m["version"] + (m["script"] or "" if m["version"] == "R" else ""): m
        for m in json.loads(shown.output)["migrations"]
    }
    assert info["V1"]["state"] == "baseline" and info["V1"]["flyway_state"] == "Baseline"
    applied = [v for v, m in info.items() if m["state"] == "applied"]
    assert applied == ["V100", "V214", "V215", "V216", "V218", "V221", "V222", "V223", "V224", "V225",
                       "RR__rls_policies.sql"]  # fmt: skip
    assert all(info[v]["flyway_state"] == "Success" for v in applied)
    assert [v for v, m in info.items() if m["state"] == "ignored gap"][:1] == ["V101"]
    assert {"V217", "V219", "V220"} <= {v for v, m in info.items() if m["state"] == "ignored gap"}
    assert info["V226"]["state"] == "pending" and info["V226"]["flyway_state"] == "Pending"
    assert info["V226"]["verdict"] == "allow"
    text = {line.split()[0]: line.split() for line in cli("info", *base, "--at", SATURDAY_NIGHT).output.splitlines()}
    assert text["V101-V213"][1:3] == ["ignored", "gap"]
    assert text["V226"][-5:] == ["Pending", "-", "-", "-", "allow"]
    assert text["R__rls_policies.sql"][3:5] == ["applied", "Success"]

    # migrate in the allowed window: only V226 runs, gated and audited, in Flyway's format.
    before = history_rows(dsn)
    ran = api.migrate(migrations=folder, **api_args(crm, SATURDAY))
    assert ran.exit_code == 0, ran.to_dict()
    assert [(str(s.version), s.status, s.verdict) for s in ran.steps] == [("V226", "applied", "allow")]
    after = history_rows(dsn)
    assert after[: len(before)] == before  # nothing Flyway wrote was touched
    [new] = after[len(before) :]
    with psycopg.connect(dsn, autocommit=True) as conn:
        user = conn.execute("SELECT current_user").fetchone()
        facts = conn.execute(
            "SELECT gate_verdict, sha256 IS NOT NULL, transactional, audit_seq IS NOT NULL "
            "FROM flyway_schema_history_seasongate WHERE installed_rank = %s",
            (new[0],),
        ).fetchone()
        assert conn.execute("SELECT to_regclass('order_notes') IS NOT NULL").fetchone() == (True,)
    assert user is not None
    assert new[0] == before[-1][0] + 1
    assert new[1:7] == ("226", "order notes", "SQL", "V226__order_notes.sql", flyway_checksum(V226), user[0])
    assert isinstance(new[8], int) and new[8] >= 0 and new[9] is True
    assert facts == ("allow", True, True, True)
    assert [a for a, _ in audit_actions(Path(str(crm["store"])))][-2:] == ["migration.start", "migration.apply"]

    # A changed V100 (here: only reformatted and commented) is refused, its checksums named.
    v100 = folder / "V100__customer_notes.sql"
    original = v100.read_text(encoding="utf-8")
    v100.write_text("-- Reviewed 2026: notes stay free text.\n" + original.replace("    ", "  "), encoding="utf-8")
    refused = cli("migrate", *base, "--at", SATURDAY_NIGHT, "--dry-run")
    assert refused.exit_code == 2
    assert "V100__customer_notes.sql" in refused.output
    assert str(flyway_checksum(original)) in refused.output and str(flyway_checksum(v100.read_text())) in refused.output

    # repair --dry-run shows the fix and changes nothing; repair (allowed now) makes it.
    dry = cli("repair", *base, "--at", SATURDAY_NIGHT, "--dry-run")
    assert dry.exit_code == 0, dry.output
    assert (
        f"would realign checksum of V100__customer_notes.sql: {flyway_checksum(original)} -> "
        f"{flyway_checksum(v100.read_text())} (whitespace/comments only)" in dry.output
    )
    assert history_rows(dsn) == after
    denied = api.repair(migrations=folder, **api_args(crm, MONDAY))
    assert denied.status == "denied" and "business-hours" in denied.reason and history_rows(dsn) == after
    fixed = api.repair(migrations=folder, **api_args(crm, SATURDAY))
    assert fixed.status == "ok" and fixed.exit_code == 0 and len(fixed.plan.realign) == 1
    assert "migration.repair" in [a for a, _ in audit_actions(Path(str(crm["store"])))]

    # A real change to a migration is never realigned.
    git(folder.parent, "commit", "-qam", "V100: reformatted")
    v100.write_text(original.replace("body text NOT NULL", "body text"), encoding="utf-8")
    real = cli("repair", *base, "--at", SATURDAY_NIGHT, "--dry-run")
    assert real.exit_code == 1 and "changed beyond whitespace and comments" in real.output
    v100.write_text("-- Reviewed 2026: notes stay free text.\n" + original.replace("    ", "  "), encoding="utf-8")

    # The edited repeatable runs again (gated as the class `repeatable`), only it.
    (folder / "R__rls_policies.sql").write_text(RLS_POLICIES_EDITED, encoding="utf-8")
    weekday = cli("migrate", *base, "--at", MONDAY_MORNING, "--dry-run", "--format", "json")
    assert weekday.exit_code == 1
    assert "repeatables-business-hours" in json.loads(weekday.output)["steps"][0]["reason"]
    again = api.migrate(migrations=folder, **api_args(crm, SATURDAY))
    assert again.exit_code == 0, again.to_dict()
    assert [(str(s.version), s.script, s.status) for s in again.steps] == [("R", "R__rls_policies.sql", "applied")]
    last = history_rows(dsn)[-1]
    assert (last[1], last[2], last[3], last[4]) == (None, "rls policies", "SQL", "R__rls_policies.sql")
    assert last[5] == flyway_checksum(RLS_POLICIES_EDITED)
    with psycopg.connect(dsn, autocommit=True) as conn:
        assert conn.execute("SELECT count(*) FROM pg_policies WHERE policyname = 'orders_reporting'").fetchone() == (1,)
    assert api.migrate(migrations=folder, **api_args(crm, SATURDAY)).steps == ()

    # Flyway itself would find nothing to complain about, and nothing to do.
    flyway = as_flyway_sees_it(dsn, folder)
    assert flyway.problems == () and flyway.pending == () and flyway.pending_repeatables == ()  # type: ignore[attr-defined]


def test_a_running_flyway_keeps_seasongate_out(crm: dict[str, object]) -> None:
    dsn, folder, base = str(crm["dsn"]), Path(str(crm["folder"])), list(crm["base"])  # type: ignore[call-overload]
    (folder / "V226__order_notes.sql").write_text(V226, encoding="utf-8")
    key = lock_key("public", "flyway_schema_history")
    with psycopg.connect(dsn, autocommit=True, application_name="Flyway by Redgate") as flyway:
        flyway.execute(f"SELECT pg_advisory_lock({key})")
        busy = cli("migrate", *base, "--lock-wait", "1s")
    assert busy.exit_code == 2
    assert "Flyway's migration lock" in busy.output and "Flyway by Redgate" in busy.output
    assert len(history_rows(dsn)) == 12


def test_placeholders_and_callbacks_in_the_run(crm: dict[str, object]) -> None:
    dsn, folder, base = str(crm["dsn"]), Path(str(crm["folder"])), list(crm["base"])  # type: ignore[call-overload]
    (folder / "V226__territory_notes.sql").write_text(
        "CREATE TABLE notes_${territory} (id int, made_by text DEFAULT '${flyway:user}');\n", encoding="utf-8"
    )
    (folder / "beforeMigrate.sql").write_text("SELECT set_config('app.territory', '${territory}', false);\n")
    (folder / "beforeEachMigrate.sql").write_text(
        "SET LOCAL lock_timeout = '3s';\n"
        "DO $$ BEGIN IF current_setting('app.territory', true) IS DISTINCT FROM '${territory}' THEN\n"
        "  RAISE EXCEPTION 'app.territory is not ${territory}'; END IF; END $$;\n"
    )
    (folder / "afterEachMigrate.sql").write_text(
        "CREATE TABLE IF NOT EXISTS callback_log (what text, lock_timeout text);\n"
        "INSERT INTO callback_log VALUES ('${flyway:filename}', current_setting('lock_timeout'));\n"
    )
    missing = cli("migrate", *base, "--at", SATURDAY_NIGHT, "--dry-run")
    assert missing.exit_code == 2
    assert "V226__territory_notes.sql:1:20: no value for placeholder ${territory}" in missing.output
    assert len(history_rows(dsn)) == 12  # nothing ran
    ran = api.migrate(migrations=folder, placeholders={"territory": "de"}, **api_args(crm, SATURDAY))
    assert ran.exit_code == 0, ran.to_dict()
    with psycopg.connect(dsn, autocommit=True) as conn:
        assert conn.execute("SELECT * FROM callback_log").fetchall() == [("afterEachMigrate.sql", "3s")]
        assert conn.execute("SELECT to_regclass('notes_de') IS NOT NULL").fetchone() == (True,)
    # The checksum of a versioned script is the raw file's, as Flyway computes it.
    assert history_rows(dsn)[-1][5] == flyway_checksum((folder / "V226__territory_notes.sql").read_text())


def test_an_unsupported_flyway_callback_is_refused(crm: dict[str, object]) -> None:
    folder, base = Path(str(crm["folder"])), list(crm["base"])  # type: ignore[call-overload]
    (folder / "beforeClean.sql").write_text("SELECT 1;\n")
    refused = cli("migrate", *base, "--at", SATURDAY_NIGHT, "--dry-run")
    assert refused.exit_code == 2 and "beforeClean.sql" in refused.output and "E020" in refused.output


def test_baseline_and_baseline_on_migrate(pg_dsn: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    folder = seed_folder(tmp_path / "migrations")
    (folder / "V226__order_notes.sql").write_text(V226, encoding="utf-8")
    with psycopg.connect(pg_dsn, autocommit=True) as conn:  # the schema exists, the history does not
        for path in sorted(folder.glob("V*.sql")):
            conn.execute(path.read_text().encode())
    base = ["--dsn", pg_dsn, "--env", "production", "-t", "DE", "--policy", str(POLICIES / "production.yaml"),
            "--migrations", str(folder), "--table", "flyway_schema_history", "--no-store"]  # fmt: skip
    done = cli("baseline", *base, "--version", "V226")
    assert done.exit_code == 0 and "Baselined flyway_schema_history at V226 (installed_rank 1)" in done.output
    [row] = history_rows(pg_dsn)
    assert row[1:6] == ("226", "<< Flyway Baseline >>", "BASELINE", "<< Flyway Baseline >>", None)
    shown = json.loads(cli("info", *base, "--at", SATURDAY_NIGHT, "--format", "json").output)
    states = {m["version"]: m["state"] for m in shown["migrations"] if m["version"] != "R"}
    assert states["V100"] == states["V226"] == "baseline"
    again = cli("baseline", *base, "--version", "V300")
    assert again.exit_code == 2 and "already baselined at V226" in again.output

    with psycopg.connect(pg_dsn, autocommit=True) as conn:
        conn.execute("DROP TABLE flyway_schema_history CASCADE; DROP TABLE order_notes")
    ran = api.migrate(
        migrations=folder, baseline_on_migrate="V225",
        **{**api_args({"dsn": pg_dsn, "store": tmp_path / "a.db"}, SATURDAY)},
    )  # fmt: skip
    assert ran.exit_code == 0, ran.to_dict()
    assert [(str(s.version), s.status) for s in ran.steps] == [("V226", "applied"), ("R", "applied")]
    rows = history_rows(pg_dsn)
    assert [(r[0], r[1], r[3]) for r in rows] == [(1, "225", "BASELINE"), (2, "226", "SQL"), (3, None, "SQL")]


def test_clean_is_refused_where_the_policy_protects_and_works_elsewhere(
    crm: dict[str, object], monkeypatch: pytest.MonkeyPatch
) -> None:
    dsn, folder = str(crm["dsn"]), Path(str(crm["folder"]))
    refused = cli("clean", "--dsn", dsn, "--env", "production", "-t", "DE", "--policy", str(POLICIES / "production.yaml"),
                  "--no-store")  # fmt: skip
    assert refused.exit_code == 2 and "refused outright in production" in refused.output
    assert len(history_rows(dsn)) == 12
    staging = ["--dsn", dsn, "-t", "DE", "--policy", str(POLICIES / "staging.yaml"), "--no-store",
               "--migrations", str(folder)]  # fmt: skip
    assert "refused outright in staging" in cli("clean", *staging, "--env", "staging").output
    dry = cli("clean", *staging, "--env", "development", "--dry-run")
    assert dry.exit_code == 0 and "would drop TABLE public.customers" in dry.output
    assert len(history_rows(dsn)) == 12
    done = cli("clean", *staging, "--env", "development")
    assert done.exit_code == 0, done.output
    with psycopg.connect(dsn, autocommit=True) as conn:
        assert conn.execute("SELECT count(*) FROM pg_tables WHERE schemaname = 'public'").fetchone() == (0,)


def test_repair_realigns_a_row_seasongate_wrote_and_its_facts(crm: dict[str, object]) -> None:
    folder, base = Path(str(crm["folder"])), list(crm["base"])  # type: ignore[call-overload]
    v226 = folder / "V226__order_notes.sql"
    v226.write_text(V226, encoding="utf-8")
    git(folder.parent, "add", ".")
    git(folder.parent, "commit", "-qm", "V226")
    assert api.migrate(migrations=folder, **api_args(crm, SATURDAY)).exit_code == 0
    v226.write_text(V226.replace("CREATE TABLE", "-- notes per order\nCREATE TABLE"), encoding="utf-8")
    assert cli("migrate", *base, "--at", SATURDAY_NIGHT, "--dry-run").exit_code == 2
    fixed = api.repair(migrations=folder, **api_args(crm, SATURDAY))
    assert fixed.status == "ok" and [a.script for a in fixed.plan.realign] == ["V226__order_notes.sql"]
    checked = cli("migrate", *base, "--at", SATURDAY_NIGHT, "--dry-run")
    assert checked.exit_code == 0, checked.output  # checksum and SHA-256 both follow the file now


def test_the_configuration_file_gives_every_command_its_settings(
    crm: dict[str, object], monkeypatch: pytest.MonkeyPatch
) -> None:
    dsn, folder = str(crm["dsn"]), Path(str(crm["folder"]))
    (folder / "V226__territory_notes.sql").write_text("CREATE TABLE notes_${territory} (id int);\n", encoding="utf-8")
    Path("seasongate.toml").write_text(
        f'policy = "{POLICIES / "production.yaml"}"\ndsn_env = "CRM_DATABASE_URL"\nmigrations = "{folder}"\n'
        'table = "flyway_schema_history"\n\n[placeholders]\nterritory = "ch"\n',
        encoding="utf-8",
    )
    monkeypatch.setenv("CRM_DATABASE_URL", dsn)
    shown = cli("migrate", "--env", "production", "-t", "DE", "--no-store", "--at", SATURDAY_NIGHT, "--dry-run",
                "--format", "json")  # fmt: skip
    assert shown.exit_code == 0, shown.output
    assert [s["script"] for s in json.loads(shown.output)["steps"]] == ["V226__territory_notes.sql"]
    settings = json.loads(cli("config", "--format", "json").output)["settings"]
    assert settings["table"]["source"] == "seasongate.toml:4"
    assert settings["dsn"]["source"] == "env CRM_DATABASE_URL (dsn_env, seasongate.toml:2)"


def test_after_each_migrate_error_runs_when_a_migration_fails(crm: dict[str, object]) -> None:
    dsn, folder = str(crm["dsn"]), Path(str(crm["folder"]))
    (folder / "V226__broken.sql").write_text("CREATE TABLE t226 (id int);\nSELECT no_such_column FROM t226;\n")
    (folder / "afterEachMigrateError.sql").write_text("CREATE TABLE failure_seen (at timestamptz DEFAULT now());\n")
    (folder / "afterMigrateError.sql").write_text("INSERT INTO failure_seen DEFAULT VALUES;\n")
    report = api.migrate(migrations=folder, **api_args(crm, SATURDAY))
    assert report.status == "failed" and "V226__broken.sql:2" in (report.error or "")
    with psycopg.connect(dsn, autocommit=True) as conn:
        assert conn.execute("SELECT count(*) FROM failure_seen").fetchone() == (1,)
        assert conn.execute("SELECT to_regclass('t226')").fetchone() == (None,)  # rolled back


def test_a_misspelt_keyword_is_refused_not_defaulted() -> None:
    # use_store=False misspelt must not quietly write the audit trail after all.
    with pytest.raises(TypeError, match=r"unexpected keyword argument.*use_stor"):
        api.clean(dsn="postgresql:///x", environment="development", territory="DE", now=frozen(SATURDAY),
                  use_stor=False)  # type: ignore[call-arg]  # fmt: skip
    with pytest.raises(TypeError, match=r"missing keyword argument.*environment"):
        api.repair(dsn="postgresql:///x", territory="DE", now=frozen(SATURDAY))  # type: ignore[call-arg]


def test_repair_marks_a_migration_whose_file_is_gone_deleted_gated_and_audited(crm: dict[str, object]) -> None:
    dsn, folder, base = str(crm["dsn"]), Path(str(crm["folder"])), list(crm["base"])  # type: ignore[call-overload]
    (folder / "V100__customer_notes.sql").unlink()
    assert cli("migrate", *base, "--at", SATURDAY_NIGHT, "--dry-run").exit_code == 2  # Missing stops migrate
    before = history_rows(dsn)
    dry = cli("repair", *base, "--at", SATURDAY_NIGHT, "--dry-run")
    assert dry.exit_code == 0, dry.output
    assert "would mark V100__customer_notes.sql deleted" in dry.output and history_rows(dsn) == before
    assert api.repair(migrations=folder, **api_args(crm, MONDAY)).status == "denied"  # V100's class, business hours
    fixed = api.repair(migrations=folder, **api_args(crm, SATURDAY))
    assert fixed.status == "ok" and [r.script for r in fixed.plan.delete] == ["V100__customer_notes.sql"]
    [marker] = history_rows(dsn)[len(before) :]
    assert marker[1:5] == ("100", "customer notes", "DELETE", "V100__customer_notes.sql")
    assert "migration.repair" in [a for a, _ in audit_actions(Path(str(crm["store"])))]
    assert as_flyway_sees_it(dsn, folder).problems == ()  # type: ignore[attr-defined]
    assert cli("migrate", *base, "--at", SATURDAY_NIGHT, "--dry-run").exit_code == 0
