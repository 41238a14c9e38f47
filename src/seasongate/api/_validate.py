"""``seasongate validate``: every problem of calendar and policy files, located."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from itertools import pairwise
from pathlib import Path
from typing import TYPE_CHECKING

from seasongate._errors import ConfigError, ConfigErrors, InputError, Location, SeasongateError

if TYPE_CHECKING:
    from seasongate._calendar import Calendar, Period
    from seasongate._policy import Policy


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
    ``policies/``). A file is a policy when it has ``rules``, ``territories`` or
    ``environments``."""
    from seasongate.api._check import _relative

    project = project_dir or Path.cwd()
    files: list[Path] = []
    if paths:
        for raw in paths:
            path = Path(raw)
            if path.is_dir():
                files.extend(sorted(path.glob("*.yaml")) + sorted(path.glob("*.yml")))
            elif path.exists() or path.is_symlink():
                files.append(path)  # not a regular file (a FIFO, a device): the reader says so
            else:
                raise InputError(f"{raw} does not exist")
    else:
        for sub in ("calendars", "policies"):
            directory = project / sub
            if directory.is_dir():
                files.extend(sorted(directory.glob("*.yaml")) + sorted(directory.glob("*.yml")))
        if not files:
            raise InputError("nothing to validate: no calendars/ or policies/ here; name files or folders")
    report = validate_files([_relative(f) for f in files], at=at)
    if not paths and (project / "policies").is_dir():
        # What policy discovery refuses (two files claiming one environment...) fails here too.
        from seasongate.api._project import policy_problems

        known = {p.render() for p in report.errors}
        report.errors.extend(p for p in policy_problems(project) if p.render() not in known)
    return report


def _is_policy(path: Path) -> bool:
    """Whether the file looks like a policy; a file that cannot be read or parsed is loaded as a
    calendar, whose loader reports the problem with its location."""
    from seasongate._yaml import load_yaml

    try:
        data, _ = load_yaml(path)
    except ConfigError:
        return False
    return isinstance(data, dict) and bool({"rules", "territories", "environments"} & set(data))


def _flatten(exc: ConfigError) -> list[ConfigError]:
    return list(exc.problems) if isinstance(exc, ConfigErrors) else [exc]


def _warning(source: Location | str, field: str, message: str) -> ConfigError:
    if not isinstance(source, Location):  # a policy rule's "path:line" until it carries a Location
        path, _, line = source.rpartition(":")
        source = Location(path, int(line) if line.isdigit() else 0, 1)
    return ConfigError(
        message, path=source.path, line=source.line, column=source.column, field=field, severity="warning"
    )


def validate_files(files: Sequence[Path], *, at: datetime) -> ValidationReport:
    """Load each file as a calendar or a policy; collect errors and warnings."""
    from seasongate._calendar import load_calendar
    from seasongate._policy import load_policy

    report = ValidationReport()
    seen: set[tuple[str, int, int, str, str]] = set()

    def add(target: list[ConfigError], problem: ConfigError) -> None:
        key = (problem.path, problem.line, problem.column, problem.field, problem.message)
        if key not in seen:
            seen.add(key)
            target.append(problem)

    for path in files:
        report.files.append(str(path))
        try:
            if _is_policy(path):
                policy = load_policy(path)
                for warning in _policy_warnings(policy, at):
                    add(report.warnings, warning)
            else:
                calendar = load_calendar(path)
                for warning in _calendar_warnings(calendar, at):
                    add(report.warnings, warning)
        except ConfigError as exc:
            for problem in _flatten(exc):
                add(report.errors, problem)
        except SeasongateError as exc:
            add(report.errors, ConfigError(str(exc), path=str(path)))
    return report


def _calendar_warnings(calendar: Calendar, at: datetime) -> list[ConfigError]:
    year = at.year
    periods = calendar.expand(year, min(year + 4, 2100))
    out: list[ConfigError] = []
    produced = {p.name for p in periods} | {p.source for p in periods}
    for rule in calendar.rules:
        if rule.name not in produced and rule.source not in produced:
            out.append(_warning(rule.source, f"periods.{rule.name}", f"no occurrence in {year}-{year + 4}"))
    # Overlaps between different rules of the same kind (holidays excluded: they are days).
    by_kind: dict[str, list[Period]] = {}
    for p in periods:
        if "holiday" not in p.tags:
            by_kind.setdefault(p.kind, []).append(p)
    reported: set[tuple[str, str]] = set()
    for kind, items in by_kind.items():
        items.sort(key=lambda p: p.start)
        for a, b in pairwise(items):
            if a.name != b.name and b.start < a.end and (a.name, b.name) not in reported:
                reported.add((a.name, b.name))
                out.append(
                    _warning(b.source, f"periods.{b.name}", f"overlaps {a.name} ({kind}) in {_year_of(b.start)}")
                )
    return out


def _year_of(ts: int) -> int:
    from seasongate._time import from_ts

    return from_ts(ts).year


def _policy_warnings(policy: Policy, at: datetime) -> list[ConfigError]:
    from seasongate._time import to_ts

    out: list[ConfigError] = []
    ts = to_ts(at)
    for rule in policy.rules:
        if rule.override is not None and not policy.role_members(rule.override.role):
            out.append(
                _warning(
                    rule.source,
                    f"rules.{rule.name}.override.role",
                    f"role {rule.override.role!r} has no roster in this policy (roles: or release_managers:): "
                    f"with a SQLite store nobody can approve; PostgreSQL uses membership of "
                    f"seasongate_{rule.override.role}",
                )
            )
        if not rule.temporal:
            continue
        territories = sorted(rule.territories or policy.territories)
        never = True
        for territory in territories:
            if policy.rule_times(rule, territory, ts):
                never = False
                break
        if never:
            out.append(
                _warning(
                    rule.source,
                    f"rules.{rule.name}",
                    "its time conditions never hold in the expanded years: the rule can never match",
                )
            )
    return out
