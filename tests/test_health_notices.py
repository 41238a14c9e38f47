"""Notices: a webhook receiver on loopback and a real Alertmanager (Debian's binary)."""

from __future__ import annotations

import os
import time
from collections.abc import Iterator
from datetime import UTC, datetime

import pytest

from seasongate._health import load_health
from seasongate._health._notices import NoticeEvent, notify
from seasongate._time import to_ts, zone
from tests.conftest import ROOT
from tests.promserver import Server, ServiceUnavailable, WebhookReceiver, get_json, start_alertmanager

SINCE = to_ts(datetime(2026, 9, 25, 11, 0, tzinfo=UTC))


@pytest.fixture(scope="session")
def alertmanager() -> Iterator[Server]:
    """A real Alertmanager on loopback; fails (never skips) under CI=true."""
    try:
        server = start_alertmanager()
    except ServiceUnavailable as exc:
        if os.environ.get("CI", "").lower() == "true":
            pytest.fail(f"Alertmanager is required under CI=true: {exc}")
        pytest.skip(f"no Alertmanager: {exc}")  # only outside CI: under CI=true it failed above
    yield server
    server.stop()


def event(kind: str, version: str = "V226") -> NoticeEvent:
    return NoticeEvent(
        kind, "production", "DE", version, SINCE, SINCE + 300,
        "api_p95_latency: degraded: 3 consecutive measurements failed", ("api_p95_latency",), zone("Europe/Berlin"),
    )  # fmt: skip


def test_the_sales_team_gets_german_text_and_the_facts_as_json() -> None:
    spec = load_health(ROOT / "health" / "crm.yaml")
    hook = WebhookReceiver(fail_first=2)
    sleeps: list[float] = []
    try:
        env = {"SEASONGATE_SALES_WEBHOOK": hook.url}
        delivered = notify(spec, event("degraded"), env, sleep=sleeps.append)
    finally:
        hook.stop()
    webhook = [d for d in delivered if d.target.startswith("webhook")]
    assert len(webhook) == 1 and webhook[0].delivered and webhook[0].attempts == 3
    assert sleeps == [0.5, 1.0]
    (body,) = hook.received
    assert body["event"] == "degraded" and body["territory"] == "DE" and body["version"] == "V226"  # type: ignore[index]
    text = body["text"]  # type: ignore[index]
    assert "Das CRM ist langsamer als zugesagt" in text and "Gebiet DE" in text
    assert "Auftragserfassung und Kundensuche" in text and "CRM-OPS" in text and "2026-09-25T13:00:00+02:00" in text
    # The Alertmanager's variable is not set: reported, not raised.
    manager = [d for d in delivered if d.target.startswith("alertmanager")]
    assert manager[0].delivered is False and "SEASONGATE_ALERTMANAGER_URL is not set" in (manager[0].error or "")


def test_a_dead_target_is_retried_and_reported_never_raised() -> None:
    spec = load_health(ROOT / "health" / "crm.yaml")
    sleeps: list[float] = []
    env = {"SEASONGATE_SALES_WEBHOOK": "http://user:pw@127.0.0.1:9/hook", "SEASONGATE_ALERTMANAGER_URL": "http://127.0.0.1:9"}
    delivered = notify(spec, event("rolled_back"), env, sleep=sleeps.append)
    assert [d.delivered for d in delivered] == [False, False]
    assert all(d.attempts == 4 for d in delivered) and len(sleeps) == 6
    assert all("pw" not in (d.error or "") + d.target for d in delivered)


def test_one_incident_is_one_alert_in_alertmanager_and_recovery_ends_it(alertmanager: Server) -> None:
    spec = load_health(ROOT / "health" / "crm.yaml")
    env = {"SEASONGATE_ALERTMANAGER_URL": alertmanager.url}
    for kind in ("degraded", "rolled_back"):
        (delivery,) = [d for d in notify(spec, event(kind, "V9001"), env) if d.target.startswith("alertmanager")]
        assert delivery.delivered, delivery.error
    alerts = [a for a in get_json(alertmanager.url + "/api/v2/alerts") if a["labels"].get("version") == "V9001"]  # type: ignore[union-attr]
    assert len(alerts) == 1
    labels = alerts[0]["labels"]
    assert {k: labels[k] for k in ("alertname", "environment", "territory", "version", "severity")} == {
        "alertname": "SeasongateHealthDegraded", "environment": "production", "territory": "DE",
        "version": "V9001", "severity": "critical",
    }  # fmt: skip
    assert alerts[0]["status"]["state"] == "active"
    notify(spec, event("recovered", "V9001"), env)
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        active = get_json(alertmanager.url + "/api/v2/alerts?active=true&unprocessed=true")
        if not [a for a in active if a["labels"].get("version") == "V9001"]:  # type: ignore[union-attr]
            break
        time.sleep(0.2)
    else:
        pytest.fail("the recovered alert is still active")
