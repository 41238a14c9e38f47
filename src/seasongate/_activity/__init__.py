"""What seasongate's sessions are doing in a PostgreSQL database right now: the statement,
its progress (``pg_stat_progress_create_index`` and friends) and, when it waits, why —
the lock it waits for and the sessions holding it (``pg_blocking_pids()``).

One read-only query round per call; durations are measured on the server's clock
(``clock_timestamp()``), never the local one.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from seasongate._dsn import redact
from seasongate._errors import SeasongateError

APPLICATION_PREFIX = "seasongate"
"""Sessions whose ``application_name`` starts with this are seasongate's (``seasongate migrate``)."""


class ActivityError(SeasongateError):
    """The database could not be read."""


@dataclass(frozen=True, slots=True)
class Progress:
    """A ``pg_stat_progress_*`` row: the command, its phase, and done/total units."""

    command: str
    phase: str
    done: int | None
    total: int | None
    unit: str
    relation: str | None

    @property
    def percent(self) -> float | None:
        """Done of total in percent (None when the total is unknown)."""
        if not self.total or self.done is None:
            return None
        return round(100.0 * self.done / self.total, 1)


@dataclass(frozen=True, slots=True)
class Holder:
    """A session that blocks another one."""

    pid: int
    application: str
    user: str
    state: str
    query: str
    seconds_in_state: float | None


@dataclass(frozen=True, slots=True)
class SessionActivity:
    """One seasongate session and, when it waits, why."""

    pid: int
    application: str
    user: str
    state: str
    query: str
    seconds_running: float | None
    wait_event_type: str | None
    wait_event: str | None
    progress: tuple[Progress, ...] = ()
    waiting_for: str | None = None  # ``AccessExclusiveLock on orders`` when it waits for a lock
    holders: tuple[Holder, ...] = field(default=())

    @property
    def why(self) -> str:
        """In words: what the session is doing and, when it waits, for what and whom."""
        doing = ""
        if self.progress:
            p = self.progress[0]
            pct = f" ({p.percent}%)" if p.percent is not None else ""
            on = f" on {p.relation}" if p.relation else ""
            doing = f"{p.command}{on}: {p.phase}{pct}"
        if self.holders or self.wait_event_type == "Lock":
            target = self.waiting_for or "a lock"
            held = ", ".join(
                f"pid {h.pid} ({h.application or h.user or 'unknown'}, {h.state}"
                + (f" for {_seconds(h.seconds_in_state)}" if h.seconds_in_state is not None else "")
                + ")"
                for h in self.holders
            )
            waiting = f"waiting for {target}" + (f" held by {held}" if held else "")
            return f"{doing} — {waiting}" if doing else waiting
        if doing:
            return doing
        if self.state == "idle":
            return "idle between two statements of its run (it keeps the migration lock: one run at a time)"
        if self.wait_event_type and self.state == "active":
            return f"running, waiting on {self.wait_event_type}: {self.wait_event}"
        return self.state or "unknown"


def _seconds(value: float | None) -> str:
    if value is None:
        return "?"
    total = int(value)
    if total < 60:
        return f"{total}s"
    minutes, secs = divmod(total, 60)
    if minutes < 60:
        return f"{minutes}m{secs:02d}s"
    hours, minutes = divmod(minutes, 60)
    return f"{hours}h{minutes:02d}m"


_SESSIONS = """
SELECT a.pid, coalesce(a.application_name, ''), coalesce(a.usename::text, ''), coalesce(a.state, ''),
       left(coalesce(a.query, ''), 400),
       extract(epoch FROM clock_timestamp() - a.query_start)::float8,
       extract(epoch FROM clock_timestamp() - a.state_change)::float8,
       a.wait_event_type, a.wait_event, pg_blocking_pids(a.pid)
FROM pg_stat_activity a
WHERE a.datname = current_database() AND a.pid <> pg_backend_pid() AND a.backend_type = 'client backend'
ORDER BY a.pid
"""

