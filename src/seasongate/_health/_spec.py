"""A compiled health file: plain frozen dataclasses, seconds and fractions (no pydantic)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

from seasongate._calendar import Selector
from seasongate._errors import Location

Direction = Literal["increase", "decrease", "either"]
NoData = Literal["fail", "inconclusive", "pass"]
EVENTS = ("degraded", "inconclusive", "rolled_back", "recovered", "slo_missed")


@dataclass(frozen=True)
class Judge:
    """``threshold`` (consecutive failures up to ``failure_limit``) or ``mann_whitney``."""

    kind: Literal["threshold", "mann_whitney"] = "threshold"
    failure_limit: int = 3
    confidence: float = 0.95


@dataclass(frozen=True)
class Baseline:
    """``before`` (``length`` seconds before the run) or ``same_period_last_year``."""

    kind: Literal["before", "same_period_last_year"] = "before"
    length: int = 1800
    period: Selector = field(default_factory=Selector)


@dataclass(frozen=True)
class Tightening:
    """While a selected period is active, these limits apply (they only ever tighten)."""

    selector: Selector
    max_degradation: float | None
    max: float | None
    location: Location


@dataclass(frozen=True)
class SqlProbe:
    """A representative query run ``runs`` times; the client measures its latency in seconds."""

    query: str
    runs: int
    dsn_env: str | None


@dataclass(frozen=True)
class Indicator:
    """One indicator of a health file."""

    name: str
    description: str
    prometheus: str | None
    sql: SqlProbe | None
    window: int
    step: int
    direction: Direction
    max_degradation: float | None
    max: float | None
    no_data: NoData
    min_samples: int
    critical: bool
    baseline: Baseline
    during: tuple[Tightening, ...]
    judge: Judge
    location: Location
    query_location: Location
    query_field: str = ""  # where the query stands, ``indicators[0].prometheus``

    @property
    def source(self) -> str:
        """``prometheus`` or ``sql``."""
        return "prometheus" if self.prometheus is not None else "sql"


@dataclass(frozen=True)
class Notice:
    """Where notices go: a webhook or an Alertmanager, for which events."""

    kind: Literal["webhook", "alertmanager"]
    url_env: str
    events: frozenset[str]
    retries: int
    template: str = ""
    affected: str = ""
    ticket: str = ""
    expected_recovery: str = ""
    severity: str = "critical"
    language: str = "en"


@dataclass(frozen=True)
class HealthSpec:
    """A loaded health file."""

    name: str
    path: str
    sha256: str
    prometheus_url_env: str | None
    prometheus_timeout: int
    watch_for: int
    watch_interval: int
    on_degraded: Literal["rollback", "notify"]
    slo_migration: int | None
    slo_rollback: int | None
    indicators: tuple[Indicator, ...]
    notices: tuple[Notice, ...]
