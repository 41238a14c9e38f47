"""The executor's callback: the policy judges each step, the store records it."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import replace
from datetime import datetime
from typing import TYPE_CHECKING

from seasongate._executor import AuditAnchor, GateAnswer, Step, StepResult
from seasongate._gate import _audit
from seasongate._policy import Decision, OverrideGrant, Request
from seasongate._time import format_duration, from_ts
from seasongate._versions import Version

if TYPE_CHECKING:
    from seasongate._gate._guard import Gate
    from seasongate._store import AuditEntry


def answer_of(decision: Decision) -> GateAnswer:
    """The executor's view of a :class:`Decision`."""
    override = decision.override
    if decision.allowed:
        reason = ""
        if override is not None:
            reason = f"override {override.id} lifts {', '.join(sorted(override.rules))}"
    else:
        reason = "; ".join(f"{r.rule}: {r.message}" for r in decision.denying)
        reason = reason or "no rule allows it"
    next_at = None
    if decision.next_allowed_at is not None:
        next_at = from_ts(decision.next_allowed_at, decision.zone)
    return GateAnswer(
        decision.allowed, reason, override.id if override else None, next_at, decision, decision.migration.duration
    )


class PolicyHook:
    """A :class:`~seasongate._executor.GateHook` backed by a policy and a store.

    ``ask`` judges the step at ``now()`` with the store's active grants (a single-use
    override is claimed as the run's first step starts); ``start`` writes
    ``migration.start`` and returns it as the history row's anchor; ``record`` writes the
    outcome (``migration.apply`` / ``migration.rollback``) or, for a denial, the
    ``decision``. With ``audit=False`` (a dry run) nothing is written and nothing claimed.

    One store transaction per migration: an outcome is held until the next entry of the run
    (the next step's start, a denial) and written with it in one transaction, in the
    trail's order (start, outcome, next start). So it is written before the next migration
    runs, before anything else is written (a claim), and at the latest by :meth:`finish`,
    which the run calls when its loop ends, however it ends. A run killed in between leaves
    a start without an outcome, which the next run reconciles from the history, as it does
    for a run killed between a commit and its outcome.
    """

    def __init__(
        self, gate: Gate, environment: str, territory: str, *, audit: bool = True, database: str | None = None,
        deadline: datetime | None = None,
    ) -> None:  # fmt: skip
        self.gate = gate
        self.deadline = deadline  # a run deadline (slo.migration): a step that would end after it does not start
        self.environment = environment
        self.territory = territory
        self.audit = audit
        self.database = database
        self._claimed: list[OverrideGrant] = []
        # (version, operation) -> the seq, subject and payload of its start: the outcome is
        # that payload with the result, built once per step.
        self._starts: dict[tuple[Version, str], tuple[int, str, dict[str, object]]] = {}
        self._held: list[tuple[str, str, Mapping[str, object]]] = []  # an outcome not yet written

    def _subject(self, step: Step) -> str:
        return _audit.subject(self.environment, self.territory, step.version)

    def decide(self, step: Step) -> Decision:
        """The policy's decision on ``step`` now (this run's spent grants still count)."""
        repeatable = step.version.repeatable  # R__ scripts: no version, the class ``repeatable``
        request = Request(
            self.environment, self.territory, None if repeatable else step.version, step.risk, step.duration,
            step.operation, step.migration.description, repeatable=repeatable,
        )  # fmt: skip
        return self.gate.decide(request, claimed=self._claimed)

    def ask(self, step: Step) -> GateAnswer:
        """Evaluate the policy for this step now."""
        decision = self.decide(step)
        late = self._past_deadline(step, decision)
        if late is not None:
            return late
        override = decision.override
        if self.audit and decision.allowed and override is not None and override not in self._claimed:
            # Spent as the run's first step starts, so no other run can use it; this run
            # goes on using it for the rest of its steps.
            if override.single_use:
                self.finish()  # the held outcome first: the trail keeps the order things happened
            self.gate.claim(decision, self._subject(step))
            if override.single_use:
                self._claimed.append(override)
        return answer_of(decision)

    def _past_deadline(self, step: Step, decision: Decision) -> GateAnswer | None:
        """A denial when the step's estimated duration does not fit before the deadline."""
        if self.deadline is None or not decision.allowed:
            return None
        needed = step.duration if step.duration is not None else decision.migration.duration
        left = int((self.deadline - self.gate.recorded()).total_seconds())
        if needed is None or needed <= left:
            return None
        reason = (
            f"the run deadline (slo.migration) leaves {format_duration(max(left, 0))}; "
            f"{step.version} is estimated at {format_duration(needed)}: not started"
        )
        return replace(answer_of(decision), allowed=False, reason=reason, override_id=None)

    def start(self, step: Step, answer: GateAnswer) -> AuditAnchor | None:
        """Write ``migration.start`` before the step runs."""
        if not self.audit:
            return None
        decision = answer.detail if isinstance(answer.detail, Decision) else None
        payload = self._payload(step, decision, "started")
        subject = self._subject(step)
        written = self._write((_audit.START, subject, payload))
        if not written:
            return None
        entry = written[-1]
        self._starts[(step.version, step.operation)] = (entry.seq, subject, payload)
        return AuditAnchor(entry.seq, entry.hash)

    def record(self, step: Step, answer: GateAnswer, result: StepResult) -> None:
        """Audit the outcome (a single-use override was already claimed by :meth:`ask`)."""
        if not self.audit:
            return
        decision = answer.detail if isinstance(answer.detail, Decision) else None
        if result.status == "denied":
            self._write((_audit.DECISION, self._subject(step), {} if decision is None else decision.to_dict()))
            return
        ms = None if result.seconds is None else round(result.seconds * 1000)
        started = self._starts.pop((step.version, step.operation), None)
        if started is None:  # no start was written for it
            subject = self._subject(step)
            payload = self._payload(step, decision, result.status, execution_ms=ms,
                                    installed_rank=result.installed_rank, error=result.error)  # fmt: skip
        else:  # the start's payload with the result: the same facts, built once
            seq, subject, facts = started
            payload = {**facts, "status": result.status, "execution_ms": ms,
                       "installed_rank": result.installed_rank, "error": result.error, "start_seq": seq}  # fmt: skip
        self._held.append((_audit.OUTCOME[step.operation], subject, payload))

    def finish(self) -> None:
        """Write the outcome still held (the run's last one): called when the loop ends."""
        self._write()

    def _write(self, *entries: tuple[str, str, Mapping[str, object]]) -> list[AuditEntry]:
        """The held outcome and ``entries``, in one store transaction; the outcome stays held
        when the write fails (a later :meth:`finish` tries again)."""
        if not self._held and not entries:
            return []
        written = self.gate.audit_all((*self._held, *entries))
        self._held.clear()
        return written[len(written) - len(entries) :] if written else []

    def _payload(
        self,
        step: Step,
        decision: Decision | None,
        status: str,
        *,
        execution_ms: int | None = None,
        installed_rank: int | None = None,
        error: str | None = None,
        start_seq: int | None = None,
    ) -> dict[str, object]:
        return _audit.migration_payload(
            decision, environment=self.environment, territory=self.territory, version=step.version,
            operation=step.operation, status=status, script=step.script, execution_ms=execution_ms,
            installed_rank=installed_rank, error=error, database=self.database, start_seq=start_seq,
        )  # fmt: skip
