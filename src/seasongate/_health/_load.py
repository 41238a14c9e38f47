"""Read a health file and compile it, with ``file:line:column: field: message`` errors."""

from __future__ import annotations

import hashlib
import re
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

from seasongate._calendar import Selector, display_path
from seasongate._errors import ConfigError, ConfigErrors, InputError, Location
from seasongate._health._spec import (
    EVENTS,
    Baseline,
    HealthSpec,
    Indicator,
    Judge,
    Notice,
    SqlProbe,
    Tightening,
)
from seasongate._health._template import QUERY_NAMES, unknown_placeholders
from seasongate._time import parse_duration
from seasongate._yaml import KEY, Marks, errors_from_validation, format_loc, load_yaml, mark_of, read_text

if TYPE_CHECKING:
    from seasongate._health._model import (
        HealthModel,
        IndicatorModel,
        JudgeModel,
        NoticeModel,
        PeriodSelectorModel,
    )

TEMPLATES = Path(__file__).resolve().parent / "templates"
NOTICE_NAMES = (
    "event", "event_text", "health", "environment", "territory", "version", "since", "indicators", "summary",
    "affected", "ticket", "expected_recovery",
)  # fmt: skip
_PERCENT = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*%\s*$")
T = TypeVar("T")


class _Located:
    """Turns a path inside the document into a located :class:`ConfigError`."""

    def __init__(self, path: str, marks: Marks) -> None:
        self.path = path
        self.marks = marks
        self.problems: list[ConfigError] = []

    def location(self, loc: tuple[str | int, ...], *, key: bool = False) -> Location:
        mark = self.marks.get((KEY, *loc)) if key else None
        line, column = mark or mark_of(self.marks, loc)
        return Location(self.path, line, column)

    def error(self, loc: tuple[str | int, ...], message: str) -> None:
        where = self.location(loc)
        self.problems.append(
            ConfigError(message, path=where.path, line=where.line, column=where.column, field=format_loc(loc))
        )

    def convert(self, loc: tuple[str | int, ...], parse: Callable[[Any], T], value: Any, default: T) -> T:
        try:
            return parse(value)
        except (InputError, ValueError) as exc:
            self.error(loc, str(exc))
            return default


def parse_percent(text: str) -> float:
    """``"5%" -> 0.05``; a bare number is refused (is 5 five percent or five hundred?)."""
    match = _PERCENT.match(str(text))
    if not match:
        raise ValueError(f"invalid percentage {text!r}: write it with a % sign, e.g. 5% or 0.5%")
    value = float(match.group(1)) / 100
    if value > 100:
        raise ValueError(f"percentage {text!r} is out of range (at most 10000%)")
    return value


def _duration(text: str) -> int:
    seconds = parse_duration(text)
    if seconds <= 0:
        raise ValueError(f"duration {text!r} must be longer than zero")
    return seconds


def _selector(model: PeriodSelectorModel) -> Selector:
    return Selector.of(kind=model.kind, name=model.name, tag=model.tag)


def load_health(path: str | Path) -> HealthSpec:
    """Load and compile the health file at ``path``; raises :class:`ConfigErrors`."""
    from pydantic import ValidationError

    from seasongate._health._model import HealthModel

    file = Path(path)
    shown = display_path(file)
    text = read_text(file)
    data, marks = load_yaml(Path(shown), text)
    if not isinstance(data, dict):
        raise ConfigError(
            f"a health file is a mapping (indicators, watch, notices...), not a {type(data).__name__}",
            path=shown,
            line=1,
            column=1,
        )
    try:
        model = HealthModel.model_validate(data)
    except ValidationError as exc:
        raise errors_from_validation(exc, Path(shown), marks) from exc
    located = _Located(shown, marks)
    spec = _compile(model, located, file, shown, hashlib.sha256(text.encode()).hexdigest())
    if located.problems:
        raise ConfigErrors(located.problems)
    return spec


