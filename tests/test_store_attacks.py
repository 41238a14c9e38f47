"""Issue 8: every attack on the store, tried as a hostile colleague would.

PostgreSQL: real login roles on the test server, made as docs/overrides.md says:
``seasongate_release_manager`` granted to three release managers; plain logins ``u1``, ``u2``
and ``deployer``; ``seasongate_dba`` granted to ``u1`` and ``u2``; ``seasongate_migrator``
granted to ``deployer`` (it runs migrations). Every attack is plain SQL through psycopg as
that login, or the CLI/api connecting as that login. SQLite: the same attacks where a file
allows them (its owner can rewrite it; what it cannot stop is named in docs/overrides.md).

Each attack asserts that it fails with a clear message and that the store is unchanged (or,
where the store records the attempt, that the gate still denies).
"""

from __future__ import annotations

import os
import re
import sqlite3
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from seasongate._errors import InputError, OverrideError, StoreError
from seasongate._overrides import REFUSALS, Requirements, Scope, new_override, parse_versions
from seasongate._store import Store, open_store
from seasongate._time import to_ts
from seasongate.api import check
from seasongate.cli import main
from tests import store_support
from tests.pgcluster import Cluster
from tests.store_support import (
    MIGRATOR_ROLE,
    OKTOBERFEST,
    PRODUCTION,
    as_os_user,
    set_server_clock,
    user_env,
    with_user,
)

pg_roles = store_support.pg_roles
production_policy = store_support.production_policy

ANNA, JONAS, LEA = "anna.huber", "jonas.meier", "lea.keller"
U1, U2, DEPLOYER = "u1", "u2", "deployer"
DBA_ROLE = "seasongate_dba"
AT = OKTOBERFEST  # Friday 10:00 in the Oktoberfest blackout, business hours: both deny
UNTIL = AT + timedelta(hours=4)
H = 3600


# -- the people ------------------------------------------------------------------------------


@pytest.fixture(scope="session")
def hostile_roles(pg_roles: Cluster) -> Cluster:
    """u1, u2 (members of seasongate_dba) and deployer (seasongate_migrator), as the docs say."""
    import psycopg

    with psycopg.connect(pg_roles.dsn(), autocommit=True) as conn:
        for role in (DBA_ROLE, MIGRATOR_ROLE):
            if conn.execute("SELECT 1 FROM pg_roles WHERE rolname = %s", (role,)).fetchone() is None:
                conn.execute(f"CREATE ROLE {role} NOLOGIN")
        for user in (U1, U2, DEPLOYER):
            if conn.execute("SELECT 1 FROM pg_roles WHERE rolname = %s", (user,)).fetchone() is None:
                conn.execute(f'CREATE ROLE "{user}" LOGIN')
        conn.execute(f"GRANT {DBA_ROLE} TO {U1}, {U2}")
        conn.execute(f"GRANT {MIGRATOR_ROLE} TO {DEPLOYER}")
    return pg_roles


@pytest.fixture
def db(pg_dsn: str, hostile_roles: Cluster) -> Iterator[str]:
    """A store created by its owner, the server clock frozen at AT."""
    open_store(pg_dsn, Path.cwd()).close()
    set_server_clock(pg_dsn, AT)
    yield pg_dsn


def sql(dsn: str, user: str, statement: str, params: tuple[object, ...] = ()) -> list[tuple[Any, ...]]:
    """One statement as ``user`` at a psql prompt; database errors propagate."""
    import psycopg

    with psycopg.connect(with_user(dsn, user), autocommit=True) as conn:
        cur = conn.execute(statement.encode(), params)
        return cur.fetchall() if cur.description else []


def snapshot(dsn: str) -> tuple[Any, ...]:
    """Everything the store holds, read by its owner."""
    return tuple(
        sql(dsn, _owner(dsn), f"SELECT * FROM seasongate.{table} ORDER BY 1, 2")
        for table in ("overrides", "approvals", "audit", "meta")
    )


def _owner(dsn: str) -> str:
    return dsn.split("://", 1)[1].split("@", 1)[0]


def request(dsn: str, user: str, oid: str, rules: list[str], approvals: int, roles: list[str],
            until: datetime = UNTIL, max_validity: int = 12 * H) -> None:  # fmt: skip
    sql(
        dsn, user,
        "SELECT seasongate.request_override(%s, 'production', 'DE', 'V226', %s::text[], %s, %s, "
        "'hotfix', 'INC-1', false, %s::int, %s::text[], %s::int)",
        (oid, rules, AT, until, approvals, roles, max_validity),
    )  # fmt: skip


def approve(dsn: str, user: str, oid: str) -> bool:
    return bool(sql(dsn, user, "SELECT seasongate.approve_override(%s, 'ok')", (oid,))[0][0])


