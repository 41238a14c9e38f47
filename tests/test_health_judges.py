"""The judges on synthetic samples with known shifts: threshold and Mann-Whitney/Hodges-Lehmann."""

from __future__ import annotations

import math
import random
from dataclasses import replace

import pytest

from seasongate._errors import Location
from seasongate._health import Indicator, Judge, Threshold, hodges_lehmann, mann_whitney
from seasongate._health._judges import judge
from seasongate._health._spec import Baseline

T0 = 1_790_000_000


def indicator(**changes: object) -> Indicator:
    base = Indicator(
        name="p95", description="", prometheus="max(x)", sql=None, window=300, step=60, direction="increase",
        max_degradation=0.05, max=None, no_data="inconclusive", min_samples=5, critical=True,
        baseline=Baseline(), during=(), judge=Judge(), location=Location("h.yaml"), query_location=Location("h.yaml"),
    )  # fmt: skip
    return replace(base, **changes)  # type: ignore[arg-type]


def noisy(level: float, spread: float, n: int, seed: int) -> list[tuple[int, float]]:
    rng = random.Random(seed)
    return [(T0 + 60 * i, rng.gauss(level, spread)) for i in range(n)]


LIMITS = Threshold(0.05, None, None)
MW = Judge(kind="mann_whitney", confidence=0.95)


def test_u_counts_the_pairs_where_the_first_sample_is_larger() -> None:
    rng = random.Random(7)
    for _ in range(50):
        x = [rng.choice([1.0, 2.0, 3.0, rng.random()]) for _ in range(rng.randint(1, 12))]
        y = [rng.choice([1.0, 2.0, 3.0, rng.random()]) for _ in range(rng.randint(1, 12))]
        brute = sum(1.0 if a > b else 0.5 if a == b else 0.0 for a in x for b in y)
        assert mann_whitney(x, y).u == pytest.approx(brute)


def test_hodges_lehmann_recovers_known_shifts_inside_its_interval() -> None:
    for shift, seed in ((0.0, 1), (0.3, 2), (-0.2, 3), (1.5, 4)):
        x = [v for _, v in noisy(1.0, 0.05, 40, seed)]
        y = [v + shift for _, v in noisy(1.0, 0.05, 40, seed + 100)]
        est = hodges_lehmann(x, y, 0.95)
        assert est.lower <= shift <= est.upper
        assert abs(est.shift - shift) < 0.05
        assert est.upper - est.lower < 0.1


def test_tiny_samples_give_an_unbounded_interval() -> None:
    est = hodges_lehmann([1.0, 2.0], [3.0], 0.95)
    assert math.isinf(est.lower) and math.isinf(est.upper)


def test_a_large_slowdown_is_degraded_by_the_statistical_judge() -> None:
    ind = indicator(judge=MW)
    result = judge(ind, noisy(1.3, 0.05, 30, 11), noisy(1.0, 0.05, 30, 12), LIMITS)
    assert result.verdict == "degraded"
    lo, hi = result.judge["degradation_interval"]
    assert 0.2 < lo <= 0.3 <= hi < 0.4
    assert result.judge["p_value"] < 1e-6


def test_no_change_against_a_five_percent_promise_is_healthy() -> None:
    ind = indicator(judge=MW)
    result = judge(ind, noisy(1.0, 0.01, 30, 21), noisy(1.0, 0.01, 30, 22), LIMITS)
    assert result.verdict == "healthy"
    assert result.judge["degradation_interval"][1] < 0.05


def test_a_one_percent_promise_the_noise_cannot_resolve_is_inconclusive_never_healthy() -> None:
    ind = indicator(judge=MW)
    result = judge(ind, noisy(1.0, 0.15, 12, 31), noisy(1.0, 0.15, 12, 32), Threshold(0.01, None, None))
    assert result.verdict == "inconclusive"
    assert "cannot tell" in result.reason


def test_direction_decrease_counts_a_drop_as_degradation() -> None:
    ind = indicator(judge=MW, direction="decrease")
    dropped = judge(ind, noisy(70, 1, 30, 41), noisy(100, 1, 30, 42), LIMITS)
    rose = judge(ind, noisy(130, 1, 30, 43), noisy(100, 1, 30, 44), LIMITS)
    assert (dropped.verdict, rose.verdict) == ("degraded", "healthy")


def test_too_few_samples_follow_no_data() -> None:
    for policy, verdict in (("fail", "degraded"), ("inconclusive", "inconclusive"), ("pass", "healthy")):
        ind = indicator(judge=MW, no_data=policy)
        assert judge(ind, noisy(5, 0.1, 3, 1), noisy(1, 0.1, 30, 2), LIMITS).verdict == verdict


def test_threshold_judge_needs_failure_limit_consecutive_failures() -> None:
    ind = indicator(judge=Judge(failure_limit=3))
    baseline = [(T0 - 60 * i, 1.0) for i in range(1, 11)]
    values = [1.0, 1.2, 1.2, 1.0, 1.2, 1.2, 1.0, 1.01]
    current = [(T0 + 60 * i, v) for i, v in enumerate(values)]
    result = judge(ind, current, baseline, LIMITS)
    assert result.verdict == "healthy"
    assert [m.verdict for m in result.measurements] == ["pass", "fail", "fail", "pass", "fail", "fail", "pass", "pass"]
    assert result.measurements[1].relative == pytest.approx(0.2)
    assert result.judge["consecutive_failures"] == 2
    current.append((T0 + 600, 1.5))
    current.insert(6, (T0 + 590, 1.4))
    assert judge(ind, current, baseline, LIMITS).verdict == "degraded"


def test_an_absolute_max_fails_without_a_baseline() -> None:
    ind = indicator(max_degradation=None, max=2.0, judge=Judge(failure_limit=2))
    over = [(T0 + i, v) for i, v in enumerate([1.0, 2.5, 2.6, 1.0, 1.0])]
    under = [(T0 + i, 1.0) for i in range(5)]
    limits = Threshold(None, 2.0, None)
    assert judge(ind, over, [], limits).verdict == "degraded"
    assert judge(ind, under, [], limits).verdict == "healthy"


def test_agrees_with_scipy() -> None:
    import scipy.stats as stats  # a test dependency: the reference implementation
    rng = random.Random(5)
    for _ in range(20):
        x = [round(rng.gauss(1, 0.2), 2) for _ in range(rng.randint(5, 40))]
        y = [round(rng.gauss(1.1, 0.2), 2) for _ in range(rng.randint(5, 40))]
        ours = mann_whitney(x, y)
        theirs = stats.mannwhitneyu(x, y, alternative="two-sided", method="asymptotic", use_continuity=True)
        assert ours.u == pytest.approx(theirs.statistic)
        assert ours.p_value == pytest.approx(theirs.pvalue, rel=1e-9)