def _judge(model: JudgeModel, located: _Located, loc: tuple[str | int, ...], base: Judge) -> Judge:
    confidence = base.confidence
    if model.confidence is not None:
        confidence = located.convert((*loc, "confidence"), parse_percent, model.confidence, confidence)
        if not 0.5 <= confidence < 1:
            located.error((*loc, "confidence"), "confidence must be at least 50% and below 100%")
    if model.kind == "mann_whitney" and model.failure_limit is not None:
        located.error((*loc, "failure_limit"), "failure_limit belongs to the threshold judge")
    return Judge(kind=model.kind, failure_limit=model.failure_limit or base.failure_limit, confidence=confidence)


def _compile(model: HealthModel, located: _Located, file: Path, shown: str, sha256: str) -> HealthSpec:
    watch_for = located.convert(("watch", "for"), _duration, model.watch.length, 600)
    interval = located.convert(("watch", "interval"), _duration, model.watch.interval, 60)
    if interval > watch_for:
        located.error(("watch", "interval"), "the interval is longer than the watch (watch.for)")
    slo_migration = slo_rollback = None
    if model.slo.migration is not None:
        slo_migration = located.convert(("slo", "migration"), _duration, model.slo.migration, 0)
    if model.slo.rollback is not None:
        slo_rollback = located.convert(("slo", "rollback"), _duration, model.slo.rollback, 0)
    judge = _judge(model.judge, located, ("judge",), Judge())
    prometheus = model.sources.prometheus
    timeout = 10
    if prometheus is not None:
        timeout = located.convert(("sources", "prometheus", "timeout"), _duration, prometheus.timeout, 10)
    indicators = []
    seen: set[str] = set()
    for i, ind in enumerate(model.indicators):
        loc: tuple[str | int, ...] = ("indicators", i)
        if ind.name in seen:
            located.error((*loc, "name"), f"duplicate indicator name {ind.name!r}")
        seen.add(ind.name)
        indicators.append(_indicator(ind, loc, located, judge, interval, has_prom=prometheus is not None))
    notices = [_notice(n, ("notices", i), located, file) for i, n in enumerate(model.notices)]
    return HealthSpec(
        name=model.name or file.stem,
        path=shown,
        sha256=sha256,
        prometheus_url_env=prometheus.url_env if prometheus else None,
        prometheus_timeout=timeout,
        watch_for=watch_for,
        watch_interval=interval,
        on_degraded=model.watch.on_degraded,
        slo_migration=slo_migration,
        slo_rollback=slo_rollback,
        indicators=tuple(indicators),
        notices=tuple(n for n in notices if n is not None),
    )


