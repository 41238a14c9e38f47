"""The gating commands: ``check`` and ``explain`` (and, until they move, windows and validate).

Each takes the instant (``at``) as an argument; the CLI reads the clock, nothing below it
does. The request travels as one :class:`~seasongate.api._request.RequestSpec` and the
policy and store as one :class:`~seasongate.api._project.Project` (or, for Python callers,
their fields as keywords).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Unpack

from seasongate._errors import ConfigError, InputError
from seasongate._policy import Decision, RuleCheck
from seasongate._time import local_midnight_ts
from seasongate.api._project import (
    Project,
    find_policy,
    open_policy,
    open_store,
    policy_files,
    policy_folder,
    project_of,
)
from seasongate.api._project import relative as _relative
from seasongate.api._request import CommandFields, RequestSpec, bounded_instant, build_request, spec_of

if TYPE_CHECKING:
    from seasongate._calendar import Calendar, Period

# Names other modules imported from here before the split; they live in api._project now.
_open_store = open_store


def _policy_dirs(project_dir: Path) -> list[Path]:
    return [policy_folder(project_dir)[0]]


# -- check / explain ---------------------------------------------------------------------------


def check(
    request: RequestSpec | None = None,
    *,
    at: datetime,
    project: Project | None = None,
    recorded_at: datetime | None = None,
    **fields: Unpack[CommandFields],
) -> Decision:
    """May this migration run at ``at``? Consults the active overrides in the store and
    records the decision in the audit trail (``use_store=False`` skips both).

    The request is a :class:`RequestSpec` (or its fields as keywords: ``environment``,
    ``territory``, ``migration``, ``migration_class``, ``risk``, ``duration``,
    ``operation``); the project a :class:`Project` (or ``policy``, ``store``,
    ``project_dir``, ``use_store``). The audit entry is stamped ``recorded_at`` (default
    ``at``): the real time when ``at`` is a simulated instant."""
    spec = spec_of(request, fields)
    bounded_instant(at)
    opened = project_of(project, fields, spec.environment)
    asked = spec.resolve()
    with opened.store() as store:
        decision = opened.policy.evaluate(asked, at, opened.grants(store, asked, at))
        if store is not None:
            subject = f"{spec.environment}/{spec.territory}/{asked.version or '*'}"
            store.append_audit(store.identity(), "decision", subject, decision.to_dict(), recorded_at or at)
    return decision


def explain(
    request: RequestSpec | None = None,
    *,
    at: datetime,
    project: Project | None = None,
    **fields: Unpack[CommandFields],
) -> tuple[Decision, tuple[RuleCheck, ...]]:
    """The decision and, for every rule, whether it matched and why (arguments as
    :func:`check`; nothing is recorded)."""
    spec = spec_of(request, fields)
    bounded_instant(at)
    opened = project_of(project, fields, spec.environment)
    asked = spec.resolve()
    with opened.store() as store:
        grants = opened.grants(store, asked, at)
    return opened.policy.explain(asked, at, grants)


# -- windows ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class WindowsResult:
    """Concrete periods of one or more calendars over a date range."""

    periods: tuple[Period, ...]
    calendars: tuple[Calendar, ...]
    start: date
    end: date  # exclusive


def windows(
    *,
    start: date,
    end: date,
    calendars: Sequence[str | Path] = (),
    territory: str | None = None,
    kinds: Sequence[str] = (),
    project_dir: Path | None = None,
) -> WindowsResult:
    """The periods of the calendars (or of a territory's calendar in the project's policy)
    that overlap ``[start, end)``, sorted by start."""
    from seasongate._calendar import KINDS, Selector, build_index, load_calendar

    if end <= start:
        raise InputError(f"the range is empty: it ends ({end - timedelta(days=1)}, inclusive) before --from {start}")
    for kind in kinds:
        if kind not in KINDS:
            raise InputError(f"unknown kind {kind!r} (known: {', '.join(KINDS)})")
    paths = [Path(c) for c in calendars]
    if not paths:
        paths = [_territory_calendar(territory or "DE", project_dir or Path.cwd())]
    loaded: list[Calendar] = []
    for path in paths:
        if not path.is_file():
            raise InputError(f"calendar file {path} does not exist")
        loaded.append(load_calendar(path))
    selector = Selector.of(kind=kinds)
    found: list[Period] = []
    for calendar in loaded:
        index = build_index(calendar, start.year, (end - timedelta(days=1)).year)
        lo = local_midnight_ts(start, calendar.tz)
        hi = local_midnight_ts(end, calendar.tz)
        found.extend(index.overlapping(lo, hi, selector))
    found.sort(key=lambda p: (p.start, p.end, p.calendar, p.name))
    return WindowsResult(tuple(found), tuple(loaded), start, end)


def _territory_calendar(territory: str, project_dir: Path) -> Path:
    from seasongate._policy import policy_calendar_paths

    known: list[str] = []
    for directory in _policy_dirs(project_dir):
        for candidate in sorted(directory.glob("*.yaml")):
            try:
                mapping = policy_calendar_paths(candidate)
            except ConfigError:
                continue
            if territory in mapping:
                return _relative(mapping[territory].resolve())
            known.extend(mapping)
        if known:
            break
    raise InputError(f"unknown territory {territory!r} (known: {', '.join(dict.fromkeys(known)) or 'none'})")


# -- validate --------------------------------------------------------------------------------


@dataclass
class ValidationReport:
    """Problems found in calendar and policy files: errors fail, warnings inform."""

    files: list[str] = field(default_factory=list)
    errors: list[ConfigError] = field(default_factory=list)
    warnings: list[ConfigError] = field(default_factory=list)

    def ok(self, *, strict: bool = False) -> bool:
        """No errors (and, when ``strict``, no warnings)."""
        return not self.errors and not (strict and self.warnings)


def validate(paths: Sequence[str | Path] = (), *, at: datetime, project_dir: Path | None = None) -> ValidationReport:
    """Check calendar and policy files (default: the project's ``calendars/`` and
    ``policies/``). A file is a policy when it has ``rules`` or ``territories``."""
    from seasongate.api._validate import validate_files

    project = project_dir or Path.cwd()
    files: list[Path] = []
    if paths:
        for raw in paths:
            path = Path(raw)
            if path.is_dir():
                files.extend(sorted(path.glob("*.yaml")) + sorted(path.glob("*.yml")))
            elif path.exists():
                files.append(path)
            else:
                raise InputError(f"{raw} does not exist")
    else:
        for sub in ("calendars", "policies"):
            directory = project / sub
            if directory.is_dir():
                files.extend(policy_files(directory))
        if not files:
            raise InputError("nothing to validate: no calendars/ or policies/ here; name files or folders")
    report = validate_files([_relative(f) for f in files], at=at)
    if not paths and (project / "policies").is_dir():
        # What policy discovery refuses (two files for one environment...) fails validate too.
        from seasongate.api._project import policy_problems

        known = {p.render() for p in report.errors}
        report.errors.extend(p for p in policy_problems(project) if p.render() not in known)
    return report


__all__ = [
    "ValidationReport",
    "WindowsResult",
    "build_request",
    "check",
    "explain",
    "find_policy",
    "open_policy",
    "validate",
    "windows",
]
