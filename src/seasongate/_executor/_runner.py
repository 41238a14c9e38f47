"""The migrate and rollback loops, with the gate as a callback.

The executor knows nothing of policies or stores: before each script it asks a
:class:`GateHook` (``ask``) and after each one it reports back (``record``). ``seasongate._gate``
provides the hook built from a policy and a store; tests and other tools can pass their own.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Protocol

from seasongate._errors import SeasongateError
from seasongate._executor._files import MigrationScript
from seasongate._executor._plan import SQL, UNDO_SQL, Plan
from seasongate._executor._postgres import Applied, MigrationFailed, PostgresSession
from seasongate._versions import Version

APPLY = "apply"
ROLLBACK = "rollback"


@dataclass(frozen=True, slots=True)
class GateQuery:
    """What the executor asks the gate before one script.

    ``duration`` is seconds: the header's, else an estimate from earlier executions in the
    history, else None (the policy's default); ``duration_source`` says which.
    """

    migration: MigrationScript
    operation: str  # apply | rollback
    risk: str | None
    duration: int | None
    duration_source: str  # header | history | default
    script: MigrationScript | None = None  # the undo script of a rollback

    @property
    def version(self) -> Version:
        """The migration's version."""
        return self.migration.version


@dataclass(frozen=True, slots=True)
class GateAnswer:
    """The gate's verdict for one script, in the executor's terms."""

    allowed: bool
    reason: str = ""
    override_id: str | None = None
    next_allowed_at: datetime | None = None
    detail: Any = None  # the gate's decision: a JSON dict or an object with to_dict()
    duration: int | None = None  # seconds the gate planned with (the policy default when none was given)

    @property
    def verdict(self) -> str:
        """``allow`` or ``deny``."""
        return "allow" if self.allowed else "deny"


@dataclass(frozen=True, slots=True)
class StepResult:
    """What happened to one script; also the progress line.

    ``status``: applied, rolled back, failed, denied, stopped (no undo script),
    would apply / would roll back (dry run), blocked (dry run: an earlier one stops the run).
    """

    version: Version
    description: str
    script: str
    operation: str
    status: str
    verdict: str | None = None
    seconds: float | None = None
    reason: str = ""
    next_allowed_at: datetime | None = None
    override_id: str | None = None
    installed_rank: int | None = None
    error: str | None = None
    duration: int | None = None
    duration_source: str | None = None
    retries: int = 0  # lock-timeout retries it took
    decision: Any = field(default=None, repr=False)  # dict or object with to_dict()

    def to_dict(self) -> dict[str, Any]:
        """JSON form."""
        return {
            "version": str(self.version),
            "description": self.description,
            "script": self.script,
            "operation": self.operation,
            "status": self.status,
            "verdict": self.verdict,
            "seconds": self.seconds,
            "reason": self.reason or None,
            "next_allowed_at": None if self.next_allowed_at is None else self.next_allowed_at.isoformat(),
            "override_id": self.override_id,
            "installed_rank": self.installed_rank,
            "error": self.error,
            "estimated_duration_seconds": self.duration,
            "duration_source": self.duration_source,
            "retries": self.retries,
            "decision": self.decision.to_dict() if hasattr(self.decision, "to_dict") else self.decision,
        }


@dataclass(frozen=True, slots=True)
class PendingItem:
    """A migration left pending when a run stopped."""

    version: Version
    description: str
    script: str

    def to_dict(self) -> dict[str, Any]:
        """JSON form."""
        return {"version": str(self.version), "description": self.description, "script": self.script}


@dataclass(frozen=True, slots=True)
class MigrateReport:
    """The outcome of ``migrate`` or ``rollback``.

    ``status``: ok (everything done), denied (the gate stopped the run), failed (a script
    failed, or the audit could not be written), stopped (a rollback reached a migration
    without an undo script). A dry run reports ok or denied for what would happen.
    """

    operation: str  # migrate | rollback
    status: str
    steps: tuple[StepResult, ...]
    pending: tuple[PendingItem, ...]
    error: str | None = None
    dry_run: bool = False

    @property
    def exit_code(self) -> int:
        """0 ok, 1 stopped by the gate, 2 an error."""
        return {"ok": 0, "denied": 1}.get(self.status, 2)

    @property
    def done(self) -> tuple[StepResult, ...]:
        """The steps that changed the database."""
        return tuple(s for s in self.steps if s.status in ("applied", "rolled back"))

    @property
    def stopped_at(self) -> StepResult | None:
        """The step that stopped the run, if one did."""
        for step in self.steps:
            if step.status in ("denied", "failed", "stopped"):
                return step
        return None

    def to_dict(self) -> dict[str, Any]:
        """JSON form of ``--format json``."""
        return {
            "operation": self.operation,
            "status": self.status,
            "dry_run": self.dry_run,
            "exit_code": self.exit_code,
            "steps": [s.to_dict() for s in self.steps],
            "pending": [p.to_dict() for p in self.pending],
            "error": self.error,
        }


class GateHook(Protocol):
    """The executor's view of the gate."""

    def ask(self, query: GateQuery) -> GateAnswer:
        """May this script run now?"""
        ...

    def record(self, query: GateQuery, answer: GateAnswer, step: StepResult) -> None:
        """A script ran, failed or was denied (not called in a dry run): audit it, consume
        a single-use override."""
        ...


class AllowAll:
    """A gate hook that allows everything and records nothing (tests, benchmarks)."""

    def ask(self, query: GateQuery) -> GateAnswer:
        """Always allowed."""
        return GateAnswer(allowed=True)

    def record(self, query: GateQuery, answer: GateAnswer, step: StepResult) -> None:
        """Nothing to record."""


Progress = Callable[[StepResult], None]
"""Called with each step once it is decided or done. A progress object may also have a
``starting(index, total, label)`` method, called before each script is gated (a terminal
progress bar uses it)."""


def _announcer(progress: Progress | None) -> Callable[[int, int, str], None]:
    starting = getattr(progress, "starting", None)
    return starting if callable(starting) else (lambda index, total, label: None)


def gate_query(
    plan: Plan, migration: MigrationScript, operation: str, undo: MigrationScript | None = None
) -> GateQuery:
    """What to ask the gate for one script: risk from the header; duration from the header,
    else from earlier executions in the history, else None (the policy's default)."""
    source = undo if undo is not None else migration
    risk = source.risk or migration.risk
    if source.duration is not None:
        return GateQuery(migration, operation, risk, source.duration, "header", undo)
    estimate = plan.estimate(migration.version, UNDO_SQL if undo is not None else SQL)
    if estimate is not None:
        return GateQuery(migration, operation, risk, estimate, "history", undo)
    return GateQuery(migration, operation, risk, None, "default", undo)


def _gate_step(query: GateQuery, answer: GateAnswer, status: str) -> StepResult:
    m = query.migration
    return StepResult(
        m.version,
        m.title,
        (query.script or m).name,
        query.operation,
        status,
        answer.verdict,
        reason=answer.reason,
        next_allowed_at=answer.next_allowed_at,
        override_id=answer.override_id,
        duration=query.duration if query.duration is not None else answer.duration,
        duration_source=query.duration_source,
        decision=answer.detail,
    )


def _failed_step(query: GateQuery, answer: GateAnswer, script: str, exc: MigrationFailed) -> StepResult:
    m = query.migration
    return StepResult(
        m.version,
        m.title,
        script,
        query.operation,
        "failed",
        answer.verdict,
        seconds=exc.execution_ms / 1000,
        override_id=answer.override_id,
        error=str(exc),
        duration=query.duration if query.duration is not None else answer.duration,
        duration_source=query.duration_source,
        decision=answer.detail,
    )


def _done_step(query: GateQuery, answer: GateAnswer, applied: Applied, status: str) -> StepResult:
    m = query.migration
    return StepResult(
        m.version,
        m.title,
        applied.script.name,
        query.operation,
        status,
        answer.verdict,
        seconds=applied.execution_ms / 1000,
        reason=answer.reason,
        override_id=answer.override_id,
        installed_rank=applied.installed_rank,
        duration=query.duration if query.duration is not None else answer.duration,
        duration_source=query.duration_source,
        retries=applied.retries,
        decision=answer.detail,
    )


def _pending(scripts: tuple[MigrationScript, ...]) -> tuple[PendingItem, ...]:
    return tuple(PendingItem(s.version, s.title, s.name) for s in scripts)


def run_migrations(
    session: PostgresSession | None,
    plan: Plan,
    hook: GateHook,
    *,
    dry_run: bool = False,
    progress: Progress | None = None,
) -> MigrateReport:
    """Apply ``plan.pending`` in order, asking ``hook`` before each one.

    Stops before a denied migration (status ``denied``) and after a failed one
    (``failed``). ``plan`` must have passed :meth:`Plan.check`. With ``dry_run`` nothing is
    applied (``session`` may be None) and every pending migration gets its verdict.
    """
    emit = progress or (lambda step: None)
    announce = _announcer(progress)
    steps: list[StepResult] = []
    stop: int | None = None
    for index, migration in enumerate(plan.pending):
        announce(index, len(plan.pending), f"{migration.version} {migration.title}")
        query = gate_query(plan, migration, APPLY)
        try:
            answer = hook.ask(query)
        except SeasongateError as exc:
            return MigrateReport(
                "migrate",
                "failed",
                tuple(steps),
                _pending(plan.pending[index:]),
                f"the gate could not decide {migration.version}: {exc}",
                dry_run=dry_run,
            )
        if dry_run:
            if not answer.allowed:
                status = "denied"
                stop = index if stop is None else stop
            else:
                status = "would apply" if stop is None else "blocked"
            step = _gate_step(query, answer, status)
            steps.append(step)
            emit(step)
            continue
        if not answer.allowed:
            step = _gate_step(query, answer, "denied")
            steps.append(step)
            emit(step)
            failure = _record(hook, query, answer, step)
            return MigrateReport(
                "migrate", "failed" if failure else "denied", tuple(steps), _pending(plan.pending[index:]), failure
            )
        assert session is not None
        try:
            applied = session.apply(migration, verdict=answer.verdict, override_id=answer.override_id)
        except MigrationFailed as exc:
            step = _failed_step(query, answer, migration.name, exc)
            steps.append(step)
            emit(step)
            failure = _record(hook, query, answer, step)
            return MigrateReport("migrate", "failed", tuple(steps), _pending(plan.pending[index:]), failure or str(exc))
        step = _done_step(query, answer, applied, "applied")
        steps.append(step)
        emit(step)
        failure = _record(hook, query, answer, step)
        if failure:
            return MigrateReport("migrate", "failed", tuple(steps), _pending(plan.pending[index + 1 :]), failure)
    if dry_run:
        status = "ok" if stop is None else "denied"
        pending = () if stop is None else _pending(plan.pending[stop:])
        return MigrateReport("migrate", status, tuple(steps), pending, dry_run=True)
    return MigrateReport("migrate", "ok", tuple(steps), ())


def _record(hook: GateHook, query: GateQuery, answer: GateAnswer, step: StepResult) -> str | None:
    try:
        hook.record(query, answer, step)
    except SeasongateError as exc:
        return f"{step.script}: {step.status}, but recording it (audit trail, override) failed: {exc}; stopped"
    return None


def run_rollback(
    session: PostgresSession | None,
    plan: Plan,
    hook: GateHook,
    *,
    to: Version,
    dry_run: bool = False,
    progress: Progress | None = None,
) -> MigrateReport:
    """Undo the applied migrations above ``to``, highest first, each gated as a rollback.

    A migration without an undo script stops the rollback before it (status ``stopped``).
    """
    emit = progress or (lambda step: None)
    files = plan.folder.by_version()
    targets = sorted((v for v in plan.applied if v > to), reverse=True)
    steps: list[StepResult] = []

    def left(index: int) -> tuple[PendingItem, ...]:
        return tuple(PendingItem(v, files[v].title, files[v].name) for v in targets[index:])

    stop: int | None = None
    announce = _announcer(progress)
    for index, version in enumerate(targets):
        migration = files[version]
        announce(index, len(targets), f"{version} {migration.title}")
        undo = plan.folder.undo.get(version)
        if undo is None:
            expected = f"U{str(version)[1:]}__{migration.description}.sql"
            step = StepResult(
                version,
                migration.title,
                migration.name,
                ROLLBACK,
                "stopped",
                reason=f"{version} has no undo script (expected {expected}); the rollback stops before it",
            )
            steps.append(step)
            emit(step)
            if dry_run:
                stop = index if stop is None else stop
                break
            return MigrateReport("rollback", "stopped", tuple(steps), left(index), step.reason)
        query = gate_query(plan, migration, ROLLBACK, undo)
        try:
            answer = hook.ask(query)
        except SeasongateError as exc:
            return MigrateReport(
                "rollback",
                "failed",
                tuple(steps),
                left(index),
                f"the gate could not decide the rollback of {version}: {exc}",
                dry_run=dry_run,
            )
        if dry_run:
            if not answer.allowed:
                stop = index if stop is None else stop
            status = "denied" if not answer.allowed else "would roll back" if stop is None else "blocked"
            step = _gate_step(query, answer, status)
            steps.append(step)
            emit(step)
            continue
        if not answer.allowed:
            step = _gate_step(query, answer, "denied")
            steps.append(step)
            emit(step)
            failure = _record(hook, query, answer, step)
            return MigrateReport("rollback", "failed" if failure else "denied", tuple(steps), left(index), failure)
        assert session is not None
        try:
            applied = session.undo(migration, undo, verdict=answer.verdict, override_id=answer.override_id)
        except MigrationFailed as exc:
            step = _failed_step(query, answer, undo.name, exc)
            steps.append(step)
            emit(step)
            failure = _record(hook, query, answer, step)
            return MigrateReport("rollback", "failed", tuple(steps), left(index), failure or str(exc))
        step = _done_step(query, answer, applied, "rolled back")
        steps.append(step)
        emit(step)
        failure = _record(hook, query, answer, step)
        if failure:
            return MigrateReport("rollback", "failed", tuple(steps), left(index + 1), failure)
    if dry_run:
        if stop is None:
            return MigrateReport("rollback", "ok", tuple(steps), (), dry_run=True)
        first = steps[stop]
        return MigrateReport(
            "rollback",
            "stopped" if first.status == "stopped" else "denied",
            tuple(steps),
            left(stop),
            first.reason if first.status == "stopped" else None,
            dry_run=True,
        )
    return MigrateReport("rollback", "ok", tuple(steps), ())
