"""The gate with the shipped production policy and a real SQLite store (and PostgreSQL)."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from datetime import datetime, timedelta
from pathlib import Path

import psycopg
import pytest

from seasongate._errors import GateDenied
from seasongate._executor import ExecutorOptions, PostgresSession, scan
from seasongate._gate import Gate, info, migrate, rollback
from seasongate._policy import Policy, load_policy
from seasongate._store import Store, open_store
from seasongate._versions import Version
from tests.conftest import MIGRATIONS, POLICIES, policy_with_default_class

OKTOBERFEST = "2026-09-25T10:00+02:00"  # Friday morning, Oktoberfest
OKTOBERFEST_SATURDAY_NIGHT = "2026-09-26T22:00+02:00"
NOVEMBER_WEEKEND_NIGHT = "2026-11-14T23:00+01:00"  # Saturday night, no peak
OPTIONS = ExecutorOptions(lock_wait=5)


def at(text: str) -> datetime:
    return datetime.fromisoformat(text)


def fixed(text: str) -> Callable[[], datetime]:
    moment = at(text)
    return lambda: moment


def ticking(start: str, step: timedelta) -> Callable[[], datetime]:
    """A clock that moves on by ``step`` at every call."""
    calls = [0]

    def now() -> datetime:
        calls[0] += 1
        return at(start) + step * (calls[0] - 1)

    return now


@pytest.fixture(scope="module")
def policy() -> Policy:
    return load_policy(POLICIES / "production.yaml")


@pytest.fixture
def store(tmp_path: Path) -> Iterator[Store]:
    opened = open_store(f"sqlite:///{tmp_path / 'store.db'}", tmp_path)
    yield opened
    opened.close()


def gate(policy: Policy, store: Store | None, now: Callable[[], datetime]) -> Gate:
    return Gate(policy, store, now=now, environment="production", territory="DE")


def actions(store: Store) -> list[str]:
    return [e.action for e in store.audit_entries()]


def history(dsn: str) -> list[tuple[object, ...]]:
    with psycopg.connect(dsn) as conn:
        if conn.execute("SELECT to_regclass('seasongate_schema_history')").fetchone() == (None,):
            return []
        return conn.execute(
            "SELECT version, type, success, gate_verdict, override_id FROM seasongate_schema_history "
            "LEFT JOIN seasongate_schema_history_seasongate USING (installed_rank) ORDER BY installed_rank"
        ).fetchall()


# -- check / guard / wrap -------------------------------------------------------------------------


def test_check_denies_in_oktoberfest_and_allows_a_november_weekend_night(policy: Policy) -> None:
    g = gate(policy, None, fixed(OKTOBERFEST))
    denied = g.check(migration="V225__communication_core.sql")
    assert not denied.allowed
    assert [r.rule for r in denied.denying] == ["seasonal-blackout", "business-hours"]
    assert g.check(migration=Version.parse("V225"), at=at(NOVEMBER_WEEKEND_NIGHT)).allowed
    rollback = g.check(migration="V225", operation="rollback")
    assert rollback.allowed  # undo scripts are the emergency procedure


def test_guard_raises_gate_denied_and_audits_the_decision(policy: Policy, store: Store) -> None:
    g = gate(policy, store, fixed(OKTOBERFEST))
    ran = []
    with pytest.raises(GateDenied) as info, g.guard(migration="V226", risk="high"):
        ran.append(True)
    assert ran == []
    assert info.value.decision is not None and not info.value.decision.allowed
    assert "V226 may not run in production/DE now: seasonal-blackout" in str(info.value)
    assert "high-risk-in-windows-only" in str(info.value)  # the risk reached the policy
    assert "next allowed 2026-10-10T22:00:00+02:00" in str(info.value)
    assert actions(store) == ["decision"]


def test_guard_runs_the_block_and_audits_its_outcome(policy: Policy, store: Store) -> None:
    g = gate(policy, store, fixed(NOVEMBER_WEEKEND_NIGHT))
    with g.guard(migration="V226") as decision:
        assert decision.allowed
    with pytest.raises(RuntimeError, match="boom"), g.guard(migration="V227"):
        raise RuntimeError("boom")
    entries = store.audit_entries()
    assert [(e.action, e.subject) for e in entries] == [
        ("migration.start", "production/DE/V226"),
        ("migration.apply", "production/DE/V226"),
        ("migration.start", "production/DE/V227"),
        ("migration.apply", "production/DE/V227"),
    ]
    assert entries[1].payload["status"] == "done"
    assert entries[3].payload["status"] == "failed"
    assert entries[3].payload["error"] == "RuntimeError('boom')"
    assert [e.payload["start_seq"] for e in entries[1::2]] == [entries[0].seq, entries[2].seq]


class ListExecutor:
    """Any object with apply(migration) can be wrapped."""

    def __init__(self) -> None:
        self.applied: list[str] = []
        self.name = "list"

    def apply(self, migration: str) -> str:
        self.applied.append(migration)
        return f"ok {migration}"


def test_wrap_rechecks_the_gate_before_every_apply(policy: Policy, store: Store) -> None:
    # Monday 05:00, then 06:00: business hours begin between the two calls.
    g = gate(policy, store, ticking("2026-11-16T05:00+01:00", timedelta(minutes=30)))
    executor = ListExecutor()
    wrapped = g.wrap(executor)
    assert wrapped.apply("V226") == "ok V226"  # checked at 05:00, audited at 05:30
    with pytest.raises(GateDenied, match="business-hours"):
        wrapped.apply("V227")  # checked at 06:00
    assert executor.applied == ["V226"]
    assert wrapped.name == "list" and wrapped.wrapped is executor
    assert actions(store) == ["migration.start", "migration.apply", "decision"]


# -- migrate / rollback / info on PostgreSQL --------------------------------------------------------


@pytest.mark.postgres
def test_oktoberfest_migrate_applies_nothing(policy: Policy, store: Store, pg_dsn: str) -> None:
    report = migrate(gate(policy, store, fixed(OKTOBERFEST)), pg_dsn, MIGRATIONS, options=OPTIONS)
    assert (report.status, report.exit_code) == ("denied", 1)
    assert report.done == ()
    stop = report.stopped_at
    assert stop is not None and str(stop.version) == "V214"
    assert stop.next_allowed_at is not None and stop.next_allowed_at.isoformat().startswith("2026-10-05")
    assert len(report.pending) == 9  # V10000 (test data) never runs in production: left out
    assert history(pg_dsn) == []
    assert actions(store) == ["decision"]


@pytest.mark.postgres
def test_november_weekend_night_applies_production_and_leaves_testdata_out(
    policy: Policy, store: Store, pg_dsn: str
) -> None:
    g = gate(policy, store, fixed(NOVEMBER_WEEKEND_NIGHT))
    default = migrate(g, pg_dsn, MIGRATIONS, options=OPTIONS)
    assert (default.status, default.exit_code) == ("ok", 0)
    assert [str(s.version) for s in default.done][-1] == "V225"
    assert len(default.done) == 9
    assert actions(store) == ["migration.start", "migration.apply"] * 9
    # Asking for the test-data class explicitly meets the gate's permanent denial.
    everything = migrate(g, pg_dsn, MIGRATIONS, classes=["production", "testdata"], options=OPTIONS)
    assert (everything.status, everything.exit_code) == ("denied", 1)
    stop = everything.stopped_at
    assert stop is not None and stop.reason.startswith("no-testdata-in-production")
    assert stop.next_allowed_at is None
    assert all(row[3] == "allow" for row in history(pg_dsn))


@pytest.mark.postgres
def test_the_clock_is_read_for_every_migration(policy: Policy, store: Store, pg_dsn: str) -> None:
    # Monday 04:00, +30 min per clock call (ask, audit): V216 is asked at 06:00.
    g = gate(policy, store, ticking("2026-11-16T04:00+01:00", timedelta(minutes=30)))
    report = migrate(g, pg_dsn, MIGRATIONS, options=OPTIONS)
    assert [str(s.version) for s in report.done] == ["V214", "V215"]
    stop = report.stopped_at
    assert stop is not None and str(stop.version) == "V216"
    assert stop.reason.startswith("business-hours")
    assert stop.next_allowed_at is not None and stop.next_allowed_at.hour == 20


@pytest.mark.postgres
def test_rollback_runs_in_a_blackout_and_is_audited(policy: Policy, store: Store, pg_dsn: str) -> None:
    migrate(
        gate(policy, store, fixed(NOVEMBER_WEEKEND_NIGHT)), pg_dsn, MIGRATIONS, classes=["production"], options=OPTIONS
    )
    blackout = gate(policy, store, fixed(OKTOBERFEST))
    report = rollback(blackout, pg_dsn, MIGRATIONS, to=Version.parse("V223"), options=OPTIONS)
    assert report.status == "ok"
    assert [(str(s.version), s.status) for s in report.steps] == [("V225", "rolled back"), ("V224", "rolled back")]
    assert actions(store)[-4:] == ["migration.start", "migration.rollback"] * 2
    assert history(pg_dsn)[-2:] == [("225", "UNDO_SQL", True, "allow", None), ("224", "UNDO_SQL", True, "allow", None)]
    shown = info(blackout, pg_dsn, MIGRATIONS, options=OPTIONS)
    states = {str(r.version): (r.state, r.verdict) for r in shown.rows}
    assert states["V223"] == ("applied", None)
    assert states["V224"] == ("pending", "deny")
    assert states["V217"] == ("ignored gap", None)
    assert states["V10000"] == ("excluded", None)
    v224 = next(r for r in shown.rows if str(r.version) == "V224")
    assert v224.reason.startswith("seasonal-blackout") and v224.next_allowed_at is not None
    assert shown.problems == ()


@pytest.mark.postgres
def test_dry_run_changes_nothing(policy: Policy, store: Store, pg_dsn: str) -> None:
    g = gate(policy, store, fixed(NOVEMBER_WEEKEND_NIGHT))
    report = migrate(g, pg_dsn, MIGRATIONS, dry_run=True, options=OPTIONS)
    assert report.dry_run and (report.status, report.exit_code) == ("ok", 0)
    assert [s.status for s in report.steps] == ["would apply"] * 9
    assert history(pg_dsn) == []
    assert actions(store) == []


@pytest.mark.postgres
def test_wrapped_session_records_the_verdict(policy: Policy, store: Store, pg_dsn: str) -> None:
    folder = scan(MIGRATIONS)
    with PostgresSession(pg_dsn, OPTIONS).open() as session:
        wrapped = gate(policy, store, fixed(NOVEMBER_WEEKEND_NIGHT)).wrap(session)
        applied = wrapped.apply(folder.migrations[0])
    assert applied.installed_rank == 1
    assert history(pg_dsn) == [("214", "SQL", True, "allow", None)]


# -- overrides --------------------------------------------------------------------------------------


def as_user(monkeypatch: pytest.MonkeyPatch, name: str) -> None:
    for var in ("LOGNAME", "USER", "LNAME", "USERNAME"):
        monkeypatch.setenv(var, name)


@pytest.mark.postgres
def test_single_use_override_lifts_the_blackout_once(
    policy: Policy, tmp_path: Path, pg_dsn: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    from seasongate.api import _overrides

    url = f"sqlite:///{tmp_path / 'store.db'}"
    now = at(OKTOBERFEST_SATURDAY_NIGHT)
    as_user(monkeypatch, "dev.user")
    record = _overrides.override_request(
        policy,
        at=now,
        environment="production",
        territory="DE",
        versions="V214..V225",
        reason="hotfix for the order intake",
        ticket="CRM-1234",
        duration="4h",
        single_use=True,
        store=url,
        project_dir=tmp_path,
    )
    for approver in ("anna.huber", "jonas.meier"):
        as_user(monkeypatch, approver)
        _overrides.override_approve(policy, record.id, at=now, store=url, project_dir=tmp_path)
    as_user(monkeypatch, "deploy.bot")
    store = open_store(url, tmp_path)
    try:
        g = gate(policy, store, fixed(OKTOBERFEST_SATURDAY_NIGHT))
        report = migrate(g, pg_dsn, MIGRATIONS, target=Version.parse("V215"), options=OPTIONS)
        # One run: spent as V214 starts, and the run goes on using it up to its target.
        assert [(str(s.version), s.status, s.override_id) for s in report.steps] == [
            ("V214", "applied", record.id),
            ("V215", "applied", record.id),
        ]
        assert store.active_grants("production", "DE", now) == []
        assert actions(store)[-5:] == ["override.consume"] + ["migration.start", "migration.apply"] * 2
        # The next run finds the blackout again.
        again = migrate(g, pg_dsn, MIGRATIONS, target=Version.parse("V216"), options=OPTIONS)
        assert [(str(s.version), s.status) for s in again.steps] == [("V216", "denied")]
    finally:
        store.close()
    assert history(pg_dsn) == [("214", "SQL", True, "allow", record.id), ("215", "SQL", True, "allow", record.id)]


@pytest.mark.postgres
def test_a_version_in_no_class_is_refused_before_anything_runs(policy: Policy, pg_dsn: str, tmp_path: Path) -> None:
    from seasongate._executor import ValidationError

    (tmp_path / "V0__zero.sql").write_text("CREATE TABLE zero (id int);", encoding="utf-8")
    (tmp_path / "V1__one.sql").write_text("CREATE TABLE one (id int);", encoding="utf-8")
    g = gate(policy, None, fixed(NOVEMBER_WEEKEND_NIGHT))
    with pytest.raises(ValidationError, match=r"V0__zero.sql: V0 is in no migration class"):
        migrate(g, pg_dsn, tmp_path, options=OPTIONS)
    assert history(pg_dsn) == []


def test_single_use_override_is_spent_as_the_guarded_block_starts(
    policy: Policy, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from seasongate.api import _overrides

    url = f"sqlite:///{tmp_path / 'store.db'}"
    now = at(OKTOBERFEST_SATURDAY_NIGHT)
    as_user(monkeypatch, "dev.user")
    record = _overrides.override_request(
        policy, at=now, environment="production", territory="DE", versions="V226", reason="hotfix",
        ticket="CRM-9", duration="4h", single_use=True, store=url, project_dir=tmp_path,
    )  # fmt: skip
    for approver in ("anna.huber", "jonas.meier"):
        as_user(monkeypatch, approver)
        _overrides.override_approve(policy, record.id, at=now, store=url, project_dir=tmp_path)
    store = open_store(url, tmp_path)
    try:
        g = gate(policy, store, fixed(OKTOBERFEST_SATURDAY_NIGHT))
        with pytest.raises(RuntimeError), g.guard(migration="V226", environment="production", territory="DE"):
            raise RuntimeError("the hotfix failed half way")
        # The failed run used the override: a second run needs a new approval.
        with pytest.raises(GateDenied), g.guard(migration="V226", environment="production", territory="DE"):
            pass
    finally:
        store.close()


# -- the documented Alembic recipe -------------------------------------------------------------------


def _recipe_function(name: str) -> str:
    """The source of function ``name`` from the python blocks of docs/integrations.md."""
    import ast
    import re

    text = (Path(__file__).parent.parent / "docs" / "integrations.md").read_text(encoding="utf-8")
    for block in re.findall(r"```python\n(.*?)```", text, re.DOTALL):
        for node in ast.parse(block).body:
            if isinstance(node, ast.FunctionDef) and node.name == name:
                return ast.get_source_segment(block, node) or ""
    raise AssertionError(f"docs/integrations.md has no function {name}")


def _alembic_context(command: str | None) -> object:
    from argparse import Namespace
    from types import SimpleNamespace

    def upgrade() -> None: ...

    def downgrade() -> None: ...

    functions = {"upgrade": upgrade, "downgrade": downgrade}
    cmd_opts = None if command is None else Namespace(cmd=(functions[command], ["revision"], []))
    return SimpleNamespace(config=SimpleNamespace(cmd_opts=cmd_opts))


@pytest.mark.parametrize(("command", "allowed"), [("downgrade", True), ("upgrade", False), (None, False)], ids=str)
def test_the_alembic_recipe_gates_a_downgrade_as_a_rollback(
    tmp_path: Path, store: Store, command: str | None, allowed: bool
) -> None:
    # Issue 9 item 7: in a blackout an emergency downgrade is allowed, an upgrade is not; a run
    # not started from the alembic command line is judged as the stricter apply. The whole
    # upgrade names no revision, so the recipe's policy names a default class (issue 15).
    namespace: dict[str, object] = {"context": _alembic_context(command)}
    exec(_recipe_function("gated_operation"), namespace)
    operation = namespace["gated_operation"]()  # type: ignore[operator]
    g = gate(load_policy(policy_with_default_class(tmp_path)), store, fixed(OKTOBERFEST))
    if allowed:
        with g.guard(duration="30m", risk="medium", operation=operation) as decision:
            assert decision.allowed
        assert actions(store) == ["migration.start", "migration.rollback"]
    else:
        with (
            pytest.raises(GateDenied, match="seasonal-blackout"),
            g.guard(duration="30m", risk="medium", operation=operation),
        ):
            pass
        assert actions(store) == ["decision"]


def test_the_python_api_takes_a_timedelta_or_a_duration_with_a_unit(policy: Policy) -> None:
    g = gate(policy, None, fixed(NOVEMBER_WEEKEND_NIGHT))
    assert g.check(migration="V226", duration=timedelta(minutes=20)).migration.duration == 1200
    assert g.check(migration="V226", duration="1h30m").migration.duration == 5400
    from seasongate._errors import InputError

    with pytest.raises(InputError, match="invalid duration"):
        g.check(migration="V226", duration=20)  # type: ignore[arg-type]
    with pytest.raises(InputError):
        g.check(migration="V226", duration=timedelta(seconds=-5))


# -- every migration ends with exactly one audit outcome (issue 8 item 8) ---------------------------


def outcomes_by_start(store: Store) -> dict[int, list[dict[str, object]]]:
    """Each migration.start's seq with the outcome payloads that name it."""
    entries = store.audit_entries()
    found: dict[int, list[dict[str, object]]] = {e.seq: [] for e in entries if e.action == "migration.start"}
    for e in entries:
        if e.action in ("migration.apply", "migration.rollback"):
            found[int(e.payload["start_seq"])].append(dict(e.payload))
    return found


