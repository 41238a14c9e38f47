"""Anchors of the audit trail kept outside the store.

A trail can be wiped whole (``delete from audit``, a deleted or truncated SQLite file) and
then looks intact: zero entries, nothing to contradict. Two anchors kept elsewhere catch it:

* a *kept head* ``<seq>:<sha256>`` (``seasongate audit head``) that a pipeline stores; the
  trail must still hold entry ``seq`` with that hash;
* the migration history of each target database: ``seasongate migrate`` writes the audit
  entry's number and hash of each migration into ``<history>_seasongate.audit_seq`` /
  ``audit_hash`` in the same transaction as the history row; every such pair must still be
  in the trail.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING, Any

from seasongate._errors import InputError, StoreError
from seasongate._store import Store
from seasongate._store._audit import AuditReport

if TYPE_CHECKING:
    import psycopg

SIDE_SUFFIX = "_seasongate"


@dataclass(frozen=True, slots=True)
class Anchor:
    """One place the trail must still contain entry ``seq`` with ``hash``."""

    where: str  # "the kept head" or "history rank 3 (V226)"
    seq: int
    hash: str


def parse_kept_head(text: str) -> Anchor:
    """``<seq>:<sha256>`` as ``audit head`` printed it."""
    seq_text, sep, digest = text.strip().partition(":")
    digest = digest.strip().lower()
    if not sep or not seq_text.strip().isdigit() or int(seq_text) < 1 or len(digest) != 64:
        raise InputError(f"--head {text!r} is not a head printed by seasongate audit head (<seq>:<sha256>)")
    try:
        int(digest, 16)
    except ValueError:
        raise InputError(f"--head {text!r} is not a head printed by seasongate audit head (<seq>:<sha256>)") from None
    return Anchor("the kept head", int(seq_text), digest)


def history_anchors(dsn: str, table: str, schema: str = "public") -> tuple[list[Anchor], list[str]]:
    """The anchors the migration history of ``dsn`` keeps, and notes on what it could not
    read (a missing side table is a note, not an error: nothing was migrated with it yet)."""
    import psycopg
    from psycopg import sql

    from seasongate._dsn import display_dsn, redact

    side = table + SIDE_SUFFIX
    try:
        with psycopg.connect(dsn, autocommit=True, connect_timeout=5, application_name="seasongate") as conn:
            conn.execute("SET statement_timeout = '10s'")
            if not _exists(conn, schema, side):
                note = (
                    f"{display_dsn(dsn)} has no table {schema}.{side} yet (seasongate migrate creates it): "
                    "no migration history to check the trail against"
                )
                return [], [note]
            has_history = _exists(conn, schema, table)
            version = sql.SQL("h.version") if has_history else sql.SQL("NULL::text")
            join = (
                sql.SQL("LEFT JOIN {}.{} h ON h.installed_rank = s.installed_rank").format(
                    sql.Identifier(schema), sql.Identifier(table)
                )
                if has_history
                else sql.SQL("")
            )
            rows = conn.execute(
                sql.SQL(
                    "SELECT s.installed_rank, {}, s.audit_seq, s.audit_hash FROM {}.{} s {} ORDER BY s.installed_rank"
                ).format(version, sql.Identifier(schema), sql.Identifier(side), join)
            ).fetchall()
    except psycopg.Error as exc:
        reason = redact(str(exc).strip(), dsn)
        raise StoreError(f"cannot read the migration history of {display_dsn(dsn)}: {reason}") from exc
    anchors: list[Anchor] = []
    unanchored = 0
    for rank, version_text, seq, digest in rows:
        if seq is None or digest is None:
            unanchored += 1
            continue
        where = f"history rank {rank}" + (f" (V{version_text})" if version_text else "")
        anchors.append(Anchor(where, int(seq), str(digest)))
    notes = [f"{unanchored} history rows of {schema}.{table} carry no audit anchor"] if unanchored else []
    return anchors, notes


def _exists(conn: psycopg.Connection[tuple[Any, ...]], schema: str, table: str) -> bool:
    """Whether ``schema.table`` exists (a catalog query: no error, no stale cache)."""
    found = conn.execute(
        "SELECT 1 FROM pg_catalog.pg_class c JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace "
        "WHERE n.nspname = %s AND c.relname = %s",
        (schema, table),
    ).fetchone()
    return found is not None


def check_anchors(store: Store, report: AuditReport, anchors: Sequence[Anchor], notes: Sequence[str]) -> AuditReport:
    """``report`` (the chain's own check) with the anchors checked too: the first anchor the
    trail no longer contains breaks it, and all missing ones are named."""
    found = store.entries_at([a.seq for a in anchors])
    missing = [a for a in anchors if (entry := found.get(a.seq)) is None or entry.hash != a.hash]
    checked = replace(report, anchors=report.anchors + len(anchors), notes=(*report.notes, *notes))
    if not missing or not report.ok:
        return checked
    shown = ", ".join(
        f"{a.where}: entry {a.seq} " + ("is missing" if a.seq not in found else "has another hash") for a in missing[:5]
    )
    more = f" and {len(missing) - 5} more" if len(missing) > 5 else ""
    problem = (
        f"the trail no longer contains {len(missing)} of {len(anchors)} anchored entries ({shown}{more}): "
        "entries were deleted or the trail was replaced"
    )
    return replace(checked, broken_seq=missing[0].seq, problem=problem)
