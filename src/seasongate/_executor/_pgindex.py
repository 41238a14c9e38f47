"""Index builds in ``transaction=false`` scripts: which index a statement builds, and whether it
left one INVALID.

After every such statement that builds an index, the index must be valid
(``pg_index.indisvalid``): a cancelled ``CREATE INDEX CONCURRENTLY`` leaves an INVALID index
behind, and that is a failure, never "applied". A retry of such a statement first drops the
invalid leftover it made.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from seasongate._executor._files import MigrationScript
from seasongate._executor._pgerrors import StatementFailure, error_line, error_text, retries_of
from seasongate._executor._sql import Statement

if TYPE_CHECKING:
    import psycopg

_BUILDS_INDEX = re.compile(r"^(?:create\s+(?:unique\s+)?index|reindex)\b", re.IGNORECASE)
_IDENT = r'(?:"(?:[^"]|"")+"|[A-Za-z_][\w$]*)'
_INDEX_NAME = re.compile(
    r"^create\s+(?:unique\s+)?index\s+(?:concurrently\s+)?(?:if\s+not\s+exists\s+)?"
    rf"(?P<name>{_IDENT}(?:\s*\.\s*{_IDENT})?\s+)?on\s+(?P<only>only\s+)?(?P<table>{_IDENT}(?:\s*\.\s*{_IDENT})?)",
    re.IGNORECASE,
)
_REINDEX = re.compile(
    r"^reindex\s+(?:\([^)]*\)\s*)?(?P<kind>index|table)\s+(?:concurrently\s+)?"
    rf"(?P<name>{_IDENT}(?:\s*\.\s*{_IDENT})?)",
    re.IGNORECASE,
)


@dataclass(frozen=True, slots=True)
class IndexBuild:
    """What a statement (its ``code``) builds: ``builds`` an index whose validity is checked
    afterwards, named ``name`` when it names one."""

    builds: bool
    name: str | None


def index_build(code: str) -> IndexBuild:
    """Whether ``code`` builds an index (an index ON ONLY a partitioned table is invalid until
    attached: not checked), and its name."""
    builds = _BUILDS_INDEX.match(code) is not None
    created = _INDEX_NAME.match(code)
    if created and created.group("only"):
        builds = False
    name = created.group("name").strip() if created and created.group("name") else None
    return IndexBuild(builds, name)


def index_table(conn: psycopg.Connection[Any], code: str) -> str | None:
    """The table whose index a ``CREATE INDEX`` or ``REINDEX INDEX|TABLE`` builds (None:
    unknown, then the whole database is watched)."""
    created = _INDEX_NAME.match(code)
    if created:
        return created.group("table")
    reindex = _REINDEX.match(code)
    if reindex is None:
        return None
    if reindex.group("kind").lower() == "table":
        return reindex.group("name")
    row = conn.execute(
        "SELECT indrelid::regclass::text FROM pg_index WHERE indexrelid = to_regclass(%s)", (reindex.group("name"),)
    ).fetchone()
    return str(row[0]) if row and row[0] else None


def invalid_indexes(conn: psycopg.Connection[Any], table: str | None) -> set[str]:
    """The invalid indexes on ``table`` (every table when None)."""
    rows = conn.execute(
        "SELECT indexrelid::regclass::text FROM pg_index WHERE NOT indisvalid "
        "AND (%(t)s::text IS NULL OR indrelid = to_regclass(%(t)s))",
        {"t": table},
    ).fetchall()
    return {r[0] for r in rows}


def is_invalid(conn: psycopg.Connection[Any], name: str) -> bool:
    """Whether the index ``name`` exists and is INVALID."""
    row = conn.execute("SELECT NOT indisvalid FROM pg_index WHERE indexrelid = to_regclass(%s)", (name,)).fetchone()
    return bool(row and row[0])


def qualified(conn: psycopg.Connection[Any], name: str) -> str:
    """``name`` as the server shows the relation (schema-qualified when needed)."""
    row = conn.execute("SELECT to_regclass(%s)::text", (name,)).fetchone()
    return str(row[0]) if row and row[0] else name


def invalid_note(indexes: set[str]) -> str:
    """What to say about INVALID indexes left behind, and how to remove them."""
    if not indexes:
        return ""
    names = ", ".join(sorted(indexes))
    drops = "; ".join(f"DROP INDEX CONCURRENTLY {n}" for n in sorted(indexes))
    return (
        f"; INVALID index left behind: {names} (its build was cancelled or failed; queries do not "
        f"use it, writes still maintain it). Remove it with `{drops}`, or fix the cause and run "
        "migrate --retry-incomplete, which drops it and builds it again"
    )


def run_statement(
    conn: psycopg.Connection[Any],
    script: MigrationScript,
    st: Statement,
    *,
    retrying: bool,
    retry: Callable[[Callable[[], None]], tuple[None, int]],
) -> int:
    """Run one statement of ``script`` in autocommit through ``retry`` (the session's
    lock-timeout retries); a statement that builds an index must leave it valid. ``retrying``:
    an earlier attempt did not finish, so an INVALID index the statement names is its leftover
    and is dropped first. Returns the retries it took; raises :class:`StatementFailure`."""
    import psycopg
    from psycopg import sql

    build = index_build(st.code)
    # Leftovers are looked for on the statement's table only: another session's index
    # build elsewhere is invalid while it runs and is none of this migration's business.
    table = index_table(conn, st.code) if build.builds else None
    leftovers: set[str] = set()
    if build.builds and retrying and build.name is not None and is_invalid(conn, build.name):
        leftovers.add(qualified(conn, build.name))

    def attempt() -> None:
        for leftover in sorted(leftovers):
            conn.execute(sql.SQL("DROP INDEX CONCURRENTLY IF EXISTS {}").format(sql.SQL(leftover)))
        leftovers.clear()
        before = invalid_indexes(conn, table) if build.builds else set()
        try:
            conn.execute(st.text.encode())
        finally:
            if build.builds:
                leftovers.update(invalid_indexes(conn, table) - before)

    try:
        _, retries = retry(attempt)
    except psycopg.Error as exc:
        message = error_text(exc) + invalid_note(leftovers)
        line = error_line(exc, script.sql, st.start, st.line)
        raise StatementFailure(exc, message, line, retries_of(exc)) from exc
    invalid = set(leftovers)
    if build.name is not None and is_invalid(conn, build.name):
        invalid.add(qualified(conn, build.name))
    if invalid:
        raise StatementFailure(None, "the statement left an INVALID index" + invalid_note(invalid), st.line, retries)
    return retries
