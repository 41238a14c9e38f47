"""A watched run's outcome and how it is told: the service levels, the notices sent as the
watch sees a change, and the ``health.verdict`` audit entry that closes it.

Shared by ``migrate --health`` and ``run --health`` (:mod:`seasongate.api._health`).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from zoneinfo import ZoneInfo

    from seasongate._executor import MigrateReport
    from seasongate._gate import Gate, RunOutcome
    from seasongate._health import Delivery, HealthReport, HealthSpec, ProbeLog, Sources, WatchResult


@dataclass(frozen=True)
class SloCheck:
    """One service level of a watched run: the limit, what it took, and whether it was met."""

    name: str
    limit: int | None
    seconds: float | None

    @property
    def met(self) -> bool | None:
        """None when there is no limit or nothing was measured."""
        if self.limit is None or self.seconds is None:
            return None
        return self.seconds <= self.limit

    def to_dict(self) -> dict[str, Any]:
        """For the JSON report and the audit trail."""
        return {"limit_seconds": self.limit, "seconds": self.seconds, "met": self.met}


@dataclass(frozen=True)
class WatchedRun:
    """The outcome of ``migrate --health`` or ``run --health``: the run, the watch, what was
    done about it, and every notice's delivery."""

    health: HealthSpec
    migrate: MigrateReport | None = None
    command: RunOutcome | None = None
    watch: WatchResult | None = None
    rollback: MigrateReport | None = None
    rollback_command: RunOutcome | None = None
    deliveries: tuple[Delivery, ...] = ()
    slos: tuple[SloCheck, ...] = ()
    note: str = ""

    @property
    def verdict(self) -> str | None:
        """healthy, degraded or inconclusive; None when nothing was watched."""
        return self.watch.verdict if self.watch is not None else None

    @property
    def rolled_back(self) -> bool:
        """Whether the run's changes were undone (and the undo finished)."""
        if self.rollback is not None:
            return self.rollback.status == "ok" and bool(self.rollback.done)
        return self.rollback_command is not None and self.rollback_command.ran and self.rollback_command.exit_code == 0

    @property
    def exit_code(self) -> int:
        """0 healthy, 1 degraded (or denied), 2 error (a failed run or a failed rollback), 3 inconclusive."""
        if self.migrate is not None and self.migrate.exit_code == 2:
            return 2
        if self.command is not None and (not self.command.ran or self.command.exit_code != 0):
            return self.command.exit_code or 1
        if self.verdict == "degraded":
            undo_failed = (self.rollback is not None and self.rollback.status != "ok") or (
                self.rollback_command is not None and self.rollback_command.exit_code != 0
            )
            return 2 if undo_failed else 1
        if self.verdict == "inconclusive":
            return 3
        if self.migrate is not None:
            return self.migrate.exit_code
        return 0

    def to_dict(self) -> dict[str, Any]:
        """The JSON form (additive)."""
        return {
            "health": {"name": self.health.name, "path": self.health.path},
            "verdict": self.verdict,
            "exit_code": self.exit_code,
            "migrate": self.migrate.to_dict() if self.migrate else None,
            "command": _run_dict(self.command),
            "watch": self.watch.to_dict() if self.watch else None,
            "rolled_back": self.rolled_back,
            "rollback": self.rollback.to_dict() if self.rollback else None,
            "rollback_command": _run_dict(self.rollback_command),
            "slo": {s.name: s.to_dict() for s in self.slos},
            "notices": [d.to_dict() for d in self.deliveries],
            "note": self.note,
        }


def _run_dict(outcome: RunOutcome | None) -> dict[str, Any] | None:
    if outcome is None:
        return None
    return {
        "command": list(outcome.command),
        "ran": outcome.ran,
        "exit_code": outcome.exit_code,
        "seconds": outcome.seconds,
    }


