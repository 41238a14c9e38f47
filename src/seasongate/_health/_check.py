"""One health check: every indicator measured over ``[since, at]``, compared with its
calendar-chosen baseline by its judge, and the verdicts combined into a report."""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any
from zoneinfo import ZoneInfo

from seasongate._errors import ConfigError, InputError
from seasongate._health._judges import Judgement, Measurement, Verdict, judge
from seasongate._health._prometheus import PrometheusSource, QueryRejected, Sample, SourceError
from seasongate._health._seasons import Threshold, same_period_last_year, threshold_for
from seasongate._health._spec import HealthSpec, Indicator
from seasongate._health._sqlprobe import ProbeRun, probe
from seasongate._health._template import render
from seasongate._policy import PeriodRef, Policy
from seasongate._time import format_duration, iso


@dataclass(frozen=True)
class BaselineInfo:
    """Which samples an indicator was compared with, and why those."""

    kind: str
    start: int | None
    end: int | None
    value: float | None
    samples: int
    description: str
    period: PeriodRef | None = None


@dataclass(frozen=True)
class IndicatorResult:
    """The verdict on one indicator, with everything that led to it."""

    name: str
    source: str
    query: str
    critical: bool
    threshold: Threshold
    baseline: BaselineInfo
    judgement: Judgement
    error: str | None = None
    cross_check: dict[str, Any] | None = None  # SQL probe: client and pg_stat_statements means

    @property
    def verdict(self) -> Verdict:
        """healthy, degraded or inconclusive."""
        return self.judgement.verdict


@dataclass(frozen=True)
class HealthReport:
    """The result of a health check; ``to_dict`` is the stable JSON."""

    health: HealthSpec
    environment: str
    territory: str
    at: int
    since: int
    tz: ZoneInfo
    indicators: tuple[IndicatorResult, ...]

    @property
    def verdict(self) -> Verdict:
        """Degraded when a critical indicator is; else inconclusive when one is; else healthy."""
        critical = [i.verdict for i in self.indicators if i.critical]
        if "degraded" in critical:
            return "degraded"
        if "inconclusive" in critical:
            return "inconclusive"
        return "healthy"

    def summary(self) -> str:
        """One line per indicator that is not healthy (or 'all indicators healthy')."""
        bad = [f"{i.name}: {i.verdict}: {i.judgement.reason}" for i in self.indicators if i.verdict != "healthy"]
        return "; ".join(bad) or "all indicators healthy"

    def to_dict(self) -> dict[str, Any]:
        """The documented JSON (additive: fields are added, never renamed or removed)."""
        tz = self.tz
        return {
            "health": {"name": self.health.name, "path": self.health.path, "sha256": self.health.sha256},
            "environment": self.environment,
            "territory": self.territory,
            "at": iso(self.at, tz),
            "since": iso(self.since, tz),
            "verdict": self.verdict,
            "indicators": [_indicator_dict(i, tz) for i in self.indicators],
        }


def _num(value: float | None) -> float | None:
    return value if value is None or math.isfinite(value) else None


def _indicator_dict(result: IndicatorResult, tz: ZoneInfo) -> dict[str, Any]:
    base = result.baseline
    threshold = result.threshold
    return {
        "name": result.name,
        "source": result.source,
        "query": result.query,
        "critical": result.critical,
        "verdict": result.verdict,
        "reason": result.judgement.reason,
        "error": result.error,
        "threshold": {
            "max_degradation": threshold.max_degradation,
            "max": threshold.max,
            "chosen_by": threshold.chosen_by.to_dict(tz) if threshold.chosen_by else None,
        },
        "baseline": {
            "kind": base.kind,
            "start": iso(base.start, tz) if base.start is not None else None,
            "end": iso(base.end, tz) if base.end is not None else None,
            "value": base.value,
            "samples": base.samples,
            "description": base.description,
            "period": base.period.to_dict(tz) if base.period else None,
        },
        "judge": result.judgement.judge,
        "cross_check": result.cross_check,
        "measurements": [_measurement_dict(m, tz) for m in result.judgement.measurements],
    }