def denying(dsn: str, user: str) -> set[str]:
    """The rules that deny V226 at AT for ``check`` run as ``user``."""
    decision = check(environment="production", territory="DE", at=AT, migration="V226",
                     policy=PRODUCTION, store=with_user(dsn, user))  # fmt: skip
    return {reason.rule for reason in decision.denying}


def cli(user: str, *args: str) -> Any:
    return CliRunner(env=user_env(user)).invoke(main, list(args), catch_exceptions=False)


def cli_check(store: str, user: str) -> Any:
    return cli(user, "check", "--env", "production", "--territory", "DE", "--migration", "V226",
               "--at", AT.isoformat(), "--policy", str(PRODUCTION), "--store", store)  # fmt: skip


# -- 1. the requester chooses who approves ----------------------------------------------------


@pytest.mark.postgres
def test_dba_approvals_lift_nothing_a_policy_reserves_for_release_managers(db: str) -> None:
    # u1 asks for one approval from dba; u2 (dba) approves: the database records the role.
    request(db, U1, "ovr-dba1", ["business-hours"], 1, ["dba"])
    assert approve(db, U2, "ovr-dba1") is True
    assert sql(db, U1, "SELECT roles FROM seasongate.approvals") == [(["dba"],)]
    # The deployer asks two dba approvals for the blackout too; u1 and u2 approve.
    request(db, DEPLOYER, "ovr-dba2", ["business-hours", "seasonal-blackout"], 2, ["dba"])
    approve(db, U1, "ovr-dba2")
    approve(db, U2, "ovr-dba2")
    # The engine counts approvals under the role *this* policy's rule requires: nothing lifts.
    assert denying(db, DEPLOYER) >= {"business-hours", "seasonal-blackout"}


@pytest.mark.postgres
def test_one_release_manager_is_not_the_two_the_blackout_needs(db: str) -> None:
    request(db, U1, "ovr-cheap", ["seasonal-blackout"], 1, ["release_manager"])
    approve(db, JONAS, "ovr-cheap")
    assert "seasonal-blackout" in denying(db, DEPLOYER)


@pytest.mark.postgres
def test_release_managers_can_always_revoke(db: str) -> None:
    request(db, U1, "ovr-dba", ["business-hours"], 1, ["dba"])
    approve(db, U2, "ovr-dba")
    sql(db, LEA, "SELECT seasongate.revoke_override('ovr-dba', 'not how we do it')")
    assert sql(db, U1, "SELECT revoked_by FROM seasongate.overrides") == [(LEA,)]


@pytest.mark.postgres
def test_a_plain_user_cannot_revoke_someone_elses_override(db: str) -> None:
    import psycopg

    request(db, ANNA, "ovr-1", ["seasonal-blackout"], 2, ["release_manager"])
    before = snapshot(db)
    with pytest.raises(psycopg.Error, match="u1 may not revoke override ovr-1: only its requester"):
        sql(db, U1, "SELECT seasongate.revoke_override('ovr-1', 'mine now')")
    assert snapshot(db) == before


@pytest.mark.postgres
@pytest.mark.parametrize(
    ("versions", "message"),
    [("garbage", "invalid version range 'garbage'"), ("V230..V226", "invalid version range 'V230..V226'")],
)
def test_a_request_seasongate_could_not_read_back_is_refused(db: str, versions: str, message: str) -> None:
    """Otherwise one request by anyone would make every check of its scope fail closed."""
    import psycopg

    before = snapshot(db)
    with pytest.raises(psycopg.Error, match=message):
        sql(db, U1,
            "SELECT seasongate.request_override('ovr-x', 'production', 'DE', %s, ARRAY['business-hours'], "
            "%s, %s, 'r', 't', false, 1, ARRAY['release_manager'], 43200)", (versions, AT, UNTIL))  # fmt: skip
    assert snapshot(db) == before


@pytest.mark.postgres
def test_a_request_with_fractional_instants_does_not_stop_the_gate(db: str) -> None:
    sql(db, U1,
        "SELECT seasongate.request_override('ovr-x', 'production', 'DE', 'V226', ARRAY['business-hours'], "
        "%s, %s, 'r', 't', false, 1, ARRAY['release_manager'], 43200)",
        (AT - timedelta(microseconds=300_000), UNTIL + timedelta(microseconds=700_000)))  # fmt: skip
    result = cli_check(with_user(db, DEPLOYER), DEPLOYER)
    assert result.exit_code == 1, result.output  # denied as before, not a store error


# -- 2. forged audit entries ----------------------------------------------------------------


