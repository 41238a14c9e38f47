"""``seasongate slots``: the next spans of start times at which a migration may run whole."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Unpack
from zoneinfo import ZoneInfo

from seasongate._errors import InputError
from seasongate._intervals import IntervalSet
from seasongate._policy import Request
from seasongate._time import to_ts
from seasongate.api._project import Project, project_of
from seasongate.api._request import CommandFields, RequestSpec, bounded_instant, spec_of


@dataclass(frozen=True, slots=True)
class Slot:
    """A span of start times: any start from ``earliest`` to ``latest`` (inclusive) is
    allowed and the run finishes by ``finish_by``."""

    earliest: int
    latest: int
    finish_by: int
    clipped: bool = False  # the span goes on past the end of the search


@dataclass(frozen=True)
class SlotsResult:
    """The free slots for a request (the first ``limit`` of them), then what was searched:
    runs of ``duration`` seconds starting from ``start`` to ``end``, in the territory's zone."""

    request: Request
    slots: tuple[Slot, ...]
    truncated: bool  # more slots were found than listed
    duration: int
    start: int
    end: int
    zone: ZoneInfo
    horizon_clipped: bool = False
    notes: tuple[str, ...] = ()


def slots(
    request: RequestSpec | None = None,
    *,
    start: datetime,
    days: int = 60,
    limit: int = 10,
    project: Project | None = None,
    **fields: Unpack[CommandFields],
) -> SlotsResult:
    """The next spans of start times at which the migration is allowed from start to finish.

    The request is a :class:`RequestSpec` (or its fields as keywords); its duration is
    required. What the request leaves unknown (the class without ``-m`` or ``--class``)
    counts against it, so no slot is offered that a class-scoped deny rule would refuse.
    """
    if days < 1 or days > 3660:
        raise InputError(f"--days must be between 1 and 3660, got {days}")
    if limit < 1:
        raise InputError(f"--limit must be at least 1, got {limit}")
    spec = spec_of(request, fields)
    if spec.duration is None:
        raise InputError("slots needs the duration of the run (--duration, e.g. 45m)")
    bounded_instant(start, "--from")
    opened = project_of(project, fields, spec.environment)
    asked = spec.resolve()
    policy = opened.policy
    with opened.store() as store:
        grants = opened.grants(store, asked, start)
    ts = to_ts(start)
    end = ts + days * 86400
    allowed, horizon, info = policy.allowed_starts(asked, ts, grants, until=end - 1)
    stop = min(end, horizon)
    window = allowed.intersection(IntervalSet([ts], [stop + 1]) if stop + 1 > ts else IntervalSet.empty())
    run = info.duration or 0
    found: list[Slot] = []
    for s, e in window:
        latest = e - 1
        clipped = e == stop + 1 and allowed.contains(stop + 1)
        found.append(Slot(s, latest, latest + run, clipped=clipped))
    return SlotsResult(
        request=asked,
        duration=run,
        start=ts,
        end=end,
        slots=tuple(found[:limit]),
        truncated=len(found) > limit,
        zone=policy.zone(spec.territory),
        horizon_clipped=end > horizon,
        notes=policy.request_notes(asked),
    )

