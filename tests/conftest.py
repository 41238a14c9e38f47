"""Shared fixtures: the repository paths, frozen clocks and a real PostgreSQL server."""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner, Result
from hypothesis import HealthCheck, settings

from tests.pgcluster import Cluster, ClusterUnavailable, external_cluster, start_cluster

ROOT = Path(__file__).resolve().parent.parent
CALENDARS = ROOT / "calendars"
POLICIES = ROOT / "policies"
MIGRATIONS = ROOT / "migrations"

# Property tests assert answers, never speed: Hypothesis's per-example deadline and its
# "generation too slow" check are timings, and fail on a loaded two-core CI runner.
settings.register_profile("seasongate", deadline=None, suppress_health_check=[HealthCheck.too_slow])
settings.load_profile("seasongate")


def invoke(*args: str, **kwargs: object) -> Result:
    """Run the ``seasongate`` command in-process; exceptions other than exits propagate."""
    from seasongate.cli import main

    return CliRunner().invoke(main, list(args), catch_exceptions=False, **kwargs)  # type: ignore[arg-type]


_shipped: dict[str, object] = {}


def shipped_policy(name: str = "production") -> Any:
    """The repository's ``policies/<name>.yaml``, loaded once per session."""
    if name not in _shipped:
        from seasongate._policy import load_policy

        _shipped[name] = load_policy(POLICIES / f"{name}.yaml")
    return _shipped[name]


def policy_with_default_class(directory: Path, migration_class: str = "production") -> Path:
    """A copy of the shipped production policy that names a default class: a request that
    names no migration (a whole Alembic upgrade, ``run -- CMD``) is then judged as a
    migration of that class instead of one of unknown class (docs/integrations.md)."""
    body = (POLICIES / "production.yaml").read_text(encoding="utf-8")
    body = body.replace("defaults: {risk: medium, duration: 15m}",
                        f"defaults: {{risk: medium, duration: 15m, class: {migration_class}}}")  # fmt: skip
    path = directory / "production.yaml"
    path.write_text(body.replace("../calendars/", f"{CALENDARS}/"), encoding="utf-8")
    return path


@pytest.fixture
def in_repo(monkeypatch: pytest.MonkeyPatch) -> None:
    """Run in the repository root (its policies/, calendars/ and migrations/)."""
    monkeypatch.chdir(ROOT)


@pytest.fixture(autouse=True)
def _isolated_cache(tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch) -> None:
    """Each test gets its own expansion cache so no test reads another's."""
    monkeypatch.setenv("SEASONGATE_CACHE_DIR", str(tmp_path_factory.mktemp("cache")))


@pytest.fixture(scope="session")
def pg_cluster() -> Iterator[Cluster]:
    """A real PostgreSQL server for the whole session; fails (never skips) under CI=true."""
    dsn = os.environ.get("SEASONGATE_TEST_DSN")
    try:
        cluster = external_cluster(dsn) if dsn else start_cluster()
    except ClusterUnavailable as exc:
        if os.environ.get("CI", "").lower() == "true":
            pytest.fail(f"PostgreSQL is required under CI=true: {exc}")
        pytest.skip(f"no PostgreSQL server: {exc}")  # only outside CI: under CI=true it failed above
    yield cluster
    cluster.stop()


@pytest.fixture
def pg_dsn(pg_cluster: Cluster) -> Iterator[str]:
    """A fresh, empty database on the test server; dropped afterwards."""
    import psycopg

    name = f"t_{uuid.uuid4().hex[:12]}"
    with psycopg.connect(pg_cluster.dsn(), autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    yield pg_cluster.dsn(name)
    with psycopg.connect(pg_cluster.dsn(), autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