@pytest.mark.postgres
@pytest.mark.parametrize(
    ("statement", "message"),
    [
        # The old signature with an actor and a time: gone.
        ("SELECT seasongate.audit_append('anna.huber', 'migration.apply', 'V226', '{}', '2020-01-01Z')",
         "function seasongate.audit_append.* does not exist"),
        ("SELECT seasongate.audit_append('override.approve', 'ovr-1', '{}')", "override commands only"),
        ("SELECT seasongate._audit_append('migration.apply', 'V226', '{}', '2020-01-01Z')",
         "permission denied"),
        ("INSERT INTO seasongate.audit VALUES (9, now(), 'anna.huber', 'migration.apply', 'V226', "
         "'{}', 'x', 'y')", "permission denied"),
        ("SET SESSION AUTHORIZATION \"anna.huber\"", "permission denied"),
    ],
)  # fmt: skip
def test_nobody_writes_an_entry_in_someone_elses_name_or_time(db: str, statement: str, message: str) -> None:
    import psycopg

    sql(db, DEPLOYER, "SELECT seasongate.audit_append('decision', 'x', '{}')")
    before = snapshot(db)
    with pytest.raises(psycopg.Error, match=message):
        sql(db, U1, statement)
    assert snapshot(db) == before


@pytest.mark.postgres
def test_an_entry_is_always_in_the_session_users_name_at_the_servers_time(db: str) -> None:
    import psycopg

    with psycopg.connect(with_user(db, U1), autocommit=True) as conn:
        conn.execute(f"SET ROLE {DBA_ROLE}")  # does not change session_user
        row = conn.execute("SELECT actor, at FROM seasongate.audit_append('migration.apply', 'V226', '{}')").fetchone()
    assert row == (U1, AT)
    with open_store(with_user(db, U1), Path.cwd()) as store:
        with pytest.raises(InputError, match=r"in the name of whoever runs seasongate \(u1\), not anna.huber"):
            store.append_audit(ANNA, "migration.apply", "V226", {}, AT)
        # The instant passed in is not used: the server's clock is.
        entry = store.append_audit(U1, "migration.apply", "V227", {}, datetime(2020, 1, 1, tzinfo=UTC))
        assert entry.at == to_ts(AT) and entry.seq == 2 and len(entry.hash) == 64
        assert store.verify_audit().ok


# -- 3. backdating --------------------------------------------------------------------------


@pytest.mark.postgres
@pytest.mark.parametrize(
    ("statement", "message"),
    [
        ("SELECT seasongate.approve_override('ovr-1', 'ok', '2026-09-25T08:00Z')", "does not exist"),
        ("SELECT seasongate.revoke_override('ovr-1', 'r', '2020-01-01Z')", "does not exist"),
        ("SELECT seasongate.reject_override('ovr-1', 'r', '2020-01-01Z')", "does not exist"),
        ("SELECT seasongate.request_override('ovr-2', 'production', 'DE', 'V226', "
         "ARRAY['seasonal-blackout'], '2026-09-25T08:00Z', '2026-09-25T12:00Z', 'r', 't', false, "
         "2, ARRAY['release_manager'], 259200, '2026-09-25T08:00Z')", "does not exist"),
    ],
)  # fmt: skip
def test_no_function_takes_an_instant_from_the_caller(db: str, statement: str, message: str) -> None:
    import psycopg

    request(db, ANNA, "ovr-1", ["seasonal-blackout"], 2, ["release_manager"])
    before = snapshot(db)
    with pytest.raises(psycopg.Error, match=message):
        sql(db, JONAS, statement)
    assert snapshot(db) == before


@pytest.mark.postgres
def test_a_request_for_a_window_already_past_is_refused(db: str) -> None:
    import psycopg

    set_server_clock(db, datetime(2026, 11, 30, 10, 0, tzinfo=UTC))  # "today"
    before = snapshot(db)
    with pytest.raises(psycopg.Error, match=r"would end at 2026-09-25T12:00:00\+00:00, which is not after 2026-11-30"):
        request(db, ANNA, "ovr-late", ["seasonal-blackout"], 2, ["release_manager"])
    assert snapshot(db) == before


@pytest.mark.postgres
def test_audit_times_never_go_backwards_even_if_the_clock_does(db: str) -> None:
    request(db, ANNA, "ovr-1", ["seasonal-blackout"], 2, ["release_manager"])
    set_server_clock(db, AT - timedelta(days=60))  # the server's clock jumps back
    approve(db, JONAS, "ovr-1")
    sql(db, DEPLOYER, "SELECT seasongate.audit_append('decision', 'x', '{}')")
    times = [row[0] for row in sql(db, U1, "SELECT at FROM seasongate.audit ORDER BY seq")]
    assert times == sorted(times) and times[1] == AT  # the approval is not before the request
    assert sql(db, U1, "SELECT approved_at FROM seasongate.approvals") == [(AT,)]


# -- 4. burning an override -----------------------------------------------------------------


