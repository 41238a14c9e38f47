"""Health files: validated like calendars, every problem located as path:line:column: field: message."""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest

from seasongate._errors import ConfigError, ConfigErrors
from seasongate._health import load_health, parse_percent
from tests.conftest import ROOT


def health_errors(tmp_path: Path, body: str) -> list[str]:
    path = tmp_path / "h.yaml"
    path.write_text(textwrap.dedent(body), encoding="utf-8")
    with pytest.raises(ConfigError) as info:
        load_health(path)
    items = info.value.problems if isinstance(info.value, ConfigErrors) else [info.value]
    return [p.render().replace(str(tmp_path) + "/", "") for p in items]


MINIMAL = """\
sources: {prometheus: {url_env: PROM_URL}}
indicators:
  - name: p95
    prometheus: 'max(x{territory="{{territory}}"})'
    max_degradation: 5%
"""


def test_the_shipped_health_file_loads_with_its_calendar_tightening_and_german_notice() -> None:
    spec = load_health(ROOT / "health" / "crm.yaml")
    first = spec.indicators[0]
    assert (first.max_degradation, first.during[0].max_degradation) == (0.05, 0.01)
    assert first.during[0].selector.kinds == {"blackout"} and first.during[0].selector.tags == {"season"}
    assert (spec.watch_for, spec.watch_interval, spec.slo_rollback, spec.slo_migration) == (900, 60, 300, 1800)
    assert spec.indicators[1].baseline.kind == "same_period_last_year"
    assert spec.indicators[1].judge.kind == "mann_whitney"
    webhook = spec.notices[0]
    assert webhook.language == "de" and "Vertrieb" in webhook.template
    assert webhook.events == {"degraded", "rolled_back", "recovered"}


def test_a_minimal_file_gets_documented_defaults(tmp_path: Path) -> None:
    path = tmp_path / "h.yaml"
    path.write_text(MINIMAL, encoding="utf-8")
    spec = load_health(path)
    ind = spec.indicators[0]
    assert (ind.direction, ind.no_data, ind.critical, ind.judge.kind, ind.judge.failure_limit) == (
        "increase", "inconclusive", True, "threshold", 3,
    )
    assert (ind.baseline.kind, ind.baseline.length, ind.window, ind.step) == ("before", 1800, 300, 60)
    assert spec.on_degraded == "rollback" and spec.name == "h"


def test_unknown_keys_bad_types_and_bad_values_are_located(tmp_path: Path) -> None:
    found = health_errors(
        tmp_path,
        """\
        sources: {prometheus: {url_env: PROM_URL}}
        indicators:
          - name: p95
            prometheus: 'max(x)'
            max_degradaton: 5%
            direction: up
        """,
    )
    assert "h.yaml:5:5: indicators[0].max_degradaton: unknown key" in found
    assert any(p.startswith("h.yaml:6:16: indicators[0].direction: Input should be") for p in found)


def test_percentages_need_a_percent_sign_and_placeholders_must_be_known(tmp_path: Path) -> None:
    found = health_errors(
        tmp_path,
        """\
        sources: {prometheus: {url_env: PROM_URL}}
        indicators:
          - name: p95
            prometheus: 'max(x{env="{{env}}"})'
            max_degradation: "5"
        """,
    )
    assert any(p.startswith("h.yaml:4:17: indicators[0].prometheus: unknown placeholder {{env}}") for p in found)
    assert any(p.startswith("h.yaml:5:22: indicators[0].max_degradation: invalid percentage '5'") for p in found)
    found = health_errors(tmp_path, MINIMAL.replace("max_degradation: 5%", "max_degradation: 5"))
    assert found == ["h.yaml:5:22: indicators[0].max_degradation: Input should be a valid string"]


def test_a_url_is_an_environment_variable_name_never_a_literal(tmp_path: Path) -> None:
    found = health_errors(
        tmp_path,
        """\
        sources: {prometheus: {url_env: "http://admin:secret@prom:9090"}}
        indicators: [{name: a, prometheus: 'max(x)', max: 1}]
        """,
    )
    assert len(found) == 1 and found[0].startswith("h.yaml:1:33: sources.prometheus.url_env: String should match")


def test_structural_mistakes_are_reported_together(tmp_path: Path) -> None:
    found = health_errors(
        tmp_path,
        """\
        watch: {for: 1m, interval: 5m}
        indicators:
          - name: a
            prometheus: 'max(x)'
          - name: a
            sql: {query: "select 1"}
            max: 1
            baseline: {kind: same_period_last_year}
            during: [{when: {in_period: {kind: blakout}}, max_degradation: 1%}]
        notices:
          - webhook: {url_env: HOOK, template: klingon}
          - {}
        """,
    )
    text = "\n".join(found)
    assert "during[0].when.in_period.kind[0]: Input should be 'blackout'" in text
    found = health_errors(
        tmp_path,
        """\
        watch: {for: 1m, interval: 5m}
        indicators:
          - name: a
            prometheus: 'max(x)'
          - name: a
            sql: {query: "select 1"}
            max: 1
            baseline: {kind: same_period_last_year}
            during: [{when: {in_period: {kind: blackout}}, max_degradation: 1%}]
        notices:
          - webhook: {url_env: HOOK, template: klingon}
          - {}
        """,
    )
    assert found == [
        "h.yaml:1:28: watch.interval: the interval is longer than the watch (watch.for)",
        "h.yaml:4:17: indicators[0].prometheus: a prometheus query needs sources.prometheus.url_env",
        "h.yaml:3:5: indicators[0]: give max_degradation (relative to the baseline, e.g. 5%) and/or max (absolute)",
        "h.yaml:5:11: indicators[1].name: duplicate indicator name 'a'",
        "h.yaml:9:69: indicators[1].during[0].max_degradation: tightens a max_degradation the indicator does not set",
        "h.yaml:8:22: indicators[1].baseline.kind: a SQL probe has no history: its baseline is 'before'",
        found[6],
        "h.yaml:12:5: notices[1]: a notice is exactly one of webhook and alertmanager",
    ]
    assert found[6].startswith("h.yaml:11:40: notices[0].webhook.template: no template 'klingon'")
    assert "bundled: default_en, sales_de" in found[6]


def test_parse_percent() -> None:
    assert parse_percent("5%") == pytest.approx(0.05)
    assert parse_percent("0.5 %") == pytest.approx(0.005)
    for bad in ("5", "five%", "-1%", "%"):
        with pytest.raises(ValueError, match="invalid percentage"):
            parse_percent(bad)
