"""Store benchmarks: audit appends per second, and a cold ``seasongate check`` with an override.

Run from the repository root::

    python benchmarks/store_bench.py [--appends 2000] [--runs 15]

PostgreSQL: ``SEASONGATE_TEST_DSN`` when set (its user must be allowed to create databases
and roles), else a throwaway cluster from ``tests/pgcluster.py`` (needs the server
binaries). Without either the PostgreSQL figures are skipped with the reason. Prints
figures; asserts nothing. Everything is written to temporary directories and databases.
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

POLICY = ROOT / "policies" / "production.yaml"
AT = "2026-09-25T10:00:00+02:00"  # Oktoberfest, Friday morning: denied without an override
REQUESTER, APPROVERS = "anna.huber", ("jonas.meier", "lea.keller")
CHECKER = "ci.runner"  # who runs check: no role needed
RM_ROLE = "seasongate_release_manager"
CHECK_ARGS = (
    "check", "--env", "production", "--territory", "DE", "--migration", "V226", "--at", AT,
    "--policy", str(POLICY),
)  # fmt: skip


def _seasongate_command() -> tuple[str, ...]:
    script = Path(sys.executable).with_name("seasongate")
    found = str(script) if script.is_file() else shutil.which("seasongate")
    return (found,) if found else (sys.executable, "-c", "from seasongate.cli import main; main()")


@contextmanager
def _as_user(user: str) -> Iterator[None]:
    names = ("LOGNAME", "USER", "LNAME", "USERNAME")
    saved = {n: os.environ.get(n) for n in names}
    os.environ.update(dict.fromkeys(names, user))
    try:
        yield
    finally:
        for name, value in saved.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value


def _with_user(dsn: str, user: str) -> str:
    from urllib.parse import urlsplit, urlunsplit

    parts = urlsplit(dsn)
    return urlunsplit(parts._replace(netloc=f"{user}@{parts.netloc.rsplit('@', 1)[-1]}"))


# -- PostgreSQL --------------------------------------------------------------------------------


class Postgres:
    """A server to benchmark against, and fresh databases in it."""

    def __init__(self) -> None:
        from tests.pgcluster import external_cluster, start_cluster

        dsn = os.environ.get("SEASONGATE_TEST_DSN")
        self.cluster = external_cluster(dsn) if dsn else start_cluster()
        self.source = "SEASONGATE_TEST_DSN" if dsn else "throwaway cluster (tests/pgcluster.py)"
        self.databases: list[str] = []

    def database(self) -> str:
        import psycopg

        name = f"bench_{uuid.uuid4().hex[:10]}"
        with psycopg.connect(self.cluster.dsn(), autocommit=True) as conn:
            conn.execute(f'CREATE DATABASE "{name}"'.encode())
        self.databases.append(name)
        return self.cluster.dsn(name)

    def ensure_roles(self) -> None:
        import psycopg

        with psycopg.connect(self.cluster.dsn(), autocommit=True) as conn:
            roles = ((RM_ROLE, False), (REQUESTER, True), (CHECKER, True), *((a, True) for a in APPROVERS))
            for role, login in roles:
                if not conn.execute("SELECT 1 FROM pg_roles WHERE rolname = %s", (role,)).fetchone():
                    conn.execute(f'CREATE ROLE "{role}" {"LOGIN" if login else "NOLOGIN"}'.encode())
            for user in (REQUESTER, *APPROVERS):
                conn.execute(f'GRANT {RM_ROLE} TO "{user}"'.encode())

    def close(self) -> None:
        import psycopg

        try:
            with psycopg.connect(self.cluster.dsn(), autocommit=True) as conn:
                for name in self.databases:
                    conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'.encode())
        finally:
            self.cluster.stop()


# -- figures -----------------------------------------------------------------------------------


def bench_appends(label: str, url: str, count: int) -> None:
    """Appends per second from one process (each append its own transaction)."""
    from seasongate._store import open_store

    base = datetime(2026, 9, 25, 8, 0, tzinfo=UTC)
    payload = {"allowed": False, "reasons": ["seasonal-blackout", "business-hours"], "n": 0}
    with _as_user("bench"), open_store(url, Path.cwd()) as store:
        for _ in range(50):  # warm up
            store.append_audit(store.identity(), "decision", "warm", payload, base)
        start = time.perf_counter()
        for i in range(count):
            store.append_audit(store.identity(), "decision", f"production/DE/V{i}", payload,
                               base + timedelta(seconds=i))  # fmt: skip
        seconds = time.perf_counter() - start
        verify_start = time.perf_counter()
        report = store.verify_audit()
        verify = time.perf_counter() - verify_start
    print(
        f"    {label:<11} {count / seconds:>9,.0f} appends/s ({seconds / count * 1e6:,.0f} us each); "
        f"verify {report.entries:,} entries: {verify * 1000:,.0f} ms, {'intact' if report.ok else 'BROKEN'}"
    )


def _approved_override(url_for: dict[str, str]) -> str:
    """Request (anna.huber) and approve (two release managers) an override; returns its id."""
    from seasongate._policy import load_policy
    from seasongate.api._overrides import override_approve, override_request

    policy = load_policy(POLICY)
    at = datetime.fromisoformat(AT)
    with _as_user(REQUESTER):
        record = override_request(
            policy, at=at, environment="production", territory="DE", versions="V226",
            reason="benchmark", ticket="BENCH-1", duration="12h", store=url_for[REQUESTER],
        )  # fmt: skip
    for user in APPROVERS:
        with _as_user(user):
            override_approve(policy, record.id, at=at, store=url_for[user])
    return record.id


def _run(command: Sequence[str], env: dict[str, str], cwd: Path) -> tuple[float, int, str]:
    start = time.perf_counter()
    done = subprocess.run(command, env=env, cwd=cwd, capture_output=True, check=False)
    return time.perf_counter() - start, done.returncode, done.stderr.decode(errors="replace").strip()


def bench_check(label: str, store_url: str | None, runs: int, work: Path) -> None:
    """Median wall time of cold ``seasongate check`` processes that an override allows
    (``store_url`` None: ``--no-store``, the reference, which denies)."""
    store_args = ("--no-store",) if store_url is None else ("--store", store_url)
    command = (*_seasongate_command(), *CHECK_ARGS, *store_args)
    # Bytecode goes to a temporary prefix (written by the first run, read by the others), not
    # into the repository; PYTHONDONTWRITEBYTECODE would leave the prefix empty and make every
    # run compile everything.
    drop = ("SEASONGATE_STORE", "PYTHONDONTWRITEBYTECODE")
    env = {k: v for k, v in os.environ.items() if k not in drop}
    env["SEASONGATE_CACHE_DIR"] = str(work / "cache")
    env["PYTHONPYCACHEPREFIX"] = str(work / "pycache")
    env.update(dict.fromkeys(("LOGNAME", "USER"), CHECKER))
    first, code, err = _run(command, env, work)  # compiles bytecode, fills the policy cache
    if code == 2 and "No such command" in err:
        print(f"    {label:<11} skipped: this seasongate has no 'check' command yet")
        return
    times, codes = [], set()
    for _ in range(runs):
        seconds, code, err = _run(command, env, work)
        times.append(seconds)
        codes.add(code)
    expected = {1} if store_url is None else {0}
    if codes == expected:
        verdict = "denied (no overrides read)" if store_url is None else "allowed by the override"
    else:
        verdict = f"exit codes {sorted(codes)}: {err[:160]}"
    print(
        f"    {label:<11} median of {runs}: {statistics.median(times) * 1000:7.1f} ms "
        f"(min {min(times) * 1000:.1f}, max {max(times) * 1000:.1f}; first run {first * 1000:.0f} ms); "
        f"{verdict}"
    )


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--appends", type=int, default=2000)
    parser.add_argument("--runs", type=int, default=15)
    args = parser.parse_args(argv)

    work = Path(tempfile.mkdtemp(prefix="seasongate-store-bench-"))
    postgres: Postgres | None = None
    pg_reason = ""
    try:
        try:
            postgres = Postgres()
        except Exception as exc:  # no server: report and carry on with SQLite
            pg_reason = f"{type(exc).__name__}: {exc}"
        print(f"PostgreSQL: {postgres.source if postgres else 'unavailable (' + pg_reason + ')'}")

        print(f"(1) audit appends, one process, {args.appends:,} entries (hash chain, own transaction each)")
        bench_appends("SQLite", f"sqlite:///{work / 'appends.db'}", args.appends)
        if postgres:
            bench_appends("PostgreSQL", postgres.database(), args.appends)

        print(f"(2) cold 'seasongate check' process with an active override ({AT}, production/DE/V226)")
        sqlite_url = f"sqlite:///{work / 'check.db'}"
        _approved_override(dict.fromkeys((REQUESTER, *APPROVERS), sqlite_url))
        bench_check("--no-store", None, args.runs, work)
        bench_check("SQLite", sqlite_url, args.runs, work)
        if postgres:
            dsn = postgres.database()
            from seasongate._store import open_store

            open_store(dsn, Path.cwd()).close()  # the owner creates the schema
            postgres.ensure_roles()
            # The store takes its time from the server: as the owner, freeze it at AT.
            import psycopg

            with psycopg.connect(dsn, autocommit=True) as conn:
                conn.execute("INSERT INTO seasongate.clock (at) VALUES (%s)", (datetime.fromisoformat(AT),))
            _approved_override({u: _with_user(dsn, u) for u in (REQUESTER, *APPROVERS)})
            bench_check("PostgreSQL", _with_user(dsn, CHECKER), args.runs, work)
    finally:
        if postgres:
            postgres.close()
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
