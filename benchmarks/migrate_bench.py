"""Apply 500 small generated migrations to a fresh database three ways and compare.

    python benchmarks/migrate_bench.py [--count 500] [--rounds 5]

1. ``seasongate migrate``: the full product path. The gate (policy ``staging.yaml``, whose
   ``ci`` environment allows every migration at the real instant: a real run takes no ``--at``)
   is evaluated before every migration, every migration runs in its own transaction, is
   recorded in the history table and audited in a SQLite store.
2. ``psql -1 -f`` of the concatenated files: one transaction, no bookkeeping. The floor.
3. yoyo-migrations (``yoyo apply --batch``): a Python migration tool with its own history
   and lock. Not a project dependency: ``pip install yoyo-migrations`` to include it.

Every round creates a fresh database per tool, runs the three in turn (interleaved, so load
on the machine hits them alike) and checks that all tables exist. A warm-up round is not
counted. Prints each median and the ratios; the targets are seasongate within 2x of psql and
faster than yoyo. ``--check`` exits 1 when a target is missed.

The server: ``SEASONGATE_BENCH_DSN`` (or ``SEASONGATE_TEST_DSN``) when set, else a throwaway
cluster started like the test suite's (``tests/pgcluster.py``). The Python tools run as a
normal installation would: with bytecode caching (``PYTHONDONTWRITEBYTECODE`` is dropped).
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
from collections.abc import Callable
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))


def migration_sql(i: int) -> str:
    return (
        f"CREATE TABLE bench_{i} (\n"
        "    id bigint PRIMARY KEY,\n"
        "    territory text NOT NULL,\n"
        "    payload jsonb NOT NULL DEFAULT '{}'::jsonb\n"
        ");\n"
        f"INSERT INTO bench_{i} (id, territory) VALUES (1, 'DE'), (2, 'CH');\n"
    )


def generate(count: int, work: Path) -> tuple[Path, Path, Path]:
    """The same migrations as a seasongate folder, a yoyo folder and one concatenated file."""
    sg_dir, yoyo_dir = work / "seasongate", work / "yoyo"
    sg_dir.mkdir()
    yoyo_dir.mkdir()
    concatenated = work / "all.sql"
    with concatenated.open("w", encoding="utf-8") as out:
        for i in range(1, count + 1):
            sql = migration_sql(i)
            (sg_dir / f"V{i}__bench_table_{i}.sql").write_text(sql, encoding="utf-8")
            (yoyo_dir / f"{i:05d}_bench_table_{i}.sql").write_text(sql, encoding="utf-8")
            out.write(sql)
    return sg_dir, yoyo_dir, concatenated


class Server:
    """Where the fresh databases are created."""

    def __init__(self) -> None:
        from psycopg.conninfo import conninfo_to_dict

        self.cluster: Any = None
        dsn = os.environ.get("SEASONGATE_BENCH_DSN") or os.environ.get("SEASONGATE_TEST_DSN")
        if dsn:
            self.admin = dsn
        else:
            from tests.pgcluster import start_cluster

            self.cluster = start_cluster()
            self.admin = self.cluster.dsn()
        self.info = conninfo_to_dict(self.admin)

    def dsn(self, db: str) -> str:
        from psycopg.conninfo import make_conninfo

        return make_conninfo(self.admin, dbname=db)

    def uri(self, db: str, scheme: str = "postgresql") -> str:
        user = self.info.get("user") or "postgres"
        host = self.info.get("host") or "localhost"
        port = self.info.get("port") or "5432"
        if str(host).startswith("/"):
            return f"{scheme}://{user}@/{db}?host={host}&port={port}"
        password = f":{self.info['password']}" if self.info.get("password") else ""
        return f"{scheme}://{user}{password}@{host}:{port}/{db}"

    def create(self) -> str:
        import psycopg

        name = f"bench_{uuid.uuid4().hex[:10]}"
        with psycopg.connect(self.admin, autocommit=True) as conn:
            conn.execute(f'CREATE DATABASE "{name}"')
        return name

    def drop(self, name: str) -> None:
        import psycopg

        with psycopg.connect(self.admin, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')

    def tables(self, name: str) -> int:
        import psycopg

        with psycopg.connect(self.dsn(name)) as conn:
            row = conn.execute("SELECT count(*) FROM pg_tables WHERE tablename LIKE 'bench\\_%'").fetchone()
        return int(row[0]) if row else 0

    def version(self) -> str:
        import psycopg

        with psycopg.connect(self.admin) as conn:
            row = conn.execute("SHOW server_version").fetchone()
        return str(row[0]) if row else "?"

    def stop(self) -> None:
        if self.cluster is not None:
            self.cluster.stop()


def tool(name: str) -> list[str] | None:
    """A console script next to this interpreter (no pyenv shim), else on PATH."""
    beside = Path(sys.executable).parent / name
    if beside.is_file():
        return [str(beside)]
    found = shutil.which(name)
    return [found] if found else None


def timed(command: list[str], env: dict[str, str]) -> float:
    start = time.perf_counter()
    result = subprocess.run(command, env=env, capture_output=True, text=True, timeout=600)
    elapsed = time.perf_counter() - start
    if result.returncode != 0:
        raise SystemExit(
            f"failed ({result.returncode}): {' '.join(command[:3])} ...\n"
            f"{result.stdout[-2000:]}\n{result.stderr[-2000:]}"
        )
    return elapsed


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--count", type=int, default=500, help="migrations per run")
    parser.add_argument("--rounds", type=int, default=5, help="measured rounds (median)")
    parser.add_argument("--check", action="store_true", help="exit 1 when a target is missed")
    args = parser.parse_args()

    psql = shutil.which("psql")
    seasongate = tool("seasongate") or [sys.executable, "-c", "from seasongate.cli import main; main()"]
    yoyo = tool("yoyo")
    if psql is None:
        raise SystemExit("psql not found: install the PostgreSQL client")
    work = Path(tempfile.mkdtemp(prefix="seasongate-bench-"))
    env = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}
    env["SEASONGATE_CACHE_DIR"] = str(work / "cache")
    server = Server()
    try:
        sg_dir, yoyo_dir, concatenated = generate(args.count, work)
        policy = ROOT / "policies" / "staging.yaml"

        def run_psql(db: str) -> float:
            return timed(
                [psql, "-X", "-q", "-v", "ON_ERROR_STOP=1", "-1", "-f", str(concatenated), server.uri(db)], env
            )

        def run_seasongate(db: str) -> float:
            store = work / f"{db}.db"
            return timed(
                [
                    *seasongate,
                    "migrate",
                    "--dsn",
                    server.uri(db),
                    "--migrations",
                    str(sg_dir),
                    "--policy",
                    str(policy),
                    "--env",
                    "ci",
                    "--territory",
                    "DE",
                    "--store",
                    f"sqlite:///{store}",
                ],
                env,
            )

        def run_yoyo(db: str) -> float:
            assert yoyo is not None
            return timed(
                [
                    *yoyo,
                    "apply",
                    "--batch",
                    "--no-config-file",
                    "--database",
                    server.uri(db, "postgresql+psycopg"),
                    str(yoyo_dir),
                ],
                env,
            )

        tools: dict[str, Callable[[str], float]] = {
            "psql -1 -f (floor)": run_psql,
            "seasongate migrate": run_seasongate,
        }
        if yoyo is not None:
            tools["yoyo apply"] = run_yoyo
        else:
            print("yoyo-migrations is not installed (pip install yoyo-migrations); skipped")
        times: dict[str, list[float]] = {name: [] for name in tools}
        print(f"{args.count} migrations, {args.rounds} rounds + 1 warm-up, PostgreSQL {server.version()}")
        for round_no in range(args.rounds + 1):
            for name, run in tools.items():
                db = server.create()
                try:
                    seconds = run(db)
                    made = server.tables(db)
                    if made != args.count:
                        raise SystemExit(f"{name}: {made} of {args.count} tables created")
                finally:
                    server.drop(db)
                if round_no:
                    times[name].append(seconds)
        medians = {name: statistics.median(values) for name, values in times.items()}
        floor = medians["psql -1 -f (floor)"]
        for name, value in medians.items():
            spread = f"min {min(times[name]):.3f}s max {max(times[name]):.3f}s"
            print(f"  {name:<22} median {value:7.3f}s  ({spread})  {value / floor:5.2f}x psql")
        ours = medians["seasongate migrate"]
        ok = True
        ratio = ours / floor
        print(f"seasongate / psql = {ratio:.2f}x (target: within 2x) {'ok' if ratio <= 2 else 'MISSED'}")
        ok &= ratio <= 2
        if "yoyo apply" in medians:
            versus = ours / medians["yoyo apply"]
            print(f"seasongate / yoyo = {versus:.2f}x (target: below 1x) {'ok' if versus < 1 else 'MISSED'}")
            ok &= versus < 1
        per = (ours - floor) / args.count * 1000
        print(
            f"seasongate overhead over psql: {per:.2f} ms per migration "
            "(gate, history row, audit entry, own transaction)"
        )
        return 0 if ok or not args.check else 1
    finally:
        server.stop()
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
