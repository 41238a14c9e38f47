"""The health commands: ``health check``, ``migrate --health`` and ``run --health``.

A watched run opens its gate as the migration commands do (:mod:`seasongate.api._gated`);
its outcome, service levels and notices are :mod:`seasongate.api._watch`'s.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable, Mapping, Sequence
from datetime import datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Unpack

from seasongate._errors import InputError, MigrationError
from seasongate._time import to_ts
from seasongate._versions import Version
from seasongate.api._gated import Database, DatabaseFields, database_of, gated, refuse_unknown, version_option
from seasongate.api._project import Project, open_project, project_of
from seasongate.api._request import CommandFields, RequestSpec, spec_of
from seasongate.api._watch import Notices, SloCheck, WatchedRun, finish, probes_before, watch_after

if TYPE_CHECKING:
    from seasongate._executor import StepResult
    from seasongate._gate import Gate
    from seasongate._health import HealthReport, HealthSpec
    from seasongate._policy import Policy

__all__ = ["WatchedRun", "health_check", "load_health_file", "migrate_with_health", "run_with_health"]


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

    spec = load_health_file(health)
    loaded = open_project(environment, policy=policy, use_store=False).policy
    if environment not in loaded.environments:
        raise InputError(f"policy {loaded.name} does not cover environment {environment!r}")
    loaded.territory(territory)
    end = to_ts(at)
    start = to_ts(since) if since is not None else end - spec.watch_for
    sources = Sources.from_environment(spec, os.environ if environ is None else environ, dsn)
    return check_health(spec, sources, policy=loaded, environment=environment, territory=territory, at=end, since=start)


# -- migrate --health / run --health -------------------------------------------------------------


def _readiness(
    gate: Gate, spec: HealthSpec, db: Database, classes: Sequence[str] | None, target: Version | None
) -> list[str]:
    """Why a rollback of this run's migrations would be impossible or too slow (empty: fine)."""
    from seasongate._executor import PostgresSession, scan
    from seasongate._gate import info
    from seasongate._health import RollbackFacts, rollback_refusals

    if spec.on_degraded != "rollback":
        return []
    dsn, migrations, options = db.url, db.migrations, db.options
    report = info(gate, dsn, migrations, classes=classes, options=options, placeholders=db.placeholder_values())
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
    database: Database | None = None,
    *,
    target: str | Version | None = None,
    classes: Sequence[str] | None = None,
    progress: Callable[[StepResult], None] | None = None,
    environment: str,
    territory: str,
    now: Callable[[], datetime],
    project: Project | None = None,
    environ: Mapping[str, str] | None = None,
    sleep: Callable[[float], None] = time.sleep,
    **fields: Unpack[DatabaseFields],
) -> WatchedRun:
    """``seasongate migrate --health FILE``: refuse a run that could not be rolled back, apply
    the pending migrations, watch for ``watch.for``, and on *degraded* roll back the ones this
    run applied (newest first, gated and audited as rollbacks). ``now`` is the real clock:
    the gate judges by it and the watch measures by it. The database and the project are
    given as for :func:`~seasongate.api.migrate`."""
    from seasongate._gate import migrate, rollback
    from seasongate._health import Sources

    spec = load_health_file(health)
    db = database_of(database, fields)
    chosen, migrations, options = db.url, db.migrations, db.options
    wanted = version_option(target, "--target")
    env_vars = os.environ if environ is None else environ
    clock = _epoch_clock(now)
    with gated(project_of(project, fields, environment), now, environment, territory) as gate:
        sources = Sources.from_environment(spec, env_vars, chosen)
        refusals = _readiness(gate, spec, db, classes, wanted)
        if refusals:
            raise MigrationError(
                f"not started: with on_degraded: rollback ({spec.path}) every migration must be undoable:\n  "
                + "\n  ".join(refusals)
            )
        probes = probes_before(spec, sources, environment=environment, territory=territory, at=clock())
        run_started = clock()
        deadline = None
        if spec.slo_migration is not None:
            deadline = now() + timedelta(seconds=spec.slo_migration)
        report = migrate(
            gate, chosen, migrations, target=wanted, classes=classes, options=options, progress=progress,
            deadline=deadline, placeholders=db.placeholder_values(),
        )  # fmt: skip
        run_ended = clock()
        applied = [s.version for s in report.steps if s.status == "applied"]
        migration_slo = SloCheck("migration", spec.slo_migration, run_ended - run_started)
        if not applied or report.status not in ("ok", "denied"):
            note = "nothing applied: nothing to watch" if not applied else "the run failed: no watch"
            return WatchedRun(spec, migrate=report, slos=(migration_slo,), note=note)
        versions = ", ".join(str(v) for v in applied)
        notices = Notices(
            spec, env_vars, environment=environment, territory=territory, version=versions, since=run_started,
            tz=gate.policy.zone(territory), clock=clock, sleep=sleep,
        )  # fmt: skip
        outcome = watch_after(gate, spec, sources, notices, run_started=run_started, run_ended=run_ended, probes=probes)
        rollback_report = None
        rollback_slo = SloCheck("rollback", spec.slo_rollback, None)
        note = ""
        if outcome.verdict == "degraded" and spec.on_degraded == "rollback":
            to = _below(gate, db, applied)
            if isinstance(to, str):
                note = to
            else:
                started = clock()
                rollback_report = rollback(
                    gate, chosen, migrations, to=to, options=options, progress=progress,
                    placeholders=db.placeholder_values(),
                )  # fmt: skip
                rollback_slo = SloCheck("rollback", spec.slo_rollback, clock() - started)
        return finish(
            gate, outcome, notices, migrate=report, rollback=rollback_report, slos=(migration_slo, rollback_slo),
            note=note,
        )  # fmt: skip


