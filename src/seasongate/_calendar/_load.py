"""Read calendar files (with ``extends``) and compile them into rules, with located errors."""

from __future__ import annotations

import hashlib
import os
import re
from dataclasses import dataclass
from datetime import datetime, time
from pathlib import Path
from typing import Any, Protocol

from seasongate._calendar._compiled import Calendar, display_path
from seasongate._calendar._period import MAX_YEAR, MIN_YEAR
from seasongate._calendar._rrule import check_rrule, normalize
from seasongate._calendar._rules import (
    WEEKDAYS,
    Dated,
    Holidays,
    PeriodRule,
    Recurring,
    Weekly,
    Years,
    is_absolute,
    parse_date_expr,
    refs_of,
)
from seasongate._errors import ConfigError, ConfigErrors, InputError, Location
from seasongate._time import format_duration, parse_clock, parse_duration, zone
from seasongate._yaml import Marks, errors_from_validation, format_loc, load_yaml, mark_of, read_text

MAX_WINDOW = 7 * 86400
"""The longest weekly or daily window: a longer one would overlap the next week's."""
MAX_OCCURRENCE = 366 * 86400
"""The longest occurrence of a recurring rule."""

class _Collector:
    """Gathers located problems so one pass reports all of them."""

    def __init__(self, path: Path, marks: Marks) -> None:
        self.shown = display_path(path)
        self.marks = marks
        self.problems: list[ConfigError] = []

    def add(self, loc: tuple[str | int, ...], message: str) -> None:
        line, column = mark_of(self.marks, loc)
        self.problems.append(ConfigError(message, path=self.shown, line=line, column=column, field=format_loc(loc)))

    def source(self, loc: tuple[str | int, ...]) -> Location:
        line, column = mark_of(self.marks, loc)
        return Location(self.shown, line, column)


@dataclass
class _Loaded:
    name: str
    timezone: str | None
    territory: str | None
    rules: list[PeriodRule]
    files: list[tuple[str, str]]  # (display path, sha256)


def load_calendar(path: str | Path) -> Calendar:
    """Load and compile the calendar file at ``path``; raises :class:`ConfigErrors`."""
    root = Path(path)
    loaded = _load(root.resolve(), (), display=root)
    if loaded.timezone is None:
        raise ConfigError(
            "no timezone: set an IANA zone such as Europe/Berlin (here or in a file it extends)",
            path=display_path(root),
            line=1,
            column=1,
            field="timezone",
        )
    ordered = _dependency_order(loaded.rules)
    digest = hashlib.sha256("\n".join(f"{p}={h}" for p, h in loaded.files).encode()).hexdigest()
    return Calendar(
        name=loaded.name,
        path=display_path(root),
        timezone=loaded.timezone,
        territory=loaded.territory,
        rules=tuple(ordered),
        files=tuple(p for p, _ in loaded.files),
        digest=digest,
    )


def _load(path: Path, stack: tuple[Path, ...], *, display: Path) -> _Loaded:
    from pydantic import ValidationError

    from seasongate._calendar._model import CalendarModel

    text = read_text(display if display.exists() else path)
    data, marks = load_yaml(display, text)
    if not isinstance(data, dict):
        raise ConfigError(
            f"a calendar file is a mapping (name, timezone, periods...), not a {type(data).__name__}",
            path=display_path(display),
            line=1,
            column=1,
        )
    try:
        model = CalendarModel.model_validate(data)
    except ValidationError as exc:
        raise errors_from_validation(exc, Path(display_path(display)), marks) from None
    issues = _Collector(display, marks)

    rules_by_name: dict[str, PeriodRule] = {}  # insertion-ordered: linear in the periods
    files: list[tuple[str, str]] = []
    timezone = None
    territory = None
    for i, ref in enumerate(model.extends):
        target = (path.parent / ref).resolve()
        if target in (*stack, path):
            issues.add(("extends", i), f"extends cycle: {ref} is already being loaded")
            continue
        if not target.exists():  # anything else that is not a regular file: the reader says so
            issues.add(("extends", i), f"extended calendar {ref} does not exist")
            continue
        base = _load(
            target,
            (*stack, path),
            display=Path(os.path.relpath(target)) if target.is_relative_to(Path.cwd()) else target,
        )
        files.extend(base.files)
        timezone = base.timezone or timezone
        territory = base.territory or territory
        for rule in base.rules:
            # A later base file's period of the same name wins and moves to the end.
            rules_by_name.pop(rule.name, None)
            rules_by_name[rule.name] = rule
    files.append((display_path(display), hashlib.sha256(text.encode()).hexdigest()))

    if model.timezone is not None:
        try:
            zone(model.timezone)
            timezone = model.timezone
        except InputError as exc:
            issues.add(("timezone",), str(exc))
    territory = model.territory or territory

    own: list[PeriodRule] = []
    seen: dict[str, int] = {}
    for i, entry in enumerate(model.periods):
        loc: tuple[str | int, ...] = ("periods", i)
        if entry.name in seen:
            issues.add((*loc, "name"), f"duplicate period name {entry.name!r} (first at periods[{seen[entry.name]}])")
            continue
        seen[entry.name] = i
        compiled = _compile_period(entry, loc, issues)
        if compiled is not None:
            own.append(compiled)
    for i, hol in enumerate(model.holidays):
        loc = ("holidays", i)
        compiled = _compile_holidays(hol, loc, issues)
        if compiled is None:
            continue
        if compiled.name in seen:
            issues.add(loc, f"duplicate holidays entry {compiled.name!r}: merge the categories into one entry")
            continue
        seen[compiled.name] = i
        own.append(compiled)
    if issues.problems:
        raise ConfigErrors(issues.problems)

    for rule in own:
        # A period named like one in the extended calendar replaces it in place (move a season here).
        rules_by_name[rule.name] = rule
    name = model.name or display.stem
    return _Loaded(name, timezone, territory, list(rules_by_name.values()), files)


