"""Views of the calendar for people and other tools: the year at a glance (HTML), the
calendar feed (iCalendar), and the blackouts as Argo CD sync windows or GitLab freeze periods.

Each takes its dates as arguments; nothing here reads the clock.
"""

from __future__ import annotations

import calendar as _cal
from collections.abc import Sequence
from datetime import UTC, date, datetime
from pathlib import Path
from typing import TYPE_CHECKING

from seasongate._errors import InputError
from seasongate._time import format_duration, from_ts, local_midnight_ts
from seasongate._vocabulary import RISKS, Risk

if TYPE_CHECKING:
    from seasongate._policy import Policy
    from seasongate.api import WindowsResult

EXPORT_TARGETS = ("argocd", "gitlab")
MAX_EXPORT_MONTHS = 12


def _windows(
    start: date, end: date, territory: str, project_dir: Path | None, kinds: Sequence[str] = ()
) -> WindowsResult:
    from seasongate.api import windows

    return windows(start=start, end=end, territory=territory, kinds=kinds, project_dir=project_dir)


def _local_day(at: datetime, territory: str, project_dir: Path | None) -> date:
    """The day ``at`` falls on in the time zone of ``territory``'s calendar."""
    from seasongate._calendar import load_calendar
    from seasongate.api._windows import territory_calendar

    if at.tzinfo is None or at.utcoffset() is None:
        raise InputError(f"the instant {at.isoformat()} has no UTC offset: give an aware datetime")
    return at.astimezone(load_calendar(territory_calendar(territory, project_dir or Path.cwd())).tz).date()


def _first_open_class(policy: Policy, environment: str, territory: str) -> str | None:
    """The lowest version of the first class that may ever run here: a plan without a named
    migration is for a migration of that class (production-class in production), never for
    "a migration of unknown class", which every class-scoped deny rule refuses."""
    closed = policy.closed_classes(environment, territory)
    return next((str(c.low) for c in policy.migration_classes if c.name not in closed), None)


def year_view(
    *,
    year: int,
    territories: Sequence[str],
    environment: str = "production",
    migration: str | None = None,
    duration: str | int | None = None,
    risk: Risk | None = None,
    policy: str | Path | Policy | None = None,
    project_dir: Path | None = None,
    back_link: str | None = None,
) -> str:
    """The year at a glance as one self-contained HTML page, one grid per territory side by
    side. Given a migration (or a duration or risk), every day with at least one allowed
    start for it is marked (the ``slots`` answer over the whole year; the policy alone, no
    overrides: this is for planning)."""
    from seasongate._calendar import MAX_YEAR, MIN_YEAR
    from seasongate._render import build_year, render_year
    from seasongate.api import build_request, open_project, slots

    if risk is not None and risk not in RISKS:
        raise InputError(f"unknown risk {risk!r} ({', '.join(RISKS)})")
    if not MIN_YEAR <= year <= MAX_YEAR:
        raise InputError(f"--year must be between {MIN_YEAR} and {MAX_YEAR}, got {year}")
    codes = list(dict.fromkeys(t.strip().upper() for t in territories if t.strip())) or ["DE"]
    planned = migration is not None or duration is not None or risk is not None
    loaded = None  # the policy alone, no overrides: this is for planning
    if planned:
        loaded = open_project(environment, policy=policy, project_dir=project_dir, use_store=False).policy
    first, after = date(year, 1, 1), date(year + 1, 1, 1)
    grids = []
    plan = None
    for code in codes:
        result = _windows(first, after, code, project_dir)
        calendar = result.calendars[0]
        allowed = None
        if loaded is not None:
            asked = migration or _first_open_class(loaded, environment, code)
            request = build_request(
                environment=environment, territory=code, migration=asked, risk=risk, duration=duration
            )
            run = request.duration or loaded.default_duration
            start = from_ts(local_midnight_ts(first, calendar.tz), UTC)
            found = slots(
                environment=environment, territory=code, duration=run, start=start,
                days=366 if _cal.isleap(year) else 365, limit=100_000, migration=asked, risk=risk,
                policy=loaded, use_store=False,
            )  # fmt: skip
            allowed = [(s.earliest, s.latest) for s in found.slots]
            if migration or request.version is None:
                what = str(request.version or "a migration")
            else:
                what = f"a {loaded.classify(request.version)}-class migration"
            risk_text = request.risk or loaded.default_risk
            plan = (
                f"✓ marks the days on which {what} ({format_duration(run)}, risk {risk_text}) "
                f"may start at least once in {environment} (policy {loaded.path}; approved overrides not counted)"
            )
        grids.append(
            build_year(territory=code, calendar=calendar.name, tz=calendar.tz, year=year,
                       periods=result.periods, allowed=allowed)
        )  # fmt: skip
    return render_year(grids, plan=plan, back_link=back_link)


def calendar_feed(*, territory: str, first_year: int, last_year: int, project_dir: Path | None = None) -> bytes:
    """The territory's calendar as iCalendar, from 1 January of ``first_year`` to 31 December
    of ``last_year``: a stable feed a planner subscribes to once."""
    from seasongate._render import periods_ics

    result = _windows(date(first_year, 1, 1), date(last_year + 1, 1, 1), territory, project_dir)
    return periods_ics(result)


def export_blackouts(
    *,
    target: str,
    territory: str,
    start: date | datetime,
    months: int = 12,
    applications: Sequence[str] = ("*",),
    namespaces: Sequence[str] = (),
    clusters: Sequence[str] = (),
    manual_sync: bool = False,
    project_dir: Path | None = None,
) -> str:
    """The territory's blackouts that touch the ``months`` from ``start`` as Argo CD sync
    windows (YAML, ``target="argocd"``) or GitLab freeze periods (JSON, ``"gitlab"``).

    A cron line has no year: at most twelve months are exported, so no date appears twice.
    ``start`` is a day, or an aware instant whose day in the territory's time zone is meant
    (half past midnight in Berlin is still the day before in UTC)."""
    from seasongate._render import argocd_sync_windows, blackout_windows, gitlab_freeze_periods

    if isinstance(start, datetime):
        start = _local_day(start, territory, project_dir)
    if target not in EXPORT_TARGETS:
        raise InputError(f"unknown export target {target!r} (known: {', '.join(EXPORT_TARGETS)})")
    if not 1 <= months <= MAX_EXPORT_MONTHS:
        raise InputError(
            f"--months must be 1 to {MAX_EXPORT_MONTHS}, got {months}: a cron line has no year, "
            "so a longer export would repeat dates"
        )
    month_index = start.month - 1 + months
    end = date(start.year + month_index // 12, month_index % 12 + 1, 1)
    end = end.replace(day=min(start.day, _cal.monthrange(end.year, end.month)[1]))
    result = _windows(start, end, territory, project_dir, kinds=("blackout",))
    calendar = result.calendars[0]
    windows = blackout_windows(result.periods, calendar.tz)
    if target == "gitlab":
        return gitlab_freeze_periods(windows)
    header = [
        f"seasongate: blackouts of {territory} ({calendar.name}, {calendar.tz.key}) touching {start} to {end}",
        "Paste under spec: of the AppProject. Each schedule fires every year on its date: export again",
        "before the next year's seasons begin (moving dates such as Oktoberfest and Easter shift).",
    ]
    return argocd_sync_windows(
        windows, applications=applications, namespaces=namespaces, clusters=clusters,
        manual_sync=manual_sync, header=header,
    )  # fmt: skip


__all__ = ["EXPORT_TARGETS", "calendar_feed", "export_blackouts", "year_view"]
