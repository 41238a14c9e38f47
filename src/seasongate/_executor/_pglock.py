"""The migration lock: two session-level advisory locks, seasongate's and Flyway's, taken by
polling and proven still held before anything is committed.

A waiting run polls ``pg_try_advisory_lock`` with backoff instead of blocking in
``pg_advisory_lock``: a blocked statement holds a snapshot the whole time it waits, and
``CREATE INDEX CONCURRENTLY`` in the running migration would wait for that snapshot.

The proof that a session still holds both locks is one plain ``SELECT`` (:func:`check_sql`)
that fails otherwise (:func:`check_failed` tells that failure from any other); a
transactional migration runs it inside its own transaction, after the script, so it costs no
round trip of its own. Plain SQL, not a ``DO`` block: PostgreSQL plans a ``DO`` block's query
afresh each time, which cost more server time per migration than the check itself.
"""

from __future__ import annotations

import zlib
from collections.abc import Callable
from datetime import datetime
from typing import TYPE_CHECKING, Any

from seasongate._errors import MigrationError
from seasongate._executor._pgerrors import LockBusy, LockLost, error_text

if TYPE_CHECKING:
    import psycopg

LOCK_CLASS = 0x5347  # "SG": the first key of the two-key advisory lock
LOCK_LOST = "seasongate: the migration lock is not held"
"""What the failing lock check says (:func:`check_sql`, :func:`check_failed`)."""
_POLL_FIRST = 0.05  # seconds between lock polls, doubled up to _POLL_MAX
_POLL_MAX = 1.0
# Both locks, in one scan of pg_locks; advisory locks belong to a database. Plain SQL cannot
# raise an error of its own: when a lock is missing, the check casts its message to an integer,
# which fails (SQLSTATE 22P02) with the message quoted. The ELSE branch depends on the count,
# so the planner cannot evaluate it ahead of time.
_CHECK = (
    "SELECT CASE WHEN count(*) >= 2 THEN 0 ELSE ('{message} (' || count(*) || ' of 2 held)')::int END "
    "FROM pg_locks WHERE locktype = 'advisory' AND granted AND pid = pg_backend_pid() "
    "AND database = (SELECT oid FROM pg_database WHERE datname = current_database()) "
    "AND (({ours}) OR ({flyway}))"
)
_CHECK_STATE = "22P02"  # invalid_text_representation: the cast of the check's message


def lock_key(schema: str, table: str) -> tuple[int, int]:
    """The two advisory-lock keys: a constant and the CRC32 of the history table."""
    crc = zlib.crc32(f"{schema}.{table}".encode())
    return LOCK_CLASS, crc - (1 << 32) if crc >= (1 << 31) else crc


Sleep = Callable[[float], None]
Clock = Callable[[], float]


def acquire(conn: psycopg.Connection[Any], schema: str, table: str, wait: float, sleep: Sleep, clock: Clock) -> None:
    """Take seasongate's lock, then Flyway's, polling with backoff until ``wait`` seconds have
    passed (raises :class:`LockBusy` naming the holder). Each poll is a short statement of its
    own, so a waiting run holds no snapshot that a ``CREATE INDEX CONCURRENTLY`` of the running
    one would have to wait for."""
    import psycopg

    from seasongate._executor._flyway_db import take_flyway_lock

    key1, key2 = lock_key(schema, table)
    deadline = clock() + wait
    delay = _POLL_FIRST
    try:
        while True:
            row = conn.execute("SELECT pg_try_advisory_lock(%s, %s)", (key1, key2)).fetchone()
            if row and row[0]:
                # Also Flyway's lock on this history table (one bigint key), so that a stray
                # ``flyway migrate`` and this run never work at once.
                take_flyway_lock(conn, schema, table, wait=max(0.0, deadline - clock()), sleep=sleep, clock=clock)
                return
            left = deadline - clock()
            if left <= 0:
                raise _busy(conn, (key1, key2), wait)
            sleep(min(delay, left))
            delay = min(delay * 2, _POLL_MAX)
    except psycopg.Error as exc:
        raise MigrationError(f"cannot take the migration lock: {error_text(exc)}") from exc


def _busy(conn: psycopg.Connection[Any], key: tuple[int, int], wait: float) -> LockBusy:
    row = conn.execute(
        """SELECT a.pid, a.usename, a.application_name, a.client_addr::text, a.backend_start
             FROM pg_locks l JOIN pg_stat_activity a ON a.pid = l.pid
            WHERE l.locktype = 'advisory' AND l.granted AND l.database = (
                  SELECT oid FROM pg_database WHERE datname = current_database())
              AND l.classid = %s::int::oid AND l.objid = %s::int::oid AND l.objsubid = 2""",
        key,
    ).fetchone()
    waited = f"gave up after {wait:g}s"
    if row is None:
        return LockBusy(f"the migration lock is busy ({waited}); the holder is gone now, run again")
    pid, user, app, addr, since = row
    since_text = since.isoformat(timespec="seconds") if isinstance(since, datetime) else "?"
    client = f" from {addr}" if addr else ""
    return LockBusy(
        f"another run holds the migration lock: pid {pid} ({app or 'unknown'}, user {user}"
        f"{client}), connected since {since_text}; {waited} (--lock-wait)",
        holder_pid=int(pid),
    )


def check_sql(schema: str, table: str) -> str:
    """A statement that fails (:func:`check_failed`) unless this session holds both advisory
    locks (ours and Flyway's) in this database: one scan of ``pg_locks``."""
    from seasongate._executor._flyway import lock_key as flyway_key

    key1, key2 = lock_key(schema, table)
    key = flyway_key(schema, table)
    high, low = (key >> 32) & 0xFFFFFFFF, key & 0xFFFFFFFF
    return _CHECK.format(
        ours=f"classid = ({key1})::int::oid AND objid = ({key2})::int::oid AND objsubid = 2",
        flyway=f"classid = ({high})::bigint::oid AND objid = ({low})::bigint::oid AND objsubid = 1",
        message=LOCK_LOST,
    )


def check_failed(exc: BaseException) -> bool:
    """Whether ``exc`` is the lock check of :func:`check_sql` failing (a lock is not held)."""
    return getattr(exc, "sqlstate", None) == _CHECK_STATE and LOCK_LOST in str(exc)


def lost(exc: BaseException) -> LockLost:
    """The :class:`LockLost` for a failed lock check or a connection that broke."""
    if check_failed(exc):
        return LockLost("lost the migration lock; stopped before the next migration")
    return LockLost(
        f"lost the migration lock: the connection holding it failed ({error_text(exc)}); "
        "stopped before the next migration, since another run may be working"
    )
