"""``seasongate migrate / rollback / info / new`` end to end through the command line."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import psycopg
import pytest
from click.testing import CliRunner, Result

from seasongate.cli import main
from tests.conftest import MIGRATIONS, POLICIES

OKTOBERFEST = "2026-09-25T10:00+02:00"
NOVEMBER_WEEKEND_NIGHT = "2026-11-14T23:00+01:00"


def sg(*args: str) -> Result:
    return CliRunner().invoke(main, list(args), catch_exceptions=False)


def sg_at(instant: str, *args: str) -> Result:
    """Run the command with the real clock at ``instant`` (a real run refuses --at)."""
    from freezegun import freeze_time

    with freeze_time(instant, tick=True):
        return sg(*args)


def common(dsn: str, store: Path, fmt: str = "text") -> list[str]:
    return [
        "--dsn",
        dsn,
        "--migrations",
        str(MIGRATIONS),
        "--env",
        "production",
        "--territory",
        "DE",
        "--store",
        f"sqlite:///{store}",
        "--policy",
        str(POLICIES / "production.yaml"),
        "--format",
        fmt,
    ]


def versions(dsn: str) -> list[str]:
    with psycopg.connect(dsn) as conn:
        if conn.execute("SELECT to_regclass('seasongate_schema_history')").fetchone() == (None,):
            return []
        return [
            r[0]
            for r in conn.execute(
                "SELECT version || ':' || type || ':' || success FROM seasongate_schema_history ORDER BY 1"
            )
        ]


@pytest.mark.postgres
def test_migrate_in_oktoberfest_exits_1_with_nothing_applied(pg_dsn: str, tmp_path: Path) -> None:
    result = sg_at(OKTOBERFEST, "migrate", *common(pg_dsn, tmp_path / "s.db"))
    assert result.exit_code == 1, result.output
    lines = result.output.splitlines()
    assert lines[0].startswith("V214     crm baseline")
    assert "deny" in lines[0] and "seasonal-blackout" in lines[0]
    assert "Stopped by the gate before V214: seasonal-blackout" in result.output
    assert "Next allowed: 2026-10-05 00:00 CEST." in result.output
    assert "Applied: none." in result.output
    assert "Still pending: V214, V215, V216, V218, V221, V222, V223, V224, V225." in (result.output)
    assert versions(pg_dsn) == []


@pytest.mark.postgres
def test_migrate_on_a_november_night_then_info_then_rollback(pg_dsn: str, tmp_path: Path) -> None:
    store = tmp_path / "s.db"
    result = sg_at(NOVEMBER_WEEKEND_NIGHT, "migrate", *common(pg_dsn, store, "json"), "--class", "production")
    assert result.exit_code == 0, result.output
    report = json.loads(result.output)
    assert report["status"] == "ok" and len(report["steps"]) == 9
    step = report["steps"][-1]
    assert (step["version"], step["status"], step["verdict"]) == ("V225", "applied", "allow")
    assert step["decision"]["verdict"] == "allow" and step["duration_source"] == "header"

    info = sg("info", *common(pg_dsn, store), "--at", OKTOBERFEST)
    assert info.exit_code == 0, info.output
    rows = {line.split()[0]: line for line in info.output.splitlines()[1:]}
    assert " applied " in rows["V225"]
    assert "ignored gap" in rows["V219-V220"]  # a run of declared gaps is one line
    assert "excluded" in rows["V10000"] and "class testdata never runs in production" in rows["V10000"]

    back = sg_at(OKTOBERFEST, "rollback", *common(pg_dsn, store), "--to", "V224")
    assert back.exit_code == 0, back.output
    assert "V225" in back.output and "rolled back" in back.output
    assert "225:UNDO_SQL:true" in versions(pg_dsn)

    info_json = json.loads(sg("info", *common(pg_dsn, store, "json"), "--at", OKTOBERFEST).output)
    states = {m["version"]: m for m in info_json["migrations"]}
    assert states["V225"]["state"] == "pending" and states["V225"]["verdict"] == "deny"
    assert states["V225"]["next_allowed_at"].startswith("2026-10-05")


@pytest.mark.postgres
def test_info_reads_no_undo_script_and_rollback_only_those_it_undoes(
    pg_dsn: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import seasongate._executor._folder as files

    store = tmp_path / "s.db"
    assert sg_at(NOVEMBER_WEEKEND_NIGHT, "migrate", *common(pg_dsn, store), "--class", "production").exit_code == 0
    read: list[str] = []
    real = files.read_script

    def recording(path: Path) -> object:
        read.append(path.name)
        return real(path)

    monkeypatch.setattr(files, "read_script", recording)
    info = sg("info", *common(pg_dsn, store), "--at", OKTOBERFEST)
    assert info.exit_code == 0, info.output
    assert read and not [name for name in read if name.startswith("U")]
    assert "yes" in info.output  # the undo column still says which versions have one
    read.clear()
    back = sg_at(OKTOBERFEST, "rollback", *common(pg_dsn, store), "--to", "V224")
    assert back.exit_code == 0, back.output
    assert [name for name in read if name.startswith("U")] == ["U225__communication_core.sql"]


@pytest.mark.postgres
def test_dry_run_lists_verdicts_and_changes_nothing(pg_dsn: str, tmp_path: Path) -> None:
    result = sg(
        "migrate", *common(pg_dsn, tmp_path / "s.db"), "--at", NOVEMBER_WEEKEND_NIGHT, "--dry-run", "--target", "V216"
    )
    assert result.exit_code == 0, result.output
    assert [line.split()[0] for line in result.output.splitlines()[:3]] == ["V214", "V215", "V216"]
    assert "would apply" in result.output
    assert "Dry run: would have applied 3 migration(s); nothing changed." in result.output
    assert versions(pg_dsn) == []


@pytest.mark.postgres
def test_changed_history_refuses_with_exit_2(pg_dsn: str, tmp_path: Path) -> None:
    migrations = tmp_path / "m"
    migrations.mkdir()
    (migrations / "V1__a.sql").write_text("CREATE TABLE a (id int);", encoding="utf-8")
    args = [
        "--dsn",
        pg_dsn,
        "--migrations",
        str(migrations),
        "--env",
        "ci",
        "-t",
        "DE",
        "--no-store",
        "--policy",
        str(POLICIES / "staging.yaml"),
    ]
    assert sg("migrate", *args).exit_code == 0
    (migrations / "V1__a.sql").write_text("CREATE TABLE a (id bigint);", encoding="utf-8")
    result = sg("migrate", *args, "--format", "json")
    assert result.exit_code == 2
    error = json.loads(result.output)["error"]
    assert "V1__a.sql was changed after it was applied" in error and "nothing was run" in error


@pytest.mark.postgres
def test_failing_migration_exits_2_with_the_database_error(pg_dsn: str, tmp_path: Path) -> None:
    migrations = tmp_path / "m"
    migrations.mkdir()
    (migrations / "V1__a.sql").write_text("SELECT 1;\nSELECT nope FROM nowhere;", encoding="utf-8")
    command = [
        sys.executable,
        "-c",
        "from seasongate.cli import main; main()",
        "migrate",
        "--dsn",
        pg_dsn,
        "--migrations",
        str(migrations),
        "--env",
        "ci",
        "-t",
        "DE",
        "--no-store",
        "--policy",
        str(POLICIES / "staging.yaml"),
    ]
    result = subprocess.run(command, capture_output=True, text=True, timeout=60)
    assert result.returncode == 2
    assert 'seasongate: error: V1__a.sql:2: relation "nowhere" does not exist (SQLSTATE 42P01)' in result.stderr
    assert "failed" in result.stdout


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--target", "banana"], "--target: invalid migration version 'banana'"),
        (["--at", "tomorrow"], "invalid time 'tomorrow'"),
        (["--at", "2026-03-29T02:30"], "'2026-03-29T02:30' does not exist in Europe/Berlin"),
        (["--at", "2026-10-25T02:30"], "'2026-10-25T02:30' happens twice in Europe/Berlin"),
        (["--lock-wait", "forever"], "--lock-wait: invalid duration 'forever'"),
        (["--territory", "FR"], "unknown territory 'FR'"),
        (["--territory", "de"], "unknown territory 'de' (policy production knows: DE, CH)"),
    ],
)
def test_bad_input_is_one_line_and_exit_2(tmp_path: Path, args: list[str], message: str) -> None:
    base = [
        "migrate",
        "--dsn",
        "postgresql://nobody@/nowhere?host=/nonexistent",
        "--env",
        "production",
        "-t",
        "DE",
        "--no-store",
        "--at",
        OKTOBERFEST,
        "--dry-run",
        "--migrations",
        str(MIGRATIONS),
        "--policy",
        str(POLICIES / "production.yaml"),
    ]
    result = CliRunner().invoke(main, [*base, *args])
    assert result.exit_code == 2, result.output
    assert message in result.output
    assert result.output.count("\n") == 1


def test_no_database_and_unreachable_database_exit_2(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("SEASONGATE_DSN", raising=False)
    base = [
        "migrate",
        "--env",
        "production",
        "-t",
        "DE",
        "--no-store",
        "--migrations",
        str(MIGRATIONS),
        "--policy",
        str(POLICIES / "production.yaml"),
    ]
    missing = CliRunner().invoke(main, base)
    assert missing.exit_code == 2 and "no database given" in missing.output
    monkeypatch.setenv("SEASONGATE_DSN", "postgresql://nobody@/nowhere?host=/nonexistent&port=1")
    down = CliRunner().invoke(main, base)
    assert down.exit_code == 2 and "cannot connect to the database" in down.output


def test_new_creates_the_next_file_and_its_undo(tmp_path: Path) -> None:
    folder = tmp_path / "m"
    folder.mkdir()
    for name in ("V224__a.sql", "V225__b.sql"):
        (folder / name).write_text("SELECT 1;", encoding="utf-8")
    result = sg("new", "Kühlkette Reklamationen", "--migrations", str(folder), "--risk", "low")
    assert result.exit_code == 0, result.output
    assert result.output.splitlines() == [
        f"created {folder}/V226__kuehlkette_reklamationen.sql",
        f"created {folder}/U226__kuehlkette_reklamationen.sql",
    ]
    assert "-- seasongate: risk=low" in (folder / "V226__kuehlkette_reklamationen.sql").read_text()
    bad = sg("new", "x", "--migrations", str(folder), "--class", "hotfix")
    assert bad.exit_code == 2 and "unknown migration class 'hotfix'" in bad.output


def test_parallel_new_never_hands_out_a_version_twice(tmp_path: Path) -> None:
    folder = tmp_path / "m"
    folder.mkdir()
    (folder / "V225__base.sql").write_text("SELECT 1;", encoding="utf-8")
    code = (
        "import sys; from pathlib import Path; from seasongate._executor import "
        "create_migration; print(create_migration(Path(sys.argv[1]), sys.argv[2]).path.name)"
    )
    procs = [
        subprocess.Popen([sys.executable, "-c", code, str(folder), f"team {i}"], stdout=subprocess.PIPE, text=True)
        for i in range(6)
    ]
    names = [p.communicate(timeout=60)[0].strip() for p in procs]
    assert all(p.returncode == 0 for p in procs)
    created = sorted(int(n.split("__")[0][1:]) for n in names)
    assert created == list(range(226, 232))
    assert len(list(folder.glob("U*.sql"))) == 6


def test_progress_bar_on_a_terminal_only(capsys: pytest.CaptureFixture[str]) -> None:
    from seasongate.cli._migrate_output import TerminalProgress

    TerminalProgress(bar=True).starting(3, 12, "V216 orders")
    assert "[######..................] 3/12" in capsys.readouterr().err
    TerminalProgress(bar=False).starting(3, 12, "V216 orders")
    assert capsys.readouterr().err == ""


@pytest.mark.postgres
@pytest.mark.parametrize("command", [["migrate"], ["rollback", "--to", "V214"]])
def test_at_on_a_real_run_is_refused_and_nothing_happens(pg_dsn: str, tmp_path: Path, command: list[str]) -> None:
    # Issue 15 principle 3: a verdict for another instant must never act now.
    store = tmp_path / "s.db"
    result = sg(*command, *common(pg_dsn, store), "--at", NOVEMBER_WEEKEND_NIGHT)
    assert result.exit_code == 2, result.output
    assert "--at judges another instant and executes nothing: add --dry-run" in result.output
    assert versions(pg_dsn) == []
    assert not store.exists()  # not even opened: nothing audited


@pytest.mark.postgres
def test_a_dry_run_at_another_instant_acts_on_nothing_and_writes_nothing(pg_dsn: str, tmp_path: Path) -> None:
    store = tmp_path / "s.db"
    result = sg("migrate", *common(pg_dsn, store, "json"), "--at", OKTOBERFEST, "--dry-run")
    assert result.exit_code == 1, result.output
    report = json.loads(result.output)
    assert report["dry_run"] and report["steps"][0]["decision"]["at"] == "2026-09-25T10:00:00+02:00"
    assert versions(pg_dsn) == []
    from seasongate._store import open_store

    opened = open_store(f"sqlite:///{store}", tmp_path)
    try:
        assert opened.audit_entries() == []
    finally:
        opened.close()


@pytest.mark.postgres
def test_every_entry_of_a_real_run_has_one_clock(pg_dsn: str, tmp_path: Path) -> None:
    from datetime import datetime

    from seasongate._store import open_store

    store = tmp_path / "s.db"
    result = sg_at("2026-11-14T23:00:00+01:00", "migrate", *common(pg_dsn, store), "--target", "V215")
    assert result.exit_code == 0, result.output
    opened = open_store(f"sqlite:///{store}", tmp_path)
    try:
        entries = opened.audit_entries()
    finally:
        opened.close()
    assert [e.action for e in entries] == ["migration.start", "migration.apply"] * 2
    for entry in entries:
        judged = datetime.fromisoformat(entry.payload["judged_at"])
        assert 0 <= entry.at - int(judged.timestamp()) < 60  # judged and written by the same (real) clock


@pytest.mark.postgres
def test_rollback_plans_every_step_first_and_keeps_to_the_classes_the_policy_handles(
    pg_dsn: str, tmp_path: Path
) -> None:
    # Issue 9 item 6: U229 missing used to roll back V10000 and V230, then stop with exit 2.
    folder = tmp_path / "m"
    folder.mkdir()
    files = {
        "V228__a.sql": "CREATE TABLE a (id int);", "U228__a.sql": "DROP TABLE a;",
        "V229__b.sql": "CREATE TABLE b (id int);",
        "V230__c.sql": "CREATE TABLE c (id int);", "U230__c.sql": "DROP TABLE c;",
        "V10000__seed.sql": "CREATE TABLE seed (id int);", "U10000__seed.sql": "DROP TABLE seed;",
    }  # fmt: skip
    for name, text in files.items():
        (folder / name).write_text(text, encoding="utf-8")

    def run(command: str, env: str, *extra: str) -> Result:
        return sg(
            command, "--dsn", pg_dsn, "--migrations", str(folder), "--policy", str(POLICIES / "staging.yaml"),
            "--env", env, "-t", "DE", "--no-store", *extra,
        )  # fmt: skip

    assert run("migrate", "ci").exit_code == 0
    before = versions(pg_dsn)
    refused = run("rollback", "ci", "--to", "V228")
    assert refused.exit_code == 2, refused.output
    assert "V229 has no undo script (expected U229__b.sql)" in refused.output
    assert versions(pg_dsn) == before  # nothing was rolled back, not even V10000 or V230

    (folder / "U229__b.sql").write_text("DROP TABLE b;", encoding="utf-8")
    done = run("rollback", "staging", "--to", "V228", "--format", "json")
    assert done.exit_code == 0, done.output
    steps = [(s["version"], s["status"]) for s in json.loads(done.output)["steps"]]
    assert steps == [("V230", "rolled back"), ("V229", "rolled back")]  # test data is not staging's
    assert "10000:UNDO_SQL:true" not in versions(pg_dsn)
    asked = run("rollback", "ci", "--to", "V228", "--class", "testdata")
    assert asked.exit_code == 0, asked.output
    assert "10000:UNDO_SQL:true" in versions(pg_dsn)
