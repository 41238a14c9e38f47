"""Benchmarks of the gate: ``seasongate check`` start-up, in-process decisions and ``slots``.

Start-up is measured as a pipeline meets it: a warm expansion cache, the first check on a fresh
runner whose cache folder CI restored (another checkout path, the same files) and a truly
empty cache, each paired with the floor of importing yaml, click and pydantic in the same run;
and ``check --store postgresql://...`` paired with the SQLite-store check (a real server:
``SEASONGATE_TEST_DSN``, else a private one started like the test suite's, else skipped).

Run from the repository root::

    python benchmarks/check_bench.py            # everything
    python benchmarks/check_bench.py --startup  # only (1), the processes

Prints figures beside their targets; asserts nothing. The ``check`` processes run in a
temporary project directory (so the default SQLite store lands there) with a temporary
``SEASONGATE_CACHE_DIR``; nothing is written into the repository.
"""

from __future__ import annotations

import os
import random
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
POLICY = ROOT / "policies" / "production.yaml"
AT = "2026-09-25T10:00+02:00"
CHECK_ARGS = ("check", "--env", "production", "-t", "DE", "-m", "V226", "--at", AT)
FLOOR = (sys.executable, "-c", "import yaml, click, pydantic")
# The floor's imports, then psycopg as the PostgreSQL store imports it: minus the floor, what the
# driver adds to a process that already loaded what a check loads before it.
PSYCOPG = (sys.executable, "-c", "import yaml, click, pydantic; from seasongate._pgdriver import psycopg")
PROCESS_RUNS = 10
DECISIONS = 100_000
SLOT_RUNS = 15
SEED = 20260925

POSTGRES_TARGET = 1.3  # x the SQLite-store check
WARM_TARGET = 1.15  # x the floor: a warm check, with the SQLite store or --no-store
RESTORED_TARGET = 1.2  # x the floor: the first check on a fresh runner whose cache was restored
EMPTY_TARGET = 2.5  # x the floor
DECISIONS_TARGET = 50_000  # per second
SLOTS_TARGET_MS = 50.0


def _verdict(ok: bool) -> str:
    return "ok" if ok else "MISSED"


def _seasongate_command() -> tuple[str, ...]:
    """The installed console script, as a pipeline would run it."""
    script = Path(sys.executable).with_name("seasongate")
    found = str(script) if script.is_file() else shutil.which("seasongate")
    return (found,) if found else (sys.executable, "-m", "seasongate")


def _run(command: Sequence[str], *, cwd: Path, env: dict[str, str]) -> tuple[float, int, str]:
    """Wall time, exit code and stderr of one process."""
    start = time.perf_counter()
    done = subprocess.run(command, cwd=cwd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, check=False)
    return time.perf_counter() - start, done.returncode, done.stderr.decode(errors="replace").strip()


def _note_exit(label: str, code: int, stderr: str) -> None:
    # ``check`` denies at this instant (Oktoberfest): exit 1. Anything else is worth a line.
    if code != 1:
        print(f"    note: {label} exited {code} (expected 1, denied): {stderr[:200]}")


def _checkout(root: Path) -> Path:
    """A project with its own copy of the repository's policies and calendars."""
    root.mkdir(parents=True)
    shutil.copytree(ROOT / "policies", root / "policies")
    shutil.copytree(ROOT / "calendars", root / "calendars")
    return root


def _postgres_dsn() -> tuple[str | None, Callable[[], None]]:
    """A PostgreSQL server to check against and how to stop it: ``SEASONGATE_TEST_DSN``, else a
    private cluster started as the test suite starts it; (None, ...) when neither is possible."""
    given = os.environ.get("SEASONGATE_TEST_DSN")
    if given:
        return given, lambda: None
    sys.path.insert(0, str(ROOT))
    try:
        from tests.pgcluster import ClusterUnavailable, start_cluster
    except ImportError:
        return None, lambda: None
    finally:
        sys.path.remove(str(ROOT))
    try:
        cluster = start_cluster()
    except ClusterUnavailable as exc:
        print(f"    (no PostgreSQL server for the --store postgresql:// pairing: {exc})")
        return None, lambda: None
    return cluster.dsn(), cluster.stop


def bench_startup(work: Path) -> None:
    """``seasongate check`` processes paired with the floor of importing yaml, click, pydantic:
    a warm cache, a fresh runner whose cache folder was restored from an earlier job (another
    checkout path, the same files), and a truly empty cache; and the PostgreSQL-store check
    paired with the SQLite-store one."""
    dsn, stop_postgres = _postgres_dsn()
    try:
        _bench_startup(work, dsn)
    finally:
        stop_postgres()


