"""The audit trail's hash chain: intact after use, and every kind of tampering is named."""

from __future__ import annotations

import itertools
import sqlite3
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from click.testing import CliRunner

from seasongate._store._audit import GENESIS, AuditEntry, canonical, entry_hash, verify_chain
from seasongate.cli import main
from tests import store_support
from tests.store_support import CI_USER, Actors

# The fixtures of tests/store_support.py, visible to pytest in this module.
actors = store_support.actors
pg_roles = store_support.pg_roles
production_policy = store_support.production_policy
store_url = store_support.store_url

AT = datetime(2026, 9, 25, 8, 0, tzinfo=UTC)


def _fill(actors: Actors, count: int = 4) -> list[AuditEntry]:
    with actors.open(CI_USER) as store:
        for i in range(count):
            store.append_audit(
                CI_USER, "decision", f"production/DE/V{226 + i}", {"i": i, "txt": "ä'\"; --"},
                AT + timedelta(minutes=i),
            )  # fmt: skip
        return store.audit_entries()


def _raw(actors: Actors, sql: str, params: tuple[object, ...] = ()) -> None:
    """Change the tables behind seasongate's back, as their owner could."""
    if actors.backend == "sqlite":
        with sqlite3.connect(actors.url[len("sqlite:///") :]) as conn:
            conn.execute(sql.format(audit="audit", meta="meta"), params)
        return
    import psycopg

    with psycopg.connect(actors.url, autocommit=True) as conn:
        query = sql.format(audit="seasongate.audit", meta="seasongate.meta").replace("?", "%s")
        conn.execute(query.encode(), params)


def _verify(actors: Actors) -> tuple[int, str]:
    result = CliRunner(env=actors.env_for(CI_USER)).invoke(
        main, ["audit", "verify", "--store", actors.url_for(CI_USER)]
    )
    return result.exit_code, result.stdout.strip()


def test_hash_matches_the_documented_canonical_form() -> None:
    content = canonical(1, 60, "ä", "decision", "s", "{}", GENESIS)
    assert content == f"1:1\n2:60\n2:ä\n8:decision\n1:s\n2:{{}}\n64:{GENESIS}".encode()
    # Length prefixes keep field boundaries unambiguous.
    assert entry_hash(1, 60, "a\n1:b", "c", "", "{}", GENESIS) != entry_hash(1, 60, "a", "b\n1:c", "", "{}", GENESIS)


def test_intact_chain_verifies(actors: Actors) -> None:
    entries = _fill(actors)
    assert [e.seq for e in entries] == [1, 2, 3, 4]
    assert entries[0].prev_hash == GENESIS
    assert all(b.prev_hash == a.hash for a, b in itertools.pairwise(entries))
    with actors.open(CI_USER) as store:
        report = store.verify_audit()
    assert report.ok and report.entries == 4 and report.head == entries[-1].hash
    assert _verify(actors) == (0, f"audit trail intact: 4 entries, head {entries[-1].hash[:16]}")


def test_empty_trail_is_intact(actors: Actors) -> None:
    assert _verify(actors) == (0, "audit trail intact: 0 entries")


@pytest.mark.parametrize(
    ("tamper", "params", "broken", "problem"),
    [
        pytest.param(
            "UPDATE {audit} SET actor = 'mallory' WHERE seq = 2", (), 2,
            "entry 2 does not match its hash (changed after it was written)", id="changed",
        ),
        pytest.param(
            "UPDATE {audit} SET payload = '{{\"i\":1}}' WHERE seq = 3", (), 3,
            "entry 3 does not match its hash", id="payload-changed",
        ),
        pytest.param(
            "DELETE FROM {audit} WHERE seq = 2", (), 2,
            "entry 2 is missing (deleted?); the next entry is 3", id="deleted",
        ),
        pytest.param(
            "DELETE FROM {audit} WHERE seq = 4", (), 4,
            "entry 4 is missing: the store's head says the trail ends at entry 4", id="cut-off",
        ),
        pytest.param(
            "DELETE FROM {audit}", (), 1, "entry 1 is missing", id="emptied",
        ),
        pytest.param(
            "UPDATE {audit} SET seq = seq + 10 WHERE seq = 2", (), 2,
            "entry 2 is missing", id="moved",
        ),
    ],
)  # fmt: skip
def test_tampering_is_found(actors: Actors, tamper: str, params: tuple[object, ...], broken: int, problem: str) -> None:
    _fill(actors)
    _raw(actors, tamper, params)
    with actors.open(CI_USER) as store:
        report = store.verify_audit()
    assert not report.ok and report.broken_seq == broken
    assert report.problem is not None and report.problem.startswith(problem)
    code, out = _verify(actors)
    assert code == 1
    assert out.startswith(f"audit trail broken at entry {broken}: {problem}")


