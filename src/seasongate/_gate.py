"""The gate around executors: ask the policy before each migration, audit what ran.

    gate = Gate(policy, store, now=lambda: datetime.now(UTC),
                environment="production", territory="DE")
    decision = gate.check(migration="V226")             # a Decision; reads overrides
    with gate.guard(migration="V226", risk="high"):      # raises GateDenied when denied
        run_my_migration()                               # audited; a single-use override is spent
    executor = gate.wrap(my_executor)                    # re-checks before every .apply(m)

``migrate``, ``rollback``, ``info`` and ``run_command`` orchestrate the PostgreSQL executor
(``seasongate._executor``) and a child process with the same gate. The clock is injected
(``now``) and called once per migration, so a long run is judged at each migration's start.
"""

from __future__ import annotations

import os
import signal
import subprocess
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from types import FrameType
from typing import TYPE_CHECKING, Any, Generic, TypeVar

from seasongate._errors import GateDenied, InputError
from seasongate._executor import (
    ExecutorOptions,
    GateAnswer,
    GateQuery,
    MigrateReport,
    MigrationScript,
    Plan,
    PostgresSession,
    StepResult,
    build_plan,
    class_ranges,
    gate_query,
    run_migrations,
    run_rollback,
    scan,
)
from seasongate._policy._decision import Decision, OverrideGrant, Request
from seasongate._time import from_ts, parse_duration, to_ts
from seasongate._versions import Version, parse_migration_ref

if TYPE_CHECKING:
    from seasongate._policy import Policy
    from seasongate._store import Store

T = TypeVar("T")
Clock = Callable[[], datetime]
Progress = Callable[[StepResult], None]


def _version_of(migration: Any) -> tuple[Version | None, str | None]:
    if migration is None:
        return None, None
    if isinstance(migration, Version):
        return migration, None
    if isinstance(migration, MigrationScript):
        return migration.version, migration.description
    if isinstance(migration, (str, Path)):
        return parse_migration_ref(str(migration))
    version = getattr(migration, "version", None)
    if version is None:
        raise InputError(
            f"cannot tell the version of {migration!r}: pass a version such as "
            "V226, a file name, or an object with a .version"
        )
    found, description = _version_of(version)
    return found, getattr(migration, "description", None) or description


def _seconds(duration: int | str | None) -> int | None:
    if duration is None:
        return None
    return duration if isinstance(duration, int) else parse_duration(duration)


