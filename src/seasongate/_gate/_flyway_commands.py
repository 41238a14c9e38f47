"""The commands a DBA coming from Flyway reaches for, gated and audited: ``baseline``,
``repair`` and ``clean``.

Each opens the target under the migration lock (a dry run reads without it), works in the
gate's environment and territory, and writes one audit entry for what it changed. ``repair``
asks the gate about every migration whose record it touches; ``clean`` is refused outright
where the policy protects the environment.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from seasongate._dsn import database_label
from seasongate._errors import InputError
from seasongate._executor import (
    BaselineResult,
    ExecutorOptions,
    HistoryRow,
    MigrationScript,
    PostgresSession,
    RepairPlan,
    applied_text,
    apply_repair,
    clean_schemas,
    flyway_info,
    plan_repair,
    scan,
    write_baseline,
)
from seasongate._gate import _audit
from seasongate._gate._flyway import Extras, load_extras
from seasongate._gate._guard import Gate, denial_message
from seasongate._policy import Decision, MigrationClass, Policy, Request
from seasongate._versions import Version


@contextmanager
def _history(gate: Gate, dsn: str, options: ExecutorOptions | None, *, lock: bool, create: bool = False
             ) -> Iterator[tuple[PostgresSession, Callable[..., None]]]:  # fmt: skip
    """The target opened (``lock``: under the migration lock), and how to audit what was done
    to it: ``audit(action, decisions, subject_version=None, **facts)``."""
    env, terr = gate.scope()
    with PostgresSession(dsn, options).open(lock=lock, create=create) as session:

        def audit(action: str, decisions: Sequence[Decision] = (), *, subject_version: Version | None = None,
                   **facts: Any) -> None:  # fmt: skip
            payload = _audit.history_payload(decisions, environment=env, territory=terr, database=database_label(dsn),
                                             table=session.options.table, **facts)  # fmt: skip
            gate.audit(action, _audit.subject(env, terr, subject_version), payload)

        yield session, audit


# --- baseline ------------------------------------------------------------------------------------


def baseline(
    gate: Gate, dsn: str, version: Version, *, description: str | None = None, options: ExecutorOptions | None = None
) -> BaselineResult:
    """Adopt a database without history at ``version``: Flyway's ``BASELINE`` row (the history
    tables are created when missing); audited as ``migration.baseline``."""
    with _history(gate, dsn, options, lock=True, create=True) as (session, audit):
        opts = session.options
        done = write_baseline(
            session.conn, opts.schema, opts.table, version, installed_by=opts.installed_by,
            **({} if description is None else {"description": description}),
        )  # fmt: skip
        if not done.already:
            audit(_audit.BASELINE, subject_version=version, version=str(version), installed_rank=done.installed_rank)
    return done


# --- repair ---------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class RepairReport:
    """What ``repair`` did or (``dry_run``) would do, and the gate's verdict."""

    plan: RepairPlan
    dry_run: bool
    status: str  # ok | denied | nothing
    reason: str = ""
    decisions: tuple[Decision, ...] = ()

    @property
    def exit_code(self) -> int:
        """0 done (or nothing to do, or a dry run), 1 denied or refused realignments, 2 never."""
        if self.status == "denied" or self.plan.refused:
            return 1
        return 0

    def to_dict(self) -> dict[str, Any]:
        """JSON form."""
        return {
            "status": self.status,
            "dry_run": self.dry_run,
            "reason": self.reason or None,
            **self.plan.to_dict(),
            "decisions": [d.to_dict() for d in self.decisions],
        }


def repair_plan(
    folder_migrations: Sequence[MigrationScript],
    extras: Extras,
    rows: Sequence[HistoryRow],
    classes: Sequence[MigrationClass],
    originals: Callable[[Path, int], str | None],
) -> RepairPlan:
    """The repair of this history: failed rows out, missing migrations marked deleted, cosmetic
    checksum changes realigned (the applied text looked up by ``originals(path, checksum)``)."""
    info = flyway_info(folder_migrations, extras.repeatables, rows, classes=classes)
    files = {m.version: m for m in folder_migrations}
    known: dict[str, str | None] = {}
    for entry in info.entries:
        if entry.problem and entry.row is not None and entry.version in files and entry.state == "Success":
            script = files[entry.version]
            recorded = entry.row.checksum
            known[script.name] = None if recorded is None else originals(script.path, recorded)
    return plan_repair(info, rows, folder_migrations, known)


