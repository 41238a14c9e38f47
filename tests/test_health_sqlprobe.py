"""The SQL probe against the suite's real PostgreSQL: latency measured by the client."""

from __future__ import annotations

import os
import textwrap
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest

from seasongate._errors import ConfigError
from seasongate._health import ProbeLog, Sources, check_health, load_health, record_probes
from seasongate._policy import load_policy
from seasongate._time import to_ts
from seasongate.api import health_check
from tests.conftest import ROOT
from tests.pgcluster import Cluster, ClusterUnavailable, start_cluster

pytestmark = pytest.mark.postgres

POLICY = ROOT / "src" / "seasongate" / "_bundled" / "policies" / "production.yaml"
AT = datetime(2026, 9, 1, 10, 0, tzinfo=UTC)


def write(tmp_path: Path, body: str) -> Path:
    path = tmp_path / "probe.yaml"
    path.write_text(textwrap.dedent(body), encoding="utf-8")
    return path


PROBE = """\
watch: {for: 5m, interval: 1m}
judge: {kind: threshold, failure_limit: 2}
indicators:
  - name: lookup
    sql: {query: "select pg_sleep(0.01), '{{territory}}'", runs: 5}
    max_degradation: 200%
    min_samples: 2
"""


def test_a_twentyfold_slower_probe_is_degraded_and_an_unchanged_one_healthy(pg_dsn: str, tmp_path: Path) -> None:
    spec = load_health(write(tmp_path, PROBE))
    policy = load_policy(POLICY)
    sources = Sources.from_environment(spec, {}, pg_dsn)
    ts = to_ts(AT)
    log = ProbeLog()
    record_probes(spec, sources, log, environment="production", territory="DE", at=ts, before=True)
    (batch,) = log.baseline["lookup"]
    assert len(batch.latencies) == 5 and min(batch.latencies) >= 0.01
    for tick in (1, 2):
        record_probes(spec, sources, log, environment="production", territory="DE", at=ts + 60 * tick, before=False)
    kwargs = {"policy": policy, "environment": "production", "territory": "DE", "since": ts, "at": ts + 120}
    report = check_health(spec, sources, probes=log, **kwargs)  # type: ignore[arg-type]
    assert report.indicators[0].query == "select pg_sleep(0.01), 'DE'"
    assert report.verdict in ("healthy",), report.summary()
    slow = load_health(write(tmp_path, PROBE.replace("pg_sleep(0.01)", "pg_sleep(0.2)")))
    log.ticks.clear()
    for tick in (1, 2):
        record_probes(slow, sources, log, environment="production", territory="DE", at=ts + 60 * tick, before=False)
    report = check_health(slow, sources, probes=log, **kwargs)  # type: ignore[arg-type]
    assert report.verdict == "degraded"
    # Planted: twenty times slower; asserted: more than three times (the machine is shared).
    assert all(m.relative is not None and m.relative > 2 for m in report.indicators[0].judgement.measurements)


def test_a_check_alone_has_no_probe_history_and_judges_by_max(pg_dsn: str, tmp_path: Path) -> None:
    path = write(tmp_path, PROBE.replace("max_degradation: 200%", "max: 5.0").replace("min_samples: 2", "min_samples: 1"))
    report = health_check(path, environment="production", territory="DE", at=AT, policy=POLICY, dsn=pg_dsn, environ={})
    assert report.verdict == "healthy"
    assert report.indicators[0].baseline.description.startswith("no probe before the run")
    relative_only = write(tmp_path, PROBE)
    report = health_check(relative_only, environment="production", territory="DE", at=AT, policy=POLICY, dsn=pg_dsn, environ={})
    assert report.verdict == "inconclusive"


def test_a_probe_never_writes_and_a_broken_probe_is_located(pg_dsn: str, tmp_path: Path) -> None:
    writes = write(tmp_path, PROBE.replace("select pg_sleep(0.01), '{{territory}}'", "create table probe_was_here (x int)"))
    with pytest.raises(ConfigError, match=r"probe.yaml:5:\d+: indicators\[0\].sql.query: the database rejected the probe"):
        health_check(writes, environment="production", territory="DE", at=AT, policy=POLICY, dsn=pg_dsn, environ={})
    typo = write(tmp_path, PROBE.replace("select pg_sleep", "selec pg_sleep"))
    with pytest.raises(ConfigError, match="syntax error"):
        health_check(typo, environment="production", territory="DE", at=AT, policy=POLICY, dsn=pg_dsn, environ={})


@pytest.fixture(scope="module")
def statements_cluster() -> Iterator[Cluster]:
    """A PostgreSQL server with pg_stat_statements loaded; fails (never skips) under CI=true."""
    try:
        cluster = start_cluster(settings={"shared_preload_libraries": "pg_stat_statements"})
    except ClusterUnavailable as exc:
        if os.environ.get("CI", "").lower() == "true":
            pytest.fail(f"PostgreSQL with pg_stat_statements is required under CI=true: {exc}")
        pytest.skip(f"no PostgreSQL with pg_stat_statements: {exc}")  # only outside CI
    yield cluster
    cluster.stop()


def test_where_pg_stat_statements_is_loaded_the_probe_is_cross_checked(
    statements_cluster: Cluster, pg_dsn: str, tmp_path: Path
) -> None:
    import psycopg

    dsn = statements_cluster.dsn()
    with psycopg.connect(dsn, autocommit=True) as conn:
        conn.execute("CREATE EXTENSION IF NOT EXISTS pg_stat_statements")
    path = write(tmp_path, PROBE.replace("max_degradation: 200%", "max: 5.0").replace("pg_sleep(0.01)", "pg_sleep(0.02)"))
    report = health_check(path, environment="production", territory="DE", at=AT, policy=POLICY, dsn=dsn, environ={})
    check = report.indicators[0].cross_check
    assert check is not None and check["server_calls"] == 5
    assert 0.02 <= check["server_mean_seconds"] <= check["client_mean_seconds"]
    assert report.to_dict()["indicators"][0]["cross_check"] == check
    # Without the extension (the suite's usual server) there is nothing to cross-check.
    plain = health_check(path, environment="production", territory="DE", at=AT, policy=POLICY, dsn=pg_dsn, environ={})
    assert plain.indicators[0].cross_check is None
