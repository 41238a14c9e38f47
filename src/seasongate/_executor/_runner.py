"""The run loop: one loop drives every step of ``migrate`` and ``rollback``, with the gate as a
callback.

The plan gives the steps (each carries its direction, apply or rollback); :func:`run_steps`
asks a :class:`GateHook` before each one (``ask``), writes the intent (``start``), runs it on a
:class:`Target` and reports back (``record``). A dry run is the same loop on :class:`DryRun`, a
target that executes nothing. The executor knows nothing of policies or stores:
``seasongate._gate`` provides the hook built from a policy and a store; tests and other tools
can pass their own.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Protocol

from seasongate._errors import SeasongateError
from seasongate._executor._files import MigrationScript
from seasongate._executor._pgerrors import MigrationFailed
from seasongate._executor._plan import AuditAnchor, Step
from seasongate._executor._postgres import Applied
from seasongate._versions import Version
from seasongate._vocabulary import Operation

#: What a step that ran is called, and what a dry run says it would do, by direction.
DONE: dict[Operation, str] = {"apply": "applied", "rollback": "rolled back"}
WOULD: dict[Operation, str] = {"apply": "would apply", "rollback": "would roll back"}


@dataclass(frozen=True, slots=True)
class GateAnswer:
    """The gate's verdict for one step, in the executor's terms."""

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
    """What happened to one step; also the progress line.

    ``status``: applied, rolled back, failed, denied, would apply / would roll back (dry run).
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
    """A migration left pending (or, for a rollback, still applied) when a run stopped."""

    version: Version
    description: str
    script: str

    def to_dict(self) -> dict[str, Any]:
        """JSON form."""
        return {"version": str(self.version), "description": self.description, "script": self.script}


