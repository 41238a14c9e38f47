"""Health checks against a real Prometheus: deterministic series backfilled with promtool
(a baseline hour, a degraded hour, a mildly slower hour, last year's Oktoberfest), the
calendar choosing the baseline and the threshold, and ``seasongate health check``."""

from __future__ import annotations

import json
import os
import textwrap
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
from click.testing import CliRunner

from seasongate._calendar import Selector
from seasongate._errors import ConfigError
from seasongate._health import same_period_last_year
from seasongate._policy import load_policy
from seasongate._time import iso, parse_instant, to_ts
from seasongate.api import health_check
from seasongate.cli import main
from tests.conftest import ROOT
from tests.promserver import Server, ServiceUnavailable, start_prometheus

POLICY = ROOT / "src" / "seasongate" / "_bundled" / "policies" / "production.yaml"
LABELS = '{territory="DE",environment="production"}'


def _z(text: str) -> int:
    return to_ts(datetime.fromisoformat(text).replace(tzinfo=UTC))


def _series(name: str, start: str, end: str, level: float) -> list[str]:
    """A sample every 30 s; a deterministic ±0.8 % wobble so the judges see noise."""
    out = []
    for i, ts in enumerate(range(_z(start), _z(end), 30)):
        value = level * (1 + 0.004 * ((i * 7) % 5 - 2))
        out.append(f"{name}{LABELS} {value:.6f} {ts}")
    return out


def openmetrics() -> str:
    p95 = [
        # Last year's Oktoberfest, day 7 (Friday 26 September 2025), 11:00-14:00 local.
        *_series("crm_p95_seconds", "2025-09-26T09:00", "2025-09-26T12:00", 0.2),
        # This year's Oktoberfest, day 7 (Friday 25 September 2026): a baseline hour, then 3x.
        *_series("crm_p95_seconds", "2026-09-25T10:00", "2026-09-25T11:00", 0.2),
        *_series("crm_p95_seconds", "2026-09-25T11:00", "2026-09-25T12:00", 0.6),
        # ...and back to normal (the change was fixed by hand).
        *_series("crm_p95_seconds", "2026-09-25T12:00", "2026-09-25T13:00", 0.2),
    ]
    mild = [
        # 3 % slower: within a 5 % promise, beyond the 1 % promise of a blackout.
        *_series("crm_mild_seconds", "2026-09-01T10:00", "2026-09-01T11:00", 0.2),
        *_series("crm_mild_seconds", "2026-09-01T11:00", "2026-09-01T12:00", 0.206),
        *_series("crm_mild_seconds", "2026-09-25T10:00", "2026-09-25T11:00", 0.2),
        *_series("crm_mild_seconds", "2026-09-25T11:00", "2026-09-25T12:00", 0.206),
    ]
    two = [
        *(line.replace(LABELS, '{territory="DE",instance="a"}') for line in _series("crm_two", "2026-09-25T10:00", "2026-09-25T12:00", 1)),
        *(line.replace(LABELS, '{territory="DE",instance="b"}') for line in _series("crm_two", "2026-09-25T10:00", "2026-09-25T12:00", 1)),
    ]
    return "\n".join(
        ["# TYPE crm_p95_seconds gauge", *p95, "# TYPE crm_mild_seconds gauge", *mild, "# TYPE crm_two gauge", *two, "# EOF", ""]
    )


@pytest.fixture(scope="session")
def prometheus() -> Iterator[Server]:
    """A real Prometheus with the backfilled series; fails (never skips) under CI=true."""
    try:
        server = start_prometheus(openmetrics=openmetrics())
    except ServiceUnavailable as exc:
        if os.environ.get("CI", "").lower() == "true":
            pytest.fail(f"Prometheus is required under CI=true: {exc}")
        pytest.skip(f"no Prometheus: {exc}")  # only outside CI: under CI=true it failed above
    yield server
    server.stop()