# Each pg_stat_progress_* view as (view, command, phase, units done, units in all, unit).
_PROGRESS_VIEWS = (
    ("create_index", "command", "phase", "blocks_done", "blocks_total", "'blocks'"),
    ("vacuum", "'VACUUM'", "phase", "heap_blks_scanned", "heap_blks_total", "'heap blocks'"),
    ("cluster", "command", "phase", "heap_blks_scanned", "heap_blks_total", "'heap blocks'"),
    ("analyze", "'ANALYZE'", "phase", "sample_blks_scanned", "sample_blks_total", "'sample blocks'"),
    ("copy", "command", "type", "bytes_processed", "nullif(bytes_total, 0)", "'bytes'"),
)
_PROGRESS = "\nUNION ALL\n".join(
    f"SELECT pid, {command}, {phase}, {done}, {total}, {unit}, relid::regclass::text\n"
    f"  FROM pg_stat_progress_{view} WHERE datname = current_database()"
    for view, command, phase, done, total, unit in _PROGRESS_VIEWS
)

_WAITING_LOCKS = """
SELECT l.pid, l.mode, l.locktype,
       CASE WHEN l.relation IS NOT NULL THEN l.relation::regclass::text END,
       l.transactionid::text, l.objid
FROM pg_locks l
WHERE NOT l.granted
"""


def _lock_target(mode: str, locktype: str, relation: str | None, xid: str | None, objid: Any) -> str:
    if relation:
        return f"{mode} on {relation}"
    if locktype == "transactionid" and xid:
        return f"{mode} on transaction {xid} (a row it wants to change)"
    if locktype == "virtualxid":
        return "another transaction to finish"
    if locktype == "advisory":
        return f"advisory lock {objid}"
    return f"{mode} ({locktype})"


def database_activity(dsn: str, *, prefix: str = APPLICATION_PREFIX) -> list[SessionActivity]:
    """The sessions of ``dsn``'s database whose application name starts with ``prefix``,
    with their progress and, for each waiting one, the lock and its holders."""
    import psycopg

    try:
        with psycopg.connect(
            dsn, autocommit=True, connect_timeout=5, application_name="seasongate-dashboard"
        ) as conn:
            sessions = conn.execute(_SESSIONS).fetchall()
            progress_rows = conn.execute(_PROGRESS).fetchall()
            lock_rows = conn.execute(_WAITING_LOCKS).fetchall()
    except psycopg.Error as exc:
        raise ActivityError(f"cannot read the database's activity: {redact(str(exc).strip(), dsn)}") from exc
    by_pid = {row[0]: row for row in sessions}
    progress: dict[int, list[Progress]] = {}
    for pid, command, phase, done, total, unit, relation in progress_rows:
        progress.setdefault(pid, []).append(
            Progress(str(command), str(phase), None if done is None else int(done),
                     None if total is None else int(total), unit, relation)
        )  # fmt: skip
    waits = {row[0]: _lock_target(row[1], row[2], row[3], row[4], row[5]) for row in lock_rows}
    out = []
    for pid, app, user, state, query, running, _, wtype, wevent, blockers in sessions:
        if app != prefix and not app.startswith(prefix + " "):  # not another dashboard's "seasongate-dashboard"
            continue
        holders = []
        for holder in blockers or []:
            row = by_pid.get(holder)
            if row is None:
                holders.append(Holder(holder, "", "", "in another database", "", None))
            else:
                holders.append(Holder(holder, row[1], row[2], row[3], row[4], row[6]))
        found = tuple(progress.get(pid, ()))
        waiting = waits.get(pid)
        row_out = SessionActivity(pid, app, user, state, query, running, wtype, wevent, found, waiting, tuple(holders))
        out.append(row_out)
    return out


__all__ = ["APPLICATION_PREFIX", "ActivityError", "Holder", "Progress", "SessionActivity", "database_activity"]