def denial_message(decision: Decision) -> str:
    """One line: what was denied, by which rules, and when it could run."""
    mig = decision.migration
    what = str(mig.version) if mig.version is not None else "a migration"
    if mig.operation == "rollback":
        what = f"rollback of {what}"
    rules = "; ".join(f"{r.rule}: {r.message}" for r in decision.denying) or "no rule allows it"
    when = ""
    if decision.next_allowed_at is not None:
        when = f" (next allowed {from_ts(decision.next_allowed_at, decision.zone).isoformat()})"
    return f"{what} may not run in {decision.environment}/{decision.territory} now: {rules}{when}"


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

    def to_dict(self) -> dict[str, Any]:
        """JSON form."""
        return {
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


@dataclass(frozen=True, slots=True)
class RunOutcome:
    """``seasongate run``: the decision and, when it allowed, how the command ended."""

    decision: Decision
    ran: bool
    exit_code: int
    seconds: float = 0.0
    signal: int | None = None  # the signal that ended the command, if one did
    command: tuple[str, ...] = field(default=())


class PolicyHook:
    """A :class:`~seasongate._executor.GateHook` backed by a policy and a store.

    ``ask`` evaluates the request at ``now()`` with the store's active grants; ``record``
    writes the audit entry (``migration.apply`` / ``migration.rollback``, or ``decision`` for
    a denial); a single-use override is claimed as the run starts.
    """

    def __init__(
        self, gate: Gate, environment: str, territory: str, *, audit: bool = True, database: str | None = None
    ) -> None:
        self.gate = gate
        self.environment = environment
        self.territory = territory
        self.audit = audit
        self.database = database
        self._decisions: dict[tuple[Version, str], Decision] = {}
        self._claimed: list[OverrideGrant] = []

    def ask(self, query: GateQuery) -> GateAnswer:
        """Evaluate the policy for this script now."""
        decision = self.gate.check(
            environment=self.environment,
            territory=self.territory,
            migration=query.version,
            risk=query.risk,
            duration=query.duration,
            operation=query.operation,
            description=query.migration.description,
            claimed=self._claimed,
        )
        self._decisions[(query.version, query.operation)] = decision
        override = decision.override
        if self.audit and decision.allowed and override is not None and override not in self._claimed:
            # Spent as the run's first script starts, so no other run can use it; this run
            # goes on using it for the rest of its scripts.
            self.gate._claim(decision, f"{self.environment}/{self.territory}/{query.version}")
            if override.single_use:
                self._claimed.append(override)
        return answer_of(decision)

    def record(self, query: GateQuery, answer: GateAnswer, step: StepResult) -> None:
        """Audit the step (a single-use override was already claimed by :meth:`ask`)."""
        store = self.gate.store
        if store is None or not self.audit:
            return
        at = self.gate.recorded()
        subject = f"{self.environment}/{self.territory}/{query.version}"
        decision = self._decisions.get((query.version, query.operation))
        if step.status == "denied":
            payload = decision.to_dict() if decision is not None else {}
            store.append_audit(self.gate.actor(), "decision", subject, payload, at)
            return
        action = "migration.rollback" if query.operation == "rollback" else "migration.apply"
        payload = {
            "environment": self.environment,
            "territory": self.territory,
            "version": str(query.version),
            "script": step.script,
            "checksum": (query.script or query.migration).checksum,
            "sha256": (query.script or query.migration).sha256,
            "status": step.status,
            "verdict": step.verdict,
            "override_id": step.override_id,
            "execution_ms": None if step.seconds is None else round(step.seconds * 1000),
            "installed_rank": step.installed_rank,
            "error": step.error,
            "database": self.database,
        }
        store.append_audit(self.gate.actor(), action, subject, payload, at)


class GatedExecutor(Generic[T]):
    """``gate.wrap(executor)``: every ``apply(migration)`` is checked first (GateDenied when
    denied), audited after, and spends a single-use override; other attributes pass
    through to the wrapped executor."""

    def __init__(self, gate: Gate, executor: T, environment: str, territory: str) -> None:
        self._gate = gate
        self._executor = executor
        self._environment = environment
        self._territory = territory

    @property
    def wrapped(self) -> T:
        """The executor inside."""
        return self._executor

    def apply(self, migration: Any, *args: Any, **kwargs: Any) -> Any:
        """Check the gate for ``migration`` now, then call the executor's ``apply``."""
        risk = getattr(migration, "risk", None)
        duration = getattr(migration, "duration", None)
        with self._gate.guard(
            migration=migration, environment=self._environment, territory=self._territory, risk=risk, duration=duration
        ) as decision:
            if isinstance(self._executor, PostgresSession):
                kwargs.setdefault("verdict", decision.verdict)
                if decision.override is not None:
                    kwargs.setdefault("override_id", decision.override.id)
            return self._executor.apply(migration, *args, **kwargs)  # type: ignore[attr-defined]

    def __getattr__(self, name: str) -> Any:
        return getattr(self._executor, name)


class Gate:
    """The policy and the store behind every migration: check, guard, wrap, and run them.

    ``environment``/``territory`` are defaults for every call; ``now`` is the clock the gate
    judges by, called whenever no explicit ``at`` is given (once per migration in a run).
    ``record_clock`` stamps the audit entries (default: ``now``); when a run is judged at a
    simulated instant (``--at``) it stays the real clock, so the trail says when things
    really happened while each decision says which instant it judged.
    """

    def __init__(
        self,
        policy: Policy,
        store: Store | None = None,
        *,
        now: Clock,
        record_clock: Clock | None = None,
        environment: str | None = None,
        territory: str | None = None,
        actor: str | None = None,
    ) -> None:
        self.policy = policy
        self.store = store
        self.now = now
        self.recorded = record_clock or now
        self.environment = environment
        self.territory = territory
        self._actor = actor

    def actor(self) -> str:
        """Who acts: given, else the store's identity, else the OS user."""
        if self._actor is None:
            if self.store is not None:
                self._actor = self.store.identity()
            else:
                import getpass

                self._actor = getpass.getuser()
        return self._actor

    def _scope(self, environment: str | None, territory: str | None) -> tuple[str, str]:
        env = environment or self.environment
        terr = territory or self.territory
        if not env or not terr:
            raise InputError("the gate needs an environment and a territory (e.g. --env production --territory DE)")
        return env, terr

    # --- the Python API --------------------------------------------------------------------

    def check(
        self,
        *,
        migration: Any = None,
        environment: str | None = None,
        territory: str | None = None,
        risk: str | None = None,
        duration: int | str | None = None,
        operation: str = "apply",
        description: str | None = None,
        at: datetime | None = None,
        claimed: Sequence[OverrideGrant] = (),
    ) -> Decision:
        """May ``migration`` (a version, file name or migration object; None: anything) run
        at ``at`` (default ``now()``)? Reads the store's active overrides; writes nothing.
        ``claimed`` are single-use grants this run already spent and may go on using."""
        env, terr = self._scope(environment, territory)
        version, from_name = _version_of(migration)
        moment = at if at is not None else self.now()
        to_ts(moment)  # refuses a naive datetime
        request = Request(env, terr, version, risk, _seconds(duration), operation, description or from_name)
        grants = [] if self.store is None else self.store.active_grants(env, terr, moment)
        return self.policy.evaluate(request, moment, [*grants, *claimed])

    @contextmanager
    def guard(
        self,
        *,
        migration: Any = None,
        environment: str | None = None,
        territory: str | None = None,
        risk: str | None = None,
        duration: int | str | None = None,
        operation: str = "apply",
        at: datetime | None = None,
    ) -> Iterator[Decision]:
        """Run the ``with`` block only if the gate allows it now; raises
        :class:`~seasongate._errors.GateDenied` (with ``.decision``) otherwise.

        The outcome is audited (``migration.apply``/``migration.rollback`` with success or
        the error); a single-use override is spent as the block starts.
        """
        env, terr = self._scope(environment, territory)
        moment = at if at is not None else self.now()
        decision = self.check(
            migration=migration,
            environment=env,
            territory=terr,
            risk=risk,
            duration=duration,
            operation=operation,
            at=moment,
        )
        version = decision.migration.version
        subject = f"{env}/{terr}/{version or '*'}"
        if not decision.allowed:
            if self.store is not None:
                self.store.append_audit(self.actor(), "decision", subject, decision.to_dict(), self.recorded())
            raise GateDenied(denial_message(decision), decision)
        action = "migration.rollback" if operation == "rollback" else "migration.apply"
        self._claim(decision, subject)
        started = time.perf_counter()
        try:
            yield decision
        except BaseException as exc:
            self._audit_outcome(action, subject, decision, started, error=f"{exc!r}")
            raise
        self._audit_outcome(action, subject, decision, started, error=None)

    def _audit_outcome(
        self, action: str, subject: str, decision: Decision, started: float, *, error: str | None
    ) -> None:
        if self.store is None:
            return
        at = self.recorded()
        override = decision.override
        payload = {
            "environment": decision.environment,
            "territory": decision.territory,
            "version": None if decision.migration.version is None else str(decision.migration.version),
            "status": "failed" if error else "done",
            "verdict": decision.verdict,
            "override_id": override.id if override else None,
            "execution_ms": round((time.perf_counter() - started) * 1000),
            "error": error,
        }
        self.store.append_audit(self.actor(), action, subject, payload, at)

    def _claim(self, decision: Decision, subject: str) -> None:
        """Consume a single-use override *before* the run it allows: the first run that uses
        it spends it, whatever its outcome, and a concurrent second run is refused."""
        override = decision.override
        if self.store is not None and override is not None and override.single_use:
            self.store.consume(override.id, self.now(), subject)

    def wrap(self, executor: T, *, environment: str | None = None, territory: str | None = None) -> GatedExecutor[T]:
        """An executor whose ``apply(migration)`` is gated (see :class:`GatedExecutor`)."""
        env, terr = self._scope(environment, territory)
        return GatedExecutor(self, executor, env, terr)

    def hook(
        self,
        *,
        environment: str | None = None,
        territory: str | None = None,
        audit: bool = True,
        database: str | None = None,
    ) -> PolicyHook:
        """The executor callback for one environment and territory."""
        env, terr = self._scope(environment, territory)
        return PolicyHook(self, env, terr, audit=audit, database=database)

    # --- orchestration ----------------------------------------------------------------------

    def _folder(self, migrations: Path) -> Any:
        return scan(migrations, classes=class_ranges(self.policy.migration_classes))

    def _plan(
        self,
        session: PostgresSession,
        migrations: Path,
        *,
        target: Version | None,
        classes: Sequence[str] | None,
        retry_incomplete: bool,
        scope: tuple[str, str] | None = None,
    ) -> Plan:
        folder = self._folder(migrations)
        if classes:
            known = {c.name for c in self.policy.migration_classes}
            unknown = sorted(set(classes) - known)
            if unknown:
                raise InputError(f"unknown migration class {', '.join(unknown)} (known: {', '.join(sorted(known))})")
        plan = build_plan(folder, session.history(), target=target, retry_incomplete=retry_incomplete)
        pending = plan.pending
        if classes:
            wanted = set(classes)
            pending = tuple(m for m in pending if self.policy.classify(m.version) in wanted)
        elif scope is not None:
            # Classes the policy never allows here (test data in production) are left out,
            # as Flyway leaves out locations an environment does not configure.
            closed = self.policy.closed_classes(*scope)
            pending = tuple(m for m in pending if self.policy.classify(m.version) not in closed)
        problems = list(plan.problems)
        for script in pending:
            if self.policy.classify(script.version) is None:
                ranges = ", ".join(f"{c.name} {c.describe()}" for c in self.policy.migration_classes)
                problems.append(f"{script.name}: {script.version} is in no migration class of the policy ({ranges})")
        return Plan(plan.folder, plan.rows, plan.entries, pending, plan.applied, tuple(problems))

    def migrate(
        self,
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
    ) -> MigrateReport:
        """Validate the history, then apply the pending migrations (up to ``target``, of
        ``classes`` only when given), each gated at its own start. Raises ValidationError,
        LockBusy or MigrationError before anything runs; returns the report otherwise."""
        env, terr = self._scope(environment, territory)
        session = PostgresSession(dsn, options)
        session.open(lock=not dry_run, create=not dry_run)
        try:
            plan = self._plan(
                session, migrations, target=target, classes=classes, retry_incomplete=retry_incomplete,
                scope=(env, terr),
            )  # fmt: skip
            plan.check()
            hook = self.hook(environment=env, territory=terr, audit=not dry_run, database=_database_name(dsn))
            return run_migrations(None if dry_run else session, plan, hook, dry_run=dry_run, progress=progress)
        finally:
            session.close()

    def rollback(
        self,
        dsn: str,
        migrations: Path,
        *,
        to: Version,
        environment: str | None = None,
        territory: str | None = None,
        dry_run: bool = False,
        retry_incomplete: bool = False,
        options: ExecutorOptions | None = None,
        progress: Progress | None = None,
    ) -> MigrateReport:
        """Run the undo scripts of the applied migrations above ``to``, highest first, each
        gated as ``operation="rollback"``."""
        env, terr = self._scope(environment, territory)
        session = PostgresSession(dsn, options)
        session.open(lock=not dry_run, create=not dry_run)
        try:
            plan = self._plan(session, migrations, target=None, classes=None, retry_incomplete=retry_incomplete)
            plan.check()
            hook = self.hook(environment=env, territory=terr, audit=not dry_run, database=_database_name(dsn))
            return run_rollback(None if dry_run else session, plan, hook, to=to, dry_run=dry_run, progress=progress)
        finally:
            session.close()

    def info(
        self,
        dsn: str,
        migrations: Path,
        *,
        environment: str | None = None,
        territory: str | None = None,
        classes: Sequence[str] | None = None,
        options: ExecutorOptions | None = None,
    ) -> InfoReport:
        """Every migration with its state, and the gate's verdict now for pending ones."""
        env, terr = self._scope(environment, territory)
        at = self.now()
        with PostgresSession(dsn, options).open(lock=False, create=False) as session:
            plan = self._plan(
                session, migrations, target=None, classes=classes, retry_incomplete=False, scope=(env, terr)
            )
        pending = {m.version for m in plan.pending}
        closed = self.policy.closed_classes(env, terr) if not classes else frozenset()
        rows: list[InfoRow] = []
        hook = self.hook(environment=env, territory=terr, audit=False)
        for entry in plan.entries:
            verdict = reason = None
            next_at = None
            state = entry.state
            if entry.version in pending and entry.script is not None:
                answer = hook.ask(gate_query(plan, entry.script, "apply"))
                verdict, reason, next_at = answer.verdict, answer.reason, answer.next_allowed_at
            elif state == "pending" and self.policy.classify(entry.version) in closed:
                state = "excluded"
                reason = f"class {self.policy.classify(entry.version)} never runs in {env}"
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
                    entry.version in plan.folder.undo,
                )
            )
        return InfoReport(tuple(rows), plan.problems, at, env, terr, self.policy.zone(terr))

    def run_command(
        self,
        argv: Sequence[str],
        *,
        migration: Any = None,
        environment: str | None = None,
        territory: str | None = None,
        risk: str | None = None,
        duration: int | str | None = None,
        cwd: Path | None = None,
    ) -> RunOutcome:
        """Run ``argv`` if the gate allows it now (its output passes through); SIGTERM,
        SIGINT and SIGHUP reach the child; the outcome is audited (action ``run``)."""
        if not argv:
            raise InputError("no command given: seasongate run ... -- COMMAND ARGS")
        env, terr = self._scope(environment, territory)
        at = self.now()
        decision = self.check(migration=migration, environment=env, territory=terr, risk=risk, duration=duration, at=at)
        version = decision.migration.version
        subject = f"{env}/{terr}/{version or '*'}"
        command = tuple(argv)
        payload: dict[str, Any]
        if not decision.allowed:
            if self.store is not None:
                payload = {"command": list(command), "outcome": "denied", "decision": decision.to_dict()}
                self.store.append_audit(self.actor(), "run", subject, payload, self.recorded())
            return RunOutcome(decision, ran=False, exit_code=1, command=command)
        self._claim(decision, subject)
        started = time.perf_counter()
        try:
            code, sig = _run_child(command, cwd)
        except OSError as exc:
            if self.store is not None:
                payload = {"command": list(command), "outcome": "error", "error": str(exc)}
                self.store.append_audit(self.actor(), "run", subject, payload, self.recorded())
            raise InputError(f"cannot run {command[0]!r}: {exc.strerror or exc}") from exc
        seconds = time.perf_counter() - started
        if self.store is not None:
            override = decision.override
            payload = {
                "command": list(command),
                "outcome": "succeeded" if code == 0 else "failed",
                "exit_code": code,
                "signal": sig,
                "seconds": round(seconds, 3),
                "verdict": decision.verdict,
                "override_id": override.id if override else None,
            }
            self.store.append_audit(self.actor(), "run", subject, payload, self.recorded())
        return RunOutcome(decision, ran=True, exit_code=code, seconds=seconds, signal=sig, command=command)