def _measurement_dict(m: Measurement, tz: ZoneInfo) -> dict[str, Any]:
    return {
        "at": iso(m.at, tz),
        "value": m.value,
        "baseline": m.baseline,
        "relative": _num(m.relative),
        "verdict": m.verdict,
    }


@dataclass
class ProbeLog:
    """SQL probe batches collected by a watch: those before the run, then one per tick."""

    baseline: dict[str, list[ProbeRun]] = field(default_factory=dict)
    ticks: dict[str, list[tuple[int, ProbeRun]]] = field(default_factory=dict)


@dataclass(frozen=True)
class Sources:
    """How to reach the sources: Prometheus (if the file has one) and the database DSNs."""

    prometheus: PrometheusSource | None
    environ: Mapping[str, str]
    dsn: str | None = None

    @classmethod
    def from_environment(cls, spec: HealthSpec, environ: Mapping[str, str], dsn: str | None = None) -> Sources:
        """Read the URLs from the environment variables the file names."""
        prometheus = None
        if spec.prometheus_url_env is not None:
            url = environ.get(spec.prometheus_url_env)
            if not url:
                raise InputError(
                    f"environment variable {spec.prometheus_url_env} (sources.prometheus.url_env in "
                    f"{spec.path}) is not set: it holds the Prometheus URL"
                )
            prometheus = PrometheusSource(url, timeout=spec.prometheus_timeout)
        return cls(prometheus, environ, dsn)

    def dsn_for(self, indicator: Indicator) -> str:
        """The DSN an SQL probe runs against: its ``dsn_env``, else the run's database."""
        assert indicator.sql is not None
        if indicator.sql.dsn_env:
            dsn = self.environ.get(indicator.sql.dsn_env)
            if not dsn:
                raise InputError(
                    f"environment variable {indicator.sql.dsn_env} ({indicator.name}.sql.dsn_env) is not set"
                )
            return dsn
        if self.dsn is None:
            raise InputError(f"indicator {indicator.name}: a SQL probe needs sql.dsn_env or the run's --dsn")
        return self.dsn


def p95(values: list[float]) -> float:
    """The 95th percentile by the nearest-rank rule."""
    ordered = sorted(values)
    return ordered[max(0, math.ceil(0.95 * len(ordered)) - 1)]


def check_health(
    spec: HealthSpec,
    sources: Sources,
    *,
    policy: Policy,
    environment: str,
    territory: str,
    at: int,
    since: int,
    baseline_until: int | None = None,
    probes: ProbeLog | None = None,
    tolerate_source_errors: bool = False,
) -> HealthReport:
    """Measure and judge every indicator. A query the server rejects is a located
    :class:`ConfigError`; an unreachable source raises :class:`SourceError` unless
    ``tolerate_source_errors`` (a watch), where it is judged as missing data. A ``before``
    baseline ends at ``baseline_until`` (the run's start; default ``since``)."""
    if since > at:
        raise InputError(f"--since {iso(since)} is after --at {iso(at)}")
    tz = policy.zone(territory)
    results = []
    for indicator in spec.indicators:
        values = {
            "territory": territory,
            "environment": environment,
            "window": format_duration(indicator.window),
        }
        query = render(indicator.prometheus if indicator.prometheus is not None else indicator.sql.query, values)  # type: ignore[union-attr]
        threshold = threshold_for(indicator, policy, territory, since, at)
        try:
            cross_check = None
            if indicator.prometheus is not None:
                current, baseline, info = _prometheus_samples(
                    indicator,
                    sources,
                    policy,
                    territory,
                    query,
                    since,
                    at,
                    since if baseline_until is None else baseline_until,
                )
            else:
                current, baseline, info, cross_check = _sql_samples(indicator, sources, query, at, probes)
        except QueryRejected as exc:
            loc = indicator.query_location
            raise ConfigError(
                f"{exc} (query after templating: {query})",
                path=loc.path,
                line=loc.line,
                column=loc.column,
                field=indicator.query_field,
            ) from exc
        except SourceError as exc:
            if not tolerate_source_errors:
                raise
            empty = BaselineInfo(indicator.baseline.kind, None, None, None, 0, "source failed")
            results.append(
                IndicatorResult(
                    indicator.name, indicator.source, query, indicator.critical, threshold, empty,
                    judge(indicator, [], [], threshold), str(exc),
                )
            )  # fmt: skip
            continue
        results.append(
            IndicatorResult(
                indicator.name, indicator.source, query, indicator.critical, threshold, info,
                judge(indicator, current, baseline, threshold), None, cross_check,
            )
        )  # fmt: skip
    return HealthReport(spec, environment, territory, at, since, tz, tuple(results))


