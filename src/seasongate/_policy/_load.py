"""Read a policy file, check it against its calendars and compile it."""

from __future__ import annotations

import hashlib
from datetime import time
from itertools import pairwise
from pathlib import Path
from typing import Any

from seasongate._calendar import Calendar, Selector, display_path, load_calendar, parse_days
from seasongate._errors import ConfigError, ConfigErrors, InputError, Location
from seasongate._policy._decision import OverrideSpec
from seasongate._policy._engine import Policy, Territory
from seasongate._policy._rules import (
    ClockCondition,
    FinishBefore,
    MigrationClass,
    PeriodCondition,
    Rule,
)
from seasongate._time import parse_clock, parse_duration
from seasongate._versions import Version
from seasongate._vocabulary import PERIOD_KINDS, REPEATABLE_CLASS
from seasongate._yaml import LocatedProblems, errors_from_validation, load_yaml, mark_of, read_text


def policy_calendar_paths(path: str | Path) -> dict[str, Path]:
    """The calendar file of each territory, read from the raw file (no validation)."""
    import yaml

    policy_path = Path(path)
    data = yaml.load(read_text(policy_path), Loader=getattr(yaml, "CSafeLoader", yaml.SafeLoader))
    out: dict[str, Path] = {}
    if isinstance(data, dict) and isinstance(data.get("territories"), dict):
        for code, spec in data["territories"].items():
            if isinstance(spec, dict) and isinstance(spec.get("calendar"), str):
                out[str(code)] = policy_path.parent / spec["calendar"]
    return out


def load_policy(path: str | Path) -> Policy:
    """Load, check and compile the policy at ``path`` (and the calendars it names).

    Raises :class:`ConfigErrors` listing every problem as ``path:line:column: field: message``.
    """
    from pydantic import ValidationError

    from seasongate._policy._model import PolicyModel

    policy_path = Path(path)
    shown = display_path(policy_path)
    text = read_text(policy_path)
    data, marks = load_yaml(Path(shown), text)
    if not isinstance(data, dict):
        raise ConfigError(
            "a policy file is a mapping (environments, territories, rules...)", path=shown, line=1, column=1
        )
    try:
        model = PolicyModel.model_validate(data)
    except ValidationError as exc:
        raise errors_from_validation(exc, Path(shown), marks) from None
    issues = LocatedProblems(shown, marks)

    calendars: dict[str, Calendar] = {}
    territories: dict[str, Territory] = {}
    for code, spec in model.territories.items():
        cal_path = policy_path.parent / spec.calendar
        if not cal_path.is_file():
            issues.add(("territories", code, "calendar"), f"calendar file {spec.calendar} does not exist")
            continue
        calendar = load_calendar(cal_path)  # its own errors carry its own path
        if calendar.territory and calendar.territory != code:
            issues.add(
                ("territories", code, "calendar"),
                f"calendar {spec.calendar} is for territory {calendar.territory}, not {code}",
            )
        calendars[code] = calendar
        territories[code] = Territory(code, display_path(cal_path), calendar.timezone)

    classes = _classes(model, issues)
    roles = {role: tuple(members) for role, members in model.roles.items()}
    if model.release_managers:
        roles["release_manager"] = tuple(model.release_managers)
    try:
        default_duration = parse_duration(model.defaults.duration)
    except InputError as exc:
        issues.add(("defaults", "duration"), str(exc))
        default_duration = 0
    default_class = model.defaults.migration_class
    if default_class is not None and default_class not in {c.name for c in classes}:
        known = ", ".join(c.name for c in classes) or "none"
        issues.add(("defaults", "class"), f"unknown migration class {default_class!r} (known: {known})")

    rules: list[Rule] = []
    seen: set[str] = set()
    for i, rule_model in enumerate(model.rules):
        loc: tuple[str | int, ...] = ("rules", i)
        if rule_model.name in seen:
            issues.add((*loc, "name"), f"duplicate rule name {rule_model.name!r}")
            continue
        seen.add(rule_model.name)
        rule = _compile_rule(rule_model, loc, issues, model, classes, calendars)
        if rule is not None:
            rules.append(rule)
    for index, env in enumerate(model.protected):
        if env not in model.environments:
            issues.add(
                ("protected", index),
                f"{env!r} is not one of this policy's environments ({', '.join(model.environments)})",
            )
    if issues.problems:
        raise ConfigErrors(issues.problems)

    return Policy(
        name=model.name or policy_path.stem,
        path=shown,
        sha256=_content_hash(text, calendars),
        environments=tuple(model.environments),
        protected=tuple(model.protected),
        default=model.default,
        territories=territories,
        classes=classes,
        default_risk=model.defaults.risk,
        default_duration=default_duration,
        default_class=default_class,
        horizon_days=model.horizon_days,
        roles=roles,
        rules=tuple(rules),
        calendars=calendars,
    )


