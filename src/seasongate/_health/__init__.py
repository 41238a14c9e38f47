"""Health watch: health files, sources (Prometheus HTTP API, SQL probe), calendar-chosen
baselines and thresholds, judges, the watch loop and notices.

Heavy parts (pydantic models, HTTP, psycopg) load inside the functions that use them.
"""

from __future__ import annotations

from seasongate._health._check import (
    BaselineInfo,
    HealthReport,
    IndicatorResult,
    ProbeLog,
    Sources,
    check_health,
    record_probes,
)
from seasongate._health._judges import Judgement, Measurement, Verdict
from seasongate._health._load import load_health, parse_percent
from seasongate._health._notices import Delivery, NoticeEvent, notify
from seasongate._health._prometheus import PrometheusSource, QueryRejected, SourceError
from seasongate._health._readiness import RollbackFacts, rollback_refusals
from seasongate._health._seasons import LastYear, Threshold, same_period_last_year, threshold_for
from seasongate._health._spec import HealthSpec, Indicator, Judge, Notice
from seasongate._health._stats import MannWhitney, ShiftEstimate, hodges_lehmann, mann_whitney
from seasongate._health._watch import WatchResult, watch

__all__ = [
    "BaselineInfo",
    "Delivery",
    "HealthReport",
    "HealthSpec",
    "Indicator",
    "IndicatorResult",
    "Judge",
    "Judgement",
    "LastYear",
    "MannWhitney",
    "Measurement",
    "Notice",
    "NoticeEvent",
    "ProbeLog",
    "PrometheusSource",
    "QueryRejected",
    "RollbackFacts",
    "ShiftEstimate",
    "SourceError",
    "Sources",
    "Threshold",
    "Verdict",
    "WatchResult",
    "check_health",
    "hodges_lehmann",
    "load_health",
    "mann_whitney",
    "notify",
    "parse_percent",
    "record_probes",
    "rollback_refusals",
    "same_period_last_year",
    "threshold_for",
    "watch",
]