def _years(model: Any, loc: tuple[str | int, ...], issues: _Collector) -> Years:
    if model is None:
        return Years()
    for key, value in (("from", model.first), ("until", model.last)):
        if value is not None and not MIN_YEAR <= value <= MAX_YEAR:
            issues.add((*loc, "years", key), f"year {value} is outside {MIN_YEAR}-{MAX_YEAR}")
    for i, value in enumerate(model.skip):
        if not MIN_YEAR <= value <= MAX_YEAR:
            issues.add((*loc, "years", "skip", i), f"year {value} is outside {MIN_YEAR}-{MAX_YEAR}")
    if model.first is not None and model.last is not None and model.last < model.first:
        issues.add((*loc, "years", "until"), f"until {model.last} is before from {model.first}")
    return Years(model.first, model.last, frozenset(model.skip))


def _clock(value: str | None, loc: tuple[str | int, ...], issues: _Collector) -> time | None:
    if value is None:
        return None
    try:
        return parse_clock(str(value))
    except InputError as exc:
        issues.add(loc, str(exc))
        return None


def _duration(value: str | int | None, loc: tuple[str | int, ...], issues: _Collector, *, longest: int) -> int | None:
    """A positive duration of at most ``longest`` seconds."""
    if value is None:
        return None
    try:
        seconds = parse_duration(value, maximum=None)  # checked against ``longest`` below
    except InputError as exc:
        issues.add(loc, str(exc))
        return None
    if seconds <= 0:
        issues.add(loc, "duration must be positive")
        return None
    if seconds > longest:
        issues.add(
            loc,
            f"duration {format_duration(seconds)} is longer than {format_duration(longest)}, the most it can be here",
        )
        return None
    return seconds


class Problems(Protocol):
    """Anything that collects located problems (a calendar's or a policy's loader)."""

    def add(self, loc: tuple[str | int, ...], message: str) -> None: ...


def parse_days(values: list[str] | None, loc: tuple[str | int, ...], issues: Problems) -> frozenset[int]:
    """Weekdays (0 = Monday) from names and ranges (``[mon-fri, sunday]``); ``None`` is every
    day. Each unknown entry is reported to ``issues`` at ``(*loc, index)``."""
    if values is None:
        return frozenset(range(7))
    days: set[int] = set()
    for i, raw in enumerate(values):
        text = str(raw).strip().lower()
        if "-" in text:
            first, _, last = text.partition("-")
            a, b = WEEKDAYS.get(first.strip()), WEEKDAYS.get(last.strip())
            if a is None or b is None:
                issues.add((*loc, i), f"unknown day range {raw!r} (e.g. mon-fri)")
                continue
            days.update(range(a, b + 1) if a <= b else [*range(a, 7), *range(0, b + 1)])
        elif text in WEEKDAYS:
            days.add(WEEKDAYS[text])
        else:
            issues.add((*loc, i), f"unknown weekday {raw!r} (use monday..sunday or mon..sun)")
    return frozenset(days)


