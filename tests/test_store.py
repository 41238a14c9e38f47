"""The store interface, on SQLite and PostgreSQL alike: opening, schema, identity, grants."""

from __future__ import annotations

import re
import sqlite3
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from seasongate._errors import InputError, OverrideError, StoreError
from seasongate._overrides import Approval, Requirements, Scope, new_override, parse_versions
from seasongate._store import (
    SCHEMA_VERSION,
    display_url,
    open_store,
    resolve_url,
)
from seasongate._time import to_ts
from tests import store_support
from tests.store_support import CI_USER, Actors

# The fixtures of tests/store_support.py, visible to pytest in this module.
actors = store_support.actors
pg_roles = store_support.pg_roles
production_policy = store_support.production_policy
store_url = store_support.store_url

AT = datetime(2026, 9, 25, 8, 0, tzinfo=UTC)
H = 3600


def test_open_creates_the_schema_once(store_url: str) -> None:
    first = open_store(store_url, Path.cwd())
    second = open_store(store_url, Path.cwd())  # idempotent: nothing to do the second time
    try:
        assert first.schema_version() == second.schema_version() == SCHEMA_VERSION
        first.append_audit(first.identity(), "decision", "s", {}, AT)
        assert second.audit_count() == 1
    finally:
        first.close()
        second.close()
    with open_store(store_url, Path.cwd()) as third:
        assert third.audit_count() == 1  # reopening keeps the data


def test_a_newer_schema_is_refused(actors: Actors) -> None:
    if actors.backend == "sqlite":
        path = actors.url[len("sqlite:///") :]
        with sqlite3.connect(path) as conn:
            conn.execute("UPDATE meta SET value = '99' WHERE key = 'schema_version'")
    else:
        import psycopg

        with psycopg.connect(actors.url, autocommit=True) as conn:
            conn.execute("UPDATE seasongate.meta SET value = '99' WHERE key = 'schema_version'")
    with pytest.raises(StoreError, match="schema version 99, newer than this seasongate"):
        open_store(actors.url, Path.cwd())


def test_identity(actors: Actors) -> None:
    with actors.open("lea.keller") as store:
        assert store.identity() == "lea.keller"
    with actors.open(CI_USER) as store:
        assert store.identity() == CI_USER


