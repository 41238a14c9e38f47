"""Read calendar files (with ``extends``), compile their entries and order the rules.

Linear in the entries: names are looked up in dicts, never by scanning lists. The loader
allocates many small objects that hold no cycles, so it pauses the cyclic garbage collector
(which would otherwise rescan the growing heap again and again: superlinear in the size).
A file is first read with only its mappings and sequences marked (all a rule's source needs);
a file with a problem is read again with every mark, so each error names its line and column.
"""

from __future__ import annotations

import gc
import hashlib
import os
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from seasongate._calendar._compile import compile_holidays, compile_period
from seasongate._calendar._compiled import Calendar, display_path
from seasongate._calendar._dates import refs_of
from seasongate._calendar._rules import Dated, PeriodRule
from seasongate._errors import ConfigError, ConfigErrors, InputError
from seasongate._time import zone
from seasongate._yaml import LocatedProblems, errors_from_validation, load_yaml, read_text


@contextmanager
def collector_paused() -> Iterator[None]:
    """Pause the cyclic garbage collector while building many acyclic objects."""
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            gc.enable()


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
    with collector_paused():
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


class _Misplaced(Exception):
    """A problem found with only the collections marked: read the file again to place it."""


def _load(path: Path, stack: tuple[Path, ...], *, display: Path) -> _Loaded:
    text = read_text(display if display.exists() else path)
    try:
        return _load_text(path, stack, display=display, text=text, placed=False)
    except _Misplaced:  # the error path: every mark, so each problem names its line and column
        return _load_text(path, stack, display=display, text=text, placed=True)


def _load_text(path: Path, stack: tuple[Path, ...], *, display: Path, text: str, placed: bool) -> _Loaded:
    """Load one file's text. Unless ``placed``, the YAML is read with only its collections
    marked (what the rules' sources need), and any problem raises :class:`_Misplaced`."""
    from pydantic import ValidationError

    from seasongate._calendar._model import CalendarModel

    data, marks = load_yaml(display, text, scalar_marks=placed)
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
        if not placed:
            raise _Misplaced from None
        raise errors_from_validation(exc, Path(display_path(display)), marks) from None
    issues = LocatedProblems(display_path(display), marks)

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
        compiled = compile_period(entry, loc, issues)
        if compiled is not None:
            own.append(compiled)
    for i, hol in enumerate(model.holidays):
        loc = ("holidays", i)
        compiled = compile_holidays(hol, loc, issues)
        if compiled is None:
            continue
        if compiled.name in seen:
            issues.add(loc, f"duplicate holidays entry {compiled.name!r}: merge the categories into one entry")
            continue
        seen[compiled.name] = i
        own.append(compiled)
    if issues.problems:
        if not placed:
            raise _Misplaced
        raise ConfigErrors(issues.problems)

    for rule in own:
        # A period named like one in the extended calendar replaces it in place (move a season here).
        rules_by_name[rule.name] = rule
    name = model.name or display.stem
    return _Loaded(name, timezone, territory, list(rules_by_name.values()), files)


def _rule_error(rule: PeriodRule, message: str) -> ConfigError:
    source = rule.source
    return ConfigError(message, path=source.path, line=source.line, column=source.column,
                       field=f"periods.{rule.name}")  # fmt: skip


def _dependency_order(rules: list[PeriodRule]) -> list[PeriodRule]:
    """Order rules so that every referenced period is expanded before its dependants (the
    file's order otherwise)."""
    by_name = {r.name: r for r in rules}
    problems: list[ConfigError] = []
    deps: dict[str, list[str]] = {}
    for rule in rules:
        shape = rule.shape
        if not isinstance(shape, Dated) or shape.one_off:
            continue  # refers to nothing
        needed = sorted(refs_of(shape.start) | refs_of(shape.end))
        for name in needed:
            target = by_name.get(name)
            if target is None:
                known = ", ".join(sorted(n for n in by_name if not n.startswith("holidays:")))
                problems.append(_rule_error(rule, f"refers to unknown period {name!r} (known: {known})"))
            elif not isinstance(target.shape, Dated):
                problems.append(_rule_error(rule, f"refers to {name!r}, which is not a dated period (start/end)"))
        if needed:
            deps[rule.name] = [n for n in needed if n in by_name]
    if problems:
        raise ConfigErrors(problems)
    if not deps:
        return list(rules)
    ordered: list[PeriodRule] = []
    state: dict[str, int] = {}

    def visit(name: str, chain: tuple[str, ...]) -> None:
        if state.get(name) == 2:
            return
        if state.get(name) == 1:
            cycle = " -> ".join((*chain, name))
            raise _rule_error(by_name[name], f"periods refer to each other in a cycle: {cycle}")
        state[name] = 1
        for dep in deps.get(name, ()):
            visit(dep, (*chain, name))
        state[name] = 2
        ordered.append(by_name[name])

    for rule in rules:
        if rule.name in deps or rule.name in state:
            visit(rule.name, ())
        else:  # refers to nothing and nothing before it referred to it: in the file's order
            state[rule.name] = 2
            ordered.append(rule)
    return ordered