@pytest.mark.postgres
def test_a_run_that_dies_after_a_commit_is_reconciled_by_the_next(
    policy: Policy, store: Store, pg_dsn: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    from seasongate._gate import PolicyHook

    def die(*args: object) -> None:
        raise SystemExit("killed between the commit and the audit outcome")

    g = gate(policy, store, fixed(NOVEMBER_WEEKEND_NIGHT))
    with monkeypatch.context() as patched:
        patched.setattr(PolicyHook, "record", die)
        with pytest.raises(SystemExit):
            migrate(g, pg_dsn, MIGRATIONS, options=OPTIONS)
    assert history(pg_dsn) == [("214", "SQL", True, "allow", None)]  # committed, outcome never written
    assert actions(store) == ["migration.start"]
    report = migrate(g, pg_dsn, MIGRATIONS, target=Version.parse("V215"), options=OPTIONS)
    assert [str(s.version) for s in report.done] == ["V215"]
    found = outcomes_by_start(store)
    assert all(len(outcomes) == 1 for outcomes in found.values()), found
    first = found[min(found)][0]
    assert (first["version"], first["status"], first["reconciled"], first["installed_rank"]) == (
        "V214",
        "applied",
        True,
        1,
    )
    assert "reconciled from the migration history" in str(first["error"])
    # Each history row is anchored to its migration.start (issue 8 item 6).
    starts = {e.seq: e.hash for e in store.audit_entries() if e.action == "migration.start"}
    with psycopg.connect(pg_dsn) as conn:
        anchors = conn.execute(
            "SELECT audit_seq, audit_hash FROM seasongate_schema_history_seasongate ORDER BY installed_rank"
        ).fetchall()
    assert anchors == sorted(starts.items())
    # A third run finds nothing left to reconcile.
    migrate(g, pg_dsn, MIGRATIONS, target=Version.parse("V215"), options=OPTIONS)
    assert sum(1 for e in store.audit_entries() if e.payload.get("reconciled")) == 1


@pytest.mark.postgres
def test_a_run_that_dies_before_its_commit_is_reconciled_as_failed(
    policy: Policy, store: Store, pg_dsn: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    from seasongate._executor import PostgresSession

    def die(*args: object, **kwargs: object) -> None:
        raise SystemExit("killed before the commit")

    g = gate(policy, store, fixed(NOVEMBER_WEEKEND_NIGHT))
    with monkeypatch.context() as patched:
        patched.setattr(PostgresSession, "apply", die)
        with pytest.raises(SystemExit):
            migrate(g, pg_dsn, MIGRATIONS, options=OPTIONS)
    assert history(pg_dsn) == []
    migrate(g, pg_dsn, MIGRATIONS, target=Version.parse("V214"), options=OPTIONS)
    found = outcomes_by_start(store)
    assert [len(o) for o in found.values()] == [1, 1]
    died, ran = (found[seq][0] for seq in sorted(found))
    assert (died["status"], died["reconciled"], died["installed_rank"]) == ("failed", True, None)
    assert (ran["status"], ran["reconciled"], ran["installed_rank"]) == ("applied", False, 1)


@pytest.mark.postgres
def test_check_lint_and_migrate_agree_on_a_dotted_class_bound(pg_dsn: str, tmp_path: Path) -> None:
    # Issue 9: for a class {to: V2.5}, V2.9 was in it for check and outside it for lint/migrate.
    from seasongate._executor import ValidationError, lint

    text = (POLICIES / "staging.yaml").read_text(encoding="utf-8")
    head, _, rest = text.partition("classes:\n")
    rest = rest[rest.index("defaults:") :]
    (tmp_path / "policies").mkdir()
    policy_file = tmp_path / "policies" / "early.yaml"
    policy_file.write_text(
        head.replace("../calendars/", f"{POLICIES.parent / 'calendars'}/")
        + "classes:\n  early: {from: V1, to: V2.5}\n"
        + rest.replace("classes: [testdata]", "classes: [early]"),
        encoding="utf-8",
    )
    early = load_policy(policy_file)
    folder = tmp_path / "m"
    folder.mkdir()
    (folder / "V2.9__late.sql").write_text("CREATE TABLE late (id int);", encoding="utf-8")
    assert early.classify(Version.parse("V2.5")) == "early"
    assert early.classify(Version.parse("V2.9")) is None
    findings = lint(folder, classes=early.migration_classes).findings
    assert [(f.code, f.message.split(" (")[0]) for f in findings] == [("E004", "V2.9 is outside every numbering range")]
    g = Gate(early, None, now=fixed(NOVEMBER_WEEKEND_NIGHT), environment="ci", territory="DE")
    with pytest.raises(ValidationError, match=r"V2.9 is in no migration class of the policy \(early V1-V2.5\)"):
        migrate(g, pg_dsn, folder, options=OPTIONS)


@pytest.mark.postgres
def test_a_migration_costs_one_store_transaction(policy: Policy, store: Store, pg_dsn: str) -> None:
    # A structural count, not a timing: each step's outcome is written with the next step's
    # start (the last one on its own), so N migrations cost N + 1 write transactions of the
    # SQLite store, each one read of the trail's end and one write of its head.
    statements: list[str] = []
    conn = store._conn  # type: ignore[attr-defined]  # the SQLite store's connection
    conn.set_trace_callback(statements.append)
    try:
        report = migrate(
            gate(policy, store, fixed(NOVEMBER_WEEKEND_NIGHT)), pg_dsn, MIGRATIONS, target=Version.parse("V216"),
            options=OPTIONS,
        )  # fmt: skip
    finally:
        conn.set_trace_callback(None)
    assert [str(s.version) for s in report.done] == ["V214", "V215", "V216"]
    assert actions(store) == ["migration.start", "migration.apply"] * 3  # the trail's order is kept
    transactions = len(report.done) + 1
    assert statements.count("BEGIN IMMEDIATE") == transactions
    assert sum(s.startswith("INSERT INTO audit ") for s in statements) == 2 * len(report.done)
    assert sum(s.startswith("INSERT INTO meta ") for s in statements) == transactions
    reads = [s for s in statements if "FROM audit" in s and not s.startswith("INSERT")]
    assert len(reads) == transactions + 1  # the tails, and reconcile's one query (no read of the trail)