def _indicator(
    ind: IndicatorModel, loc: tuple[str | int, ...], located: _Located, judge: Judge, interval: int, *, has_prom: bool
) -> Indicator:
    if (ind.prometheus is None) == (ind.sql is None):
        located.error(loc, "an indicator has exactly one source: prometheus (a query) or sql (a probe)")
    query_loc: tuple[str | int, ...] = (*loc, "prometheus") if ind.prometheus is not None else (*loc, "sql", "query")
    query = ind.prometheus if ind.prometheus is not None else (ind.sql.query if ind.sql else "")
    if ind.prometheus is not None and not has_prom:
        located.error((*loc, "prometheus"), "a prometheus query needs sources.prometheus.url_env")
    for name in unknown_placeholders(query, QUERY_NAMES):
        located.error(query_loc, f"unknown placeholder {{{{{name}}}}} (known: {', '.join(QUERY_NAMES)})")
    if not query.strip():
        located.error(query_loc, "the query is empty")
    if ind.max_degradation is None and ind.max is None:
        located.error(loc, "give max_degradation (relative to the baseline, e.g. 5%) and/or max (absolute)")
    degradation = None
    if ind.max_degradation is not None:
        degradation = located.convert((*loc, "max_degradation"), parse_percent, ind.max_degradation, None)
    during = []
    for j, entry in enumerate(ind.during):
        entry_loc = (*loc, "during", j)
        if entry.max_degradation is None and entry.max is None:
            located.error(entry_loc, "a during entry tightens max_degradation and/or max")
        tightened = None
        if entry.max_degradation is not None:
            tightened = located.convert((*entry_loc, "max_degradation"), parse_percent, entry.max_degradation, None)
            if degradation is None:
                located.error((*entry_loc, "max_degradation"), "tightens a max_degradation the indicator does not set")
        if entry.max is not None and ind.max is None:
            located.error((*entry_loc, "max"), "tightens a max the indicator does not set")
        during.append(Tightening(_selector(entry.when.in_period), tightened, entry.max, located.location(entry_loc)))
    length = 1800
    if ind.baseline.length is not None:
        if ind.baseline.kind != "before":
            located.error((*loc, "baseline", "for"), "'for' belongs to the baseline kind 'before'")
        length = located.convert((*loc, "baseline", "for"), _duration, ind.baseline.length, length)
    if ind.baseline.period is not None and ind.baseline.kind != "same_period_last_year":
        located.error((*loc, "baseline", "period"), "'period' belongs to the baseline kind 'same_period_last_year'")
    if ind.sql is not None and ind.baseline.kind == "same_period_last_year":
        located.error((*loc, "baseline", "kind"), "a SQL probe has no history: its baseline is 'before'")
    baseline = Baseline(
        kind=ind.baseline.kind,
        length=length,
        period=_selector(ind.baseline.period) if ind.baseline.period else Selector(),
    )
    step = interval
    if ind.step is not None:
        step = located.convert((*loc, "step"), _duration, ind.step, interval)
    return Indicator(
        name=ind.name,
        description=ind.description,
        prometheus=ind.prometheus,
        sql=SqlProbe(ind.sql.query, ind.sql.runs, ind.sql.dsn_env) if ind.sql else None,
        window=located.convert((*loc, "window"), _duration, ind.window, 300),
        step=step,
        direction=ind.direction,
        max_degradation=degradation,
        max=ind.max,
        no_data=ind.no_data,
        min_samples=ind.min_samples,
        critical=ind.critical,
        baseline=baseline,
        during=tuple(during),
        judge=_judge(ind.judge, located, (*loc, "judge"), judge) if ind.judge else judge,
        location=located.location(loc),
        query_location=located.location(query_loc),
        query_field=format_loc(query_loc),
    )


def _notice(model: NoticeModel, loc: tuple[str | int, ...], located: _Located, file: Path) -> Notice | None:
    if (model.webhook is None) == (model.alertmanager is None):
        located.error(loc, "a notice is exactly one of webhook and alertmanager")
        return None
    if model.webhook is not None:
        hook = model.webhook
        template = _template_text(hook.template, (*loc, "webhook", "template"), located, file)
        return Notice(
            kind="webhook",
            url_env=hook.url_env,
            events=frozenset(hook.events or EVENTS),
            retries=model.retries,
            template=template,
            affected=hook.affected,
            ticket=hook.ticket,
            expected_recovery=hook.expected_recovery,
            language=hook.language or ("de" if hook.template.endswith("_de") else "en"),
        )
    assert model.alertmanager is not None
    manager = model.alertmanager
    return Notice(
        kind="alertmanager",
        url_env=manager.url_env,
        events=frozenset(manager.events or EVENTS),
        retries=model.retries,
        severity=manager.severity,
    )


def _template_text(name: str, loc: tuple[str | int, ...], located: _Located, file: Path) -> str:
    """A bundled template (``sales_de``) or a file next to the health file."""
    bundled = TEMPLATES / f"{name}.txt"
    candidate = bundled if re.fullmatch(r"[a-z0-9_]+", name) and bundled.is_file() else file.parent / name
    try:
        text = read_text(candidate)
    except ConfigError as exc:
        known = ", ".join(sorted(p.stem for p in TEMPLATES.glob("*.txt")))
        located.error(loc, f"no template {name!r}: {exc.message} (bundled: {known}; or a path)")
        return ""
    for unknown in unknown_placeholders(text, NOTICE_NAMES):
        located.error(
            loc, f"template {name!r} uses unknown placeholder {{{{{unknown}}}}} (known: {', '.join(NOTICE_NAMES)})"
        )
    return text