def _compile_period(entry: Any, loc: tuple[str | int, ...], issues: _Collector) -> PeriodRule | None:
    shapes = [k for k in ("start", "weekly", "daily", "rrule") if getattr(entry, k) is not None]
    if entry.end is not None and "start" not in shapes:
        shapes.append("start")
    if len(shapes) != 1:
        issues.add(
            loc,
            "a period needs exactly one of: start/end (dates), weekly, daily, rrule"
            + (f" (found {', '.join(shapes)})" if shapes else ""),
        )
        return None
    count = len(issues.problems)
    foreign = {
        "start": ("weekly", "daily", "rrule", "time", "dtstart", "duration"),
        "weekly": ("start_time", "end_time", "exceptions", "rrule", "time", "dtstart", "duration"),
        "daily": ("start_time", "end_time", "exceptions", "rrule", "time", "dtstart", "duration"),
        "rrule": ("start_time", "end_time", "exceptions"),
    }[shapes[0]]
    label = {"start": "a dated (start/end)"}.get(shapes[0], f"a {shapes[0]}")
    for key in foreign:
        if getattr(entry, key) not in (None, {}):
            issues.add((*loc, key), f"{key} does not apply to {label} period")
    if len(issues.problems) > count:
        return None
    years = _years(entry.years, loc, issues)
    shape: Any = None
    if shapes[0] == "start":
        exprs = []
        for key in ("start", "end"):
            raw = getattr(entry, key)
            if raw is None:
                issues.add((*loc, key), f"a dated period needs both start and end ({key} is missing)")
                continue
            try:
                exprs.append(parse_date_expr(raw))
            except ValueError as exc:
                issues.add((*loc, key), str(exc))
        start_time = _clock(entry.start_time, (*loc, "start_time"), issues)
        end_time = _clock(entry.end_time, (*loc, "end_time"), issues)
        exceptions = {}
        for year, exc_model in entry.exceptions.items():
            if not MIN_YEAR <= year <= MAX_YEAR:
                issues.add((*loc, "exceptions", year), f"year {year} is outside {MIN_YEAR}-{MAX_YEAR}")
            if exc_model.start and exc_model.end and exc_model.end < exc_model.start:
                issues.add((*loc, "exceptions", year, "end"), "end is before start")
            for key, day in (("start", exc_model.start), ("end", exc_model.end)):
                if day is not None and abs(day.year - year) > 1:
                    issues.add((*loc, "exceptions", year, key), f"{day} is not near {year} (the year it replaces)")
            exceptions[year] = (exc_model.start, exc_model.end)
        if len(exprs) == 2 and is_absolute(exprs[0]) != is_absolute(exprs[1]):
            issues.add(
                (*loc, "end"),
                "start and end must both be exact dates (YYYY-MM-DD, a one-off period) or both annual",
            )
        elif len(exprs) == 2:
            shape = Dated(exprs[0], exprs[1], start_time, end_time, exceptions)
            if shape.one_off:
                first = shape.start.on(0, _no_refs)
                last = shape.end.on(0, _no_refs)
                if first and last and last < first:
                    issues.add((*loc, "end"), f"end {last} is before start {first}")
                elif first and last and first == last and start_time and end_time and end_time <= start_time:
                    issues.add((*loc, "end_time"), "end_time is not after start_time on a one-day period")
                for key, day in (("start", first), ("end", last)):
                    if day and not MIN_YEAR <= day.year <= MAX_YEAR:
                        issues.add((*loc, key), f"year {day.year} is outside {MIN_YEAR}-{MAX_YEAR}")
    elif shapes[0] in ("weekly", "daily"):
        window = getattr(entry, shapes[0])
        wloc = (*loc, shapes[0])
        if shapes[0] == "daily" and window.days is not None:
            issues.add((*wloc, "days"), "daily windows run every day; use weekly with days")
        days = parse_days(window.days, (*wloc, "days"), issues)
        start = _clock(window.start, (*wloc, "start"), issues)
        end = _clock(window.end, (*wloc, "end"), issues)
        duration = _duration(window.duration, (*wloc, "duration"), issues, longest=MAX_WINDOW)
        if (window.end is None) == (window.duration is None):
            issues.add(wloc, "a window needs exactly one of end or duration")
        if shapes[0] == "weekly" and window.days is None:
            issues.add(wloc, "a weekly window needs days (e.g. [saturday] or [mon-fri])")
        if start is not None:
            shape = Weekly(days, start, end, duration)
    else:
        at = _clock(entry.time, (*loc, "time"), issues) or time(0)
        duration = _duration(entry.duration, (*loc, "duration"), issues, longest=MAX_OCCURRENCE)
        if entry.duration is None:
            issues.add(loc, "an rrule period needs a duration (e.g. 4h)")
        dtstart = None
        if entry.dtstart is not None:
            try:
                dtstart = datetime.fromisoformat(str(entry.dtstart))
                if dtstart.tzinfo is not None:
                    raise ValueError("give dtstart as local wall time, without an offset")
                if not MIN_YEAR <= dtstart.year <= MAX_YEAR:
                    raise ValueError(f"year {dtstart.year} is outside {MIN_YEAR}-{MAX_YEAR}")
            except ValueError as exc:
                issues.add((*loc, "dtstart"), f"invalid dtstart {entry.dtstart!r}: {exc}")
                dtstart = None
        rule_text = normalize(str(entry.rrule))
        upper = rule_text.upper()
        phased = "COUNT=" in upper or re.search(r"INTERVAL=(?!1(;|$))\d+", upper)
        if phased and dtstart is None:
            issues.add(
                (*loc, "rrule"),
                "a rule with INTERVAL or COUNT needs a dtstart: without it the occurrences would "
                "depend on the years asked",
            )
        try:
            check_rrule(rule_text, dtstart)
        except ValueError as exc:
            issues.add((*loc, "rrule"), str(exc))
        if duration:
            shape = Recurring(rule_text, at, duration, dtstart)
    if len(issues.problems) > count or shape is None:
        return None
    return PeriodRule(
        name=entry.name,
        kind=entry.kind,
        shape=shape,
        source=issues.source(loc),
        tags=tuple(entry.tags),
        description=entry.description,
        years=years,
    )


