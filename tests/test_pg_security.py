"""PostgreSQL enforces the override rules itself: a psql prompt gets no further than the CLI.

Real login roles on the test server (trust authentication on its private socket): release
managers are members of ``seasongate_release_manager``, ``dev.dora`` is not. Everything here
is plain SQL through psycopg, as someone at a psql prompt would type it.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest

from seasongate._errors import OverrideError
from seasongate._store import open_store
from tests import store_support
from tests.pgcluster import Cluster
from tests.store_support import (
    CI_USER,
    OUTSIDER,
    RM_ROLE,
    set_server_clock,
    with_user,
)

# The fixtures of tests/store_support.py, visible to pytest in this module.
pg_roles = store_support.pg_roles

pytestmark = pytest.mark.postgres

ANNA, JONAS, LEA = "anna.huber", "jonas.meier", "lea.keller"
AT = datetime(2026, 9, 25, 8, 0, tzinfo=UTC)
UNTIL = datetime(2026, 9, 25, 12, 0, tzinfo=UTC)


@pytest.fixture
def db(pg_dsn: str, pg_roles: Cluster) -> Iterator[str]:
    """A database with the seasongate schema, created by its owner (the superuser), its
    server clock frozen at AT."""
    open_store(pg_dsn, Path.cwd()).close()
    set_server_clock(pg_dsn, AT)
    yield pg_dsn


@pytest.fixture(scope="module")
def shared_db(pg_roles: Cluster) -> Iterator[str]:
    """One database for the tests that change nothing: ANNA requested, LEA approved once."""
    import uuid

    import psycopg

    name = f"t_{uuid.uuid4().hex[:12]}"
    with psycopg.connect(pg_roles.dsn(), autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"'.encode())
    dsn = pg_roles.dsn(name)
    open_store(dsn, Path.cwd()).close()
    set_server_clock(dsn, AT)
    request(dsn, ANNA)
    approve(dsn, LEA)
    yield dsn
    with psycopg.connect(pg_roles.dsn(), autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'.encode())


def psql(dsn: str, user: str, sql: str, params: tuple[object, ...] = ()) -> list[tuple[object, ...]]:
    """Run one statement as ``user``; database errors propagate."""
    import psycopg

    with psycopg.connect(with_user(dsn, user), autocommit=True) as conn:
        cur = conn.execute(sql.encode(), params)
        return cur.fetchall() if cur.description else []


def request(dsn: str, user: str, oid: str = "ovr-1", approvals: int = 2,
            roles: tuple[str, ...] = ("release_manager",)) -> None:  # fmt: skip
    psql(
        dsn, user,
        "SELECT seasongate.request_override(%s, 'production', 'DE', 'V226', "
        "ARRAY['seasonal-blackout'], %s, %s, 'hotfix', 'INC-1', false, %s::int, %s::text[], 259200)",
        (oid, AT, UNTIL, approvals, list(roles)),
    )  # fmt: skip


def approve(dsn: str, user: str, oid: str = "ovr-1") -> bool:
    rows = psql(dsn, user, "SELECT seasongate.approve_override(%s, 'ok')", (oid,))
    return bool(rows[0][0])


def test_release_managers_and_the_database_rules(db: str) -> None:
    import psycopg

    request(db, ANNA)
    requester = psql(db, ANNA, "SELECT requester FROM seasongate.overrides")
    assert requester == [(ANNA,)]  # session_user, not a parameter
    with pytest.raises(psycopg.Error, match="cannot approve it"):
        approve(db, ANNA)
    with pytest.raises(psycopg.Error, match="holds none of the roles"):
        approve(db, OUTSIDER)
    assert approve(db, JONAS) is True
    assert approve(db, JONAS) is False  # twice counts once
    assert approve(db, LEA) is True
    rows = psql(db, CI_USER, "SELECT approver FROM seasongate.approvals ORDER BY approver")
    assert rows == [(JONAS,), (LEA,)]
    status = psql(db, CI_USER, "SELECT seasongate._status(o, %s) FROM seasongate.overrides o",
                  (AT,))  # fmt: skip
    assert status == [("active",)]


def test_set_role_does_not_change_who_approves(db: str) -> None:
    import psycopg

    request(db, ANNA)
    with psycopg.connect(with_user(db, ANNA), autocommit=True) as conn:
        conn.execute(f"SET ROLE {RM_ROLE}")
        with pytest.raises(psycopg.Error, match="cannot approve it"):
            conn.execute("SELECT seasongate.approve_override('ovr-1', '')")


@pytest.mark.parametrize(
    "statement",
    [
        "INSERT INTO seasongate.approvals (override_id, approver, approved_at) VALUES ('ovr-1', 'jonas.meier', now())",
        "UPDATE seasongate.overrides SET approvals_required = 1",
        "UPDATE seasongate.overrides SET requester = 'someone.else'",
        "DELETE FROM seasongate.approvals",
        "UPDATE seasongate.audit SET actor = 'x'",
        "DELETE FROM seasongate.audit",
        "TRUNCATE seasongate.audit",
        "INSERT INTO seasongate.audit VALUES (99, now(), 'a', 'b', 'c', '{}', 'x', 'y')",
        "UPDATE seasongate.meta SET value = '0:x' WHERE key = 'audit_head'",
        "SELECT seasongate._audit_append('override.approve', 'ovr-1', '{}', now())",
        "SELECT seasongate._begin_change()",
        "INSERT INTO seasongate.clock (at) VALUES ('2020-01-01Z')",
        "DELETE FROM seasongate.clock",
        "SELECT seasongate._lock_override('ovr-1')",
        "CREATE TABLE seasongate.sneaky (x int)",
        "CREATE FUNCTION seasongate.pg_has_role(text, text, text) RETURNS boolean LANGUAGE sql AS 'SELECT true'",
    ],
)
@pytest.mark.parametrize("user", [ANNA, JONAS, OUTSIDER])
def test_direct_writes_are_refused(shared_db: str, user: str, statement: str) -> None:
    import psycopg

    with pytest.raises(psycopg.errors.InsufficientPrivilege):
        psql(shared_db, user, statement)
    assert psql(shared_db, CI_USER, "SELECT count(*) FROM seasongate.approvals") == [(1,)]
    assert psql(shared_db, CI_USER, "SELECT count(*) FROM seasongate.audit") == [(2,)]
    assert psql(shared_db, CI_USER, "SELECT requester, approvals_required FROM "
                "seasongate.overrides") == [(ANNA, 2)]  # fmt: skip


def test_the_owner_may_change_the_audit_table(db: str) -> None:
    request(db, ANNA)
    psql(db, "postgres", "UPDATE seasongate.audit SET actor = 'owner' WHERE seq = 1")
    assert psql(db, CI_USER, "SELECT actor FROM seasongate.audit") == [("owner",)]
    with open_store(with_user(db, CI_USER), Path.cwd()) as store:
        assert store.verify_audit().broken_seq == 1  # ... and the chain tells


def test_forged_audit_actions_are_refused(db: str) -> None:
    import psycopg

    with pytest.raises(psycopg.Error, match="override commands only"):
        psql(db, OUTSIDER, "SELECT seasongate.audit_append('override.approve', 'ovr-1', '{}')")
    psql(db, CI_USER, "SELECT seasongate.audit_append('decision', 'x', '{}')")
    assert psql(db, CI_USER, "SELECT actor, action, at FROM seasongate.audit") == [(CI_USER, "decision", AT)]


def test_requests_cannot_skip_approvals(db: str) -> None:
    import psycopg

    with pytest.raises(psycopg.errors.CheckViolation):
        request(db, ANNA, approvals=0)
    with pytest.raises(psycopg.errors.CheckViolation):
        request(db, ANNA, roles=())
    assert psql(db, CI_USER, "SELECT count(*) FROM seasongate.overrides") == [(0,)]


def test_a_missing_database_role_is_named(db: str) -> None:
    request(db, ANNA, roles=("auditor",))
    with (
        open_store(with_user(db, JONAS), Path.cwd()) as store,
        pytest.raises(OverrideError, match="PostgreSQL role seasongate_auditor does not exist"),
    ):
        store.approve("ovr-1", at=AT, comment="", roster=lambda role: ())


def test_security_definer_functions_pin_their_search_path(db: str) -> None:
    rows = psql(
        db, CI_USER,
        "SELECT p.proname, p.proconfig FROM pg_proc p "
        "JOIN pg_namespace n ON n.oid = p.pronamespace "
        "WHERE n.nspname = 'seasongate' AND p.prosecdef ORDER BY 1",
    )  # fmt: skip
    names = [r[0] for r in rows]
    assert names == [
        "_audit_append", "approve_override", "audit_append", "consume_override",
        "reject_override", "request_override", "revoke_override",
    ]  # fmt: skip
    assert all(r[1] == ["search_path=pg_catalog, pg_temp"] for r in rows)


def test_the_store_api_reports_database_refusals(db: str) -> None:
    with open_store(with_user(db, ANNA), Path.cwd()) as store:
        request(db, ANNA)
        with pytest.raises(OverrideError, match=r"anna.huber requested override ovr-1"):
            # The roster says yes to everyone: the database still says no.
            store.approve("ovr-1", at=AT, comment="", roster=lambda role: (ANNA,))
    with open_store(with_user(db, OUTSIDER), Path.cwd()) as store:
        with pytest.raises(OverrideError, match=r"dev.dora holds none of the roles override ovr-1 needs"):
            store.approve("ovr-1", at=AT, comment="", roster=lambda role: (OUTSIDER,))
        assert store.audit_count() == 1