@dataclass(frozen=True, slots=True)
class MigrateReport:
    """The outcome of ``migrate`` or ``rollback``.

    ``status``: ok (every step done), denied (the gate stopped the run), failed (a script
    failed, or the audit could not be written). A dry run reports ok or denied for what
    would happen.
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
        return tuple(s for s in self.steps if s.status in DONE.values())

    @property
    def stopped_at(self) -> StepResult | None:
        """The step that stopped the run, if one did."""
        for step in self.steps:
            if step.status in ("denied", "failed"):
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

    def ask(self, step: Step) -> GateAnswer:
        """May this step run now?"""
        ...

    def start(self, step: Step, answer: GateAnswer) -> AuditAnchor | None:
        """An allowed step is about to run: write the intent (``migration.start``) and return
        the entry the history row is anchored to (None: no audit trail)."""
        ...

    def record(self, step: Step, answer: GateAnswer, result: StepResult) -> None:
        """A step ran, failed, was denied, or (dry run) would run: audit what needs it."""
        ...


class AllowAll:
    """A gate hook that allows everything and records nothing (tests, benchmarks)."""

    def ask(self, step: Step) -> GateAnswer:
        """Always allowed."""
        return GateAnswer(allowed=True)

    def start(self, step: Step, answer: GateAnswer) -> AuditAnchor | None:
        """No trail to anchor to."""
        return None

    def record(self, step: Step, answer: GateAnswer, result: StepResult) -> None:
        """Nothing to record."""


class Target(Protocol):
    """Where steps run: a :class:`~seasongate._executor.PostgresSession` runs them and records
    each in the history; :class:`DryRun` runs nothing (returns None)."""

    def apply(
        self,
        migration: MigrationScript,
        *,
        verdict: str | None = None,
        override_id: str | None = None,
        audit: AuditAnchor | None = None,
    ) -> Applied | None:
        """Run a migration and record it."""
        ...

    def undo(
        self,
        migration: MigrationScript,
        undo: MigrationScript,
        *,
        verdict: str | None = None,
        override_id: str | None = None,
        audit: AuditAnchor | None = None,
    ) -> Applied | None:
        """Run the undo script of an applied migration and record it."""
        ...


class DryRun:
    """A target that executes nothing: every step is judged and none runs (``--dry-run``)."""

    def apply(
        self,
        migration: MigrationScript,
        *,
        verdict: str | None = None,
        override_id: str | None = None,
        audit: AuditAnchor | None = None,
    ) -> Applied | None:
        """Nothing runs."""
        return None

    def undo(
        self,
        migration: MigrationScript,
        undo: MigrationScript,
        *,
        verdict: str | None = None,
        override_id: str | None = None,
        audit: AuditAnchor | None = None,
    ) -> Applied | None:
        """Nothing runs."""
        return None


Progress = Callable[[StepResult], None]
"""Called with each step once it is decided or done. A progress object may also have a
``starting(index, total, label)`` method, called before each step is gated (a terminal
progress bar uses it)."""


def _announcer(progress: Progress | None) -> Callable[[int, int, str], None]:
    starting = getattr(progress, "starting", None)
    return starting if callable(starting) else (lambda index, total, label: None)


def _result(
    step: Step,
    answer: GateAnswer,
    status: str,
    *,
    applied: Applied | None = None,
    failure: MigrationFailed | None = None,
) -> StepResult:
    seconds = None
    if applied is not None:
        seconds = applied.execution_ms / 1000
    elif failure is not None:
        seconds = failure.execution_ms / 1000
    return StepResult(
        step.version,
        step.migration.title,
        step.script.name,
        step.operation,
        status,
        answer.verdict,
        seconds=seconds,
        reason="" if failure is not None else answer.reason,
        next_allowed_at=None if answer.allowed else answer.next_allowed_at,
        override_id=answer.override_id,
        installed_rank=None if applied is None else applied.installed_rank,
        error=None if failure is None else str(failure),
        duration=step.duration if step.duration is not None else answer.duration,
        duration_source=step.duration_source,
        retries=0 if applied is None else applied.retries,
        decision=answer.detail,
    )


def _execute(target: Target, step: Step, answer: GateAnswer, anchor: AuditAnchor | None) -> Applied | None:
    if step.operation == "apply":
        return target.apply(step.migration, verdict=answer.verdict, override_id=answer.override_id, audit=anchor)
    return target.undo(
        step.migration, step.script, verdict=answer.verdict, override_id=answer.override_id, audit=anchor
    )


def _left(steps: Sequence[Step]) -> tuple[PendingItem, ...]:
    return tuple(PendingItem(s.version, s.migration.title, s.migration.name) for s in steps)


def _what(step: Step) -> str:
    return str(step.version) if step.operation == "apply" else f"the rollback of {step.version}"


def run_steps(
    target: Target,
    steps: Sequence[Step],
    hook: GateHook,
    *,
    operation: str,
    progress: Progress | None = None,
) -> MigrateReport:
    """Run ``steps`` in order on ``target``, asking ``hook`` before each one.

    Stops before a denied step (status ``denied``) and after a failed one (``failed``), or
    when the audit cannot be written. ``operation`` (``migrate`` or ``rollback``) names the
    report. The steps come from a plan that passed :meth:`~seasongate._executor.Plan.check`.
    """
    emit = progress or (lambda result: None)
    announce = _announcer(progress)
    results: list[StepResult] = []

    def report(status: str, left: Sequence[Step], error: str | None = None) -> MigrateReport:
        return MigrateReport(operation, status, tuple(results), _left(left), error)

    def settle(step: Step, answer: GateAnswer, result: StepResult) -> str | None:
        results.append(result)
        emit(result)
        try:
            hook.record(step, answer, result)
        except SeasongateError as exc:
            return f"{result.script}: {result.status}, but recording it (audit trail, override) failed: {exc}; stopped"
        return None

    for index, step in enumerate(steps):
        announce(index, len(steps), f"{step.version} {step.migration.title}")
        try:
            answer = hook.ask(step)
        except SeasongateError as exc:
            return report("failed", steps[index:], f"the gate could not decide {_what(step)}: {exc}")
        if not answer.allowed:
            failure = settle(step, answer, _result(step, answer, "denied"))
            return report("failed" if failure else "denied", steps[index:], failure)
        try:
            anchor = hook.start(step, answer)
        except SeasongateError as exc:
            return report("failed", steps[index:], f"{step.script.name}: cannot write its audit entry ({exc}); not run")
        try:
            applied = _execute(target, step, answer, anchor)
        except MigrationFailed as exc:
            failure = settle(step, answer, _result(step, answer, "failed", failure=exc))
            return report("failed", steps[index:], failure or str(exc))
        status = WOULD[step.operation] if applied is None else DONE[step.operation]
        failure = settle(step, answer, _result(step, answer, status, applied=applied))
        if failure:
            return report("failed", steps[index + 1 :], failure)
    return report("ok", ())
