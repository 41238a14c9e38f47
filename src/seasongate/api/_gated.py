"""The gate every database command runs under, and the database it acts on, opened one way.

``migrate``, ``rollback``, ``info``, ``run`` and their watched forms open their
:class:`~seasongate._gate.Gate` here: the project (policy + store) through
:class:`~seasongate.api._project.Project`; the database they act on is one
:class:`Database` value (URL, migrations folder, executor options, placeholders), which
Python callers may give as keywords instead (``dsn=``, ``migrations=``...).
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any, Unpack

from seasongate._errors import InputError
from seasongate._executor import ExecutorOptions, Placeholders
from seasongate._gate import Gate
from seasongate._versions import Version
from seasongate.api._project import Project, open_project, open_store, project_of
from seasongate.api._request import ProjectFields

DSN_ENV = "SEASONGATE_DSN"
MIGRATIONS = Path("migrations")


def database_url(dsn: str | None) -> str:
    """The database to act on: ``dsn``, else ``SEASONGATE_DSN``; an error when neither is set."""
    chosen = (dsn or "").strip() or os.environ.get(DSN_ENV, "").strip()
    if not chosen:
        raise InputError(f"no database given: use --dsn URL or set {DSN_ENV}")
    return chosen


@dataclass(frozen=True)
class Database:
    """Where a database command acts: the database (``dsn``, else ``SEASONGATE_DSN``), the
    migrations folder, how the executor talks to PostgreSQL, and the placeholder values of
    the scripts (``${name}``)."""

    dsn: str | None = None
    migrations: Path = MIGRATIONS
    options: ExecutorOptions | None = None
    placeholders: Mapping[str, str] | Placeholders | None = None

    @property
    def url(self) -> str:
        """The database URL (an error when none is given)."""
        return database_url(self.dsn)

    def placeholder_values(self) -> Placeholders:
        """The placeholders as the executor takes them."""
        if isinstance(self.placeholders, Placeholders):
            return self.placeholders
        return Placeholders(dict(self.placeholders or {}))


class DatabaseFields(ProjectFields, total=False):
    """A :class:`Database` and the project as keyword arguments of an api function."""

    dsn: str | None
    migrations: Path
    options: ExecutorOptions | None
    placeholders: Mapping[str, str] | Placeholders | None


def refuse_unknown(fields: Mapping[str, object], known: Any) -> None:
    """Refuse a keyword the TypedDict ``known`` does not name, as Python refuses one: a
    misspelt ``use_store`` must not fall back to the default."""
    unknown = sorted(set(fields) - known.__required_keys__ - known.__optional_keys__)
    if unknown:
        raise TypeError(f"unexpected keyword argument(s): {', '.join(unknown)}")


def database_of(database: Database | None, fields: DatabaseFields) -> Database:
    """The database given, or the one the keyword fields describe (not both); an unknown
    keyword is refused."""
    refuse_unknown(fields, DatabaseFields)
    given = sorted(key for key in ("dsn", "migrations", "options", "placeholders") if key in fields)
    if database is None:
        return Database(
            fields.get("dsn"), fields.get("migrations", MIGRATIONS), fields.get("options"), fields.get("placeholders")
        )
    if given:
        raise InputError(f"give a Database or database keywords, not both ({', '.join(given)})")
    return database


def version_option(value: str | Version | None, option: str) -> Version | None:
    """``value`` as a :class:`Version`; a malformed one is an error naming ``option``."""
    if value is None or isinstance(value, Version):
        return value
    try:
        return Version.parse(value)
    except InputError as exc:
        raise InputError(f"{option}: {exc}") from exc


def open_gate(
    *,
    now: Callable[[], datetime],
    record_clock: Callable[[], datetime] | None = None,
    environment: str | None = None,
    territory: str | None = None,
    project: Project | None = None,
    **fields: Unpack[ProjectFields],
) -> Gate:
    """A :class:`~seasongate._gate.Gate` with the project's policy (the one covering
    ``environment``, or the one given) and its override/audit store (``use_store=False``: no
    overrides, no audit).

    ``now`` is the clock the gate judges by; ``record_clock`` (default ``now``) stamps the
    audit entries, the real clock when a run is judged at a simulated instant. The caller
    owns the store; close it with ``gate.store.close()`` when done.
    """
    refuse_unknown(fields, ProjectFields)
    opened = open_project(environment, **fields) if project is None else project_of(project, fields, "")
    store = open_store(opened.store_source, opened.project_dir) if opened.use_store else None
    return Gate(opened.policy, store, now=now, record_clock=record_clock, environment=environment, territory=territory)


@contextmanager
def gated(project: Project, now: Callable[[], datetime], environment: str, territory: str) -> Iterator[Gate]:
    """The gate of one command: the project's store is open while the command runs (and
    closed after, unless the caller handed in an open one)."""
    with project.store() as store:
        yield Gate(project.policy, store, now=now, environment=environment, territory=territory)