HEALTH = """\
sources: {prometheus: {url_env: PROM_URL}}
watch: {for: 30m, interval: 1m}
judge: {kind: threshold, failure_limit: 3}
indicators:
  - name: api_p95
    prometheus: 'max(crm_p95_seconds{territory="{{territory}}",environment="{{environment}}"})'
    max_degradation: 5%
    min_samples: 5
    baseline: {kind: before, for: 30m}
    during:
      - when: {in_period: {kind: blackout, tag: season}}
        max_degradation: 1%
"""


def write(tmp_path: Path, text: str, name: str = "health.yaml") -> Path:
    path = tmp_path / name
    path.write_text(textwrap.dedent(text), encoding="utf-8")
    return path


def at(text: str) -> datetime:
    return parse_instant(text)[0]


def run(prometheus: Server, path: Path, at_: str, since: str | None = None, territory: str = "DE") -> object:
    return health_check(
        path, environment="production", territory=territory, at=at(at_),
        since=at(since) if since else None, policy=POLICY, environ={"PROM_URL": prometheus.url},
    )  # fmt: skip


def test_a_threefold_slowdown_after_the_run_is_degraded(prometheus: Server, tmp_path: Path) -> None:
    report = run(prometheus, write(tmp_path, HEALTH), "2026-09-25T11:30Z", "2026-09-25T11:00Z")
    assert report.verdict == "degraded"  # type: ignore[attr-defined]
    data = report.to_dict()  # type: ignore[attr-defined]
    ind = data["indicators"][0]
    assert ind["query"] == 'max(crm_p95_seconds{territory="DE",environment="production"})'
    assert ind["baseline"]["kind"] == "before" and ind["baseline"]["value"] == pytest.approx(0.2, rel=0.02)
    assert ind["baseline"]["start"] == "2026-09-25T12:30:00+02:00"
    measured = ind["measurements"]
    assert len(measured) == 31 and set(measured[0]) == {"at", "value", "baseline", "relative", "verdict"}
    late = measured[-1]
    assert late["value"] >= 3 * 0.19 and late["relative"] >= 1.8 and late["verdict"] == "fail"
    assert ind["judge"]["kind"] == "threshold" and ind["judge"]["consecutive_failures"] >= 3


def test_before_the_run_the_same_check_is_healthy(prometheus: Server, tmp_path: Path) -> None:
    report = run(prometheus, write(tmp_path, HEALTH), "2026-09-25T10:59Z", "2026-09-25T10:40Z")
    assert report.verdict == "healthy"  # type: ignore[attr-defined]


def test_the_blackout_tightens_the_promise_and_the_report_names_the_period(prometheus: Server, tmp_path: Path) -> None:
    path = write(tmp_path, HEALTH.replace("crm_p95_seconds", "crm_mild_seconds"))
    quiet = run(prometheus, path, "2026-09-01T11:40Z", "2026-09-01T11:05Z").to_dict()  # type: ignore[attr-defined]
    peak = run(prometheus, path, "2026-09-25T11:40Z", "2026-09-25T11:05Z").to_dict()  # type: ignore[attr-defined]
    assert quiet["verdict"] == "healthy"
    assert quiet["indicators"][0]["threshold"] == {"max_degradation": 0.05, "max": None, "chosen_by": None}
    assert peak["verdict"] == "degraded"
    chosen = peak["indicators"][0]["threshold"]
    assert chosen["max_degradation"] == 0.01
    assert chosen["chosen_by"]["name"] == "oktoberfest" and chosen["chosen_by"]["kind"] == "blackout"
    relatives = [m["relative"] for m in peak["indicators"][0]["measurements"]]
    assert all(0.01 < r < 0.05 for r in relatives)