def test_a_rewritten_entry_with_a_fresh_hash_breaks_the_next_link(actors: Actors) -> None:
    entries = _fill(actors)
    victim = entries[2]
    forged = entry_hash(victim.seq, victim.at, "mallory", victim.action, victim.subject,
                        victim.payload_text, victim.prev_hash)  # fmt: skip
    _raw(actors, "UPDATE {audit} SET actor = 'mallory', hash = ? WHERE seq = 3", (forged,))
    with actors.open(CI_USER) as store:
        report = store.verify_audit()
    assert report.broken_seq == 4
    assert report.problem is not None and "entry 4 does not follow entry 3" in report.problem


def _insert(actors: Actors, entry: AuditEntry) -> None:
    at = entry.at if actors.backend == "postgres" else None
    when = datetime.fromtimestamp(entry.at, UTC)
    value: object = when if at is not None else when.isoformat()
    _raw(
        actors,
        "INSERT INTO {audit} (seq, at, actor, action, subject, payload, prev_hash, hash) "
        "VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
        (entry.seq, value, entry.actor, entry.action, entry.subject, entry.payload_text,
         entry.prev_hash, entry.hash),
    )  # fmt: skip


def test_an_entry_inserted_out_of_order_is_found(actors: Actors) -> None:
    entries = _fill(actors)
    # Linked to entry 3 instead of entry 4, with a correct hash of its own content.
    prev = entries[2].hash
    digest = entry_hash(5, entries[3].at, "mallory", "decision", "x", "{}", prev)
    _insert(actors, AuditEntry(5, entries[3].at, "mallory", "decision", "x", "{}", prev, digest))
    with actors.open(CI_USER) as store:
        report = store.verify_audit()
    assert report.broken_seq == 5
    assert report.problem is not None and "entry 5 does not follow entry 4" in report.problem


def test_a_well_linked_entry_appended_around_the_store_is_found(actors: Actors) -> None:
    entries = _fill(actors)
    prev = entries[3].hash
    digest = entry_hash(5, entries[3].at, "mallory", "decision", "x", "{}", prev)
    _insert(actors, AuditEntry(5, entries[3].at, "mallory", "decision", "x", "{}", prev, digest))
    code, out = _verify(actors)
    assert code == 1
    assert out == (
        "audit trail broken at entry 5: entry 5 comes after the store's head (entry 4): "
        "it was not appended through seasongate"
    )


def test_verify_chain_without_head() -> None:
    entry = AuditEntry(1, 0, "a", "decision", "s", "{}", GENESIS,
                       entry_hash(1, 0, "a", "decision", "s", "{}", GENESIS))  # fmt: skip
    assert verify_chain([], None).ok
    assert verify_chain([entry], (1, entry.hash)).ok
    report = verify_chain([entry], None)
    assert not report.ok and report.broken_seq == 1
    report = verify_chain([entry], (1, "0" * 64))
    assert report.broken_seq == 1 and "does not match the store's head" in str(report.problem)
    report = verify_chain([entry, entry], (2, entry.hash))
    assert report.broken_seq == 1 and "out of order" in str(report.problem)


def test_override_operations_are_audited_with_their_actor(actors: Actors) -> None:
    from seasongate._overrides import Requirements, Scope, new_override
    from seasongate._time import to_ts

    ts = to_ts(AT)
    draft = new_override(
        override_id="ovr-a", scope=Scope("production", "DE", None),
        requirements=Requirements(("seasonal-blackout",), 1, ("release_manager",), 86400),
        valid_from=ts, valid_until=ts + 3600, at=ts, requester="anna.huber", reason="r",
        ticket="t", single_use=True,
    )  # fmt: skip

    def roster(role: str) -> tuple[str, ...]:
        return ("anna.huber", "jonas.meier")

    with actors.open("anna.huber") as store:
        store.create_override(draft)
    with actors.open("jonas.meier") as store:
        store.approve("ovr-a", at=AT, comment="fine", roster=roster)
    with actors.open(CI_USER) as store:
        store.consume("ovr-a", AT, "migrate production/DE V226")
        entries = store.audit_entries()
        assert store.verify_audit().ok
    assert [(e.actor, e.action, e.subject) for e in entries] == [
        ("anna.huber", "override.request", "ovr-a"),
        ("jonas.meier", "override.approve", "ovr-a"),
        (CI_USER, "decision", "migrate production/DE V226"),
        (CI_USER, "override.consume", "ovr-a"),
    ]
    assert entries[0].payload["valid_until"] == "2026-09-25T09:00:00+00:00"
    assert entries[0].payload["rules"] == ["seasonal-blackout"]
    assert entries[1].payload == {"comment": "fine", "roles": ["release_manager"], "approvals": 1, "required": 1}
    assert entries[2].payload["verdict"] == "allow" and entries[2].payload["override"] == {"id": "ovr-a"}
    assert entries[3].payload == {"subject": "migrate production/DE V226"}


