"""The shape of a health file, as pydantic models (imported only when a file is parsed)."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

from seasongate._vocabulary import PeriodKind

Event = Literal["degraded", "inconclusive", "rolled_back", "recovered", "slo_missed"]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)


def _as_list(value: object) -> object:
    return [value] if isinstance(value, str) else value


class PeriodSelectorModel(_Strict):
    """Which calendar periods: by kind, name or tag (each one value or a list)."""

    kind: list[PeriodKind] = []
    name: list[str] = []
    tag: list[str] = []

    _lists = field_validator("kind", "name", "tag", mode="before")(_as_list)


class WhenModel(_Strict):
    """``when: {in_period: {kind: blackout, tag: season}}``"""

    in_period: PeriodSelectorModel


class DuringModel(_Strict):
    """A threshold the calendar tightens while a period is active."""

    when: WhenModel
    max_degradation: str | None = None
    max: float | None = None


class BaselineModel(_Strict):
    """``{kind: before, for: 30m}`` or ``{kind: same_period_last_year, period: {tag: season}}``."""

    kind: Literal["before", "same_period_last_year"] = "before"
    length: str | None = Field(default=None, alias="for")
    period: PeriodSelectorModel | None = None


class JudgeModel(_Strict):
    """``{kind: threshold, failure_limit: 3}`` or ``{kind: mann_whitney, confidence: 95%}``."""

    kind: Literal["threshold", "mann_whitney"] = "threshold"
    failure_limit: int | None = Field(default=None, ge=1, le=1000)
    confidence: str | None = None


class SqlProbeModel(_Strict):
    """A representative query, run ``runs`` times per measurement; its latency is the value."""

    query: str = Field(min_length=1)
    runs: int = Field(default=20, ge=3, le=10_000)
    dsn_env: str | None = None


class IndicatorModel(_Strict):
    """One health indicator."""

    name: str = Field(min_length=1, pattern=r"^[A-Za-z0-9_.:-]+$")
    description: str = ""
    prometheus: str | None = None
    sql: SqlProbeModel | None = None
    window: str = "5m"
    step: str | None = None
    direction: Literal["increase", "decrease", "either"] = "increase"
    max_degradation: str | None = None
    max: float | None = None
    no_data: Literal["fail", "inconclusive", "pass"] = "inconclusive"
    min_samples: int = Field(default=3, ge=1, le=100_000)
    critical: bool = True
    baseline: BaselineModel = Field(default_factory=BaselineModel)
    during: list[DuringModel] = []
    judge: JudgeModel | None = None


class PrometheusModel(_Strict):
    """Where the Prometheus HTTP API answers: the URL is read from an environment variable."""

    url_env: str = Field(pattern=r"^[A-Za-z_][A-Za-z0-9_]*$")
    timeout: str = "10s"


class SourcesModel(_Strict):
    """The sources the indicators read."""

    prometheus: PrometheusModel | None = None


class WatchModel(_Strict):
    """How long and how often to watch after a run, and what to do when it goes bad."""

    length: str = Field(default="10m", alias="for")
    interval: str = "1m"
    on_degraded: Literal["rollback", "notify"] = "rollback"


class SloModel(_Strict):
    """The service levels of a run: ``migration`` is a run deadline, ``rollback`` a ceiling."""

    migration: str | None = None
    rollback: str | None = None


class WebhookModel(_Strict):
    """A JSON webhook with a text rendered from a template (bundled name or file path)."""

    url_env: str = Field(pattern=r"^[A-Za-z_][A-Za-z0-9_]*$")
    template: str = "default_en"
    language: Literal["en", "de"] | None = None
    affected: str = ""
    ticket: str = ""
    expected_recovery: str = ""
    events: list[Event] | None = None


class AlertmanagerModel(_Strict):
    """Alertmanager's ``/api/v2/alerts``."""

    url_env: str = Field(pattern=r"^[A-Za-z_][A-Za-z0-9_]*$")
    severity: str = "critical"
    events: list[Event] | None = None


class NoticeModel(_Strict):
    """One notice target: exactly one of ``webhook`` and ``alertmanager``."""

    webhook: WebhookModel | None = None
    alertmanager: AlertmanagerModel | None = None
    retries: int = Field(default=3, ge=0, le=10)


class HealthModel(_Strict):
    """A health file."""

    name: str | None = None
    description: str = ""
    sources: SourcesModel = Field(default_factory=SourcesModel)
    watch: WatchModel = Field(default_factory=WatchModel)
    slo: SloModel = Field(default_factory=SloModel)
    judge: JudgeModel = Field(default_factory=JudgeModel)
    indicators: list[IndicatorModel] = Field(min_length=1)
    notices: list[NoticeModel] = []
