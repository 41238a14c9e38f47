"""The health commands: ``health check`` (and the watch used by ``migrate --health``)."""

from __future__ import annotations

import os
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any

from seasongate._errors import InputError, MigrationError
from seasongate._time import to_ts
from seasongate._versions import Version

if TYPE_CHECKING:
    from zoneinfo import ZoneInfo

    from seasongate._executor import ExecutorOptions, MigrateReport, StepResult
    from seasongate._gate import Gate, RunOutcome
    from seasongate._health import Delivery, HealthReport, HealthSpec, ProbeLog, Sources, WatchResult
    from seasongate._policy import Policy
    from seasongate._store import Store


def load_health_file(health: str | Path | HealthSpec) -> HealthSpec:
    """A loaded health file (``file:line:column`` errors for a broken one)."""
    from seasongate._health import HealthSpec, load_health

    if isinstance(health, HealthSpec):
        return health
    path = Path(health)
    if not path.exists():  # anything else (a FIFO, a device) is refused by the file reader
        raise InputError(f"health file {health} does not exist")
    return load_health(path)


def health_check(
    health: str | Path | HealthSpec,
    *,
    environment: str,
    territory: str,
    at: datetime,
    since: datetime | None = None,
    policy: str | Path | Policy | None = None,
    dsn: str | None = None,
    environ: Mapping[str, str] | None = None,
) -> HealthReport:
    """Measure every indicator of ``health`` over ``[since, at]`` (``since`` defaults to
    ``watch.for`` before ``at``) against its calendar-chosen baseline, and judge it.

    The URLs of the sources come from the environment variables the file names (``environ``,
    default the process environment); ``dsn`` is the database a SQL probe without
    ``dsn_env`` runs against.
    """
    from seasongate._health import Sources, check_health
    from seasongate.api._check import open_policy

    spec = load_health_file(health)
    loaded = open_policy(policy, environment)
    if environment not in loaded.environments:
        raise InputError(f"policy {loaded.name} does not cover environment {environment!r}")
    loaded.territory(territory)
    end = to_ts(at)
    start = to_ts(since) if since is not None else end - spec.watch_for
    sources = Sources.from_environment(spec, os.environ if environ is None else environ, dsn)
    return check_health(
        spec, sources, policy=loaded, environment=environment, territory=territory, at=end, since=start
    )


# -- migrate --health / run --health -------------------------------------------------------------


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