@pytest.mark.parametrize(
    "tamper",
    [
        "DELETE FROM {meta} WHERE key = 'audit_head'",
        "UPDATE {meta} SET value = 'garbage' WHERE key = 'audit_head'",
    ],
    ids=["head-deleted", "head-garbled"],
)
def test_an_append_never_papers_over_a_cut_trail(actors: Actors, tamper: str) -> None:
    from seasongate._errors import StoreError

    entries = _fill(actors)
    _raw(actors, "DELETE FROM {audit} WHERE seq = ?", (entries[-1].seq,))
    _raw(actors, tamper)
    assert _verify(actors)[0] == 1
    with actors.open(CI_USER) as store, pytest.raises(StoreError, match="does not end where seasongate left it"):
        store.append_audit(CI_USER, "decision", "production/DE/V300", {}, AT + timedelta(hours=1))
    assert _verify(actors)[0] == 1  # still broken: nothing repaired it
    with actors.open(CI_USER) as store:
        assert len(store.audit_entries()) == len(entries) - 1


def test_garbled_rows_are_one_clear_error_not_a_traceback(tmp_path: Path) -> None:
    """SQLite stores times as text, so a hand edit can garble one."""
    from seasongate._store import open_store

    path = tmp_path / "s.db"
    store = open_store(f"sqlite:///{path}", tmp_path)
    for i in range(3):
        store.append_audit(store.identity(), "decision", f"production/DE/V{226 + i}", {}, AT + timedelta(minutes=i))
    store.close()
    with sqlite3.connect(path) as conn:
        conn.execute("UPDATE audit SET at = 'garbage' WHERE seq = 2")
    result = CliRunner().invoke(main, ["audit", "verify", "--store", f"sqlite:///{path}"])
    assert result.exit_code == 2
    assert "unreadable data" in result.stderr and "Traceback" not in result.stderr


def test_the_store_names_the_migration_starts_no_outcome_settles(actors: Actors) -> None:
    # What reconcile asks on every real run: answered by one query, not by reading the trail.
    with actors.open(CI_USER) as store:

        def start(database: str, version: str) -> AuditEntry:
            facts = {"database": database, "version": version, "operation": "apply", "status": "started"}
            return store.append_audit(CI_USER, "migration.start", f"ci/DE/{version}", facts, AT)

        applied, died, elsewhere, undone = start("db1", "V1"), start("db1", "V2"), start("db2", "V1"), start("db1", "V3")
        store.append_audit(CI_USER, "migration.apply", "ci/DE/V1", {"database": "db1", "start_seq": applied.seq}, AT)
        store.append_audit(CI_USER, "migration.rollback", "ci/DE/V3", {"database": "db1", "start_seq": undone.seq}, AT)
        store.append_audit(CI_USER, "decision", "ci/DE/V2", {"start_seq": died.seq}, AT)  # not an outcome
        assert [e.seq for e in store.unsettled_starts("db1")] == [died.seq]
        assert [e.payload["version"] for e in store.unsettled_starts("db2")] == ["V1"]
        assert store.unsettled_starts("db3") == []
        assert elsewhere.seq not in {e.seq for e in store.unsettled_starts("db1")}


def test_the_entry_hash_is_sha256_whichever_implementation_computes_it() -> None:
    import hashlib

    from seasongate._store._audit import _sha256

    for content in (b"", b"seq 1", b"x" * (64 * 1024), b"y" * (64 * 1024 + 1)):
        assert _sha256(content).hexdigest() == hashlib.sha256(content).hexdigest()