def test_default_url_is_a_sqlite_file_in_the_project(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("SEASONGATE_STORE", raising=False)
    url = resolve_url(None, tmp_path)
    assert url == f"sqlite:///{tmp_path.resolve()}/.seasongate/seasongate.db"
    with open_store(None, tmp_path) as store:
        assert store.backend == "sqlite"
    assert (tmp_path / ".seasongate" / "seasongate.db").is_file()
    assert sqlite3.connect(tmp_path / ".seasongate" / "seasongate.db").execute("PRAGMA journal_mode").fetchone() == (
        "wal",
    )
    monkeypatch.setenv("SEASONGATE_STORE", "sqlite:///other.db")
    assert resolve_url(None, tmp_path) == "sqlite:///other.db"
    assert resolve_url("sqlite:///given.db", tmp_path) == "sqlite:///given.db"
    with open_store(None, tmp_path):
        pass
    assert (tmp_path / "other.db").is_file()  # relative to the project directory


@pytest.mark.parametrize(
    ("url", "message"),
    [
        ("mysql://db/x", "unsupported store URL 'mysql://db/x'"),
        ("sqlite://relative.db", "invalid store URL"),
        ("sqlite:///", "invalid store URL"),
        ("postgresql://nobody@/x?host=/nonexistent&port=1", "cannot connect to the PostgreSQL"),
        ("postgresql://u:secret@/x?host=/nonexistent&port=1", "postgresql://u:***@/x"),
    ],
)
def test_unusable_urls_are_store_errors(url: str, message: str) -> None:
    with pytest.raises(StoreError, match=re.escape(message)) as caught:
        open_store(url, Path.cwd())
    assert "secret" not in str(caught.value)


def test_unreadable_sqlite_files_are_store_errors(tmp_path: Path) -> None:
    garbage = tmp_path / "garbage.db"
    garbage.write_bytes(b"this is not a database, just some text " * 200)
    with pytest.raises(StoreError, match=r"cannot open the SQLite store .*garbage.db"):
        open_store(f"sqlite:///{garbage}", tmp_path)
    directory = tmp_path / "a-directory.db"
    directory.mkdir()
    with pytest.raises(StoreError, match="cannot open the SQLite store"):
        open_store(f"sqlite:///{directory}", tmp_path)
    blocker = tmp_path / "file"
    blocker.write_text("x")
    with pytest.raises(StoreError, match="cannot open the SQLite store"):
        open_store(f"sqlite:///{blocker}/sub/store.db", tmp_path)


def test_display_url_hides_passwords() -> None:
    assert display_url("postgresql://u:pw@db:5432/x") == "postgresql://u:***@db:5432/x"
    assert display_url("postgresql://u@db/x") == "postgresql://u@db/x"


def test_append_audit_round_trip(actors: Actors) -> None:
    with actors.open(CI_USER) as store:
        entry = store.append_audit(CI_USER, "decision", "production/DE/V226", {"allowed": False, "ü": ["x"]}, AT)
        assert (entry.seq, entry.at, entry.actor, entry.action) == (
            1, to_ts(AT), CI_USER, "decision",
        )  # fmt: skip
        assert entry.payload == {"allowed": False, "ü": ["x"]}
        actors.set_clock(AT + timedelta(hours=1))
        second = store.append_audit(CI_USER, "run", "r", {}, AT + timedelta(hours=1))
        assert second.prev_hash == entry.hash and second.seq == 2
        assert store.audit_entries() == [entry, second]
        assert store.audit_entries(since=AT + timedelta(minutes=1)) == [second]
        assert store.audit_count() == 2


@pytest.mark.parametrize(
    ("actor", "action", "subject", "at", "error", "message"),
    [
        (CI_USER, "override.approve", "x", AT, InputError, "written by the override commands only"),
        ("", "decision", "x", AT, InputError, "needs an actor"),
        (CI_USER, " ", "x", AT, InputError, "needs an action"),
        (CI_USER, "decision", "a\x00b", AT, InputError, "NUL"),
        ("anna.huber", "decision", "x", AT, InputError, r"in the name of whoever runs seasongate \(ci.runner\)"),
    ],
)
def test_append_audit_refuses(
    actors: Actors, actor: str, action: str, subject: str, at: datetime,
    error: type[Exception], message: str,
) -> None:  # fmt: skip
    with actors.open(CI_USER) as store:
        with pytest.raises(error, match=message):
            store.append_audit(actor, action, subject, {}, at)
        assert store.audit_count() == 0


def test_payload_that_is_not_json_is_refused(actors: Actors) -> None:
    with actors.open(CI_USER) as store:
        with pytest.raises(InputError, match="cannot be written as JSON"):
            store.append_audit(CI_USER, "decision", "x", {"n": float("nan")}, AT)
        assert store.audit_count() == 0


def _draft(requester: str, **kw: object) -> object:
    args: dict[str, object] = {
        "override_id": "ovr-test",
        "scope": Scope("production", "DE", parse_versions("V226..V230")),
        "requirements": Requirements(("seasonal-blackout",), 1, ("release_manager",), 72 * H),
        "valid_from": to_ts(AT),
        "valid_until": to_ts(AT) + 4 * H,
        "at": to_ts(AT),
        "requester": requester,
        "reason": "r",
        "ticket": "t",
    }
    args.update(kw)
    return new_override(**args)  # type: ignore[arg-type]


def _members(role: str) -> tuple[str, ...]:
    return ("anna.huber", "jonas.meier", "lea.keller")


def test_active_grants_filter_scope_and_time(actors: Actors) -> None:
    with actors.open("anna.huber") as store:
        store.create_override(_draft("anna.huber"))  # type: ignore[arg-type]
        store.create_override(_draft("anna.huber", override_id="ovr-ch",  # type: ignore[arg-type]
                                     scope=Scope("production", "CH", None)))  # fmt: skip
        store.create_override(_draft("anna.huber", override_id="ovr-later",  # type: ignore[arg-type]
                                     valid_from=to_ts(AT) + 2 * H,
                                     valid_until=to_ts(AT) + 6 * H))  # fmt: skip
    with actors.open("jonas.meier") as store:
        for oid in ("ovr-test", "ovr-ch", "ovr-later"):
            record, counted = store.approve(oid, at=AT, comment="", roster=_members)
            assert counted and record.approvers == ("jonas.meier",)
        assert [g.id for g in store.active_grants("production", "DE", AT)] == ["ovr-test"]
        assert [g.id for g in store.active_grants("production", "CH", AT)] == ["ovr-ch"]
        assert store.active_grants("staging", "DE", AT) == []
        later = AT + timedelta(hours=2)
        both = store.active_grants("production", "DE", later)
        assert sorted(g.id for g in both) == ["ovr-later", "ovr-test"]
        end = AT + timedelta(hours=4)
        assert [g.id for g in store.active_grants("production", "DE", end)] == ["ovr-later"]
        grant = store.active_grants("production", "DE", AT)[0]
        assert grant.requester == "anna.huber" and grant.approvers == ("jonas.meier",)
        assert str(grant.versions[0]) == "V226" if grant.versions else False
        assert grant.valid_until - grant.valid_from == 4 * H


def test_the_requester_is_whoever_opens_the_store(actors: Actors) -> None:
    with actors.open("anna.huber") as store, pytest.raises(OverrideError, match=r"anna.huber"):
        store.create_override(_draft("jonas.meier"))  # type: ignore[arg-type]


def test_records_round_trip(actors: Actors) -> None:
    with actors.open("anna.huber") as store:
        created = store.create_override(_draft("anna.huber", single_use=True))  # type: ignore[arg-type]
        assert created == _draft("anna.huber", single_use=True)
    with actors.open("jonas.meier") as store:
        record, _ = store.approve("ovr-test", at=AT, comment="c", roster=_members)
    assert record.approvals == (Approval("jonas.meier", to_ts(AT), "c", ("release_manager",)),)
    assert record.to_dict(to_ts(AT))["status"] == "active"
    with actors.open(CI_USER) as store:
        assert store.list_overrides() == [record]
        assert store.get_override("ovr-test") == record
