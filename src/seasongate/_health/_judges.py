"""The judges: from measurements and a baseline to a verdict per indicator.

- ``threshold``: every measurement is compared with the baseline's median and the limits;
  ``failure_limit`` consecutive failures make the indicator degraded.
- ``mann_whitney``: the Hodges-Lehmann shift of the current samples against the baseline's,
  relative to the baseline's median, with its confidence interval: degraded when the
  interval's lower bound exceeds the allowed degradation, healthy when its upper bound is
  below it, otherwise inconclusive. A promise the data cannot resolve is never "healthy".
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from statistics import median
from typing import Any, Literal

from seasongate._health._seasons import Threshold
from seasongate._health._spec import Direction, Indicator
from seasongate._health._stats import hodges_lehmann, mann_whitney

Verdict = Literal["healthy", "degraded", "inconclusive"]
Sample = tuple[int, float]


@dataclass(frozen=True)
class Measurement:
    """One measurement: its value, the baseline it is compared with, and its verdict."""

    at: int
    value: float
    baseline: float | None
    relative: float | None  # (value - baseline) / baseline; None when there is no baseline
    verdict: Literal["pass", "fail"]


@dataclass(frozen=True)
class Judgement:
    """An indicator's verdict with the judge's evidence."""

    verdict: Verdict
    reason: str
    measurements: tuple[Measurement, ...]
    judge: dict[str, Any] = field(default_factory=dict)


def degradation(relative: float, direction: Direction) -> float:
    """How much worse a relative change is, in the indicator's bad direction."""
    if direction == "increase":
        return relative
    if direction == "decrease":
        return -relative
    return abs(relative)


def _relative(value: float, base: float | None) -> float | None:
    if base is None:
        return None
    if base == 0:
        return 0.0 if value == 0 else math.copysign(math.inf, value)
    return (value - base) / abs(base)


def _beyond(value: float, limit: float, direction: Direction) -> bool:
    return value < limit if direction == "decrease" else value > limit


def measure(
    indicator: Indicator, current: Sequence[Sample], base: float | None, threshold: Threshold
) -> tuple[Measurement, ...]:
    """Each current sample compared with the baseline value and the limits."""
    out = []
    for at, value in current:
        relative = _relative(value, base)
        failed = threshold.max is not None and _beyond(value, threshold.max, indicator.direction)
        if threshold.max_degradation is not None and relative is not None:
            failed = failed or degradation(relative, indicator.direction) > threshold.max_degradation
        out.append(Measurement(at, value, base, relative, "fail" if failed else "pass"))
    return tuple(out)


def _no_data(indicator: Indicator, why: str, measurements: tuple[Measurement, ...], judge: dict[str, Any]) -> Judgement:
    verdict: Verdict = {"fail": "degraded", "inconclusive": "inconclusive", "pass": "healthy"}[indicator.no_data]  # type: ignore[assignment]
    return Judgement(verdict, f"{why} (no_data: {indicator.no_data})", measurements, judge)


def judge(
    indicator: Indicator, current: Sequence[Sample], baseline: Sequence[Sample], threshold: Threshold
) -> Judgement:
    """The verdict of the indicator's judge on ``current`` against ``baseline``."""
    base = median(v for _, v in baseline) if baseline else None
    measurements = measure(indicator, current, base, threshold)
    if indicator.judge.kind == "threshold":
        return _threshold(indicator, measurements, base, threshold)
    return _mann_whitney(indicator, current, baseline, measurements, threshold)


def _threshold(
    indicator: Indicator, measurements: tuple[Measurement, ...], base: float | None, threshold: Threshold
) -> Judgement:
    limit = indicator.judge.failure_limit
    run = longest = 0
    for m in measurements:
        run = run + 1 if m.verdict == "fail" else 0
        longest = max(longest, run)
    info: dict[str, Any] = {
        "kind": "threshold",
        "failure_limit": limit,
        "consecutive_failures": longest,
        "failures": sum(m.verdict == "fail" for m in measurements),
    }
    if longest >= limit:
        return Judgement(
            "degraded", f"{longest} consecutive measurements failed (failure_limit {limit})", measurements, info
        )
    if len(measurements) < indicator.min_samples:
        return _no_data(
            indicator, f"{len(measurements)} measurements, min_samples is {indicator.min_samples}", measurements, info
        )
    if base is None and threshold.max is None:
        return _no_data(indicator, "no baseline to compare with", measurements, info)
    return Judgement(
        "healthy", f"{len(measurements)} measurements, at most {longest} consecutive failures", measurements, info
    )


def _mann_whitney(
    indicator: Indicator,
    current: Sequence[Sample],
    baseline: Sequence[Sample],
    measurements: tuple[Measurement, ...],
    threshold: Threshold,
) -> Judgement:
    confidence = indicator.judge.confidence
    info: dict[str, Any] = {"kind": "mann_whitney", "confidence": confidence}
    direction = indicator.direction
    if threshold.max is not None and current:
        middle = median(v for _, v in current)
        if _beyond(middle, threshold.max, direction):
            return Judgement("degraded", f"the median {middle:g} is beyond max {threshold.max:g}", measurements, info)
    if threshold.max_degradation is None:
        if len(current) < indicator.min_samples:
            return _no_data(
                indicator, f"{len(current)} samples, min_samples is {indicator.min_samples}", measurements, info
            )
        return Judgement("healthy", f"the median is within max {threshold.max:g}", measurements, info)
    if len(current) < indicator.min_samples or len(baseline) < indicator.min_samples:
        why = f"{len(baseline)} baseline and {len(current)} current samples, min_samples is {indicator.min_samples}"
        return _no_data(indicator, why, measurements, info)
    x = [v for _, v in baseline]
    y = [v for _, v in current]
    base = median(x)
    if base == 0:
        return _no_data(indicator, "the baseline median is 0: a relative shift is undefined", measurements, info)
    test = mann_whitney(x, y)
    shift = hodges_lehmann(x, y, confidence)
    scale = abs(base)
    lo, hi = shift.lower / scale, shift.upper / scale
    allowed = threshold.max_degradation
    # The interval of the degradation (the bad direction counts positive).
    if direction == "increase":
        bad_lo, bad_hi = lo, hi
    elif direction == "decrease":
        bad_lo, bad_hi = -hi, -lo
    else:
        bad_lo = 0.0 if lo <= 0 <= hi else min(abs(lo), abs(hi))
        bad_hi = max(abs(lo), abs(hi))
    info.update(
        {
            "u": test.u,
            "p_value": test.p_value,
            "shift": shift.shift,
            "relative_shift": shift.shift / scale,
            "interval": [_finite(lo), _finite(hi)],
            "degradation_interval": [_finite(bad_lo), _finite(bad_hi)],
            "baseline_samples": len(x),
            "current_samples": len(y),
        }
    )
    text = f"degradation {_pct(bad_lo)} to {_pct(bad_hi)} ({confidence:.0%} interval), allowed {_pct(allowed)}"
    if bad_lo > allowed:
        return Judgement("degraded", text, measurements, info)
    if bad_hi < allowed:
        return Judgement("healthy", text, measurements, info)
    return Judgement("inconclusive", text + ": the data cannot tell", measurements, info)


def _finite(value: float) -> float | None:
    return value if math.isfinite(value) else None


def _pct(value: float) -> str:
    return f"{value:+.1%}" if math.isfinite(value) else ("+∞" if value > 0 else "-∞")
