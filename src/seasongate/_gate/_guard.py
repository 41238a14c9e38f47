"""The gate as a Python API: ``check``, ``guard`` and ``wrap``.

    gate = Gate(policy, store, now=lambda: datetime.now(UTC),
                environment="production", territory="DE")
    decision = gate.check(migration="V226")             # a Decision; reads overrides
    with gate.guard(migration="V226", risk="high"):      # raises GateDenied when denied
        run_my_migration()                               # audited; a single-use override is spent
    executor = gate.wrap(my_executor)                    # re-checks before every .apply(m)

The clock is injected (``now``): the gate never reads the system clock.
"""

from __future__ import annotations

import inspect
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from datetime import datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any, Generic, TypeVar

from seasongate._errors import GateDenied, InputError
from seasongate._executor import MigrationScript
from seasongate._gate import _audit
from seasongate._policy import Decision, OverrideGrant, Request
from seasongate._time import from_ts, parse_duration, to_ts
from seasongate._versions import Version, parse_migration_ref
from seasongate._vocabulary import Operation

if TYPE_CHECKING:
    from seasongate._policy import Policy
    from seasongate._store import AuditEntry, Store

T = TypeVar("T")
Clock = Callable[[], datetime]
Duration = timedelta | str


def version_of(migration: Any) -> tuple[Version | None, str | None]:
    """The version (and description) of a version, file name, script or object with ``.version``."""
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
    found, description = version_of(version)
    return found, getattr(migration, "description", None) or description


def duration_seconds(duration: Duration | None) -> int | None:
    """Seconds of a ``timedelta`` or a duration with a unit (``"30m"``), by the one duration rule."""
    if duration is None:
        return None
    if isinstance(duration, timedelta):
        seconds = duration.total_seconds()
        if seconds != int(seconds):
            raise InputError(f"invalid duration {duration}: whole seconds only")
        return parse_duration(f"{int(seconds)}s")
    if not isinstance(duration, str):
        raise InputError(f"invalid duration {duration!r}: give a timedelta or a number with a unit, e.g. '30m'")
    return parse_duration(duration)


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


class GatedExecutor(Generic[T]):
    """``gate.wrap(executor)``: every ``apply(migration)`` is checked first (GateDenied when
    denied), audited after, and spends a single-use override; other attributes pass
    through to the wrapped executor. An executor whose ``apply`` takes ``verdict`` and
    ``override_id`` keywords (the PostgreSQL session does) is told them, to record."""

    def __init__(self, gate: Gate, executor: T, environment: str, territory: str) -> None:
        self._gate = gate
        self._executor = executor
        self._environment = environment
        self._territory = territory
        apply = getattr(executor, "apply", None)
        try:
            parameters: Mapping[str, Any] = inspect.signature(apply).parameters if callable(apply) else {}
        except (TypeError, ValueError):  # a builtin without a signature
            parameters = {}
        self._tells = "verdict" in parameters and "override_id" in parameters

    @property
    def wrapped(self) -> T:
        """The executor inside."""
        return self._executor

    def apply(self, migration: Any, *args: Any, **kwargs: Any) -> Any:
        """Check the gate for ``migration`` now, then call the executor's ``apply``."""
        with self._gate.guard(
            migration=migration,
            environment=self._environment,
            territory=self._territory,
            risk=getattr(migration, "risk", None),
            duration=_declared_duration(migration),
        ) as decision:
            if self._tells:
                kwargs.setdefault("verdict", decision.verdict)
                kwargs.setdefault("override_id", None if decision.override is None else decision.override.id)
            return self._executor.apply(migration, *args, **kwargs)  # type: ignore[attr-defined]

    def __getattr__(self, name: str) -> Any:
        return getattr(self._executor, name)


def _declared_duration(migration: Any) -> Duration | None:
    """A migration object's own duration: a timedelta, a string with a unit, or seconds (a
    script header's, already checked by the header rule)."""
    duration = getattr(migration, "duration", None)
    if isinstance(duration, int) and not isinstance(duration, bool):
        return timedelta(seconds=duration)
    if duration is None or isinstance(duration, (timedelta, str)):
        return duration
    raise InputError(f"{migration!r}: invalid duration {duration!r}")