_FORWARDED = ("SIGTERM", "SIGINT", "SIGHUP")


def _run_child(command: tuple[str, ...], cwd: Path | None) -> tuple[int, int | None]:
    """Run the child with inherited stdio, forwarding signals; (exit code, signal)."""
    proc = subprocess.Popen(list(command), cwd=cwd)
    previous: dict[int, Any] = {}
    if threading.current_thread() is threading.main_thread():
        terminal_sigint = _terminal_foreground()

        def forward(signum: int, frame: FrameType | None) -> None:
            if signum == signal.SIGINT and terminal_sigint:
                return  # the terminal sent Ctrl-C to the whole process group already
            if proc.poll() is None:
                proc.send_signal(signum)

        for name in _FORWARDED:
            sig = getattr(signal, name, None)
            if sig is not None:
                previous[sig] = signal.signal(sig, forward)
    try:
        code = proc.wait()
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)
    if code < 0:
        return 128 - code, -code
    return code, None


def _terminal_foreground() -> bool:
    try:
        return os.isatty(0) and os.tcgetpgrp(0) == os.getpgrp()
    except OSError:
        return False


def _database_name(dsn: str) -> str | None:
    try:
        from psycopg.conninfo import conninfo_to_dict

        info = conninfo_to_dict(dsn)
    except Exception:  # a DSN psycopg cannot parse fails later, with a better message
        return None
    name = info.get("dbname")
    host = info.get("host")
    return f"{host or 'localhost'}/{name}" if name else None


__all__ = [
    "Gate",
    "GatedExecutor",
    "InfoReport",
    "InfoRow",
    "PolicyHook",
    "RunOutcome",
    "answer_of",
    "denial_message",
]
