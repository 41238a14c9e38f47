"""Kill ``seasongate migrate`` at random points, with concurrent runs, and count what went wrong.

    python benchmarks/crash_bench.py [--rounds 15] [--runs-per-round 3] [--seed 1] [--check]

Each round gets a fresh database with a table of ``--rows`` rows, a fresh SQLite store and a
folder of migrations: small transactional ones (a table, rows, a short sleep, so that kills
land inside transactions) and a ``transaction=false`` ``CREATE INDEX CONCURRENTLY`` on the big
table. ``--runs-per-round`` ``seasongate migrate`` processes start at once (policy
``staging.yaml``, environment ``ci``: allowed at any time); once one of them holds the
migration lock, after a random delay of at most ``--kill-window`` seconds, either one random
process or every process still running (so the lock holder surely dies mid-run) is killed
with SIGKILL. Every run
passes ``--retry-incomplete`` (the scripts are safe to re-run), so the survivors and a final
recovery run finish the work. After the round the database and the store are checked:

* runs: ``migrate`` processes started (killed ones included)
* partial migrations: a migration's effect present without its successful history row, or
  the other way round (a table with the wrong row count counts too)
* stuck locks: the migration lock still held 10 s after every run ended
* duplicated history rows: more than one successful apply of a version
* missing history rows: a version whose effect is present (or that the recovery run
  reported applied) without a successful row, or a pending version after recovery
* invalid indexes: ``pg_index.indisvalid = false`` anywhere in the database
* history rows without an audit outcome: no ``migration.apply`` entry in the store that names
  the row's ``installed_rank`` (or, with the audit anchor, the row's start entry)

Every figure except runs must be 0; ``--check`` exits 1 otherwise. The server is
``SEASONGATE_BENCH_DSN`` (or ``SEASONGATE_TEST_DSN``) when set, else a throwaway cluster
started like the test suite's (``tests/pgcluster.py``).
"""

from __future__ import annotations

import argparse
import json
import os
import random
import signal
import sqlite3
import subprocess
import sys
import tempfile
import time
import uuid
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

SMALL = 8  # transactional migrations V1..V8; V9 builds the index; V10 one more table
ROWS_PER_TABLE = 500
INDEX = "big_payload_idx"


def write_migrations(directory: Path) -> None:
    directory.mkdir()
    for i in range(1, SMALL + 1):
        (directory / f"V{i}__table_{i}.sql").write_text(
            f"CREATE TABLE t{i} (id int PRIMARY KEY, note text);\n"
            f"INSERT INTO t{i} SELECT g, 'row ' || g FROM generate_series(1, {ROWS_PER_TABLE}) g;\n"
            "SELECT pg_sleep(0.03);\n",
            encoding="utf-8",
        )
    (directory / f"V{SMALL + 1}__big_payload_index.sql").write_text(
        f"-- seasongate: transaction=false\nCREATE INDEX CONCURRENTLY IF NOT EXISTS {INDEX} ON big (payload);\n",
        encoding="utf-8",
    )
    (directory / f"V{SMALL + 2}__table_last.sql").write_text(
        "CREATE TABLE t_last (id int);\nINSERT INTO t_last VALUES (1);\n", encoding="utf-8"
    )


def seasongate() -> list[str]:
    script = Path(sys.executable).parent / "seasongate"
    if script.is_file():
        return [str(script)]
    return [sys.executable, "-c", "from seasongate.cli import main; main()"]