def _bench_startup(work: Path, dsn: str | None) -> None:
    first_job = _checkout(work / "job-1" / "repo")
    fresh_runner = _checkout(work / "job-2" / "other" / "checkout")
    cache = work / "cache"
    dropped = ("SEASONGATE_STORE", "PYTHONPATH", "PYTHONDONTWRITEBYTECODE")
    env = {k: v for k, v in os.environ.items() if k not in dropped}
    env["SEASONGATE_CACHE_DIR"] = str(cache)
    # Bytecode is compiled once into a temporary prefix (never into the repository's
    # __pycache__ folders), so every measured process starts from fresh bytecode.
    env["PYTHONPYCACHEPREFIX"] = str(work / "pycache")
    command = _seasongate_command()
    check = (*command, *CHECK_ARGS)
    print(f"(1) process start-up: {' '.join(('seasongate', *CHECK_ARGS))}")
    print(f"    in temporary checkouts with the repository's policies/ and calendars/; {command[0]}")

    # Compile the bytecode of everything involved once, so no measured run pays for it.
    _run(FLOOR, cwd=first_job, env=env)
    _run((*check, "--no-store"), cwd=first_job, env=dict(env, SEASONGATE_CACHE_DIR=str(work / "bytecode-run")))

    # The earlier job fills the cache (and creates its SQLite store, and the PostgreSQL one).
    stores: list[tuple[str, tuple[str, ...]]] = [("warm", ("--no-store",)), ("warm-store", ())]
    if dsn is not None:
        stores.append(("warm-postgres", ("--store", dsn)))
    for _, args in stores:
        _, code, err = _run((*check, *args), cwd=first_job, env=env)
        _note_exit("warm-up check", code, err)

    runs: dict[str, list[float]] = {
        k: [] for k in ("floor", "warm", "warm-store", "warm-postgres", "restored", "empty", "psycopg")
    }
    for i in range(PROCESS_RUNS):  # interleaved, so drift hits all alike
        runs["floor"].append(_run(FLOOR, cwd=first_job, env=env)[0])
        if dsn is not None:
            runs["psycopg"].append(_run(PSYCOPG, cwd=first_job, env=env)[0])
        for label, args in stores:
            seconds, code, err = _run((*check, *args), cwd=first_job, env=env)
            _note_exit(f"check {label}", code, err)
            runs[label].append(seconds)
        restored = work / f"restored-{i}"
        shutil.copytree(cache, restored)  # what a CI cache restore puts on a fresh runner
        seconds, code, err = _run(
            (*check, "--no-store"), cwd=fresh_runner, env=dict(env, SEASONGATE_CACHE_DIR=str(restored))
        )
        _note_exit("restored-cache check", code, err)
        runs["restored"].append(seconds)
        seconds, code, err = _run(
            (*check, "--no-store"), cwd=fresh_runner, env=dict(env, SEASONGATE_CACHE_DIR=str(work / f"empty-{i}"))
        )
        _note_exit("empty-cache check", code, err)
        runs["empty"].append(seconds)

    base = statistics.median(runs["floor"])
    print(f"    floor: python -c 'import yaml, click, pydantic'  median of {PROCESS_RUNS}: {base * 1000:7.1f} ms")
    for key, label, target in (
        ("restored", "fresh runner, cache folder restored (other checkout path), --no-store", RESTORED_TARGET),
        ("warm", "warm cache, --no-store", WARM_TARGET),
        ("warm-store", "warm cache, SQLite store", WARM_TARGET),
        ("empty", "truly empty cache, --no-store", EMPTY_TARGET),
    ):
        median = statistics.median(runs[key])
        ratio = median / base
        print(
            f"    {label:<72} median {median * 1000:7.1f} ms = {ratio:.2f}x the floor"
            f"   target <= {target}x: {_verdict(ratio <= target)}"
        )
    if runs["warm-postgres"]:
        median = statistics.median(runs["warm-postgres"])
        ratio = median / statistics.median(runs["warm-store"])
        label = "warm cache, --store postgresql://... (a local server)"
        print(
            f"    {label:<72} median {median * 1000:7.1f} ms = {ratio:.2f}x the SQLite-store check"
            f"   target <= {POSTGRES_TARGET}x: {_verdict(ratio <= POSTGRES_TARGET)}"
        )
        # Where the difference goes: importing the driver alone, in a process of its own.
        extra = median - statistics.median(runs["warm-store"])
        driver = statistics.median(runs["psycopg"]) - base
        print(
            f"    (the PostgreSQL check costs {extra * 1000:.0f} ms more than the SQLite one; importing psycopg"
            f" after the floor's imports costs {driver * 1000:.0f} ms = {driver / base:.2f}x the floor)"
        )