def test_the_same_day_of_last_years_oktoberfest_is_the_baseline(prometheus: Server, tmp_path: Path) -> None:
    path = write(
        tmp_path,
        """\
        sources: {prometheus: {url_env: PROM_URL}}
        indicators:
          - name: vs_last_year
            prometheus: 'max(crm_p95_seconds{territory="{{territory}}"})'
            max_degradation: 20%
            min_samples: 10
            baseline: {kind: same_period_last_year, period: {tag: season}}
            judge: {kind: mann_whitney, confidence: 95%}
        """,
    )
    degraded = run(prometheus, path, "2026-09-25T11:30Z", "2026-09-25T11:05Z").to_dict()  # type: ignore[attr-defined]
    ind = degraded["indicators"][0]
    assert degraded["verdict"] == "degraded"
    assert ind["baseline"]["description"].startswith("oktoberfest 2025 day 7")
    assert ind["baseline"]["end"] == "2025-09-26T13:30:00+02:00"
    assert ind["baseline"]["period"]["name"] == "oktoberfest" and ind["baseline"]["samples"] >= 20
    low, high = ind["judge"]["degradation_interval"]
    assert low >= 1.8 and high <= 2.2  # three times slower: +200 %
    healthy = run(prometheus, path, "2026-09-25T10:55Z", "2026-09-25T10:25Z").to_dict()  # type: ignore[attr-defined]
    assert healthy["verdict"] == "healthy"


def test_same_period_last_year_keeps_the_weekday_local_hour_and_skips_cancelled_years() -> None:
    policy = load_policy(POLICY)
    tz = policy.zone("DE")
    season = Selector.of(tag="season")
    cases = {
        "2026-09-25T13:30+02:00": ("2025-09-26T13:30:00+02:00", "oktoberfest 2025 day 7"),
        "2022-09-20T10:00+02:00": ("2019-09-24T10:00:00+02:00", "oktoberfest 2019 day 4 (2 skipped years)"),
        # Outside a season: 52 weeks earlier, same weekday and local hour across DST changes.
        "2026-11-01T10:00+01:00": ("2025-11-02T10:00:00+01:00", "52 weeks earlier"),
        "2026-03-30T10:00+02:00": ("2025-03-31T10:00:00+02:00", "52 weeks earlier"),
    }
    for now, (then, described) in cases.items():
        found = same_period_last_year(policy, "DE", to_ts(at(now)), season)
        assert iso(found.at, tz) == then
        assert found.description.startswith(described)


def test_a_query_the_server_rejects_is_located_in_the_file(prometheus: Server, tmp_path: Path) -> None:
    path = write(tmp_path, HEALTH.replace("max(crm_p95_seconds", "max(crm_p95_seconds[[["))
    with pytest.raises(ConfigError) as info:
        run(prometheus, path, "2026-09-25T11:30Z", "2026-09-25T11:00Z")
    assert info.value.render().startswith(f"{path}:6:17: indicators[0].prometheus: Prometheus rejected the query")
    path = write(tmp_path, HEALTH.replace(
        'max(crm_p95_seconds{territory="{{territory}}",environment="{{environment}}"})', 'crm_two{territory="{{territory}}"}'
    ))
    with pytest.raises(ConfigError, match="answers 2 series"):
        run(prometheus, path, "2026-09-25T11:30Z", "2026-09-25T11:00Z")


def test_no_data_follows_the_indicators_no_data_rule(prometheus: Server, tmp_path: Path) -> None:
    missing = HEALTH.replace("crm_p95_seconds", "crm_absent_seconds")
    for rule, verdict in (("fail", "degraded"), ("inconclusive", "inconclusive"), ("pass", "healthy")):
        path = write(tmp_path, missing.replace("    min_samples: 5", f"    min_samples: 5\n    no_data: {rule}"))
        assert run(prometheus, path, "2026-09-25T11:30Z", "2026-09-25T11:00Z").verdict == verdict  # type: ignore[attr-defined]


def cli(*args: str, env: dict[str, str] | None = None) -> tuple[int, str]:
    result = CliRunner().invoke(main, list(args), env=env)
    return result.exit_code, result.output