class Server:
    """Where the fresh databases are created."""

    def __init__(self) -> None:
        self.cluster: Any = None
        dsn = os.environ.get("SEASONGATE_BENCH_DSN") or os.environ.get("SEASONGATE_TEST_DSN")
        if dsn:
            self.admin = dsn
        else:
            from tests.pgcluster import start_cluster

            self.cluster = start_cluster()
            self.admin = self.cluster.dsn()

    def dsn(self, db: str) -> str:
        from psycopg.conninfo import make_conninfo

        return make_conninfo(self.admin, dbname=db)

    def create(self, rows: int) -> str:
        import psycopg

        name = f"crash_{uuid.uuid4().hex[:10]}"
        with psycopg.connect(self.admin, autocommit=True) as conn:
            conn.execute(f'CREATE DATABASE "{name}"')
        with psycopg.connect(self.dsn(name), autocommit=True) as conn:
            conn.execute("CREATE TABLE big (id bigint PRIMARY KEY, payload text NOT NULL)")
            conn.execute("INSERT INTO big SELECT g, md5(g::text) FROM generate_series(1, %s) g", (rows,))
        return name

    def drop(self, name: str) -> None:
        import psycopg

        with psycopg.connect(self.admin, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')

    def stop(self) -> None:
        if self.cluster is not None:
            self.cluster.stop()


@dataclass
class Figures:
    runs: int = 0
    killed: int = 0
    killed_in_flight: int = 0  # kills while a run held the lock (inside a migration or between two)
    exit_codes: Counter[int] = field(default_factory=Counter)
    partial: int = 0
    stuck_locks: int = 0
    duplicated: int = 0
    missing: int = 0
    invalid_indexes: int = 0
    without_audit_outcome: int = 0
    notes: list[str] = field(default_factory=list)

    def bad(self) -> int:
        return (
            self.partial
            + self.stuck_locks
            + self.duplicated
            + self.missing
            + self.invalid_indexes
            + self.without_audit_outcome
        )


def command(dsn: str, directory: Path, store: Path) -> list[str]:
    return [
        *seasongate(),
        "migrate",
        "--dsn",
        dsn,
        "--migrations",
        str(directory),
        "--policy",
        str(ROOT / "policies" / "staging.yaml"),
        "--env",
        "ci",
        "--territory",
        "DE",
        "--store",
        f"sqlite:///{store}",
        "--retry-incomplete",
        "--lock-wait",
        "60s",
        "--format",
        "json",
    ]


def one(dsn: str, query: str) -> Any:
    import psycopg

    with psycopg.connect(dsn, autocommit=True) as conn:
        row = conn.execute(query).fetchone()
    return None if row is None else row[0]


def migration_locks(dsn: str) -> int:
    return int(
        one(
            dsn,
            "SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND granted AND database = "
            "(SELECT oid FROM pg_database WHERE datname = current_database())",
        )
        or 0
    )


def play_round(server: Server, work: Path, args: argparse.Namespace, rng: random.Random, figures: Figures) -> None:
    db = server.create(args.rows)
    dsn = server.dsn(db)
    directory = work / f"migrations_{db}"
    write_migrations(directory)
    store = work / f"store_{db}.db"
    env = {**os.environ, "PYTHONDONTWRITEBYTECODE": "1"}
    try:
        procs = []
        for _ in range(args.runs_per_round):
            procs.append(
                subprocess.Popen(
                    command(dsn, directory, store), stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env
                )
            )
            figures.runs += 1
            time.sleep(rng.uniform(0, 0.2))
        victims = procs if rng.random() < 0.5 else [rng.choice(procs)]
        # Kill at a random point of the work: once a run holds the lock, within the window.
        deadline = time.monotonic() + 60
        while not migration_locks(dsn) and time.monotonic() < deadline and any(p.poll() is None for p in procs):
            time.sleep(0.02)
        time.sleep(rng.uniform(0, args.kill_window))
        holding = migration_locks(dsn) > 0
        for victim in victims:
            if victim.poll() is None:
                victim.send_signal(signal.SIGKILL)
                figures.killed += 1
        if holding and len(victims) == len(procs):
            figures.killed_in_flight += 1
        for proc in procs:
            proc.communicate(timeout=300)
            figures.exit_codes[proc.returncode] += 1
        # Recovery: one more run finishes whatever is left.
        recovery = subprocess.run(command(dsn, directory, store), capture_output=True, text=True, env=env, timeout=300)
        figures.runs += 1
        figures.exit_codes[recovery.returncode] += 1
        if recovery.returncode != 0:
            figures.notes.append(f"recovery exit {recovery.returncode}: {recovery.stderr.strip()[:300]}")
        check_round(dsn, store, figures)
    finally:
        server.drop(db)


def check_round(dsn: str, store: Path, figures: Figures) -> None:
    import psycopg

    deadline = time.monotonic() + 10
    while migration_locks(dsn) and time.monotonic() < deadline:
        time.sleep(0.1)
    figures.stuck_locks += migration_locks(dsn)
    with psycopg.connect(dsn, autocommit=True) as conn:
        rows = conn.execute(
            "SELECT h.installed_rank, h.version, h.type, h.success, f.audit_seq FROM seasongate_schema_history h "
            "LEFT JOIN seasongate_schema_history_seasongate f USING (installed_rank) ORDER BY 1"
        ).fetchall()
        ok = Counter(r[1] for r in rows if r[2] == "SQL" and r[3])
        for version in [str(i) for i in range(1, SMALL + 1)]:
            exists = conn.execute("SELECT to_regclass(%s) IS NOT NULL", (f"t{version}",)).fetchone()
            count = conn.execute(f"SELECT count(*) FROM t{version}").fetchone() if exists and exists[0] else (0,)
            has_effect = bool(exists and exists[0])
            if has_effect != (ok[version] >= 1) or (has_effect and count != (ROWS_PER_TABLE,)):
                figures.partial += 1
                figures.notes.append(f"V{version}: table {has_effect}, rows {count}, successful rows {ok[version]}")
        index = conn.execute("SELECT to_regclass(%s) IS NOT NULL", (INDEX,)).fetchone()
        if bool(index and index[0]) != (ok[str(SMALL + 1)] >= 1):
            figures.partial += 1
            figures.notes.append(f"V{SMALL + 1}: index {index}, successful rows {ok[str(SMALL + 1)]}")
        figures.invalid_indexes += int(
            conn.execute("SELECT count(*) FROM pg_index WHERE NOT indisvalid").fetchone()[0]  # type: ignore[index]
        )
    expected = [str(i) for i in range(1, SMALL + 3)]
    figures.duplicated += sum(1 for v in expected if ok[v] > 1)
    figures.missing += sum(1 for v in expected if ok[v] == 0)
    figures.without_audit_outcome += without_outcome(rows, store)


def without_outcome(rows: list[tuple[Any, ...]], store: Path) -> int:
    """History rows that no outcome entry of the audit trail accounts for."""
    if not store.exists():
        return len(rows)
    with sqlite3.connect(store) as db:
        entries = db.execute(
            "SELECT action, payload FROM audit WHERE action IN ('migration.apply', 'migration.rollback')"
        ).fetchall()
    ranks: set[int] = set()
    starts: set[int] = set()
    for _action, payload in entries:
        data = json.loads(payload)
        if isinstance(data.get("installed_rank"), int):
            ranks.add(data["installed_rank"])
        for key in ("start_seq", "started_seq"):
            if isinstance(data.get(key), int):
                starts.add(data[key])
    return sum(1 for r in rows if r[0] not in ranks and (r[4] is None or r[4] not in starts))


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=15)
    parser.add_argument("--runs-per-round", type=int, default=3)
    parser.add_argument("--rows", type=int, default=200_000, help="rows in the table the index is built on")
    parser.add_argument("--kill-window", type=float, default=1.5, help="latest kill, seconds after a run took the lock")
    parser.add_argument("--seed", type=int, default=None)
    parser.add_argument("--check", action="store_true", help="exit 1 unless every figure is 0")
    args = parser.parse_args()
    seed = args.seed if args.seed is not None else random.randrange(1 << 30)
    rng = random.Random(seed)
    figures = Figures()
    server = Server()
    started = time.monotonic()
    try:
        with tempfile.TemporaryDirectory(prefix="seasongate-crash-") as tmp:
            for index in range(args.rounds):
                play_round(server, Path(tmp), args, rng, figures)
                print(f"round {index + 1}/{args.rounds}: {figures.bad()} problem(s) so far", file=sys.stderr)
    finally:
        server.stop()
    print(f"crash bench: {args.rounds} rounds, seed {seed}, {time.monotonic() - started:.0f}s")
    print(
        f"  runs                                   {figures.runs} ({figures.killed} killed with SIGKILL; "
        f"{figures.killed_in_flight} rounds killed every run while one held the lock)"
    )
    print(f"  exit codes                             {dict(sorted(figures.exit_codes.items()))}")
    print(f"  partial migrations                     {figures.partial}")
    print(f"  stuck locks                            {figures.stuck_locks}")
    print(f"  duplicated history rows                {figures.duplicated}")
    print(f"  missing history rows                   {figures.missing}")
    print(f"  invalid indexes                        {figures.invalid_indexes}")
    print(f"  history rows without an audit outcome  {figures.without_audit_outcome}")
    for note in figures.notes[:20]:
        print(f"  note: {note}")
    return 1 if args.check and figures.bad() else 0


if __name__ == "__main__":
    sys.exit(main())
