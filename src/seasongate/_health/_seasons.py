"""What the business calendar says about a health check: the threshold that applies (and
which period chose it) and the instant of the same moment of the season last year."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, time, timedelta

from seasongate._calendar import Period, Selector
from seasongate._errors import HorizonError
from seasongate._health._spec import Indicator
from seasongate._policy import PeriodRef, Policy
from seasongate._time import from_ts, local_to_ts

MAX_YEARS_BACK = 5  # a season skipped for longer (a festival cancelled) has no usable history


@dataclass(frozen=True)
class Threshold:
    """The limits an indicator is judged by, and the period that tightened them (if any)."""

    max_degradation: float | None
    max: float | None
    chosen_by: PeriodRef | None


@dataclass(frozen=True)
class LastYear:
    """The instant of the same moment last year and how it was found."""

    at: int
    description: str
    period: PeriodRef | None


def _ref(period: Period) -> PeriodRef:
    return PeriodRef(period.name, period.kind, period.calendar, period.start, period.end)


def threshold_for(indicator: Indicator, policy: Policy, territory: str, since: int, at: int) -> Threshold:
    """The strictest limits among the indicator's own and those of every ``during`` entry whose
    period overlaps ``[since, at]``: a watch that runs into a peak is judged by the peak's promise."""
    best = Threshold(indicator.max_degradation, indicator.max, None)
    if not indicator.during:
        return best
    index = policy.index(territory, since)
    for entry in indicator.during:
        periods = index.overlapping(since, at + 1, entry.selector)
        if not periods:
            continue
        chosen = _ref(periods[0])
        if entry.max_degradation is not None and (
            best.max_degradation is None or entry.max_degradation < best.max_degradation
        ):
            best = Threshold(entry.max_degradation, best.max, chosen)
        if entry.max is not None and (best.max is None or _stricter_max(indicator, entry.max, best.max)):
            best = Threshold(best.max_degradation, entry.max, chosen)
    return best


def _stricter_max(indicator: Indicator, candidate: float, current: float) -> bool:
    return candidate > current if indicator.direction == "decrease" else candidate < current


def same_period_last_year(policy: Policy, territory: str, at: int, selector: Selector) -> LastYear:
    """The same day of the same season last year, at the same local time.

    When ``at`` lies in a period the selector matches (Oktoberfest), the answer is the same
    day of that period's last occurrence before this one (day 7 of last year's Oktoberfest;
    a season skipped that year is looked up a year further back), clamped to its last day.
    Outside such a period it is 52 weeks earlier: the same weekday. Local wall-clock time is
    kept across DST changes by the calendar's rules for gaps and folds.
    """
    tz = policy.zone(territory)
    local = from_ts(at, tz)
    wall = local.time().replace(tzinfo=None)
    active = [p for p in policy.index(territory, at).active_at(at) if selector.matches(p)]
    if active:
        period = min(active, key=lambda p: (p.end - p.start, p.name))  # the most specific season
        first_day = from_ts(period.start, tz).date()
        day = (local.date() - first_day).days
        for back in range(1, MAX_YEARS_BACK + 1):
            year = first_day.year - back
            earlier = _occurrence(policy, territory, period.name, year)
            if earlier is None:
                continue
            start = from_ts(earlier.start, tz).date()
            last = from_ts(earlier.end - 1, tz).date()
            target = min(start + timedelta(days=day), last)
            skipped = f" ({back - 1} skipped year{'s' if back > 2 else ''})" if back > 1 else ""
            return LastYear(
                local_to_ts(target, wall, tz),
                f"{period.name} {year} day {day + 1}{skipped}, {target.isoformat()} {wall:%H:%M} {tz.key}",
                _ref(earlier),
            )
        raise HorizonError(
            f"no occurrence of {period.name} in the {MAX_YEARS_BACK} years before {first_day.year}: "
            "no same period last year"
        )
    target = local.date() - timedelta(weeks=52)
    return LastYear(
        local_to_ts(target, wall, tz),
        f"52 weeks earlier (same weekday), {target.isoformat()} {wall:%H:%M} {tz.key}",
        None,
    )


def _occurrence(policy: Policy, territory: str, name: str, year: int) -> Period | None:
    tz = policy.zone(territory)
    probe = local_to_ts(date(year, 7, 1), time(0, 0), tz)
    index = policy.index(territory, probe)
    for period in index.select(Selector.of(name=name)):
        if from_ts(period.start, tz).year == year:
            return period
    return None
