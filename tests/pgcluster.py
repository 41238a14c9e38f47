"""A throwaway PostgreSQL cluster for the test suite (real server, never a mock).

``SEASONGATE_TEST_DSN`` wins when set. Otherwise the suite runs ``initdb`` and ``pg_ctl`` from
the machine's PostgreSQL binaries into a temporary directory, listening only on a private Unix
socket (no TCP port), and removes it afterwards. As root, the binaries run as ``postgres``.
"""

from __future__ import annotations

import glob
import os
import shutil
import subprocess
import tempfile
from dataclasses import dataclass
from pathlib import Path


class ClusterUnavailable(RuntimeError):
    """No PostgreSQL server could be had."""


def _find_bin(name: str) -> str | None:
    found = shutil.which(name)
    if found:
        return found
    candidates = sorted(glob.glob(f"/usr/lib/postgresql/*/bin/{name}"), reverse=True)
    return candidates[0] if candidates else None


@dataclass
class Cluster:
    """A running cluster; ``dsn(db)`` builds a libpq URL for one of its databases."""

    datadir: Path
    socket_dir: Path
    port: int
    superuser: str
    pg_ctl: str | None  # None when the server is external

    def dsn(self, dbname: str = "postgres", user: str | None = None) -> str:
        return f"postgresql://{user or self.superuser}@/{dbname}?host={self.socket_dir}&port={self.port}"

    def stop(self) -> None:
        if self.pg_ctl is None:
            return
        _run_as_owner([self.pg_ctl, "-D", str(self.datadir), "-m", "immediate", "stop"], check=False)
        shutil.rmtree(self.datadir.parent, ignore_errors=True)


def _run_as_owner(cmd: list[str], *, check: bool = True) -> subprocess.CompletedProcess[str]:
    if os.geteuid() == 0:
        cmd = ["runuser", "-u", "postgres", "--", *cmd]
    return subprocess.run(cmd, check=check, capture_output=True, text=True, timeout=120)


def start_cluster(*, listen: str = "", settings: dict[str, str] | None = None) -> Cluster:
    """Start a private cluster; raises :class:`ClusterUnavailable` with the reason.

    ``listen`` is PostgreSQL's ``listen_addresses``: none by default (the Unix socket only);
    benchmarks whose peers speak only TCP pass ``127.0.0.1``. ``settings`` are further server
    settings (``{"shared_preload_libraries": "pg_stat_statements"}``).
    """
    initdb, pg_ctl = _find_bin("initdb"), _find_bin("pg_ctl")
    if not initdb or not pg_ctl:
        raise ClusterUnavailable("initdb/pg_ctl not found (install PostgreSQL server binaries)")
    base = Path(tempfile.mkdtemp(prefix="seasongate-pg-"))
    datadir, socket_dir = base / "data", base / "sock"
    socket_dir.mkdir()
    superuser = "postgres"
    if os.geteuid() == 0:
        shutil.chown(base, "postgres")
        shutil.chown(socket_dir, "postgres")
    else:
        import getpass

        superuser = getpass.getuser()
    port = 5432 + (os.getpid() % 2000) + 1000
    try:
        _run_as_owner(
            [initdb, "-D", str(datadir), "-A", "trust", "-U", superuser, "-E", "UTF8", "--no-sync", "--locale=C"]
        )
        opts = (
            f"-c listen_addresses='{listen}' -k {socket_dir} -p {port} -c fsync=off "
            "-c synchronous_commit=off -c full_page_writes=off -c max_connections=200"
        )
        opts += "".join(f" -c {name}={value}" for name, value in (settings or {}).items())
        _run_as_owner(
            [pg_ctl, "-D", str(datadir), "-o", opts, "-w", "-t", "60", "-l", str(base / "server.log"), "start"]
        )
    except (subprocess.CalledProcessError, OSError) as exc:
        detail = getattr(exc, "stderr", "") or str(exc)
        shutil.rmtree(base, ignore_errors=True)
        raise ClusterUnavailable(f"could not start PostgreSQL: {detail.strip()}") from exc
    return Cluster(datadir, socket_dir, port, superuser, pg_ctl)


def external_cluster(dsn: str) -> Cluster:
    """Wrap a server given by ``SEASONGATE_TEST_DSN`` (databases are created in it)."""
    from psycopg.conninfo import conninfo_to_dict

    info = conninfo_to_dict(dsn)
    return Cluster(
        datadir=Path("/nonexistent"),
        socket_dir=Path(str(info.get("host", "localhost"))),
        port=int(info.get("port", 5432) or 5432),
        superuser=str(info.get("user", "postgres")),
        pg_ctl=None,
    )