def test_cli_health_check_exit_codes_and_json(prometheus: Server, tmp_path: Path) -> None:
    path = str(write(tmp_path, HEALTH))
    base = ["health", "check", "--health", path, "--env", "production", "-t", "DE", "--policy", str(POLICY)]
    env = {"PROM_URL": prometheus.url}
    code, out = cli(*base, "--at", "2026-09-25T11:30Z", "--since", "2026-09-25T11:00Z", "--format", "json", env=env)
    assert code == 1
    data = json.loads(out)
    assert data["verdict"] == "degraded" and data["indicators"][0]["threshold"]["chosen_by"]["name"] == "oktoberfest"
    code, out = cli(*base, "--at", "2026-09-25T10:59Z", "--since", "2026-09-25T10:40Z", env=env)
    assert code == 0 and "healthy" in out
    code, out = cli(*base, "--at", "2026-09-25T11:30Z", "--since", "2026-09-25T11:00Z", env=env)
    assert code == 1 and "api_p95" in out and "degraded" in out and "oktoberfest" in out
    absent = str(write(tmp_path, HEALTH.replace("crm_p95_seconds", "crm_absent"), "absent.yaml"))
    code, out = cli(*base[:3], absent, *base[4:], "--at", "2026-09-25T11:30Z", env=env)
    assert code == 3 and "inconclusive" in out
    code, out = cli(*base, "--at", "2026-09-25T11:30Z", env={"PROM_URL": ""})
    assert code == 2 and "PROM_URL" in out
    broken = str(write(tmp_path, HEALTH.replace("max_degradation: 5%", "max_degradation: 5"), "broken.yaml"))
    code, out = cli(*base[:3], broken, *base[4:], "--at", "2026-09-25T11:30Z", env=env)
    assert code == 2 and "broken.yaml:7:22: indicators[0].max_degradation" in out


def test_a_notify_watch_reports_the_degradation_and_the_recovery_as_they_happen(
    prometheus: Server, tmp_path: Path
) -> None:
    from seasongate._health import Sources, load_health, watch

    every_minute = HEALTH.replace("    min_samples: 5\n", "    min_samples: 5\n    step: 1m\n")
    notify = every_minute.replace("watch: {for: 30m, interval: 1m}", "watch: {for: 100m, interval: 5m, on_degraded: notify}")
    spec = load_health(write(tmp_path, notify))
    policy = load_policy(POLICY)
    moment = [_z("2026-09-25T11:00")]
    changes: list[tuple[str, str]] = []

    def sleep(seconds: float) -> None:
        moment[0] += int(seconds)

    result = watch(
        spec, Sources.from_environment(spec, {"PROM_URL": prometheus.url}), policy=policy, environment="production",
        territory="DE", run_started=_z("2026-09-25T11:00"), run_ended=_z("2026-09-25T11:00"),
        clock=lambda: moment[0], sleep=sleep,
        on_change=lambda event, report: changes.append((event, iso(moment[0]))),
    )
    assert changes == [("degraded", "2026-09-25T11:05:00+00:00"), ("recovered", "2026-09-25T12:05:00+00:00")]
    assert result.verdict == "degraded" and result.recovered_at == _z("2026-09-25T12:05")
    assert result.checks == 20 and result.report is not None and result.report.verdict == "healthy"
    # With on_degraded: rollback the watch stops at the first degradation.
    rollback = load_health(write(tmp_path, every_minute.replace("interval: 1m}", "interval: 5m}")))
    moment[0] = _z("2026-09-25T11:00")
    stopped = watch(
        rollback, Sources.from_environment(rollback, {"PROM_URL": prometheus.url}), policy=policy,
        environment="production", territory="DE", run_started=moment[0], run_ended=moment[0],
        clock=lambda: moment[0], sleep=sleep,
    )
    assert (stopped.verdict, stopped.checks, stopped.degraded_at) == ("degraded", 1, _z("2026-09-25T11:05"))
