"""seasongate's executor against the migration tools a team would otherwise use, side by side.

    python benchmarks/peers_bench.py [--counts 500,2000] [--rounds 3] [--undo 100]

Prepares the peers in ``benchmarks/.peers/`` (ignored by git; made once, reused): dbmate and
node-pg-migrate from the npm registry, alembic (with SQLAlchemy) and yoyo-migrations in a venv
of their own. A peer that cannot be installed is skipped and the script says so. Then, for each
count N, generates the same N small migrations in every tool's format and, in interleaved
rounds on fresh databases of one throwaway PostgreSQL server (TCP on 127.0.0.1), measures:

* ``migrate`` of N: seasongate (gate evaluated and audited for every migration, one
  transaction per file) against dbmate, alembic (``transaction_per_migration``),
  node-pg-migrate (``--no-single-transaction``: one transaction per file), yoyo, and the
  floor ``psql`` running the files with one transaction per file;
* ``info`` on N applied: ``seasongate info`` against ``dbmate status``;
* ``rollback`` of the newest ``--undo`` migrations against ``psql`` running the undo scripts
  with one transaction per file.

Prints medians and the ratios seasongate / peer (below 1.00 means seasongate is faster). The
Python tools run as a normal installation would, with bytecode caching.
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

ROOT = Path(__file__).resolve().parent.parent
PEERS = Path(__file__).resolve().parent / ".peers"
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


def undo_sql(i: int) -> str:
    return f"DROP TABLE bench_{i};\n"


# --------------------------------------------------------------------------- the peers


def prepare_peers() -> dict[str, list[str]]:
    """Install the peers once into ``benchmarks/.peers``; returns the commands that work."""
    PEERS.mkdir(exist_ok=True)
    found: dict[str, list[str]] = {}
    bin_dir = PEERS / "node_modules" / ".bin"
    missing = not (bin_dir / "dbmate").exists() or not (bin_dir / "node-pg-migrate").exists()
    if missing and shutil.which("npm"):
        subprocess.run(
            ["npm", "install", "--silent", "--no-audit", "--no-fund", "dbmate", "node-pg-migrate", "pg"],
            cwd=PEERS, capture_output=True, timeout=600, check=False,
        )  # fmt: skip
    for name in ("dbmate", "node-pg-migrate"):
        if (bin_dir / name).exists():
            found[name] = [str(bin_dir / name)]
        else:
            print(f"{name}: could not be installed from the npm registry; skipped")
    venv = PEERS / "venv"
    if not (venv / "bin" / "alembic").exists() or not (venv / "bin" / "yoyo").exists():
        subprocess.run([sys.executable, "-m", "venv", str(venv)], check=False, capture_output=True)
        subprocess.run(
            [str(venv / "bin" / "pip"), "install", "-q",
             "alembic", "sqlalchemy>=2", "psycopg[binary]", "yoyo-migrations"],
            capture_output=True, timeout=600, check=False,
        )  # fmt: skip
    for name in ("alembic", "yoyo"):
        if (venv / "bin" / name).exists():
            found[name] = [str(venv / "bin" / name)]
        else:
            print(f"{name}: could not be installed into {venv}; skipped")
    return found


# --------------------------------------------------------------------------- the inputs


def generate(count: int, work: Path) -> dict[str, Path]:
    """The same ``count`` migrations in every tool's format; returns the folders."""
    folders = {name: work / name for name in ("seasongate", "dbmate", "npm", "alembic", "yoyo")}
    for folder in folders.values():
        folder.mkdir(parents=True)
    (folders["alembic"] / "versions").mkdir()
    psql_up = work / "psql_up.sql"
    with psql_up.open("w", encoding="utf-8") as floor:
        for i in range(1, count + 1):
            sql, undo = migration_sql(i), undo_sql(i)
            (folders["seasongate"] / f"V{i}__bench_table_{i}.sql").write_text(sql, encoding="utf-8")
            (folders["seasongate"] / f"U{i}__bench_table_{i}.sql").write_text(undo, encoding="utf-8")
            (folders["dbmate"] / f"{i:014d}_bench_table_{i}.sql").write_text(
                f"-- migrate:up\n{sql}\n-- migrate:down\n{undo}", encoding="utf-8"
            )
            (folders["npm"] / f"{i:013d}_bench-table-{i}.sql").write_text(
                f"-- Up Migration\n{sql}\n-- Down Migration\n{undo}", encoding="utf-8"
            )
            (folders["yoyo"] / f"{i:05d}_bench_table_{i}.sql").write_text(sql, encoding="utf-8")
            (folders["yoyo"] / f"{i:05d}_bench_table_{i}.rollback.sql").write_text(undo, encoding="utf-8")
            down = repr(None) if i == 1 else repr(f"r{i - 1:05d}")
            (folders["alembic"] / "versions" / f"r{i:05d}_bench.py").write_text(
                f"from alembic import op\nrevision = 'r{i:05d}'\ndown_revision = {down}\n"
                f"def upgrade():\n    op.execute({sql!r})\n"
                f"def downgrade():\n    op.execute({undo!r})\n",
                encoding="utf-8",
            )
            floor.write(f"BEGIN;\n{sql}COMMIT;\n")
    (folders["alembic"] / "env.py").write_text(
        "import os\nfrom alembic import context\nfrom sqlalchemy import create_engine\n"
        "engine = create_engine(os.environ['BENCH_SQLALCHEMY_URL'])\n"
        "with engine.connect() as connection:\n"
        "    context.configure(connection=connection, transaction_per_migration=True)\n"
        "    with context.begin_transaction():\n"
        "        context.run_migrations()\n",
        encoding="utf-8",
    )
    (folders["alembic"] / "alembic.ini").write_text(
        f"[alembic]\nscript_location = {folders['alembic']}\n", encoding="utf-8"
    )
    return {**folders, "psql_up": psql_up}