def _active_single_use(dsn: str) -> None:
    sql(dsn, ANNA,
        "SELECT seasongate.request_override('ovr-1', 'production', 'DE', 'V226', "
        "ARRAY['business-hours', 'seasonal-blackout'], %s, %s, 'hotfix', 'INC-1', true, 2, ARRAY['release_manager'], 43200)",
        (AT, UNTIL))  # fmt: skip
    approve(dsn, JONAS, "ovr-1")
    approve(dsn, LEA, "ovr-1")


ALLOWED = '{"verdict": "allow", "environment": "production", "territory": "DE", "override": {"id": "ovr-1"}}'


@pytest.mark.postgres
@pytest.mark.parametrize(
    ("user", "statement", "message"),
    [
        (U1, "SELECT seasongate.consume_override('ovr-1', 'x', now())", "does not exist"),
        (U1, f"SELECT seasongate.consume_override('ovr-1', 'x', '{ALLOWED}')",
         "u1 may not use override ovr-1: only members of seasongate_migrator run migrations"),
        (ANNA, f"SELECT seasongate.consume_override('ovr-1', 'x', '{ALLOWED}')", "only members of seasongate_migrator"),
        (DEPLOYER, "SELECT seasongate.consume_override('ovr-1', 'x', '{}')",
         "override ovr-1 can only be used by a run the gate allowed with it"),
        (DEPLOYER, "SELECT seasongate.consume_override('ovr-1', 'x', '{\"verdict\": \"deny\"}')",
         "can only be used by a run the gate allowed"),
        (DEPLOYER, "UPDATE seasongate.overrides SET consumed_at = now()", "permission denied"),
    ],
)  # fmt: skip
def test_only_a_migrator_in_an_allowed_run_consumes(db: str, user: str, statement: str, message: str) -> None:
    import psycopg

    _active_single_use(db)
    before = snapshot(db)
    with pytest.raises(psycopg.Error, match=message):
        sql(db, user, statement)
    assert snapshot(db) == before
    assert sql(db, DEPLOYER, f"SELECT seasongate.consume_override('ovr-1', 'migrate V226', '{ALLOWED}')") == [(True,)]


@pytest.mark.postgres
def test_the_gates_own_allowing_decision_lets_a_migrator_consume(db: str) -> None:
    _active_single_use(db)
    with open_store(with_user(db, DEPLOYER), Path.cwd()) as store:
        decision = check(environment="production", territory="DE", at=AT, migration="V226",
                         policy=PRODUCTION, store=store)  # fmt: skip
        assert decision.allowed and decision.override is not None and decision.override.id == "ovr-1"
        store.consume("ovr-1", AT, "production/DE/V226", decision=decision.to_dict())
        assert store.get_override("ovr-1").consumed is not None
        recorded = [e for e in store.audit_entries() if e.action == "decision"][-1]
        assert recorded.payload["verdict"] == "allow" and recorded.actor == DEPLOYER


# -- 5. freezing every gate -----------------------------------------------------------------


@pytest.mark.postgres
def test_a_transaction_held_open_after_an_append_makes_check_fail_closed(db: str) -> None:
    import psycopg

    before = snapshot(db)
    with psycopg.connect(with_user(db, U1)) as holder:  # not autocommit: the transaction stays open
        holder.execute("SELECT seasongate.audit_append('decision', 'x', '{}')")
        result = cli_check(with_user(db, DEPLOYER), DEPLOYER)
        holder.rollback()
    assert result.exit_code == 2
    assert "the store is busy" in result.stderr and "held by u1" in result.stderr
    assert "allow" not in result.stdout
    assert snapshot(db) == before


@pytest.mark.postgres
def test_a_table_locked_access_exclusive_makes_check_fail_closed(db: str, hostile_roles: Cluster) -> None:
    import psycopg

    with psycopg.connect(db) as holder:
        holder.execute("LOCK TABLE seasongate.overrides IN ACCESS EXCLUSIVE MODE")
        result = cli_check(with_user(db, DEPLOYER), DEPLOYER)
        holder.rollback()
    assert result.exit_code == 2
    assert "the store is busy" in result.stderr
    assert f"held by {hostile_roles.superuser}" in result.stderr and "AccessExclusiveLock on overrides" in result.stderr


# -- 6. wiping the trail --------------------------------------------------------------------

HISTORY = "seasongate_schema_history"