def _content_hash(text: str, calendars: dict[str, Calendar]) -> str:
    """SHA-256 over the policy text and the calendar files it uses: an audit entry names
    exactly the rules and dates a decision was made with."""
    digest = hashlib.sha256(text.encode())
    for code in sorted(calendars):
        digest.update(f"\n{code}={calendars[code].digest}".encode())
    return digest.hexdigest()


def _version(value: str | int, loc: tuple[str | int, ...], issues: LocatedProblems) -> Version | None:
    try:
        return Version.parse(value)
    except InputError as exc:
        issues.add(loc, str(exc))
        return None


def _classes(model: Any, issues: LocatedProblems) -> tuple[MigrationClass, ...]:
    out: list[MigrationClass] = []
    for name, spec in model.classes.items():
        low = _version(spec.first, ("classes", name, "from"), issues)
        high = _version(spec.last, ("classes", name, "to"), issues) if spec.last is not None else None
        if low is None:
            continue
        if high is not None and high < low:
            issues.add(("classes", name, "to"), f"range ends ({high}) before it starts ({low})")
            continue
        out.append(MigrationClass(name, low, high))
    ordered = sorted(out, key=lambda c: c.low)
    if [c.name for c in ordered] != [c.name for c in out]:
        issues.add(
            ("classes",), "version ranges must be listed in ascending order: " + ", ".join(c.name for c in ordered)
        )
    for prev, cur in pairwise(ordered):
        if prev.high is None or cur.low <= prev.high or cur.low.major <= prev.high.major:
            issues.add(("classes", cur.name, "from"), f"range {cur.describe()} overlaps {prev.name} {prev.describe()}")
    return tuple(ordered)


def _rule_names(calendars: dict[str, Calendar]) -> set[str]:
    return {r.name for c in calendars.values() for r in c.rules if not r.name.startswith("holidays:")}


def _holiday_names(calendars: dict[str, Calendar]) -> set[str]:
    """The names holidays give their periods ("Neujahr"), over a decade of years."""
    from seasongate._calendar import Holidays, holiday_dates

    names: set[str] = set()
    for calendar in calendars.values():
        for rule in calendar.rules:
            if isinstance(rule.shape, Holidays):
                for _, found in holiday_dates(rule.shape, 2020, 2030):
                    names.update(found)
    return names


def _selector(
    model: Any, loc: tuple[str | int, ...], issues: LocatedProblems, calendars: dict[str, Calendar]
) -> Selector:
    selector = Selector.of(kind=model.kind, name=model.name, tag=model.tag)
    if not (selector.kinds or selector.names or selector.tags):
        issues.add(loc, f"name at least one of kind ({', '.join(PERIOD_KINDS)}), name or tag")
    known_names = {r.name for c in calendars.values() for r in c.rules if not r.name.startswith("holidays:")}
    if selector.names - known_names:
        known_names |= _holiday_names(calendars)
    known_tags = {t for c in calendars.values() for r in c.rules for t in r.tags}
    for name in sorted(selector.names):
        if name not in known_names:
            known = ", ".join(sorted(n for n in known_names if n in _rule_names(calendars)))
            issues.add((*loc, "name"), f"no calendar of this policy has a period {name!r} (known: {known})")
    for tag in sorted(selector.tags):
        if tag not in known_tags:
            issues.add(
                (*loc, "tag"),
                f"no calendar of this policy has a period tagged {tag!r} (known: {', '.join(sorted(known_tags))})",
            )
    return selector


