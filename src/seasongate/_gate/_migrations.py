"""``migrate``, ``rollback`` and ``info``: the PostgreSQL executor driven through the gate.

Both runs take the same path: open the session (a dry run without the lock), check the
history against the folder, let the plan give the steps (apply or rollback, of the classes
the run takes), and drive them with the executor's one loop; a dry run is that loop on a
target that executes nothing.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from contextlib import suppress
from dataclasses import dataclass, replace
from datetime import datetime
from pathlib import Path
from typing import Any

from seasongate._dsn import database_label
from seasongate._errors import InputError, SeasongateError
from seasongate._executor import (
    AFTER_MIGRATE,
    AFTER_MIGRATE_ERROR,
    BEFORE_MIGRATE,
    DONE,
    DryRun,
    ExecutorOptions,
    FlywayInfo,
    Include,
    MigrateReport,
    Placeholders,
    Plan,
    PostgresSession,
    Step,
    StepResult,
    Target,
    ValidationError,
    build_plan,
    flyway_info,
    run_steps,
    scan,
)
from seasongate._gate import _audit
from seasongate._gate import _flyway as flyway
from seasongate._gate._guard import Gate
from seasongate._gate._hook import PolicyHook
from seasongate._policy import Policy
from seasongate._versions import REPEATABLE, Version
from seasongate._vocabulary import REPEATABLE_CLASS, Operation

Progress = Callable[[StepResult], None]


@dataclass(frozen=True, slots=True)
class InfoRow:
    """One line of ``seasongate info``."""

    version: Version
    description: str
    state: str
    script: str | None
    installed_on: datetime | None
    execution_ms: int | None
    installed_by: str | None = None
    verdict: str | None = None  # the gate's verdict now, for pending migrations
    reason: str = ""
    next_allowed_at: datetime | None = None
    problem: str | None = None
    undo: bool = False  # whether an undo script exists
    flyway_state: str | None = None  # what `flyway info` would show: Success, Pending, Baseline...

    def to_dict(self) -> dict[str, Any]:
        """JSON form."""
        return {
            "flyway_state": self.flyway_state,
            "version": str(self.version),
            "description": self.description,
            "state": self.state,
            "script": self.script,
            "installed_on": None if self.installed_on is None else self.installed_on.isoformat(),
            "execution_ms": self.execution_ms,
            "installed_by": self.installed_by,
            "verdict": self.verdict,
            "reason": self.reason or None,
            "next_allowed_at": None if self.next_allowed_at is None else self.next_allowed_at.isoformat(),
            "problem": self.problem,
            "undo": self.undo,
        }


@dataclass(frozen=True, slots=True)
class InfoReport:
    """``seasongate info``: every migration with its state; problems that block a run."""

    rows: tuple[InfoRow, ...]
    problems: tuple[str, ...]
    at: datetime
    environment: str
    territory: str
    zone: Any = None  # the territory's time zone, for showing instants to people

    def to_dict(self) -> dict[str, Any]:
        """JSON form."""
        return {
            "at": self.at.isoformat(),
            "environment": self.environment,
            "territory": self.territory,
            "migrations": [r.to_dict() for r in self.rows],
            "problems": list(self.problems),
        }


def _include(policy: Policy, classes: Sequence[str] | None, scope: tuple[str, str]) -> Include:
    """The versions a run takes: those of ``classes`` when given; otherwise every class
    except those the policy never allows here (test data in production), as Flyway leaves
    out locations an environment does not configure."""
    if classes:
        known = {c.name for c in policy.migration_classes} | {REPEATABLE_CLASS}
        unknown = sorted(set(classes) - known)
        if unknown:
            raise InputError(f"unknown migration class {', '.join(unknown)} (known: {', '.join(sorted(known))})")
        wanted = set(classes)
        return lambda version: _class_of(policy, version) in wanted
    closed = policy.closed_classes(*scope)
    return lambda version: _class_of(policy, version) not in closed


def _class_of(policy: Policy, version: Version) -> str | None:
    return REPEATABLE_CLASS if version.repeatable else policy.classify(version)


def _plan(
    policy: Policy,
    session: PostgresSession,
    migrations: Path,
    include: Include,
    *,
    target: Version | None = None,
    retry_incomplete: bool = False,
    read_undo: bool = True,
) -> Plan:
    """The folder (numbered by the policy's classes) against the history; a pending script
    in no class of the policy is a problem. ``read_undo=False``: undo scripts are listed, and
    read only when a rollback undoes them."""
    folder = scan(migrations, classes=policy.migration_classes, read_undo=read_undo)
    plan = build_plan(folder, session.history(), target=target, retry_incomplete=retry_incomplete)
    ranges = ", ".join(f"{c.name} {c.describe()}" for c in policy.migration_classes)
    unclassified = [
        f"{m.name}: {m.version} is in no migration class of the policy ({ranges})"
        for m in plan.pending
        if include(m.version) and policy.classify(m.version) is None
    ]
    return replace(plan, problems=(*plan.problems, *unclassified)) if unclassified else plan


def _run(
    gate: Gate,
    dsn: str,
    migrations: Path,
    steps_of: Callable[[Plan, Include], Sequence[Step]],
    *,
    operation: str,
    environment: str | None,
    territory: str | None,
    classes: Sequence[str] | None,
    target: Version | None = None,
    dry_run: bool,
    retry_incomplete: bool,
    options: ExecutorOptions | None,
    progress: Progress | None,
    placeholders: Placeholders | None = None,
    baseline: Version | None = None,
    deadline: datetime | None = None,
) -> MigrateReport:
    env, terr = gate.scope(environment, territory)
    include = _include(gate.policy, classes, (env, terr))
    session = PostgresSession(dsn, options)
    session.open(lock=not dry_run, create=not dry_run)
    try:
        if baseline is not None and not dry_run:
            flyway.baseline_if_empty(session, baseline)
        plan = _plan(
            gate.policy, session, migrations, include, target=target, retry_incomplete=retry_incomplete,
            read_undo=operation != "rollback",
        )  # fmt: skip
        if not dry_run:  # under the lock: no other run is writing its outcomes now
            reconcile(gate, plan, database_label(dsn))
        extras = flyway.load_extras(plan.folder)
        if extras.problems:
            plan = replace(plan, problems=(*plan.problems, *extras.problems))
        plan.check()
        steps = tuple(steps_of(plan, include))
        values = flyway.session_placeholders(
            session, placeholders or Placeholders(), environment=env, territory=terr
        )
        prepared = flyway.prepare([s.script for s in steps], extras, values)
        if operation == "migrate" and include(REPEATABLE) and target is None:
            info = flyway.repeatable_info(plan, extras, prepared)
            if info.problems:
                raise ValidationError(info.problems)
            steps += flyway.repeatable_steps(plan, info, prepared)
        hook = PolicyHook(gate, env, terr, audit=not dry_run, database=database_label(dsn), deadline=deadline)
        where: Target = DryRun() if dry_run else flyway.FlywayTarget(session, prepared)
        if not dry_run and operation == "migrate":
            flyway.run_callbacks(session, prepared, BEFORE_MIGRATE)
        report = _run_steps(where, steps, hook, operation, progress)
        if not dry_run and operation == "migrate":
            event = AFTER_MIGRATE if report.status == "ok" else AFTER_MIGRATE_ERROR
            flyway.run_callbacks(session, prepared, event)
    finally:
        session.close()
    return replace(report, dry_run=dry_run)


def _run_steps(
    where: Target, steps: Sequence[Step], hook: PolicyHook, operation: str, progress: Progress | None
) -> MigrateReport:
    """The executor's loop, then the outcome the hook still holds, written however the loop
    ended; a failure to write it fails the run as a failure to record any outcome does."""
    try:
        report = run_steps(where, steps, hook, operation=operation, progress=progress)
    except BaseException:
        with suppress(SeasongateError):  # the loop's own error is the one to report
            hook.finish()
        raise
    try:
        hook.finish()
    except SeasongateError as exc:
        last = report.steps[-1]
        error = f"{last.script}: {last.status}, but recording it (audit trail, override) failed: {exc}; stopped"
        return replace(report, status="failed", error=report.error or error)
    return report


def reconcile(gate: Gate, plan: Plan, database: str | None) -> int:
    """Give every ``migration.start`` on ``database`` that has no outcome (its run died: kill
    -9, power loss) the outcome the migration history shows, marked reconciled; returns how
    many. Afterwards every start has exactly one outcome."""
    if gate.store is None or database is None:
        return 0
    written = 0
    for start in gate.store.unsettled_starts(database):
        facts = start.payload
        operation: Operation = "rollback" if facts.get("operation") == "rollback" else "apply"
        status, rank = _settled(plan, start.seq, Version.parse(str(facts.get("version"))), operation)
        payload = _audit.reconciled_payload(facts, status=status, installed_rank=rank, start_seq=start.seq)
        gate.audit(_audit.OUTCOME[operation], start.subject, payload)
        written += 1
    return written


def _settled(plan: Plan, start: int, version: Version, operation: Operation) -> tuple[str, int | None]:
    """What the history says became of the step that wrote start entry ``start``: (status,
    installed rank of its row). A finished step's row carries the start as its anchor; a
    ``transaction=false`` script that did not finish left a row without one."""
    for row in plan.rows:
        if row.audit_seq == start:
            return (DONE[operation] if row.success else "failed"), row.installed_rank
    kind = "SQL" if operation == "apply" else "UNDO_SQL"
    state = next((e.state for e in plan.entries if e.version == version), None)
    if state in ("incomplete", "undo incomplete"):
        ranks = [r.installed_rank for r in plan.rows if r.version == version and r.type == kind]
        return "incomplete", max(ranks, default=None)
    return "failed", None  # nothing of it was committed


def migrate(
    gate: Gate,
    dsn: str,
    migrations: Path,
    *,
    environment: str | None = None,
    territory: str | None = None,
    target: Version | None = None,
    classes: Sequence[str] | None = None,
    dry_run: bool = False,
    retry_incomplete: bool = False,
    options: ExecutorOptions | None = None,
    progress: Progress | None = None,
    placeholders: Placeholders | None = None,
    baseline_on_migrate: Version | None = None,
    deadline: datetime | None = None,
) -> MigrateReport:
    """Validate the history, then apply the pending migrations (up to ``target``, of
    ``classes`` only when given), each gated at its own start, then the repeatable scripts
    whose checksum changed. Raises ValidationError, LockBusy or MigrationError before anything
    runs; returns the report otherwise. ``baseline_on_migrate``: a database without history
    first gets a ``BASELINE`` row at that version. ``deadline`` (the migration SLO of
    ``migrate --health``): a migration whose estimated duration does not fit in what is left
    is not started."""
    return _run(
        gate, dsn, migrations, lambda plan, include: plan.apply_steps(include),
        operation="migrate", environment=environment, territory=territory, classes=classes, target=target,
        dry_run=dry_run, retry_incomplete=retry_incomplete, options=options, progress=progress,
        placeholders=placeholders, baseline=baseline_on_migrate, deadline=deadline,
    )  # fmt: skip


def rollback(
    gate: Gate,
    dsn: str,
    migrations: Path,
    *,
    to: Version,
    environment: str | None = None,
    territory: str | None = None,
    classes: Sequence[str] | None = None,
    dry_run: bool = False,
    retry_incomplete: bool = False,
    options: ExecutorOptions | None = None,
    progress: Progress | None = None,
    placeholders: Placeholders | None = None,
) -> MigrateReport:
    """Run the undo scripts of the applied migrations above ``to`` (of ``classes`` when
    given, else of the classes the policy handles here), highest first, each gated as
    ``operation="rollback"``. Refuses before the first step when any undo script is missing."""
    return _run(
        gate, dsn, migrations, lambda plan, include: plan.rollback_steps(to, include),
        operation="rollback", environment=environment, territory=territory, classes=classes,
        dry_run=dry_run, retry_incomplete=retry_incomplete, options=options, progress=progress,
        placeholders=placeholders,
    )  # fmt: skip


def info(
    gate: Gate,
    dsn: str,
    migrations: Path,
    *,
    environment: str | None = None,
    territory: str | None = None,
    classes: Sequence[str] | None = None,
    options: ExecutorOptions | None = None,
    placeholders: Placeholders | None = None,
) -> InfoReport:
    """Every migration with its state (seasongate's and Flyway's), and the gate's verdict now
    for pending ones; repeatable scripts last."""
    env, terr = gate.scope(environment, territory)
    policy = gate.policy
    at = gate.now()
    include = _include(policy, classes, (env, terr))
    with PostgresSession(dsn, options).open(lock=False, create=False) as session:
        plan = _plan(policy, session, migrations, include, read_undo=False)
        extras = flyway.load_extras(plan.folder)
        values = flyway.session_placeholders(
            session, placeholders or Placeholders(), environment=env, territory=terr
        )
    prepared = flyway.prepare((), extras, values)
    states = flyway_info(
        plan.folder.migrations, extras.repeatables, plan.rows, classes=policy.migration_classes,
        repeatable_checksums=prepared.repeatable_checksums,
    )  # fmt: skip
    flyway_state = {e.version: e.state for e in states.entries if e.category in ("Versioned", "Baseline")}
    pending = {m.version for m in plan.pending if include(m.version)}
    hook = PolicyHook(gate, env, terr, audit=False)
    rows: list[InfoRow] = []
    for entry in plan.entries:
        verdict = reason = None
        next_at = None
        state = entry.state
        if entry.version in pending and entry.script is not None:
            answer = hook.ask(plan.step("apply", entry.script))
            verdict, reason, next_at = answer.verdict, answer.reason, answer.next_allowed_at
        elif state == "pending" and not classes and not include(entry.version):
            state = "excluded"
            reason = f"class {policy.classify(entry.version)} never runs in {env}"
        row = entry.row
        rows.append(
            InfoRow(
                entry.version,
                entry.description,
                state,
                entry.script.name if entry.script else (row.script if row else None),
                entry.installed_on,
                entry.execution_ms,
                row.installed_by if row else None,
                verdict,
                reason or "",
                next_at,
                entry.problem,
                entry.version in plan.folder.undo_paths,
                None if state == "ignored gap" else flyway_state.get(entry.version),
            )
        )
    rows.extend(_repeatable_rows(plan, states, prepared, hook, include))
    problems = (
        *plan.problems,
        *extras.problems,
        *(e.problem for e in states.entries if e.category == "Repeatable" and e.problem),
    )
    return InfoReport(tuple(rows), tuple(problems), at, env, terr, policy.zone(terr))


def _repeatable_rows(
    plan: Plan, states: FlywayInfo, prepared: flyway.Prepared, hook: PolicyHook, include: Include
) -> list[InfoRow]:
    """One line per repeatable script (and per applied one whose file is gone)."""
    pending = {
        r.path: s
        for r, s in zip(states.pending_repeatables, flyway.repeatable_steps(plan, states, prepared), strict=True)
    }
    out: list[InfoRow] = []
    for entry in states.entries:
        if entry.category != "Repeatable" or entry.state in ("Superseded", "Outdated"):
            continue
        row = entry.row
        state = {"Success": "applied", "Pending": "pending", "Failed": "failed", "Missing": "missing"}.get(
            entry.state, entry.state.lower()
        )
        verdict = reason = None
        next_at = None
        step = next((s for p, s in pending.items() if p.name == entry.script), None)
        if entry.state == "Pending" and step is not None:
            if include(step.version):
                answer = hook.ask(step)
                verdict, reason, next_at = answer.verdict, answer.reason, answer.next_allowed_at
            else:
                state = "excluded"
        out.append(
            InfoRow(
                REPEATABLE, entry.description, state, entry.script, None if row is None else row.installed_on,
                None if row is None else row.execution_time, None if row is None else row.installed_by,
                verdict, reason or "", next_at, entry.problem, undo=False, flyway_state=entry.state,
            )
        )  # fmt: skip
    return out
