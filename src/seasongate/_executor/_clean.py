"""``clean``: drop every object in some schemas of a throwaway database, in one transaction.

The schemas themselves, their owners and grants stay (as Flyway's ``clean`` leaves them);
what is left afterwards (an object kind this does not know) is an error, and nothing is
dropped. Whether ``clean`` may run at all is the gate's question, not this module's.
"""

from __future__ import annotations

from collections.abc import Sequence
from contextlib import suppress
from typing import TYPE_CHECKING, Any

from seasongate._errors import MigrationError

if TYPE_CHECKING:
    import psycopg

_RELATIONS = (
    "SELECT format('%%I.%%I', n.nspname, c.relname), c.oid FROM pg_class c "
    "JOIN pg_namespace n ON n.oid = c.relnamespace WHERE n.nspname = %s AND "
)
_TYPES = (
    "SELECT format('%%I.%%I', n.nspname, t.typname), t.oid FROM pg_type t "
    "JOIN pg_namespace n ON n.oid = t.typnamespace WHERE n.nspname = %s AND "
)
_CLEAN_QUERIES: Sequence[tuple[str, str]] = (
    (
        "MATERIALIZED VIEW",
        _RELATIONS + "c.relkind = 'm'",
    ),
    (
        "VIEW",
        _RELATIONS + "c.relkind = 'v'",
    ),
    (
        "TABLE",
        _RELATIONS + "c.relkind IN ('r', 'p') AND NOT c.relispartition",
    ),
    (
        "FOREIGN TABLE",
        _RELATIONS + "c.relkind = 'f'",
    ),
    (
        "SEQUENCE",
        _RELATIONS + "c.relkind = 'S'",
    ),
    (
        "ROUTINE",
        "SELECT format('%%I.%%I(%%s)', n.nspname, p.proname, pg_get_function_identity_arguments(p.oid)), p.oid "
        "FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace WHERE n.nspname = %s AND p.prokind <> 'a' "
        "AND NOT EXISTS (SELECT 1 FROM pg_depend d WHERE d.objid = p.oid AND d.deptype = 'e')",
    ),
    (
        "AGGREGATE",
        "SELECT format('%%I.%%I(%%s)', n.nspname, p.proname, pg_get_function_identity_arguments(p.oid)), p.oid "
        "FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace WHERE n.nspname = %s AND p.prokind = 'a' "
        "AND NOT EXISTS (SELECT 1 FROM pg_depend d WHERE d.objid = p.oid AND d.deptype = 'e')",
    ),
    (
        "DOMAIN",
        _TYPES + "t.typtype = 'd'",
    ),
    (
        "TYPE",
        _TYPES + "(t.typtype IN ('e', 'r', 'm') OR (t.typtype = 'c' AND "
        "(SELECT c.relkind FROM pg_class c WHERE c.oid = t.typrelid) = 'c')) "
        "AND NOT EXISTS (SELECT 1 FROM pg_depend d WHERE d.objid = t.oid AND d.deptype = 'e')",
    ),
    (
        "EXTENSION",
        "SELECT format('%%I', e.extname), e.oid FROM pg_extension e JOIN pg_namespace n ON n.oid = e.extnamespace "
        "WHERE n.nspname = %s",
    ),
)


def clean_schemas(conn: psycopg.Connection[Any], schemas: Sequence[str], *, dry_run: bool = False) -> list[str]:
    """Drop every object in ``schemas`` (the schemas themselves, their owners and grants stay),
    in one transaction; returns what was dropped, as ``KIND name``. What is left afterwards
    (an object kind this does not know) is an error, and the transaction is rolled back.
    ``dry_run``: list what would be dropped, and roll back."""
    dropped: list[str] = []
    with suppress(_DryRun), conn.transaction():
        for schema in schemas:
            found = conn.execute("SELECT 1 FROM pg_namespace WHERE nspname = %s", (schema,)).fetchone()
            if found is None:
                raise MigrationError(f"schema {schema} does not exist")
            for kind, query in _CLEAN_QUERIES:
                for name, oid in conn.execute(query, (schema,)).fetchall():
                    if not _still_there(conn, kind, oid):
                        continue  # dropped already by a CASCADE of an earlier object
                    conn.execute(f"DROP {kind} IF EXISTS {name} CASCADE")
                    dropped.append(f"{kind} {name}")
            left = conn.execute(
                "SELECT count(*) FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace WHERE n.nspname = %s",
                (schema,),
            ).fetchone()
            if left and left[0]:
                raise MigrationError(f"clean left {left[0]} object(s) in schema {schema}; nothing was dropped")
        if dry_run:
            raise _DryRun
    return dropped


_CATALOG = {"EXTENSION": "pg_extension", "ROUTINE": "pg_proc", "AGGREGATE": "pg_proc", "DOMAIN": "pg_type",
            "TYPE": "pg_type"}  # fmt: skip


class _DryRun(Exception):
    """Rolls back the transaction of a dry run."""


def _still_there(conn: psycopg.Connection[Any], kind: str, oid: int) -> bool:
    catalog = _CATALOG.get(kind, "pg_class")
    return conn.execute(f"SELECT 1 FROM pg_catalog.{catalog} WHERE oid = %s", (oid,)).fetchone() is not None