def undo_floor(count: int, undo: int, work: Path) -> Path:
    """The newest ``undo`` undo scripts, newest first, one transaction each, for psql."""
    path = work / f"psql_undo_{count}.sql"
    with path.open("w", encoding="utf-8") as out:
        for i in range(count, count - undo, -1):
            out.write(f"BEGIN;\n{undo_sql(i)}COMMIT;\n")
    return path


# --------------------------------------------------------------------------- the server


class Server:
    """A throwaway PostgreSQL listening on 127.0.0.1 (the npm peers speak TCP only)."""

    def __init__(self) -> None:
        from tests.pgcluster import start_cluster

        self.cluster = start_cluster(listen="127.0.0.1")
        self.user = self.cluster.superuser

    def uri(self, db: str, scheme: str = "postgresql") -> str:
        return f"{scheme}://{self.user}@127.0.0.1:{self.cluster.port}/{db}"

    def create(self) -> str:
        import psycopg

        name = f"bench_{uuid.uuid4().hex[:10]}"
        with psycopg.connect(self.uri("postgres"), autocommit=True) as conn:
            conn.execute(f'CREATE DATABASE "{name}"')
        return name

    def drop(self, name: str) -> None:
        import psycopg

        with psycopg.connect(self.uri("postgres"), autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')

    def tables(self, name: str) -> int:
        import psycopg

        with psycopg.connect(self.uri(name)) as conn:
            row = conn.execute("SELECT count(*) FROM pg_tables WHERE tablename LIKE 'bench\\_%'").fetchone()
        return int(row[0]) if row else 0

    def stop(self) -> None:
        self.cluster.stop()


def timed(command: list[str], env: dict[str, str], cwd: Path | None = None) -> float:
    start = time.perf_counter()
    result = subprocess.run(command, env=env, cwd=cwd, capture_output=True, text=True, timeout=1800)
    elapsed = time.perf_counter() - start
    if result.returncode != 0:
        raise SystemExit(
            f"failed ({result.returncode}): {' '.join(command[:4])} ...\n"
            f"{result.stdout[-2000:]}\n{result.stderr[-2000:]}"
        )
    return elapsed


# --------------------------------------------------------------------------- the runs


def main() -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--counts", default="500,2000", help="migration counts, comma-separated")
    parser.add_argument("--rounds", type=int, default=3, help="measured rounds per count (median)")
    parser.add_argument("--undo", type=int, default=100, help="migrations rolled back in the rollback race")
    args = parser.parse_args()
    psql = shutil.which("psql")
    if psql is None:
        raise SystemExit("psql not found: install the PostgreSQL client")
    beside = Path(sys.executable).parent / "seasongate"
    seasongate = [str(beside)] if beside.exists() else [sys.executable, "-m", "seasongate"]
    peers = prepare_peers()
    work = Path(tempfile.mkdtemp(prefix="seasongate-peers-"))
    env = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}
    env["SEASONGATE_CACHE_DIR"] = str(work / "cache")
    # The staging policy allows every migration in `ci`: the gate is still evaluated, and every
    # migration audited, at the real instant (a real run takes no --at).
    policy = ROOT / "policies" / "staging.yaml"
    server = Server()
    try:
        for count in (int(c) for c in args.counts.split(",")):
            run_count(count, args.rounds, args.undo, peers, seasongate, psql, policy, server, work, env)
    finally:
        server.stop()
        shutil.rmtree(work, ignore_errors=True)
    return 0


