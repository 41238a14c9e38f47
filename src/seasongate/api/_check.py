"""The planning and gating commands: check, explain, slots, windows, validate.

One public function per command. Each takes the instant (``at``) as an argument; the CLI
reads the clock, nothing below it does.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING

from seasongate._errors import InputError
from seasongate._policy import Decision, OverrideGrant, Policy, Request, RuleCheck
from seasongate._time import parse_duration, to_ts
from seasongate._versions import parse_migration_ref

if TYPE_CHECKING:
    from seasongate._intervals import IntervalSet
    from seasongate._store import Store

BUNDLED = Path(__file__).resolve().parent.parent / "_bundled"


# -- finding and opening policies ----------------------------------------------------------------


def _policy_dirs(project_dir: Path) -> list[Path]:
    return [d for d in (project_dir / "policies", BUNDLED / "policies") if d.is_dir()]


def _environments_of(path: Path) -> list[str]:
    """The environments a policy file names (a file that cannot be read is reported)."""
    from seasongate._yaml import load_yaml

    data, _ = load_yaml(_relative(path))
    envs = data.get("environments") if isinstance(data, dict) else None
    return [str(e) for e in envs] if isinstance(envs, list) else []


def find_policy(policy: str | Path | None, environment: str | None, project_dir: Path | None = None) -> Path:
    """The policy file to use: the one given, else the project's (``policies/*.yaml``, then
    the bundled default) whose ``environments`` include ``environment``."""
    if policy is not None:
        path = Path(policy)
        if not path.is_file():
            raise InputError(f"policy file {policy} does not exist")
        return path
    project = project_dir or Path.cwd()
    seen: list[str] = []
    for directory in _policy_dirs(project):
        for candidate in sorted(directory.glob("*.yaml")):
            envs = _environments_of(candidate)
            seen.extend(envs)
            if environment is None or environment in envs:
                return _relative(candidate)
        if seen:
            break  # a project with its own policies does not fall back to the bundled ones
    if environment is None:
        raise InputError("no policy file found (looked in policies/ and the bundled defaults)")
    known = ", ".join(dict.fromkeys(seen)) or "none"
    raise InputError(f"no policy covers environment {environment!r} (known environments: {known}); pass --policy")


def _relative(path: Path) -> Path:
    try:
        return path.relative_to(Path.cwd())
    except ValueError:
        return path


def open_policy(policy: str | Path | Policy | None, environment: str | None, project_dir: Path | None = None) -> Policy:
    """A loaded policy (served from the expansion cache when nothing changed)."""
    if isinstance(policy, Policy):
        return policy
    from seasongate._policy._cache import load_policy_cached

    return load_policy_cached(find_policy(policy, environment, project_dir))


# -- requests --------------------------------------------------------------------------------


def build_request(
    *,
    environment: str,
    territory: str,
    migration: str | None = None,
    risk: str | None = None,
    duration: str | int | None = None,
    operation: str = "apply",
) -> Request:
    """A :class:`Request` from command-line style values.

    ``migration`` is a version (``V226``), a file name, or the path of a migration file whose
    ``-- seasongate: risk=… duration=…`` header supplies risk and duration when not given.
    """
    version = None
    description = None
    if migration is not None:  # "" is a mistake (an unset variable), never "no migration"
        version, description = parse_migration_ref(migration)
        path = Path(migration)
        if path.suffix == ".sql" and path.is_file():
            from seasongate._executor._files import read_script

            script, _ = read_script(path)
            if script is not None:
                risk = risk or script.risk
                if duration is None and script.duration is not None:
                    duration = script.duration
    seconds = None
    if duration is not None:
        seconds = duration if isinstance(duration, int) else parse_duration(duration)
    if risk is not None and risk not in ("low", "medium", "high"):
        raise InputError(f"unknown risk {risk!r} (low, medium or high)")
    return Request(environment, territory, version, risk, seconds, operation, description)


def _grants(store: Store | None, request: Request, at: datetime) -> list[OverrideGrant]:
    if store is None:
        return []
    return store.active_grants(request.environment, request.territory, at)


@contextmanager
def _opened(store: str | Store | None, project_dir: Path | None, *, use_store: bool) -> Iterator[Store | None]:
    """The store to consult (None with ``use_store=False``); closed afterwards unless the
    caller passed an open one."""
    if not use_store:
        yield None
        return
    opened = _open_store(store, project_dir)
    try:
        yield opened
    finally:
        if store is not opened:
            opened.close()


def _open_store(store: str | Store | None, project_dir: Path | None) -> Store:
    from seasongate._store import Store as StoreClass
    from seasongate._store import open_store

    if isinstance(store, StoreClass):
        return store
    return open_store(store, project_dir or Path.cwd())


# -- check / explain ---------------------------------------------------------------------------


def check(
    *,
    environment: str,
    territory: str,
    at: datetime,
    migration: str | None = None,
    risk: str | None = None,
    duration: str | int | None = None,
    operation: str = "apply",
    policy: str | Path | Policy | None = None,
    store: str | Store | None = None,
    project_dir: Path | None = None,
    use_store: bool = True,
    recorded_at: datetime | None = None,
) -> Decision:
    """May this migration run at ``at``? Consults the active overrides in the store and
    records the decision in the audit trail (``use_store=False`` skips both).

    The audit entry is stamped ``recorded_at`` (default ``at``): the real time when ``at``
    is a simulated instant."""
    loaded = open_policy(policy, environment, project_dir)
    request = build_request(
        environment=environment, territory=territory, migration=migration,
        risk=risk, duration=duration, operation=operation,
    )  # fmt: skip
    with _opened(store, project_dir, use_store=use_store) as opened:
        decision = loaded.evaluate(request, at, _grants(opened, request, at))
        if opened is not None:
            subject = f"{environment}/{territory}/{request.version or '*'}"
            opened.append_audit(opened.identity(), "decision", subject, decision.to_dict(), recorded_at or at)
    return decision


def explain(
    *,
    environment: str,
    territory: str,
    at: datetime,
    migration: str | None = None,
    risk: str | None = None,
    duration: str | int | None = None,
    operation: str = "apply",
    policy: str | Path | Policy | None = None,
    store: str | Store | None = None,
    project_dir: Path | None = None,
    use_store: bool = True,
) -> tuple[Decision, tuple[RuleCheck, ...]]:
    """The decision and, for every rule, whether it matched and why."""
    loaded = open_policy(policy, environment, project_dir)
    request = build_request(
        environment=environment, territory=territory, migration=migration,
        risk=risk, duration=duration, operation=operation,
    )  # fmt: skip
    with _opened(store, project_dir, use_store=use_store) as opened:
        grants = _grants(opened, request, at)
    return loaded.explain(request, at, grants)


# -- slots -----------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Slot:
    """A span of start times: any start from ``earliest`` to ``latest`` (inclusive) is
    allowed and the run finishes by ``finish_by``."""

    earliest: int
    latest: int
    finish_by: int
    clipped: bool = False  # the span goes on past the end of the search


@dataclass(frozen=True)
class SlotsResult:
    """The free slots for a request, with what was searched."""

    request: Request
    duration: int
    start: int
    end: int
    slots: tuple[Slot, ...]
    truncated: bool
    zone: object
    horizon_clipped: bool = False


def slots(
    *,
    environment: str,
    territory: str,
    duration: str | int,
    start: datetime,
    days: int = 60,
    limit: int = 10,
    migration: str | None = None,
    risk: str | None = None,
    operation: str = "apply",
    policy: str | Path | Policy | None = None,
    store: str | Store | None = None,
    project_dir: Path | None = None,
    use_store: bool = True,
) -> SlotsResult:
    """The next spans of start times at which the migration is allowed from start to finish."""
    if days < 1 or days > 3660:
        raise InputError(f"--days must be between 1 and 3660, got {days}")
    if limit < 1:
        raise InputError(f"--limit must be at least 1, got {limit}")
    loaded = open_policy(policy, environment, project_dir)
    request = build_request(
        environment=environment, territory=territory, migration=migration,
        risk=risk, duration=duration, operation=operation,
    )  # fmt: skip
    with _opened(store, project_dir, use_store=use_store) as opened:
        grants = _grants(opened, request, start)
    ts = to_ts(start)
    end = ts + days * 86400
    allowed, horizon, info = loaded.allowed_starts(request, ts, grants)
    if end > horizon:
        # Asking at the far end widens the expanded years to cover the whole search.
        loaded.allowed_starts(request, end - 1, grants)
        allowed, horizon, info = loaded.allowed_starts(request, ts, grants)
    stop = min(end, horizon)
    window = allowed.intersection(_span(ts, stop + 1))
    run = info.duration or 0
    found: list[Slot] = []
    for s, e in window:
        latest = e - 1
        clipped = e == stop + 1 and allowed.contains(stop + 1)
        found.append(Slot(s, latest, latest + run, clipped=clipped))
    return SlotsResult(
        request=request,
        duration=run,
        start=ts,
        end=end,
        slots=tuple(found[:limit]),
        truncated=len(found) > limit,
        zone=loaded.zone(territory),
        horizon_clipped=end > horizon,
    )


def _span(lo: int, hi: int) -> IntervalSet:
    from seasongate._intervals import IntervalSet

    return IntervalSet([lo], [hi]) if hi > lo else IntervalSet.empty()


__all__ = [
    "Slot",
    "SlotsResult",
    "build_request",
    "check",
    "explain",
    "find_policy",
    "open_policy",
    "slots",
]
