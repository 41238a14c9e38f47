"""Shared fixtures for the store, override and audit tests: one suite, both backends.

``store_url`` is parametrized over SQLite and PostgreSQL (a fresh database from ``pg_dsn``).
People act through :class:`Actors`: with SQLite the identity is the OS user, so acting as
someone sets ``LOGNAME``/``USER`` while the store is opened; with PostgreSQL it is the login
role in the connection URL. The PostgreSQL login roles (cluster-wide) are created once.
Import the fixtures into a test module to use them.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import pytest

from seasongate._policy import Policy
from seasongate._store import Store, open_store
from tests.conftest import POLICIES
from tests.pgcluster import Cluster

RELEASE_MANAGERS = ("anna.huber", "jonas.meier", "lea.keller")  # in the shipped roster
OUTSIDER = "dev.dora"  # not a release manager anywhere
CI_USER = "ci.runner"  # the pipeline: checks and migrates, approves nothing
RM_ROLE = "seasongate_release_manager"
MIGRATOR_ROLE = "seasongate_migrator"  # runs migrations: may consume single-use overrides
PRODUCTION = POLICIES / "production.yaml"

OKTOBERFEST = datetime.fromisoformat("2026-09-25T10:00:00+02:00")  # a Friday in the blackout
QUIET = datetime.fromisoformat("2026-11-10T22:00:00+01:00")  # a Tuesday night, no blackout


def with_user(dsn: str, user: str) -> str:
    """``dsn`` (a postgresql:// URL) connecting as ``user``."""
    parts = urlsplit(dsn)
    host = parts.netloc.rsplit("@", 1)[-1]
    return urlunsplit(parts._replace(netloc=f"{user}@{host}"))


def user_env(user: str) -> dict[str, str]:
    """The environment that makes ``getpass.getuser()`` answer ``user``."""
    return {"LOGNAME": user, "USER": user, "LNAME": user, "USERNAME": user}


@contextmanager
def as_os_user(user: str) -> Iterator[None]:
    """Be ``user`` for ``getpass.getuser()`` inside the block."""
    saved = {k: os.environ.get(k) for k in user_env(user)}
    os.environ.update(user_env(user))
    try:
        yield
    finally:
        for key, value in saved.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value


class Actors:
    """Opens the store under test as a given person."""

    def __init__(self, url: str, backend: str, owner: str) -> None:
        self.url = url
        self.backend = backend
        self.owner = owner

    def url_for(self, user: str) -> str:
        """The store URL as ``user`` sees it (SQLite: the same file)."""
        return with_user(self.url, user) if self.backend == "postgres" else self.url

    def env_for(self, user: str) -> dict[str, str]:
        """Environment variables for a CLI run as ``user``."""
        return user_env(user)

    @contextmanager
    def open(self, user: str) -> Iterator[Store]:
        """The store opened as ``user``."""
        with as_os_user(user):
            store = open_store(self.url_for(user), Path.cwd())
        try:
            yield store
        finally:
            store.close()

    def set_clock(self, at: datetime) -> None:
        """Set the server's clock of a PostgreSQL store (the ``seasongate.clock`` row only its
        owner can write) to ``at``; SQLite takes the instant from the caller, so nothing to do."""
        if self.backend != "postgres":
            return
        set_server_clock(self.url, at)

    def owner_store(self) -> Store:
        """The store opened as its owner (who created the schema); the caller closes it."""
        with as_os_user(self.owner):
            return open_store(self.url, Path.cwd())


def set_server_clock(dsn: str, at: datetime | None) -> None:
    """As the schema owner, make ``seasongate._now()`` answer ``at`` (None: the real clock)."""
    import psycopg

    with psycopg.connect(dsn, autocommit=True) as conn:
        if at is None:
            conn.execute("DELETE FROM seasongate.clock")
        else:
            conn.execute(
                "INSERT INTO seasongate.clock (at) VALUES (%s) ON CONFLICT (one) DO UPDATE SET at = EXCLUDED.at",
                (at,),
            )


def _create_roles(cluster: Cluster) -> None:
    import psycopg

    with psycopg.connect(cluster.dsn(), autocommit=True) as conn:
        conn.execute(
            f"""
            DO $$
            BEGIN
                IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = '{RM_ROLE}') THEN
                    CREATE ROLE {RM_ROLE} NOLOGIN;
                END IF;
                IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = '{MIGRATOR_ROLE}') THEN
                    CREATE ROLE {MIGRATOR_ROLE} NOLOGIN;
                END IF;
            END $$
            """
        )
        for user in (*RELEASE_MANAGERS, OUTSIDER, CI_USER):
            exists = conn.execute("SELECT 1 FROM pg_roles WHERE rolname = %s", (user,)).fetchone()
            if not exists:
                conn.execute(f'CREATE ROLE "{user}" LOGIN')
        for user in RELEASE_MANAGERS:
            conn.execute(f'GRANT {RM_ROLE} TO "{user}"')
        conn.execute(f'GRANT {MIGRATOR_ROLE} TO "{CI_USER}"')


@pytest.fixture(scope="session")
def pg_roles(pg_cluster: Cluster) -> Cluster:
    """Login roles: three release managers (members of seasongate_release_manager), one not."""
    _create_roles(pg_cluster)
    return pg_cluster


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def store_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """A fresh, empty store of each backend (owner: the test server's superuser)."""
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'store.db'}"
    dsn: str = request.getfixturevalue("pg_dsn")
    return dsn


@pytest.fixture
def actors(store_url: str, request: pytest.FixtureRequest) -> Iterator[Actors]:
    """The store under test, its schema created by its owner, openable as anyone."""
    if store_url.startswith("postgresql"):
        cluster: Cluster = request.getfixturevalue("pg_roles")
        found = Actors(store_url, "postgres", cluster.superuser)
    else:
        found = Actors(store_url, "sqlite", "store.owner")
    found.owner_store().close()  # create the schema as the owner
    found.set_clock(OKTOBERFEST)  # PostgreSQL takes its time from the server: freeze it
    yield found


@pytest.fixture(scope="session")
def production_policy() -> Policy:
    """The shipped production policy, loaded once."""
    from seasongate._policy import load_policy

    return load_policy(PRODUCTION)