def _prometheus_samples(
    indicator: Indicator, sources: Sources, policy: Policy, territory: str, query: str, since: int, at: int, until: int
) -> tuple[list[Sample], list[Sample], BaselineInfo]:
    assert sources.prometheus is not None
    prom = sources.prometheus
    current = prom.range(query, since, at, indicator.step)
    if indicator.baseline.kind == "before":
        start, end = until - indicator.baseline.length, until - 1
        baseline = prom.range(query, start, end, indicator.step)
        description = f"the {format_duration(indicator.baseline.length)} before {iso(until, policy.zone(territory))}"
        period = None
    else:
        then = same_period_last_year(policy, territory, at, indicator.baseline.period)
        length = max(at - since, indicator.step * max(indicator.min_samples - 1, 1))
        start, end = then.at - length, then.at
        baseline = prom.range(query, start, end, indicator.step)
        description, period = then.description, then.period
    value = _median([v for _, v in baseline])
    return (
        current,
        baseline,
        BaselineInfo(indicator.baseline.kind, start, end, value, len(baseline), description, period),
    )


def _sql_samples(
    indicator: Indicator, sources: Sources, query: str, at: int, probes: ProbeLog | None
) -> tuple[list[Sample], list[Sample], BaselineInfo, dict[str, Any] | None]:
    assert indicator.sql is not None
    if probes is None:
        runs = [(at, probe(sources.dsn_for(indicator), query, indicator.sql.runs))]
        before: list[float] = []
    else:
        runs = probes.ticks.get(indicator.name, [])
        before = [v for batch in probes.baseline.get(indicator.name, []) for v in batch.latencies]
    ticks = [(ts, list(run.latencies)) for ts, run in runs]
    if indicator.judge.kind == "threshold":
        current = [(ts, p95(batch)) for ts, batch in ticks if batch]
        baseline = [(0, p95(before))] if before else []
    else:
        current = [(ts, v) for ts, batch in ticks for v in batch]
        baseline = [(0, v) for v in before]
    info = BaselineInfo(
        "before",
        None,
        None,
        _median([v for _, v in baseline]),
        len(before),
        f"{len(before)} probe runs before the run" if before else "no probe before the run (health check alone)",
    )
    return current, baseline, info, runs[-1][1].cross_check() if runs else None


def _median(values: list[float]) -> float | None:
    from statistics import median

    return median(values) if values else None


def record_probes(
    spec: HealthSpec, sources: Sources, log: ProbeLog, *, environment: str, territory: str, at: int, before: bool
) -> None:
    """Run every SQL probe once: into the baseline (``before`` the run) or as a tick at ``at``."""
    for indicator in spec.indicators:
        if indicator.sql is None:
            continue
        query = render(
            indicator.sql.query,
            {"territory": territory, "environment": environment, "window": format_duration(indicator.window)},
        )
        run = probe(sources.dsn_for(indicator), query, indicator.sql.runs)
        if before:
            log.baseline.setdefault(indicator.name, []).append(run)
        else:
            log.ticks.setdefault(indicator.name, []).append((at, run))