def _epoch_clock(clock: Callable[[], datetime]) -> Callable[[], int]:
    def read() -> int:
        return to_ts(clock())

    return read


def _below(gate: Gate, db: Database, applied: Sequence[Version]) -> Version | str:
    """The version to roll back to so that exactly ``applied`` is undone; a message when
    something else was applied meanwhile (then nothing is undone automatically)."""
    from seasongate._gate import info

    report = info(gate, db.url, db.migrations, options=db.options, placeholders=db.placeholder_values())
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


def run_with_health(
    command: Sequence[str],
    request: RequestSpec | None = None,
    *,
    health: str | Path | HealthSpec,
    rollback_command: str | None,
    now: Callable[[], datetime],
    project: Project | None = None,
    dsn: str | None = None,
    environ: Mapping[str, str] | None = None,
    sleep: Callable[[float], None] = time.sleep,
    **fields: Unpack[CommandFields],
) -> WatchedRun:
    """``seasongate run --health FILE --rollback-cmd CMD -- COMMAND``: run the command through
    the gate, watch, and on *degraded* run ``rollback_command`` through the gate as a rollback.
    Any executor (Flyway, Liquibase, a deploy script) gets the same watch. The request and the
    project are given as for :func:`~seasongate.api.run`."""
    import shlex
    from dataclasses import replace

    from seasongate._gate import run_command
    from seasongate._health import Sources

    spec = load_health_file(health)
    undo = shlex.split(rollback_command) if rollback_command else []
    if spec.on_degraded == "rollback" and not undo:
        raise InputError(f"{spec.path} says on_degraded: rollback: give the undo command with --rollback-cmd")
    refuse_unknown(fields, CommandFields)
    stated = spec_of(request, fields)
    asked = stated.resolve()
    # The undo is judged as the rollback of the same migration; its duration is not the run's.
    undo_request = replace(stated, duration=None, operation="rollback").resolve()
    environment, territory = stated.environment, stated.territory
    env_vars = os.environ if environ is None else environ
    clock = _epoch_clock(now)
    with gated(project_of(project, fields, environment), now, environment, territory) as gate:
        sources = Sources.from_environment(spec, env_vars, dsn)
        probes = probes_before(spec, sources, environment=environment, territory=territory, at=clock())
        run_started = clock()
        outcome = run_command(gate, list(command), asked)
        run_ended = clock()
        migration_slo = SloCheck("migration", spec.slo_migration, run_ended - run_started)
        if not outcome.ran or outcome.exit_code != 0:
            note = "the command did not succeed: no watch"
            return WatchedRun(spec, command=outcome, slos=(migration_slo,), note=note)
        notices = Notices(
            spec, env_vars, environment=environment, territory=territory, version=str(asked.version or "*"),
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