def _compile_rule(
    rule: Any,
    loc: tuple[str | int, ...],
    issues: LocatedProblems,
    policy: Any,
    classes: tuple[MigrationClass, ...],
    calendars: dict[str, Calendar],
) -> Rule | None:
    count = len(issues.problems)
    when = rule.when
    wloc = (*loc, "when")

    def subset(
        values: list[str] | None, known: list[str] | tuple[str, ...], key: str, what: str
    ) -> frozenset[str] | None:
        if values is None:
            return None
        for i, value in enumerate(values):
            if value not in known:
                issues.add((*wloc, key, i), f"unknown {what} {value!r} (known: {', '.join(known)})")
        if not values:
            issues.add((*wloc, key), f"an empty {key} list can never match")
        return frozenset(values)

    environments = subset(when.environments, policy.environments, "environments", "environment")
    territories = subset(when.territories, list(policy.territories), "territories", "territory")
    class_names = [*(c.name for c in classes), REPEATABLE_CLASS]
    rule_classes = subset(when.classes, class_names, "classes", "migration class")
    versions = None
    if when.versions is not None:
        low = _version(when.versions.first, (*wloc, "versions", "from"), issues)
        high = (
            _version(when.versions.last, (*wloc, "versions", "to"), issues) if when.versions.last is not None else None
        )
        if low is not None:
            versions = (low, high)
            if high is not None and high < low:
                issues.add((*wloc, "versions", "to"), f"range ends ({high}) before it starts ({low})")
            if rule_classes is not None:
                overlap = [
                    c for c in classes if c.name in rule_classes
                    and (high is None or c.low <= high) and (c.high is None or low <= c.high)
                ]  # fmt: skip
                if not overlap:
                    issues.add(
                        (*wloc, "versions"), "the versions lie in none of the rule's classes: the rule can never match"
                    )
    periods = []
    for key, negate in (("in_period", False), ("not_in_period", True)):
        sel_model = getattr(when, key)
        if sel_model is not None:
            periods.append(PeriodCondition(_selector(sel_model, (*wloc, key), issues, calendars), negate))
    clock = None
    if when.days is not None or when.time is not None:
        days = parse_days(when.days, (*wloc, "days"), issues) if when.days is not None else frozenset(range(7))
        if when.days is not None and not days:
            issues.add((*wloc, "days"), "no days: the rule can never match")
        start: time | None = None
        end: time | None = None
        if when.time is not None:
            try:
                start = parse_clock(when.time.first)
                end = parse_clock(when.time.last)
            except InputError as exc:
                issues.add((*wloc, "time"), str(exc))
            if start is not None and start == end:
                issues.add((*wloc, "time"), "from and to are equal: an empty window never matches")
        clock = ClockCondition(days, start, end)
    finish = None
    if when.finish_before is not None:
        fb = when.finish_before
        if rule.effect != "deny":
            issues.add((*wloc, "finish_before"), "finish_before is a requirement: use it in a deny rule")
        try:
            margin = parse_duration(fb.margin)
        except InputError as exc:
            issues.add((*wloc, "finish_before", "margin"), str(exc))
            margin = 0
        finish = FinishBefore(_selector(fb, (*wloc, "finish_before"), issues, calendars), margin)
        if margin == 0:
            issues.add((*wloc, "finish_before", "margin"), "margin must be positive, e.g. 30m")
    override = None
    if rule.override:
        if rule.effect != "deny":
            issues.add((*loc, "override"), "only deny rules can be overridden")
        try:
            validity = parse_duration(rule.override.max_validity)
        except InputError as exc:
            issues.add((*loc, "override", "max_validity"), str(exc))
            validity = 0
        if validity <= 0 and len(issues.problems) == count:
            issues.add((*loc, "override", "max_validity"), "must be positive")
        override = OverrideSpec(rule.override.approvals, rule.override.role, validity)
    if len(issues.problems) > count:
        return None
    line = mark_of(issues.marks, loc)[0]
    return Rule(
        name=rule.name,
        effect=rule.effect,
        message=rule.message.strip(),
        source=Location(issues.path, line),
        environments=environments,
        territories=territories,
        classes=rule_classes,
        versions=versions,
        risks=frozenset(when.risk) if when.risk is not None else None,
        operations=frozenset(when.operations) if when.operations is not None else None,
        periods=tuple(periods),
        clock=clock,
        finish_before=finish,
        override=override,
    )
