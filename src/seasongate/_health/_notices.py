"""Notices of what a health watch saw and did: webhooks (JSON plus a text from a template)
and Alertmanager (``POST /api/v2/alerts``), so the company's alert routing applies.

A notice never blocks a rollback: :func:`notify` does not raise; each target is retried and
every attempt's outcome is returned for the audit trail and the report.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import asdict, dataclass
from typing import Any
from zoneinfo import ZoneInfo

from seasongate._dsn import display_dsn
from seasongate._health._spec import HealthSpec, Notice
from seasongate._health._template import render
from seasongate._time import iso

EVENT_TEXT = {
    "en": {
        "degraded": "The CRM is slower than promised",
        "inconclusive": "Whether the CRM is slower cannot be told yet",
        "rolled_back": "The change was rolled back automatically",
        "recovered": "The CRM is as fast as promised again",
        "slo_missed": "A promised duration was missed",
    },
    "de": {
        "degraded": "Das CRM ist langsamer als zugesagt",
        "inconclusive": "Ob das CRM langsamer ist, lässt sich noch nicht sagen",
        "rolled_back": "Die Änderung wurde automatisch zurückgenommen",
        "recovered": "Das CRM ist wieder so schnell wie zugesagt",
        "slo_missed": "Eine zugesagte Dauer wurde nicht eingehalten",
    },
}
# degraded and rolled_back describe one incident: one Alertmanager alert (same labels).
ALERT_NAMES = {
    "degraded": "SeasongateHealthDegraded",
    "rolled_back": "SeasongateHealthDegraded",
    "recovered": "SeasongateHealthDegraded",
    "inconclusive": "SeasongateHealthInconclusive",
    "slo_missed": "SeasongateSloMissed",
}


@dataclass(frozen=True)
class NoticeEvent:
    """What happened, where, and since when."""

    event: str
    environment: str
    territory: str
    version: str
    since: int
    at: int
    summary: str
    indicators: tuple[str, ...]
    tz: ZoneInfo


@dataclass(frozen=True)
class Delivery:
    """The outcome of one notice: delivered or not, after how many attempts."""

    target: str
    event: str
    delivered: bool
    attempts: int
    error: str | None = None

    def to_dict(self) -> dict[str, Any]:
        """For the audit trail and the JSON report."""
        return asdict(self)


Send = Callable[[str, str, Any], Any]


def _send(method: str, url: str, body: Any) -> Any:
    from seasongate._health._http import check_url, request_json

    return request_json(method, check_url(url), body=body, timeout=10)


def notify(
    spec: HealthSpec,
    event: NoticeEvent,
    environ: Mapping[str, str],
    *,
    sleep: Callable[[float], None] = time.sleep,
    send: Send = _send,
) -> list[Delivery]:
    """Send ``event`` to every notice of ``spec`` that wants it; never raises."""
    out = []
    for notice in spec.notices:
        if event.event not in notice.events:
            continue
        out.append(_deliver(spec, notice, event, environ, sleep, send))
    return out


def _deliver(
    spec: HealthSpec, notice: Notice, event: NoticeEvent, environ: Mapping[str, str],
    sleep: Callable[[float], None], send: Send,
) -> Delivery:  # fmt: skip
    url = environ.get(notice.url_env, "")
    target = f"{notice.kind} ${notice.url_env}"
    if not url:
        return Delivery(target, event.event, delivered=False, attempts=0, error=f"{notice.url_env} is not set")
    target = f"{notice.kind} {display_dsn(url)}"
    body: Any
    if notice.kind == "webhook":
        endpoint, body = url, webhook_payload(spec, notice, event)
    else:
        endpoint, body = url.rstrip("/") + "/api/v2/alerts", alertmanager_payload(spec, notice, event)
    error = ""
    for attempt in range(1, notice.retries + 2):
        try:
            send("POST", endpoint, body)
            return Delivery(target, event.event, delivered=True, attempts=attempt)
        except Exception as exc:  # a notice must never stop the watch or a rollback
            error = str(exc) or type(exc).__name__
        if attempt <= notice.retries:
            sleep(min(0.5 * 2 ** (attempt - 1), 10.0))
    return Delivery(target, event.event, delivered=False, attempts=notice.retries + 1, error=error)


def _values(spec: HealthSpec, notice: Notice, event: NoticeEvent) -> dict[str, str]:
    words = EVENT_TEXT.get(notice.language, EVENT_TEXT["en"])
    return {
        "event": event.event,
        "event_text": words[event.event],
        "health": spec.name,
        "environment": event.environment,
        "territory": event.territory,
        "version": event.version,
        "since": iso(event.since, event.tz),
        "indicators": ", ".join(event.indicators) or "-",
        "summary": event.summary,
        "affected": notice.affected or "-",
        "ticket": notice.ticket or "-",
        "expected_recovery": notice.expected_recovery or "-",
    }


def webhook_payload(spec: HealthSpec, notice: Notice, event: NoticeEvent) -> dict[str, Any]:
    """The webhook's JSON: the facts as fields, and ``text`` rendered from the template."""
    values = _values(spec, notice, event)
    return {
        **{k: v for k, v in values.items() if k != "indicators"},
        "indicators": list(event.indicators),
        "at": iso(event.at, event.tz),
        "text": render(notice.template, values),
    }


def alertmanager_payload(spec: HealthSpec, notice: Notice, event: NoticeEvent) -> list[dict[str, Any]]:
    """One alert; ``endsAt`` set when the event is a recovery (Alertmanager resolves it)."""
    alert: dict[str, Any] = {
        "labels": {
            "alertname": ALERT_NAMES[event.event],
            "environment": event.environment,
            "territory": event.territory,
            "version": event.version,
            "severity": "warning" if event.event == "inconclusive" else notice.severity,
            "health": spec.name,
        },
        "annotations": {
            "summary": EVENT_TEXT["en"][event.event],
            "description": event.summary,
            "event": event.event,
            "indicators": ", ".join(event.indicators),
        },
        "startsAt": iso(event.since),
    }
    if event.event == "recovered":
        alert["endsAt"] = iso(event.at)
    return [alert]


def deliveries_failed(deliveries: Sequence[Delivery]) -> list[Delivery]:
    """The notices that did not arrive (reported, never fatal)."""
    return [d for d in deliveries if not d.delivered]
