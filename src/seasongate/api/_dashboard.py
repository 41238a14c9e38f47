"""What the dashboard shows, as data: may each environment and territory change now, what the
migration runs did and are doing, the overrides, and the audit entries after a sequence
number (the event stream's replay).

Read-only: nothing here writes the audit trail (``check`` does, for the JSON endpoint). Each
function takes the instant it answers for; the web layer reads the clock.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any
from zoneinfo import ZoneInfo

from seasongate._errors import SeasongateError
from seasongate._policy import Decision, Policy, Request
from seasongate._time import to_ts

if TYPE_CHECKING:
    from seasongate._activity import SessionActivity
    from seasongate._calendar import Period
    from seasongate._overrides import OverrideRecord
    from seasongate._store import AuditEntry, Store
    from seasongate._versions import Version

MIGRATION_ACTIONS = ("migration.start", "migration.apply", "migration.rollback")


def project_environments(project_dir: Path | None = None) -> list[str]:
    """The environments the project's policy files name (else the bundled ones), in order."""
    from seasongate.api._project import find_policy, open_project

    first = find_policy(None, None, project_dir)  # the project's policy folder, else the bundled one
    found: list[str] = []
    for path in sorted(first.parent.glob("*.yaml")):
        found.extend(open_project(None, policy=path, project_dir=project_dir, use_store=False).policy.environments)
    return list(dict.fromkeys(found))


def open_dashboard_store(url: str | None, project_dir: Path | None = None) -> Store:
    """The store the dashboard reads (the caller closes it)."""
    from seasongate.api._project import open_store

    return open_store(url, project_dir)


# -- now ---------------------------------------------------------------------------------------


@dataclass(frozen=True)
class TerritoryNow:
    """May anything change in this environment and territory now, and why (or why not)."""

    environment: str
    territory: str
    decision: Decision
    blackouts: tuple[Period, ...]  # the blackout periods active now
    asked: str = "any migration"  # what was asked about: ``a production-class migration (V1-V7999)``

    @property
    def zone(self) -> ZoneInfo:
        """The territory's time zone."""
        return self.decision.zone


@dataclass(frozen=True)
class NowBoard:
    """Every environment and territory at one instant."""

    at: int
    rows: tuple[TerritoryNow, ...]
    problems: tuple[str, ...] = field(default=())
    pending_overrides: int = 0  # emergency overrides waiting for an approval

    def environments(self) -> list[str]:
        """The environments shown, in order."""
        return list(dict.fromkeys(row.environment for row in self.rows))

    def active_blackouts(self) -> list[tuple[str, Period, ZoneInfo]]:
        """Distinct (territory, period, zone) of the blackouts active now, for the banner."""
        seen: dict[tuple[str, str, int], tuple[str, Period, ZoneInfo]] = {}
        for row in self.rows:
            for period in row.blackouts:
                seen.setdefault((row.territory, period.name, period.start), (row.territory, period, row.zone))
        return list(seen.values())


def _representative(policy: Policy, environment: str, territory: str) -> tuple[Version | None, str]:
    """The question the board asks: a migration of the first class that may ever run here
    (production-class in production), with the policy's default risk and duration. Asking
    about "any migration" would say ALLOWED in business hours, when no real migration is."""
    closed = policy.closed_classes(environment, territory)
    for cls in policy.migration_classes:
        if cls.name not in closed:
            upper = f"–{cls.high}" if cls.high is not None else "+"
            return cls.low, f"a {cls.name}-class migration ({cls.low}{upper})"
    return None, "any migration"


def now_board(
    *,
    at: datetime,
    environments: Sequence[str] = (),
    store: str | Store | None = None,
    project_dir: Path | None = None,
    use_store: bool = True,
) -> NowBoard:
    """For each environment (default: all the project's policies name) and each territory of
    its policy: may a migration run at ``at``, with the approved overrides counted.

    A store that cannot be read is reported in ``problems`` and no override is counted (the
    stricter answer: fail closed)."""
    from seasongate.api._project import open_project

    ts = to_ts(at)
    rows: list[TerritoryNow] = []
    problems: list[str] = []
    opened: Store | None = None
    if use_store:
        try:
            opened = store if not isinstance(store, str | None) else open_dashboard_store(store, project_dir)
        except SeasongateError as exc:
            problems.append(f"the override store cannot be read ({exc}): no override is counted")
    try:
        for environment in environments or project_environments(project_dir):
            policy = open_project(environment, project_dir=project_dir, use_store=False).policy
            for territory in policy.territories:
                version, asked = _representative(policy, environment, territory)
                request = Request(environment, territory, version)
                grants = []
                if opened is not None:
                    try:
                        grants = opened.active_grants(environment, territory, at)
                    except SeasongateError as exc:
                        problems.append(f"overrides for {environment}/{territory} cannot be read: {exc}")
                decision = policy.evaluate(request, at, grants)
                active = policy.index(territory, ts).active_at(ts)
                blackouts = tuple(p for p in active if p.kind == "blackout")
                rows.append(TerritoryNow(environment, territory, decision, blackouts, asked))
        pending = 0
        if opened is not None:
            try:
                pending = sum(1 for r in opened.list_overrides() if r.status(ts) == "pending")
            except SeasongateError as exc:
                problems.append(f"the overrides cannot be read: {exc}")
    finally:
        if opened is not None and opened is not store:
            opened.close()
    return NowBoard(ts, tuple(rows), tuple(dict.fromkeys(problems)), pending)


# -- runs --------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Step:
    """The latest state of one migration (per environment, territory and version) in the
    audit trail: running, applied, rolled back, failed, or denied (paused) and why."""

    seq: int
    at: int
    environment: str
    territory: str
    version: str
    script: str
    status: str
    detail: str
    database: str | None
    next_allowed_at: str | None = None