def bench_decisions() -> None:
    """In-process ``policy.evaluate(request, ts)`` over random instants."""
    from seasongate._policy import Request, load_policy
    from seasongate._time import to_ts
    from seasongate._versions import Version

    policy = load_policy(POLICY)
    request = Request("production", "DE", Version.parse("V226"))
    lo = to_ts(datetime(2026, 1, 1, tzinfo=UTC))
    hi = to_ts(datetime(2028, 1, 1, tzinfo=UTC))
    rng = random.Random(SEED)
    instants = [rng.randrange(lo, hi) for _ in range(DECISIONS)]
    # Warm up: expand the calendar for the whole range and build the request's plan once.
    start = time.perf_counter()
    policy.evaluate(request, lo)
    policy.evaluate(request, hi - 1)
    warm_up = time.perf_counter() - start

    rounds = []
    allowed = 0
    for _ in range(3):
        start = time.perf_counter()
        allowed = sum(policy.evaluate(request, ts).allowed for ts in instants)
        rounds.append(time.perf_counter() - start)
    seconds = statistics.median(rounds)
    rate = same_version_rate = DECISIONS / seconds
    print()
    print(
        "(2) in-process decisions: policy.evaluate(Request(production, DE, V226), ts), "
        f"{DECISIONS:,} instants 2026-2027"
    )
    print(
        f"    {rate:>10,.0f} decisions/s ({seconds / DECISIONS * 1e6:.1f} us each; {allowed / DECISIONS:.0%} allowed)"
        f"   target >= {DECISIONS_TARGET:,}/s: {_verdict(rate >= DECISIONS_TARGET)}"
    )
    print(f"    (warm-up, not counted: expansion and plan for the range {warm_up * 1000:.1f} ms)")

    # A different migration version on every call (a migrate run, a dashboard of many
    # migrations): the engine keys its start sets by what the rules read (class, risk,
    # duration, operation, which version ranges hold), never by the version itself, and a
    # new version is resolved from the request's other fields (its "stem") by a class lookup.
    versions = [Version.parse(f"V{rng.randrange(1, 8000)}") for _ in range(DECISIONS)]
    asked = [Request("production", "DE", version) for version in versions]
    rounds = []
    for _ in range(3):
        start = time.perf_counter()
        allowed = sum(policy.evaluate(req, ts).allowed for req, ts in zip(asked, instants, strict=True))
        rounds.append(time.perf_counter() - start)
    seconds = statistics.median(rounds)
    rate = DECISIONS / seconds
    print(
        f"    {rate:>10,.0f} decisions/s with a different version (V1-V7999) each call "
        f"({seconds / DECISIONS * 1e6:.1f} us each; {allowed / DECISIONS:.0%} allowed)"
        f"   target >= {DECISIONS_TARGET:,}/s: {_verdict(rate >= DECISIONS_TARGET)}"
    )
    print(f"    = {rate / same_version_rate:.2f}x the same-version rate above (peer in this run; target ~1x)")


def bench_slots() -> None:
    """``seasongate.api.slots`` over one year, as the CLI runs it and fully warm."""
    from seasongate import api
    from seasongate._policy import load_policy

    start_at = datetime.fromisoformat(AT)

    def query(policy: Any) -> Any:
        return api.slots(
            environment="production", territory="DE", duration="45m", start=start_at, days=365,
            migration="V226", limit=10, policy=policy, use_store=False,
        )  # fmt: skip

    def timed(make: Callable[[], Any]) -> list[float]:
        out = []
        for _ in range(SLOT_RUNS):
            policy = make()
            begin = time.perf_counter()
            query(policy)
            out.append(time.perf_counter() - begin)
        return out

    from seasongate._policy._cache import load_policy_cached

    loaded = load_policy(POLICY)
    query(loaded)  # expands the calendar into the policy's indexes
    query(load_policy_cached(POLICY))  # and into the expansion cache

    # No expansion: a fresh policy with every index built is what a warm expansion
    # cache hands the CLI (the plans of requests are rebuilt per process).
    from_cache = statistics.median(timed(lambda: load_policy_cached(POLICY)))
    cold = statistics.median(timed(lambda: load_policy(POLICY)))
    warm = statistics.median(timed(lambda: loaded))
    result = query(loaded)
    print()
    print(f"(3) api.slots(production, DE, V226, 45m, days=365, use_store=False) from {AT}")
    print(
        f"    as from the expansion cache (indexes built, plan not): {from_cache * 1000:7.2f} ms"
        f"   target < {SLOTS_TARGET_MS:.0f} ms: {_verdict(from_cache * 1000 < SLOTS_TARGET_MS)}"
    )
    print(f"    warm (same policy object, plan cached):                {warm * 1000:7.2f} ms")
    print(f"    cold (freshly loaded policy: calendar expansion too):  {cold * 1000:7.2f} ms")
    print(
        f"    ({len(result.slots)} slots listed{', more truncated' if result.truncated else ''}; "
        f"medians of {SLOT_RUNS}; the policy load itself is not counted)"
    )


def main() -> None:
    """Run the gate benchmarks and print the figures (``--decisions`` or ``--startup``: only those)."""
    if sys.argv[1:] == ["--decisions"]:
        bench_decisions()
        return
    only_startup = sys.argv[1:] == ["--startup"]
    with tempfile.TemporaryDirectory(prefix="seasongate-bench-") as tmp:
        work = Path(tmp)
        os.environ["SEASONGATE_CACHE_DIR"] = str(work / "cache-in-process")
        sys.dont_write_bytecode = True
        print(f"seasongate check benchmarks (Python {sys.version.split()[0]}, {datetime.now(UTC):%Y-%m-%d})")
        print()
        bench_startup(work)
        if not only_startup:
            bench_decisions()
            bench_slots()


if __name__ == "__main__":
    main()