def _history_with_anchors(target: str, store: Store, versions: list[str]) -> None:
    """What ``migrate`` writes: Flyway's history and the side table with the audit anchors."""
    import psycopg

    with psycopg.connect(target, autocommit=True) as conn:
        conn.execute(
            f"CREATE TABLE IF NOT EXISTS {HISTORY} (installed_rank int PRIMARY KEY, version text, "
            "description text, type text, script text, checksum int, installed_by text, "
            "installed_on timestamp DEFAULT now(), execution_time int, success boolean)"
        )
        conn.execute(
            f"CREATE TABLE IF NOT EXISTS {HISTORY}_seasongate (installed_rank int PRIMARY KEY, "
            "gate_verdict text, override_id text, sha256 text, transactional boolean, audit_seq bigint, "
            "audit_hash text)"
        )
        for rank, version in enumerate(versions, start=1):
            entry = store.append_audit(store.identity(), "migration.start", f"production/DE/V{version}", {}, AT)
            conn.execute(
                f"INSERT INTO {HISTORY} (installed_rank, version, description, type, script, checksum, "
                "installed_by, execution_time, success) VALUES (%s, %s, 'd', 'SQL', 's', 0, 'x', 1, true)",
                (rank, version),
            )
            conn.execute(
                f"INSERT INTO {HISTORY}_seasongate VALUES (%s, 'allow', NULL, 'x', true, %s, %s)",
                (rank, entry.seq, entry.hash),
            )


def _verify(store: str, *more: str) -> Any:
    return cli(DEPLOYER, "audit", "verify", "--store", store, *more)


@pytest.mark.postgres
def test_a_wiped_postgres_trail_is_found_by_the_kept_head_and_the_history(db: str) -> None:
    with open_store(with_user(db, DEPLOYER), Path.cwd()) as store:
        _history_with_anchors(db, store, ["226", "227"])
    head = cli(DEPLOYER, "audit", "head", "--store", with_user(db, DEPLOYER))
    assert head.exit_code == 0 and re.fullmatch(r"2:[0-9a-f]{64}\n", head.stdout)
    intact = _verify(with_user(db, DEPLOYER), "--head", head.stdout.strip(), "--against", db)
    assert intact.exit_code == 0 and "2 entries" in intact.stdout and "3 anchors found" in intact.stdout
    # The owner (or anyone who gained its rights) wipes the trail and its head.
    sql(db, _owner(db), "DELETE FROM seasongate.audit; DELETE FROM seasongate.meta WHERE key = 'audit_head'")
    assert _verify(with_user(db, DEPLOYER)).exit_code == 0  # on its own, an empty trail is intact ...
    kept = _verify(with_user(db, DEPLOYER), "--head", head.stdout.strip())
    assert kept.exit_code == 1 and "the kept head: entry 2 is missing" in kept.stdout
    history = _verify(with_user(db, DEPLOYER), "--against", db)
    assert history.exit_code == 1
    assert "history rank 1 (V226): entry 1 is missing, history rank 2 (V227): entry 2 is missing" in history.stdout


@pytest.mark.postgres
def test_a_target_without_the_side_table_is_a_note_not_an_error(db: str) -> None:
    result = _verify(with_user(db, DEPLOYER), "--against", db)
    assert result.exit_code == 0
    assert f"has no table public.{HISTORY}_seasongate yet" in result.stderr


@pytest.mark.parametrize("wipe", ["rows", "delete-file", "truncate-file"])
def test_a_wiped_sqlite_trail_is_found_by_the_kept_head(tmp_path: Path, wipe: str) -> None:
    path = tmp_path / "s.db"
    url = f"sqlite:///{path}"
    with as_os_user(DEPLOYER), open_store(url, tmp_path) as store:
        for version in ("226", "227", "228"):
            store.append_audit(DEPLOYER, "migration.apply", version, {}, AT)
    head = cli(DEPLOYER, "audit", "head", "--store", url).stdout.strip()
    if wipe == "rows":
        with sqlite3.connect(path) as conn:
            conn.execute("DELETE FROM audit")
            conn.execute("DELETE FROM meta WHERE key = 'audit_head'")
    elif wipe == "delete-file":
        for leftover in tmp_path.glob("s.db*"):
            leftover.unlink()
    else:
        for leftover in tmp_path.glob("s.db*"):
            os.truncate(leftover, 0)
    assert _verify(url).exit_code == 0  # an empty trail on its own looks intact ...
    result = _verify(url, "--head", head)
    assert result.exit_code == 1 and "the kept head: entry 3 is missing" in result.stdout


def test_a_sqlite_file_deleted_while_open_is_never_written_to(tmp_path: Path) -> None:
    """Deleting the file 4 s into a long migrate used to lose every later entry, exit 0."""
    path = tmp_path / "s.db"
    with as_os_user(DEPLOYER), open_store(f"sqlite:///{path}", tmp_path) as store:
        store.append_audit(DEPLOYER, "migration.start", "V226", {}, AT)
        for leftover in tmp_path.glob("s.db*"):
            leftover.unlink()
        with pytest.raises(
            StoreError, match="was deleted or replaced while seasongate had it open; nothing was written"
        ):
            store.append_audit(DEPLOYER, "migration.apply", "V226", {}, AT)