@dataclass(frozen=True)
class RunsView:
    """The recent migration steps and what seasongate's sessions do in the database now."""

    steps: tuple[Step, ...]
    sessions: tuple[SessionActivity, ...]
    database: str | None  # the database watched (for display; no password)
    problem: str | None
    head: int  # the newest audit sequence number seen


def _split_subject(subject: str) -> tuple[str, str, str] | None:
    parts = subject.split("/")
    if len(parts) != 3 or parts[2] in ("", "*"):
        return None
    return parts[0], parts[1], parts[2]


def _denial_detail(payload: dict[str, Any]) -> tuple[str, str | None]:
    """``paused: seasonal-blackout until Mon 05.10.2026 00:00 CEST`` from a decision's JSON."""
    reasons = [r for r in payload.get("reasons", []) if isinstance(r, dict) and r.get("effect") == "deny"]
    denying = [r for r in reasons if not r.get("lifted_by")]
    names = ", ".join(str(r.get("rule")) for r in denying) or "no rule allows it"
    nxt = payload.get("next_allowed_at")
    if not isinstance(nxt, str):
        return f"paused: {names}", None
    when = nxt
    try:
        moment = datetime.fromisoformat(nxt)
        if isinstance(payload.get("timezone"), str):
            moment = moment.astimezone(ZoneInfo(payload["timezone"]))
        when = moment.strftime("%a %d.%m.%Y %H:%M %Z")
    except (ValueError, KeyError):
        pass  # shown as written
    return f"paused: {names} until {when}", nxt


def _step(entry: AuditEntry) -> Step | None:
    payload = entry.payload
    scope = _split_subject(entry.subject)
    if scope is None:
        return None
    environment, territory, version = scope
    database = payload.get("database")
    script = str(payload.get("script") or "")
    if entry.action == "decision":
        if payload.get("allowed", True) or payload.get("verdict") == "allow":
            return None
        detail, nxt = _denial_detail(payload)
        return Step(entry.seq, entry.at, environment, territory, version, script, "denied", detail, None, nxt)
    if entry.action == "migration.start":
        return Step(entry.seq, entry.at, environment, territory, version, script, "running", "started", database)
    status = str(payload.get("status") or ("applied" if entry.action == "migration.apply" else "rolled back"))
    if payload.get("error"):
        detail = str(payload["error"])
    elif payload.get("execution_ms") is not None:
        ms = int(payload["execution_ms"])
        detail = f"took {ms} ms" if ms < 1000 else f"took {ms / 1000:.1f}s"
    else:
        detail = ""
    if payload.get("reconciled"):
        detail = (detail + "; " if detail else "") + "reconciled after an interrupted run"
    return Step(entry.seq, entry.at, environment, territory, version, script, status, detail, database)


def runs_view(
    *,
    store: str | Store | None = None,
    database: str | None = None,
    project_dir: Path | None = None,
    limit: int = 40,
) -> RunsView:
    """The latest state of the ``limit`` most recent migrations in the audit trail, and, given
    the target ``database``, seasongate's sessions there with progress and lock waits."""
    from seasongate._dsn import display_dsn
    from seasongate._store import Store as StoreClass

    opened = store if isinstance(store, StoreClass) else open_dashboard_store(store, project_dir)
    try:
        entries = opened.audit_entries()
    finally:
        if opened is not store:
            opened.close()
    latest: dict[tuple[str, str, str], Step] = {}
    for entry in entries:
        if entry.action not in (*MIGRATION_ACTIONS, "decision"):
            continue
        step = _step(entry)
        if step is None:
            continue
        key = (step.environment, step.territory, step.version)
        previous = latest.pop(key, None)
        if previous is not None and step.status == "denied" and previous.status in ("applied", "rolled back"):
            latest[key] = previous  # a later check of a migration already applied changes nothing
            continue
        latest[key] = step
    steps = tuple(sorted(latest.values(), key=lambda s: s.seq)[-limit:])
    sessions, problem = database_sessions(database)
    head = entries[-1].seq if entries else 0
    return RunsView(steps, sessions, display_dsn(database) if database else None, problem, head)


def database_sessions(database: str | None) -> tuple[tuple[SessionActivity, ...], str | None]:
    """seasongate's sessions in ``database`` now, or why they could not be read."""
    if not database:
        return (), None
    from seasongate._activity import database_activity

    try:
        return tuple(database_activity(database)), None
    except SeasongateError as exc:
        return (), str(exc)


# -- overrides and the audit stream --------------------------------------------------------------


def overrides_view(
    *, at: datetime, store: str | Store | None = None, project_dir: Path | None = None
) -> list[tuple[str, OverrideRecord]]:
    """Every override with its status at ``at``, newest first."""
    from seasongate.api._overrides import override_list

    ts = to_ts(at)
    records = override_list(at=at, store=store, project_dir=project_dir)
    return [(r.status(ts), r) for r in reversed(records)]


def audit_after(after: int, *, store: Store) -> list[AuditEntry]:
    """The audit entries numbered above ``after``, in order (nothing new costs one count).

    The whole trail is read when something is new: entries carry the instant their writer
    gave them (a simulated ``--at`` run may stamp any time), so no time filter is safe."""
    if store.audit_count() <= after:
        return []
    return [e for e in store.audit_entries() if e.seq > after]


__all__ = [
    "NowBoard",
    "RunsView",
    "Step",
    "TerritoryNow",
    "audit_after",
    "database_sessions",
    "now_board",
    "open_dashboard_store",
    "overrides_view",
    "project_environments",
    "runs_view",
]