def run_count(
    count: int,
    rounds: int,
    undo: int,
    peers: dict[str, list[str]],
    seasongate: list[str],
    psql: str,
    policy: Path,
    server: Server,
    work: Path,
    env: dict[str, str],
) -> None:
    base = work / str(count)
    folders = generate(count, base)
    undo_file = undo_floor(count, min(undo, count), base)
    gate = ["--policy", str(policy), "--env", "ci", "--territory", "DE"]

    def sg(db: str, *command: str) -> list[str]:
        return [
            *seasongate, *command, "--dsn", server.uri(db), "--migrations", str(folders["seasongate"]), *gate,
            "--store", f"sqlite:///{base / db}.db",
        ]  # fmt: skip

    migrate: dict[str, Callable[[str], float]] = {
        "psql, a transaction per file (floor)": lambda db: timed(
            [psql, "-X", "-q", "-v", "ON_ERROR_STOP=1", "-f", str(folders["psql_up"]), server.uri(db)], env
        ),
        "seasongate migrate": lambda db: timed(sg(db, "migrate"), env),
    }
    if "dbmate" in peers:
        migrate["dbmate up"] = lambda db: timed(
            [*peers["dbmate"], "--url", server.uri(db, "postgres") + "?sslmode=disable",
             "--migrations-dir", str(folders["dbmate"]), "--no-dump-schema", "up"], env,
        )  # fmt: skip
    if "node-pg-migrate" in peers:
        migrate["node-pg-migrate up"] = lambda db: timed(
            [*peers["node-pg-migrate"], "up", "-m", str(folders["npm"]), "--no-single-transaction",
             "--migration-file-language", "sql", "--no-check-order"],
            {**env, "DATABASE_URL": server.uri(db, "postgres")},
        )  # fmt: skip
    if "alembic" in peers:
        migrate["alembic upgrade head"] = lambda db: timed(
            [*peers["alembic"], "-c", str(folders["alembic"] / "alembic.ini"), "upgrade", "head"],
            {**env, "BENCH_SQLALCHEMY_URL": server.uri(db, "postgresql+psycopg")},
        )
    if "yoyo" in peers:
        migrate["yoyo apply"] = lambda db: timed(
            [*peers["yoyo"], "apply", "--batch", "--no-config-file",
             "--database", server.uri(db, "postgresql+psycopg"), str(folders["yoyo"])], env,
        )  # fmt: skip

    times: dict[str, list[float]] = {name: [] for name in migrate}
    info: dict[str, list[float]] = {"seasongate info": [], "dbmate status": []}
    rollback: dict[str, list[float]] = {"psql undo, a transaction per file (floor)": [], "seasongate rollback": []}
    print(f"\n{count} migrations: {rounds} rounds + 1 warm-up, interleaved")
    for round_no in range(rounds + 1):
        for name, run in migrate.items():
            db = server.create()
            try:
                seconds = run(db)
                made = server.tables(db)
                if made != count:
                    raise SystemExit(f"{name}: {made} of {count} tables created")
                if round_no:
                    times[name].append(seconds)
                    if name == "seasongate migrate":
                        info["seasongate info"].append(timed(sg(db, "info"), env))
                        target = f"V{count - min(undo, count)}"
                        rollback["seasongate rollback"].append(timed([*sg(db, "rollback"), "--to", target], env))
                    if name == "dbmate up":
                        info["dbmate status"].append(
                            timed([*peers["dbmate"], "--url", server.uri(db, "postgres") + "?sslmode=disable",
                                   "--migrations-dir", str(folders["dbmate"]), "status"], env)
                        )  # fmt: skip
                    if name.startswith("psql"):
                        rollback["psql undo, a transaction per file (floor)"].append(
                            timed(
                                [psql, "-X", "-q", "-v", "ON_ERROR_STOP=1", "-f", str(undo_file), server.uri(db)], env
                            )
                        )
            finally:
                server.drop(db)
    report("migrate", times, "seasongate migrate")
    report("info", {k: v for k, v in info.items() if v}, "seasongate info")
    report(f"rollback of {min(undo, count)}", rollback, "seasongate rollback")


def report(what: str, times: dict[str, list[float]], ours: str) -> None:
    medians = {name: statistics.median(values) for name, values in times.items() if values}
    print(f"  {what}:")
    for name, value in medians.items():
        ratio = medians[ours] / value
        print(f"    {name:<40} median {value:8.3f}s   seasongate / this = {ratio:5.2f}x")


if __name__ == "__main__":
    sys.exit(main())