@pytest.mark.postgres
def test_a_deleted_sqlite_file_is_found_by_the_target_history(tmp_path: Path, pg_dsn: str) -> None:
    url = f"sqlite:///{tmp_path / 's.db'}"
    with as_os_user(DEPLOYER), open_store(url, tmp_path) as store:
        _history_with_anchors(pg_dsn, store, ["226"])
    for leftover in tmp_path.glob("s.db*"):
        leftover.unlink()
    result = _verify(url, "--against", pg_dsn)
    assert result.exit_code == 1 and "history rank 1 (V226): entry 1 is missing" in result.stdout


@pytest.mark.postgres
def test_a_real_migrate_anchors_its_history_and_a_wiped_trail_is_found(tmp_path: Path, pg_dsn: str) -> None:
    """End to end: ``migrate`` writes audit_seq/audit_hash beside each history row; after the
    SQLite store is deleted, ``audit verify --against`` names every row whose entry is gone."""
    from freezegun import freeze_time

    from tests.conftest import MIGRATIONS, POLICIES

    store = f"sqlite:///{tmp_path / 's.db'}"
    with freeze_time("2026-11-14T23:00+01:00", tick=True):  # a November weekend night: allowed
        run = cli(DEPLOYER, "migrate", "--dsn", pg_dsn, "--migrations", str(MIGRATIONS), "--env", "production",
                  "--territory", "DE", "--store", store, "--policy", str(POLICIES / "production.yaml"))  # fmt: skip
    assert run.exit_code == 0, run.output
    rows = sql(pg_dsn, _owner(pg_dsn), f"SELECT count(*) FROM {HISTORY}_seasongate WHERE audit_seq IS NOT NULL")
    applied = rows[0][0]
    assert applied >= 1
    intact = _verify(store, "--against", pg_dsn)
    assert intact.exit_code == 0 and f"{applied} anchors found" in intact.stdout
    for leftover in tmp_path.glob("s.db*"):
        leftover.unlink()
    wiped = _verify(store, "--against", pg_dsn)
    assert wiped.exit_code == 1
    assert f"the trail no longer contains {applied} of {applied} anchored entries (history rank 1 (V" in wiped.stdout


# -- 7. state the chain does not explain ----------------------------------------------------


def _sqlite_active_override(tmp_path: Path, policy: Any) -> str:
    from seasongate.api import override_request

    url = f"sqlite:///{tmp_path / 's.db'}"
    with as_os_user(ANNA):
        override_request(policy, at=AT, environment="production", territory="DE", versions="V226",
                         reason="hotfix", ticket="INC-1", duration="4h", store=url, rules=["business-hours"],
                         project_dir=tmp_path)  # fmt: skip
    return url


def _sqlite_rows(path: Path) -> list[Any]:
    with sqlite3.connect(path) as conn:
        return [conn.execute(f"SELECT * FROM {t} ORDER BY 1").fetchall() for t in ("overrides", "approvals", "audit")]


@pytest.mark.parametrize(
    "tamper",
    [
        "INSERT INTO approvals (override_id, approver, approved_at, comment, roles) "
        "SELECT id, 'jonas.meier', created_at, '', '[\"release_manager\"]' FROM overrides",
        "UPDATE overrides SET valid_until = '2026-09-30T00:00:00+00:00'",
        'UPDATE approvals SET roles = \'["dba", "release_manager"]\'',
    ],
    ids=["approval-inserted", "window-extended", "role-changed"],
)
def test_sqlite_state_outside_the_chain_never_makes_check_allow(
    tmp_path: Path, production_policy: Any, tamper: str
) -> None:
    from seasongate.api import override_approve

    url = _sqlite_active_override(tmp_path, production_policy)
    oid = sqlite3.connect(tmp_path / "s.db").execute("SELECT id FROM overrides").fetchone()[0]
    with as_os_user(LEA):
        override_approve(production_policy, oid, at=AT, store=url, project_dir=tmp_path)
    with sqlite3.connect(tmp_path / "s.db") as conn:
        conn.execute(tamper)
    before = _sqlite_rows(tmp_path / "s.db")
    result = cli_check(url, DEPLOYER)
    assert result.exit_code == 2, result.output
    assert f"override {oid}: its stored state is not what the audit trail records" in result.stderr
    assert _sqlite_rows(tmp_path / "s.db") == before  # nothing written, not even a decision