def _no_refs(name: str, year: int) -> None:
    return None


def _compile_holidays(entry: Any, loc: tuple[str | int, ...], issues: _Collector) -> PeriodRule | None:
    from seasongate._calendar._holidays import check_holidays

    try:
        check_holidays(entry.country, entry.subdivision, tuple(entry.categories))
    except ValueError as exc:
        message = str(exc)
        field = "categories" if "category" in message else "subdivision" if "subdivision" in message else "country"
        issues.add((*loc, field), message)
        return None
    label = entry.country + (f"-{entry.subdivision}" if entry.subdivision else "")
    return PeriodRule(
        # One rule per entry; its periods are named after each holiday ("Neujahr").
        name=f"holidays:{label}:{'+'.join(entry.categories)}",
        kind=entry.kind,
        shape=Holidays(entry.country, entry.subdivision, tuple(entry.categories)),
        source=issues.source(loc),
        tags=tuple(entry.tags),
        description=entry.description or f"public holiday ({label}, {', '.join(entry.categories)})",
        years=_years(entry.years, loc, issues),
    )


def _dependency_order(rules: list[PeriodRule]) -> list[PeriodRule]:
    """Order rules so that every referenced period is expanded before its dependants."""
    by_name = {r.name: r for r in rules}
    problems: list[ConfigError] = []
    deps: dict[str, set[str]] = {}
    for rule in rules:
        needed: set[str] = set()
        if isinstance(rule.shape, Dated):
            needed = refs_of(rule.shape.start) | refs_of(rule.shape.end)
        for name in sorted(needed):
            target = by_name.get(name)
            if target is None:
                known = ", ".join(sorted(n for n in by_name if not n.startswith("holidays:")))
                problems.append(
                    ConfigError(
                        f"refers to unknown period {name!r} (known: {known})",
                        path=rule.source.path,
                        line=rule.source.line,
                        column=rule.source.column,
                        field=f"periods.{rule.name}",
                    )
                )
            elif not isinstance(target.shape, Dated):
                problems.append(
                    ConfigError(
                        f"refers to {name!r}, which is not a dated period (start/end)",
                        path=rule.source.path,
                        line=rule.source.line,
                        column=rule.source.column,
                        field=f"periods.{rule.name}",
                    )
                )
        deps[rule.name] = {n for n in needed if n in by_name}
    if problems:
        raise ConfigErrors(problems)
    ordered: list[PeriodRule] = []
    state: dict[str, int] = {}

    def visit(name: str, chain: tuple[str, ...]) -> None:
        if state.get(name) == 2:
            return
        if state.get(name) == 1:
            rule = by_name[name]
            raise ConfigError(
                f"periods refer to each other in a cycle: {' -> '.join((*chain, name))}",
                path=rule.source.path,
                line=rule.source.line,
                column=rule.source.column,
                field=f"periods.{name}",
            )
        state[name] = 1
        for dep in sorted(deps[name]):
            visit(dep, (*chain, name))
        state[name] = 2
        ordered.append(by_name[name])

    for rule in rules:
        visit(rule.name, ())
    return ordered


_days = parse_days  # transition alias for _policy/_load.py; import seasongate._calendar.parse_days