class Gate:
    """The policy and the store behind every migration: check, guard, wrap.

    ``environment``/``territory`` are defaults for every call; ``now`` is the clock the gate
    judges by, called whenever no explicit ``at`` is given (once per migration in a run).
    ``record_clock`` (default: ``now``) is the real clock: it stamps every audit entry and
    every override consumption, while each entry's ``judged_at`` says which instant the gate
    judged (they differ only when a dry run is judged at another instant, ``--at``).
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

    def scope(self, environment: str | None = None, territory: str | None = None) -> tuple[str, str]:
        """The environment and territory of a call (the gate's defaults when not given)."""
        env = environment or self.environment
        terr = territory or self.territory
        if not env or not terr:
            raise InputError("the gate needs an environment and a territory (e.g. --env production --territory DE)")
        return env, terr

    def decide(self, request: Request, at: datetime | None = None, claimed: Sequence[OverrideGrant] = ()) -> Decision:
        """The policy's decision on ``request`` at ``at`` (default ``now()``) with the store's
        active overrides; ``claimed`` are single-use grants this run already spent and may go
        on using. Writes nothing."""
        moment = at if at is not None else self.now()
        to_ts(moment)  # refuses a naive datetime
        grants = [] if self.store is None else self.store.active_grants(request.environment, request.territory, moment)
        return self.policy.evaluate(request, moment, [*grants, *claimed])

    def audit(self, action: str, subject: str, payload: Mapping[str, Any]) -> AuditEntry | None:
        """Append an audit entry at the real time (None without a store)."""
        if self.store is None:
            return None
        return self.store.append_audit(self.actor(), action, subject, payload, self.recorded())

    def audit_all(self, entries: Sequence[tuple[str, str, Mapping[str, Any]]]) -> list[AuditEntry]:
        """Append ``(action, subject, payload)`` entries in order at the real time, in one store
        transaction where the store has one for it (none without a store)."""
        if self.store is None:
            return []
        return self.store.append_audits(self.actor(), entries, self.recorded())

    def claim(self, decision: Decision, subject: str) -> None:
        """Consume a single-use override *before* the run it allows: the first run that uses
        it spends it, whatever its outcome, and a concurrent second run is refused."""
        override = decision.override
        if self.store is not None and override is not None and override.single_use:
            self.store.consume(override.id, self.recorded(), subject, decision=decision.to_dict())

    # --- the Python API --------------------------------------------------------------------

    def check(
        self,
        *,
        migration: Any = None,
        environment: str | None = None,
        territory: str | None = None,
        risk: str | None = None,
        duration: Duration | None = None,
        operation: Operation = "apply",
        description: str | None = None,
        at: datetime | None = None,
    ) -> Decision:
        """May ``migration`` (a version, file name or migration object; None: anything) run
        at ``at`` (default ``now()``)? ``duration`` is a ``timedelta`` or a string with a unit
        (``"20m"``). Reads the store's active overrides; writes nothing."""
        env, terr = self.scope(environment, territory)
        version, from_name = version_of(migration)
        request = Request(env, terr, version, risk, duration_seconds(duration), operation, description or from_name)
        return self.decide(request, at)

    @contextmanager
    def guard(
        self,
        *,
        migration: Any = None,
        environment: str | None = None,
        territory: str | None = None,
        risk: str | None = None,
        duration: Duration | None = None,
        operation: Operation = "apply",
        at: datetime | None = None,
    ) -> Iterator[Decision]:
        """Run the ``with`` block only if the gate allows it now; raises
        :class:`~seasongate._errors.GateDenied` (with ``.decision``) otherwise.

        Audited: ``migration.start`` before the block, ``migration.apply`` (or ``.rollback``)
        with its status (done or failed, with the error) after; a single-use override is
        spent as the block starts.
        """
        env, terr = self.scope(environment, territory)
        decision = self.check(
            migration=migration, environment=env, territory=terr, risk=risk, duration=duration,
            operation=operation, at=at,
        )  # fmt: skip
        version = decision.migration.version
        subject = _audit.subject(env, terr, version)
        if not decision.allowed:
            self.audit(_audit.DECISION, subject, decision.to_dict())
            raise GateDenied(denial_message(decision), decision)
        script = migration if isinstance(migration, MigrationScript) else None

        def payload(status: str, **extra: Any) -> dict[str, Any]:
            return _audit.migration_payload(
                decision, environment=env, territory=terr, version=version, operation=operation,
                status=status, script=script, **extra,
            )  # fmt: skip

        self.claim(decision, subject)
        start = self.audit(_audit.START, subject, payload("started"))
        start_seq = None if start is None else start.seq
        started = time.perf_counter()
        try:
            yield decision
        except BaseException as exc:
            ms = round((time.perf_counter() - started) * 1000)
            self.audit(
                _audit.OUTCOME[operation], subject,
                payload("failed", execution_ms=ms, error=f"{exc!r}", start_seq=start_seq),
            )  # fmt: skip
            raise
        ms = round((time.perf_counter() - started) * 1000)
        self.audit(_audit.OUTCOME[operation], subject, payload("done", execution_ms=ms, start_seq=start_seq))

    def wrap(self, executor: T, *, environment: str | None = None, territory: str | None = None) -> GatedExecutor[T]:
        """An executor whose ``apply(migration)`` is gated (see :class:`GatedExecutor`)."""
        env, terr = self.scope(environment, territory)
        return GatedExecutor(self, executor, env, terr)