@pytest.mark.parametrize("backend", ["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def test_an_unrevoked_override_is_refused(tmp_path: Path, backend: str, request: pytest.FixtureRequest) -> None:
    """Wiping a revocation from the table (SQLite: anyone who can write the file; PostgreSQL:
    only the owner) does not bring the override back."""
    if backend == "sqlite":
        url = f"sqlite:///{tmp_path / 's.db'}"
        owner_sql = lambda statement: sqlite3.connect(tmp_path / "s.db").execute(statement).connection.commit()  # noqa: E731
        store_for = lambda user: url  # noqa: E731
    else:
        dsn: str = request.getfixturevalue("db")
        url = dsn
        owner_sql = lambda statement: sql(dsn, _owner(dsn), statement)  # noqa: E731
        store_for = lambda user: with_user(dsn, user)  # noqa: E731
    policy = request.getfixturevalue("production_policy")
    from seasongate.api import override_approve, override_request, override_revoke

    with as_os_user(ANNA):
        oid = override_request(policy, at=AT, environment="production", territory="DE", versions="V226",
                               reason="hotfix", ticket="INC-1", duration="4h", store=store_for(ANNA),
                               rules=["business-hours"]).id  # fmt: skip
    with as_os_user(LEA):
        override_approve(policy, oid, at=AT, store=store_for(LEA))
    assert cli_check(store_for(DEPLOYER), DEPLOYER).exit_code in (0, 1)
    with as_os_user(JONAS):
        override_revoke(policy, oid, at=AT, reason="done", store=store_for(JONAS))
    owner_sql(("UPDATE seasongate.overrides" if backend == "postgres" else "UPDATE overrides")
              + " SET revoked_at = NULL, revoked_by = NULL, revoke_reason = NULL")  # fmt: skip
    with as_os_user(DEPLOYER), open_store(store_for(DEPLOYER), tmp_path) as store:
        entries = store.audit_count()
    result = cli_check(store_for(DEPLOYER), DEPLOYER)
    assert result.exit_code == 2
    assert f"override {oid}: its stored state is not what the audit trail records" in result.stderr
    with as_os_user(DEPLOYER), open_store(store_for(DEPLOYER), tmp_path) as store:
        assert store.audit_count() == entries  # no decision was recorded


# -- the same refusals in both languages ----------------------------------------------------


def _pg_refusal(dsn: str, user: str, statement: str) -> str:
    import psycopg

    with pytest.raises(psycopg.Error) as caught:
        sql(dsn, user, statement)
    assert caught.value.sqlstate is not None and caught.value.sqlstate.startswith("SG")
    return str(caught.value.diag.message_primary)


def _py_refusal(action: Any) -> str:
    with pytest.raises((OverrideError, InputError, StoreError)) as caught:
        action()
    return str(caught.value)


@pytest.mark.postgres
def test_refusals_say_the_same_in_plpgsql_and_python(db: str, tmp_path: Path) -> None:
    """Each refusal both stores can make, made in both, compared word for word."""
    url = f"sqlite:///{tmp_path / 's.db'}"
    ts = to_ts(AT)

    def roster(role: str) -> tuple[str, ...]:
        return (ANNA, JONAS, LEA) if role == "release_manager" else (U1, U2) if role == "dba" else ()

    def sqlite_as(user: str) -> Store:
        with as_os_user(user):
            return open_store(url, tmp_path)

    def draft(oid: str, single_use: bool = False) -> Any:
        return new_override(override_id=oid, scope=Scope("production", "DE", parse_versions("V226")),
                            requirements=Requirements(("seasonal-blackout",), 2, ("release_manager",), 72 * H),
                            valid_from=ts, valid_until=ts + 4 * H, at=ts, requester=ANNA, reason="hotfix",
                            ticket="INC-1", single_use=single_use)  # fmt: skip

    # The same overrides in both stores, all single use: ovr-p pending, ovr-a active, ovr-r revoked.
    for oid, single in (("ovr-p", True), ("ovr-a", True), ("ovr-r", True)):
        sql(db, ANNA,
            "SELECT seasongate.request_override(%s, 'production', 'DE', 'V226', ARRAY['seasonal-blackout'], "
            "%s, %s, 'hotfix', 'INC-1', %s, 2, ARRAY['release_manager'], 259200)",
            (oid, AT, UNTIL, single))  # fmt: skip
        with sqlite_as(ANNA) as store:
            store.create_override(draft(oid, single))
    for oid in ("ovr-a", "ovr-r"):
        for user in (JONAS, LEA):
            approve(db, user, oid)
            with sqlite_as(user) as store:
                store.approve(oid, at=AT, comment="ok", roster=roster)
    sql(db, ANNA, "SELECT seasongate.revoke_override('ovr-r', 'gone')")
    with sqlite_as(ANNA) as store:
        store.revoke("ovr-r", at=AT, reason="gone", roster=roster)

    cases: list[tuple[str, str, str, Any]] = [
        ("unknown", JONAS, "SELECT seasongate.approve_override('ovr-x', '')",
         lambda s: s.approve("ovr-x", at=AT, comment="", roster=roster)),
        ("self_approve", ANNA, "SELECT seasongate.approve_override('ovr-p', '')",
         lambda s: s.approve("ovr-p", at=AT, comment="", roster=roster)),
        ("no_role", U1, "SELECT seasongate.approve_override('ovr-p', '')",
         lambda s: s.approve("ovr-p", at=AT, comment="", roster=roster)),
        ("closed", JONAS, "SELECT seasongate.approve_override('ovr-r', '')",
         lambda s: s.approve("ovr-r", at=AT, comment="", roster=roster)),
        ("self_reject", ANNA, "SELECT seasongate.reject_override('ovr-p', 'no')",
         lambda s: s.reject("ovr-p", at=AT, reason="no", roster=roster)),
        ("no_role", U1, "SELECT seasongate.reject_override('ovr-p', 'no')",
         lambda s: s.reject("ovr-p", at=AT, reason="no", roster=roster)),
        ("reject_approved", JONAS, "SELECT seasongate.reject_override('ovr-a', 'no')",
         lambda s: s.reject("ovr-a", at=AT, reason="no", roster=roster)),
        ("closed", JONAS, "SELECT seasongate.reject_override('ovr-r', 'no')",
         lambda s: s.reject("ovr-r", at=AT, reason="no", roster=roster)),
        ("revoke_denied", U1, "SELECT seasongate.revoke_override('ovr-p', 'mine')",
         lambda s: s.revoke("ovr-p", at=AT, reason="mine", roster=roster)),
        ("closed", LEA, "SELECT seasongate.revoke_override('ovr-r', 'again')",
         lambda s: s.revoke("ovr-r", at=AT, reason="again", roster=roster)),
        ("unusable", DEPLOYER,
         "SELECT seasongate.consume_override('ovr-p', 's', '{\"verdict\": \"allow\", \"environment\": "
         "\"production\", \"territory\": \"DE\", \"override\": {\"id\": \"ovr-p\"}}')",
         lambda s: s.consume("ovr-p", AT, "s")),
        ("reserved_action", DEPLOYER, "SELECT seasongate.audit_append('override.approve', 'x', '{}')",
         lambda s: s.append_audit(DEPLOYER, "override.approve", "x", {}, AT)),
    ]  # fmt: skip
    # Only the database has roles to run migrations (SG010) and checks a consumption's
    # decision (SG011); it cannot date anything before a request (SG009: its time only moves on).
    cases += [
        ("empty_reason", JONAS, "SELECT seasongate.reject_override('ovr-p', '  ')",
         lambda s: s.reject("ovr-p", at=AT, reason="  ", roster=roster)),
        ("ends_before_now", ANNA,
         "SELECT seasongate.request_override('ovr-e', 'production', 'DE', 'V226', ARRAY['seasonal-blackout'], "
         "'2026-09-25T06:00Z', '2026-09-25T07:00Z', 'r', 't', false, 2, ARRAY['release_manager'], 259200)",
         lambda s: new_override(override_id="ovr-e", scope=Scope("production", "DE", None),
                                requirements=Requirements(("seasonal-blackout",), 2, ("release_manager",), 72 * H),
                                valid_from=ts - 2 * H, valid_until=ts - H, at=ts, requester=ANNA, reason="r",
                                ticket="t")),
    ]  # fmt: skip
    seen = set()
    for name, user, statement, action in cases:
        in_sql = _pg_refusal(db, user, statement)
        with sqlite_as(user) as store:
            in_python = _py_refusal(lambda: action(store))  # noqa: B023 - called right here
        assert in_sql == in_python, name
        assert re.fullmatch(re.sub(r"\\\{\w+\\\}", ".+", re.escape(REFUSALS[name].template)), in_sql), name
        seen.add(name)
    # The trail cut behind seasongate's back: both refuse to append.
    sql(db, _owner(db), "DELETE FROM seasongate.meta WHERE key = 'audit_head'")
    with sqlite3.connect(tmp_path / "s.db") as conn:
        conn.execute("DELETE FROM meta WHERE key = 'audit_head'")
    in_sql = _pg_refusal(db, DEPLOYER, "SELECT seasongate.audit_append('decision', 'x', '{}')")
    with sqlite_as(DEPLOYER) as store:
        assert _py_refusal(lambda: store.append_audit(DEPLOYER, "decision", "x", {}, AT)) == in_sql
    seen.add("trail_changed")
    assert len(seen) == 12


# -- DSN passwords never printed ------------------------------------------------------------


@pytest.mark.parametrize(
    "url",
    [
        "postgresql://u:S3CRET%ZZ@127.0.0.1:1/db",
        "postgresql://u:S3CRET@127.0.0.1:1/db",
        "postgresql://u@127.0.0.1:1/db?password=S3CRET",
        "postgresql://u@127.0.0.1:1/db?sslmode=disable&password=S3CRET",
    ],
)
def test_check_never_prints_the_store_password(url: str) -> None:
    result = cli_check(url, DEPLOYER)
    assert result.exit_code == 2
    assert "S3CRET" not in result.output and "S3CRET" not in result.stderr
    assert "***" in result.stderr or "cannot connect" in result.stderr