def _readiness(
    gate: Gate, spec: HealthSpec, dsn: str, migrations: Path, classes: Sequence[str] | None,
    target: Version | None, options: ExecutorOptions | None,
) -> list[str]:  # fmt: skip
    """Why a rollback of this run's migrations would be impossible or too slow (empty: fine)."""
    from seasongate._executor import PostgresSession, scan
    from seasongate._gate import info
    from seasongate._health import RollbackFacts, rollback_refusals

    if spec.on_degraded != "rollback":
        return []
    report = info(gate, dsn, migrations, classes=classes, options=options)
    pending = [r.version for r in report.rows if r.state == "pending" and (target is None or not target < r.version)]
    if not pending:
        return []
    folder = scan(migrations, classes=gate.policy.migration_classes)
    scripts = {m.version: m for m in folder.migrations}
    with PostgresSession(dsn, options).open(lock=False, create=False) as session:
        rows = session.history()
    facts = []
    for version in pending:
        script = scripts[version]
        undo_ms = [
            r.execution_time for r in rows
            if r.version == version and r.type == "UNDO_SQL" and r.success and r.execution_time is not None
        ]  # fmt: skip
        facts.append(
            RollbackFacts(
                str(version),
                has_undo=version in folder.undo,
                transactional=script.transactional,
                # `-- seasongate: transaction=false reversible=true` declares it safe to undo.
                reversible=script.directives.reversible,
                undo_seconds=-(-max(undo_ms) // 1000) if undo_ms else None,
            )
        )
    return rollback_refusals(spec, facts)


def migrate_with_health(
    health: str | Path | HealthSpec,
    *,
    dsn: str | None,
    environment: str,
    territory: str,
    now: Callable[[], datetime],
    migrations: Path = Path("migrations"),
    policy: str | Path | Policy | None = None,
    store: str | Store | None = None,
    target: str | Version | None = None,
    classes: Sequence[str] | None = None,
    options: ExecutorOptions | None = None,
    progress: Callable[[StepResult], None] | None = None,
    project_dir: Path | None = None,
    use_store: bool = True,
    environ: Mapping[str, str] | None = None,
    sleep: Callable[[float], None] = time.sleep,
) -> WatchedRun:
    """``seasongate migrate --health FILE``: refuse a run that could not be rolled back, apply
    the pending migrations, watch for ``watch.for``, and on *degraded* roll back the ones this
    run applied (newest first, gated and audited as rollbacks). ``now`` is the real clock:
    the gate judges by it and the watch measures by it."""
    from seasongate._gate import migrate, rollback
    from seasongate._health import ProbeLog, Sources, record_probes
    from seasongate.api._migrate import _dsn, _gate, _version

    spec = load_health_file(health)
    chosen = _dsn(dsn)
    wanted = _version(target, "--target")
    env_vars = os.environ if environ is None else environ
    clock = _epoch_clock(now)
    with _gate(
        now, environment, territory, policy, store, project_dir, use_store=use_store
    ) as gate:
        sources = Sources.from_environment(spec, env_vars, chosen)
        refusals = _readiness(gate, spec, chosen, migrations, classes, wanted, options)
        if refusals:
            raise MigrationError(
                f"not started: with on_degraded: rollback ({spec.path}) every migration must be undoable:\n  "
                + "\n  ".join(refusals)
            )
        probes = ProbeLog() if any(i.sql is not None for i in spec.indicators) else None
        if probes is not None:
            record_probes(spec, sources, probes, environment=environment, territory=territory, at=clock(), before=True)
        run_started = clock()
        deadline = None
        if spec.slo_migration is not None:
            deadline = now() + timedelta(seconds=spec.slo_migration)
        report = migrate(
            gate, chosen, migrations, target=wanted, classes=classes, options=options, progress=progress,
            deadline=deadline,
        )  # fmt: skip
        run_ended = clock()
        applied = [s.version for s in report.steps if s.status == "applied"]
        migration_slo = SloCheck("migration", spec.slo_migration, run_ended - run_started)
        if not applied or report.status not in ("ok", "denied"):
            note = "nothing applied: nothing to watch" if not applied else "the run failed: no watch"
            return WatchedRun(spec, migrate=report, slos=(migration_slo,), note=note)
        versions = ", ".join(str(v) for v in applied)
        notices = _Notices(
            spec, env_vars, environment=environment, territory=territory, version=versions, since=run_started,
            tz=gate.policy.zone(territory), clock=clock, sleep=sleep,
        )  # fmt: skip
        outcome = watch_after(gate, spec, sources, notices, run_started=run_started, run_ended=run_ended, probes=probes)
        rollback_report = None
        rollback_slo = SloCheck("rollback", spec.slo_rollback, None)
        note = ""
        if outcome.verdict == "degraded" and spec.on_degraded == "rollback":
            to = _below(gate, chosen, migrations, applied, options)
            if isinstance(to, str):
                note = to
            else:
                started = clock()
                rollback_report = rollback(gate, chosen, migrations, to=to, options=options, progress=progress)
                rollback_slo = SloCheck("rollback", spec.slo_rollback, clock() - started)
        return finish(
            gate, outcome, notices, migrate=report, rollback=rollback_report, slos=(migration_slo, rollback_slo),
            note=note,
        )  # fmt: skip


def _epoch_clock(clock: Callable[[], datetime]) -> Callable[[], int]:
    def read() -> int:
        return to_ts(clock())

    return read


def _below(
    gate: Gate, dsn: str, migrations: Path, applied: Sequence[Version], options: ExecutorOptions | None
) -> Version | str:
    """The version to roll back to so that exactly ``applied`` is undone; a message when
    something else was applied meanwhile (then nothing is undone automatically)."""
    from seasongate._gate import info

    report = info(gate, dsn, migrations, options=options)
    lowest = min(applied)
    live = {r.version for r in report.rows if r.state not in ("pending", "excluded") and r.installed_on is not None}
    above = {v for v in live if not v < lowest}
    foreign = sorted(above - set(applied))
    if foreign:
        return (
            f"not rolled back: {', '.join(map(str, foreign))} were applied after this run; "
            "roll back by hand (seasongate rollback --to ...)"
        )
    older = [v for v in live if v < lowest]
    return max(older) if older else Version.parse("0")


class _Notices:
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
    gate: Gate, spec: HealthSpec, sources: Sources, notices: _Notices, *, run_started: int, run_ended: int,
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
    gate: Gate, outcome: WatchResult, notices: _Notices, *, migrate: MigrateReport | None = None,
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


def run_with_health(
    command: Sequence[str],
    *,
    health: str | Path | HealthSpec,
    rollback_command: str | None,
    environment: str,
    territory: str,
    now: Callable[[], datetime],
    migration: str | None = None,
    risk: str | None = None,
    duration: str | int | None = None,
    policy: str | Path | Policy | None = None,
    store: str | Store | None = None,
    project_dir: Path | None = None,
    use_store: bool = True,
    dsn: str | None = None,
    environ: Mapping[str, str] | None = None,
    sleep: Callable[[float], None] = time.sleep,
) -> WatchedRun:
    """``seasongate run --health FILE --rollback-cmd CMD -- COMMAND``: run the command through
    the gate, watch, and on *degraded* run ``rollback_command`` through the gate as a rollback.
    Any executor (Flyway, Liquibase, a deploy script) gets the same watch."""
    import shlex

    from seasongate._gate import run_command
    from seasongate._health import ProbeLog, Sources, record_probes
    from seasongate.api._check import build_request
    from seasongate.api._migrate import _gate

    spec = load_health_file(health)
    undo = shlex.split(rollback_command) if rollback_command else []
    if spec.on_degraded == "rollback" and not undo:
        raise InputError(f"{spec.path} says on_degraded: rollback: give the undo command with --rollback-cmd")
    request = build_request(
        environment=environment, territory=territory, migration=migration, risk=risk, duration=duration
    )
    undo_request = build_request(
        environment=environment, territory=territory, migration=migration, risk=risk, operation="rollback"
    )
    env_vars = os.environ if environ is None else environ
    clock = _epoch_clock(now)
    with _gate(
        now, environment, territory, policy, store, project_dir, use_store=use_store
    ) as gate:
        sources = Sources.from_environment(spec, env_vars, dsn)
        probes = ProbeLog() if any(i.sql is not None for i in spec.indicators) else None
        if probes is not None:
            record_probes(spec, sources, probes, environment=environment, territory=territory, at=clock(), before=True)
        run_started = clock()
        outcome = run_command(gate, list(command), request)
        run_ended = clock()
        migration_slo = SloCheck("migration", spec.slo_migration, run_ended - run_started)
        if not outcome.ran or outcome.exit_code != 0:
            note = "the command did not succeed: no watch"
            return WatchedRun(spec, command=outcome, slos=(migration_slo,), note=note)
        notices = _Notices(
            spec, env_vars, environment=environment, territory=territory, version=str(request.version or "*"),
            since=run_started, tz=gate.policy.zone(territory), clock=clock, sleep=sleep,
        )  # fmt: skip
        watched = watch_after(gate, spec, sources, notices, run_started=run_started, run_ended=run_ended, probes=probes)
        undone = None
        rollback_slo = SloCheck("rollback", spec.slo_rollback, None)
        if watched.verdict == "degraded" and spec.on_degraded == "rollback":
            started = clock()
            undone = run_command(gate, undo, undo_request)
            rollback_slo = SloCheck("rollback", spec.slo_rollback, clock() - started)
        return finish(
            gate, watched, notices, command=outcome, rollback_command=undone, slos=(migration_slo, rollback_slo)
        )
