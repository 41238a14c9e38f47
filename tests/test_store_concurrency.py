"""Real parallel processes against one store: the state stays consistent, the chain intact."""

from __future__ import annotations

import multiprocessing
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from seasongate._overrides import Requirements, Scope, new_override
from seasongate._store import SCHEMA_VERSION, open_store
from seasongate._time import to_ts
from tests import store_support
from tests.store_support import CI_USER, Actors, as_os_user

# The fixtures of tests/store_support.py, visible to pytest in this module.
actors = store_support.actors
pg_roles = store_support.pg_roles
production_policy = store_support.production_policy
store_url = store_support.store_url

ANNA, JONAS, LEA = "anna.huber", "jonas.meier", "lea.keller"
AT = datetime(2026, 9, 25, 8, 0, tzinfo=UTC)
CTX = multiprocessing.get_context("fork")


def _members(role: str) -> tuple[str, ...]:
    return (ANNA, JONAS, LEA)


def _child(job: Callable[..., Any], url: str, user: str, barrier: Any, queue: Any,
           args: tuple[Any, ...]) -> None:  # fmt: skip
    try:
        with as_os_user(user):
            barrier.wait(timeout=60)
            with open_store(url, Path.cwd()) as store:
                queue.put((user, "ok", job(store, *args)))
    except Exception as exc:  # reported to the parent, which asserts on it
        queue.put((user, "error", f"{type(exc).__name__}: {exc}"))


def run_parallel(jobs: list[tuple[Callable[..., Any], str, str, tuple[Any, ...]]]) -> list[tuple[str, str, Any]]:
    """Run every (job, url, user, args) in its own process: released together, each opens
    the store as ``user`` and calls ``job(store, *args)``."""
    barrier = CTX.Barrier(len(jobs))
    queue = CTX.Queue()
    procs = [CTX.Process(target=_child, args=(job, url, user, barrier, queue, args)) for job, url, user, args in jobs]
    for proc in procs:
        proc.start()
    results = [queue.get(timeout=120) for _ in procs]
    for proc in procs:
        proc.join(timeout=60)
        assert proc.exitcode == 0
    return results


def _append_many(store: Any, tag: str, count: int) -> int:
    for i in range(count):
        store.append_audit(CI_USER, "run", f"{tag}-{i}", {"i": i}, AT)
    return count


def _approve(store: Any, oid: str) -> bool:
    return bool(store.approve(oid, at=AT, comment="", roster=_members)[1])


def _revoke(store: Any, oid: str) -> str:
    return str(store.revoke(oid, at=AT, reason="parallel", roster=_members).id)


def _schema(store: Any) -> int:
    return int(store.schema_version())


def test_parallel_appends_keep_one_chain(actors: Actors) -> None:
    writers, each = 4, 25
    results = run_parallel([(_append_many, actors.url_for(CI_USER), CI_USER, (f"w{n}", each)) for n in range(writers)])
    assert [r[1:] for r in results] == [("ok", each)] * writers
    with actors.open(CI_USER) as store:
        entries = store.audit_entries()
        report = store.verify_audit()
    assert report.ok, report.problem
    assert [e.seq for e in entries] == list(range(1, writers * each + 1))
    assert sorted(e.subject for e in entries) == sorted(f"w{n}-{i}" for n in range(writers) for i in range(each))


def test_parallel_first_opens_create_the_schema_once(store_url: str) -> None:
    owner = "postgres" if store_url.startswith("postgresql") else "store.owner"
    results = run_parallel([(_schema, store_url, owner, ()) for _ in range(8)])
    assert [r[1:] for r in results] == [("ok", SCHEMA_VERSION)] * 8
    with open_store(store_url, Path.cwd()) as store:
        assert store.schema_version() == SCHEMA_VERSION and store.audit_count() == 0


def _draft(oid: str) -> Any:
    ts = to_ts(AT)
    return new_override(
        override_id=oid, scope=Scope("production", "DE", None),
        requirements=Requirements(("seasonal-blackout",), 2, ("release_manager",), 86400),
        valid_from=ts, valid_until=ts + 3600, at=ts, requester=ANNA, reason="r", ticket="t",
    )  # fmt: skip


@pytest.mark.parametrize("rounds", [4])
def test_parallel_approvals_and_revocation_stay_consistent(actors: Actors, rounds: int) -> None:
    ids = [f"ovr-{n}" for n in range(rounds)]
    with actors.open(ANNA) as store:
        for oid in ids:
            store.create_override(_draft(oid))
    jobs: list[tuple[Callable[..., Any], str, str, tuple[Any, ...]]] = []
    for oid in ids:
        jobs += [
            (_approve, actors.url_for(JONAS), JONAS, (oid,)),
            (_approve, actors.url_for(LEA), LEA, (oid,)),
            (_approve, actors.url_for(JONAS), JONAS, (oid,)),  # the same person, twice at once
            (_revoke, actors.url_for(ANNA), ANNA, (oid,)),
        ]
    results = run_parallel(jobs)
    assert sum(1 for user, status, _ in results if user == ANNA and status == "ok") == rounds
    for user, status, value in results:
        if status == "error":  # only approvals that came after the revocation may fail
            assert user in (JONAS, LEA) and "is revoked and can no longer be approved" in value
    with actors.open(CI_USER) as store:
        report = store.verify_audit()
        entries = store.audit_entries()
        records = {r.id: r for r in store.list_overrides()}
    assert report.ok, report.problem
    for oid in ids:
        record = records[oid]
        assert record.revoked is not None and record.revoked.by == ANNA
        mine = [e for e in entries if e.subject == oid]
        actions = [e.action for e in mine]
        assert actions[0] == "override.request" and actions.count("override.revoke") == 1
        after = actions[actions.index("override.revoke") + 1 :]
        assert "override.approve" not in after  # nothing approved once revoked
        approvals = [e for e in mine if e.action == "override.approve"]
        assert sorted(e.actor for e in approvals) == sorted(record.approvers)
        assert len(record.approvals) == len(set(a.approver for a in record.approvals))