def _repair_requests(plan: RepairPlan, environment: str, territory: str) -> list[Request]:
    """What the gate is asked before a repair: one request per version it touches (repairing
    the history of a migration is a change to that migration's record, in its class)."""
    touched = plan.touched
    versions = sorted({row.version for row in touched if row.version is not None})
    ask = "repair of the migration history"
    requests = [Request(environment, territory, v, "low", 60, "apply", ask) for v in versions]
    if any(row.version is None for row in touched):
        requests.append(Request(environment, territory, None, "low", 60, "apply", ask, repeatable=True))
    return requests


def repair(
    gate: Gate,
    dsn: str,
    migrations: Path,
    *,
    dry_run: bool = False,
    options: ExecutorOptions | None = None,
    originals: Callable[[Path, int], str | None] = applied_text,
) -> RepairReport:
    """Flyway's ``repair``, gated: remove failed rows, mark the rows of missing files deleted,
    realign the checksums of applied files that changed only in whitespace or comments (the
    applied text found in git). Every version it touches must be allowed now (policy or
    override), as for any change in this environment; done under the migration lock and
    audited (``migration.repair``). ``dry_run`` shows the plan and the verdicts and changes
    nothing."""
    env, terr = gate.scope()
    with _history(gate, dsn, options, lock=not dry_run) as (session, audit):
        rows = session.history()
        classes = gate.policy.migration_classes
        folder = scan(migrations, classes=classes)
        plan = repair_plan(folder.migrations, load_extras(folder), rows, classes, originals)
        if plan.empty:
            return RepairReport(plan, dry_run, "nothing")
        decisions = tuple(gate.decide(r) for r in _repair_requests(plan, env, terr))
        denied = [d for d in decisions if not d.allowed]
        subject = _audit.subject(env, terr, None)
        if denied:
            if not dry_run:
                for d in denied:
                    gate.audit(_audit.DECISION, subject, d.to_dict())
            return RepairReport(plan, dry_run, "denied", "; ".join(denial_message(d) for d in denied), decisions)
        if not dry_run:
            for d in decisions:
                gate.claim(d, subject)
            audit(_audit.REPAIR, decisions, **plan.to_dict())
            opts = session.options
            apply_repair(session.conn, opts.schema, opts.table, plan, installed_by=opts.installed_by)
        return RepairReport(plan, dry_run, "ok", "", decisions)


# --- clean ----------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class CleanReport:
    """What ``clean`` dropped (or, ``dry_run``, would drop)."""

    schemas: tuple[str, ...]
    dropped: tuple[str, ...]
    dry_run: bool

    def to_dict(self) -> dict[str, Any]:
        """JSON form."""
        return {"schemas": list(self.schemas), "dropped": list(self.dropped), "dry_run": self.dry_run}


def check_clean_allowed(policy: Policy, environment: str) -> None:
    """``clean`` runs only where a policy covers the environment and does not protect it."""
    if environment not in policy.environments:
        raise InputError(f"policy {policy.name} does not cover environment {environment!r}; clean is refused")
    if environment in policy.protected:
        raise InputError(
            f"clean is refused outright in {environment}: policy {policy.name} ({policy.path}) marks it as "
            "protected (protected: [...]), whatever the overrides"
        )


def clean(
    gate: Gate, dsn: str, *, schemas: Sequence[str] = (), dry_run: bool = False, options: ExecutorOptions | None = None
) -> CleanReport:
    """Drop every object in ``schemas`` (default: the history table's schema) of a throwaway
    database. Refused outright where the policy protects the environment, whatever the
    overrides; done under the migration lock and audited (``database.clean``)."""
    check_clean_allowed(gate.policy, gate.scope()[0])
    with _history(gate, dsn, options, lock=True) as (session, audit):
        chosen = tuple(schemas) or (session.options.schema,)
        dropped = clean_schemas(session.conn, chosen, dry_run=dry_run)
        if not dry_run:
            audit(_audit.CLEAN, schemas=list(chosen), dropped=len(dropped))
    return CleanReport(chosen, tuple(dropped), dry_run)
