"""Rank statistics in pure Python: the Mann-Whitney U test and the Hodges-Lehmann shift.

The Hodges-Lehmann estimate of the shift between two samples is the median of all pairwise
differences ``y_j - x_i``; its confidence interval takes the order statistics of those
differences that the U distribution (normal approximation) puts at the interval's edges,
as Kayenta's Mann-Whitney classifier does. No SciPy needed; the tests compare with it when
it happens to be installed.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from statistics import NormalDist, median


@dataclass(frozen=True)
class MannWhitney:
    """``u`` is the statistic of the first sample (as SciPy reports it); ``p_value`` two-sided."""

    u: float
    z: float
    p_value: float


@dataclass(frozen=True)
class ShiftEstimate:
    """The Hodges-Lehmann shift of ``y`` against ``x`` and its confidence interval (``lower``
    and ``upper`` are infinite when the samples are too small for the confidence asked)."""

    shift: float
    lower: float
    upper: float
    confidence: float


def _midranks(values: Sequence[float]) -> tuple[list[float], float]:
    """Ranks (ties get the mean rank) and the tie term ``sum(t^3 - t)``."""
    order = sorted(range(len(values)), key=values.__getitem__)
    ranks = [0.0] * len(values)
    ties = 0.0
    i = 0
    while i < len(order):
        j = i
        while j + 1 < len(order) and values[order[j + 1]] == values[order[i]]:
            j += 1
        rank = (i + j) / 2 + 1
        for k in range(i, j + 1):
            ranks[order[k]] = rank
        t = j - i + 1
        ties += t**3 - t
        i = j + 1
    return ranks, ties


def mann_whitney(x: Sequence[float], y: Sequence[float]) -> MannWhitney:
    """Two-sided Mann-Whitney U test, normal approximation with tie and continuity correction."""
    m, n = len(x), len(y)
    if m == 0 or n == 0:
        raise ValueError("both samples need at least one value")
    ranks, ties = _midranks([*x, *y])
    u_x = sum(ranks[:m]) - m * (m + 1) / 2
    mean = m * n / 2
    total = m + n
    variance = m * n / 12 * ((total + 1) - ties / (total * (total - 1))) if total > 1 else 0.0
    if variance <= 0:
        return MannWhitney(u_x, 0.0, 1.0)
    big = max(u_x, m * n - u_x)
    z = (big - mean - 0.5) / math.sqrt(variance)
    p_value = min(1.0, 2 * (1 - NormalDist().cdf(z)))
    return MannWhitney(u_x, z, p_value)


def hodges_lehmann(x: Sequence[float], y: Sequence[float], confidence: float = 0.95) -> ShiftEstimate:
    """The shift of ``y`` relative to ``x`` (positive: ``y`` is larger) with its interval."""
    m, n = len(x), len(y)
    if m == 0 or n == 0:
        raise ValueError("both samples need at least one value")
    diffs = sorted(b - a for a in x for b in y)
    pairs = len(diffs)
    z = NormalDist().inv_cdf(1 - (1 - confidence) / 2)
    # The number of differences cut off at each end (Hollander & Wolfe, normal approximation).
    cut = math.floor(pairs / 2 - z * math.sqrt(m * n * (m + n + 1) / 12))
    if cut < 1:
        return ShiftEstimate(median(diffs), -math.inf, math.inf, confidence)
    return ShiftEstimate(median(diffs), diffs[cut - 1], diffs[pairs - cut], confidence)