class Notices:
    """A watched run's notices: sent as things happen, every delivery kept for the report."""

    def __init__(
        self, spec: HealthSpec, env_vars: Mapping[str, str], *, environment: str, territory: str, version: str,
        since: int, tz: ZoneInfo, clock: Callable[[], int], sleep: Callable[[float], None],
    ) -> None:  # fmt: skip
        self.spec = spec
        self.env_vars = env_vars
        self.environment = environment
        self.territory = territory
        self.version = version
        self.since = since
        self.tz = tz
        self.clock = clock
        self.sleep = sleep
        self.deliveries: list[Delivery] = []

    def send(self, event: str, text: str, indicators: tuple[str, ...] = ()) -> None:
        """Notify every target that wants ``event`` (never raises)."""
        from seasongate._health import NoticeEvent, notify

        notice = NoticeEvent(
            event, self.environment, self.territory, self.version, self.since, self.clock(), text, indicators, self.tz
        )
        self.deliveries.extend(notify(self.spec, notice, self.env_vars, sleep=self.sleep))

    def changed(self, event: str, report: HealthReport) -> None:
        """The watch saw a degradation or a recovery: say so now."""
        self.send(event, report.summary(), tuple(i.name for i in report.indicators if i.verdict != "healthy"))


def watch_after(
    gate: Gate, spec: HealthSpec, sources: Sources, notices: Notices, *, run_started: int, run_ended: int,
    probes: ProbeLog | None,
) -> WatchResult:  # fmt: skip
    """Watch after a run; degradations and recoveries are notified as they are seen."""
    from seasongate._health import watch

    return watch(
        spec, sources, policy=gate.policy, environment=notices.environment, territory=notices.territory,
        run_started=run_started, run_ended=run_ended, clock=notices.clock, sleep=notices.sleep, probes=probes,
        on_change=notices.changed,
    )  # fmt: skip


def finish(
    gate: Gate, outcome: WatchResult, notices: Notices, *, migrate: MigrateReport | None = None,
    command: RunOutcome | None = None, rollback: MigrateReport | None = None,
    rollback_command: RunOutcome | None = None, slos: tuple[SloCheck, ...] = (), note: str = "",
) -> WatchedRun:  # fmt: skip
    """Send the notices the outcome calls for (inconclusive, rolled_back, slo_missed; a
    degradation and a recovery were sent as they were seen), audit ``health.verdict``, and
    build the outcome. A notice that fails is reported and audited, never raised."""
    spec = notices.spec
    report = outcome.report
    summary = report.summary() if report else "no measurement"
    result = WatchedRun(spec, migrate, command, outcome, rollback, rollback_command, (), slos, note)
    if outcome.verdict == "inconclusive" and report is not None:
        notices.send("inconclusive", summary, tuple(i.name for i in report.indicators if i.verdict != "healthy"))
    if result.rolled_back:
        notices.send("rolled_back", summary)
    missed = [s for s in slos if s.met is False]
    if missed:
        notices.send("slo_missed", "; ".join(f"slo.{s.name}: {s.seconds:.0f}s > {s.limit}s" for s in missed))
    result = replace(result, deliveries=tuple(notices.deliveries))
    payload = {
        "health": {"name": spec.name, "path": spec.path, "sha256": spec.sha256},
        "verdict": outcome.verdict,
        "recovered": outcome.recovered_at is not None,
        "summary": summary,
        "checks": outcome.checks,
        "indicators": {i.name: i.verdict for i in report.indicators} if report else {},
        "action": "rolled_back" if result.rolled_back else ("rollback_failed" if result.exit_code == 2 else "none"),
        "slo": {s.name: s.to_dict() for s in slos},
        "notices": [d.to_dict() for d in notices.deliveries],
        "note": note,
    }
    gate.audit("health.verdict", f"{notices.environment}/{notices.territory}/{notices.version}", payload)
    return result


def probes_before(spec: HealthSpec, sources: Sources, *, environment: str, territory: str, at: int) -> ProbeLog | None:
    """The SQL probes' log, with a first measurement before the run (None: no SQL probe)."""
    from seasongate._health import ProbeLog, record_probes

    if not any(i.sql is not None for i in spec.indicators):
        return None
    probes = ProbeLog()
    record_probes(spec, sources, probes, environment=environment, territory=territory, at=at, before=True)
    return probes
