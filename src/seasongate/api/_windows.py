"""``seasongate windows``: the concrete periods of calendars over a date range."""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, timedelta
from pathlib import Path
from typing import TYPE_CHECKING

from seasongate._errors import InputError
from seasongate._time import local_midnight_ts
from seasongate._vocabulary import PERIOD_KINDS

if TYPE_CHECKING:
    from seasongate._calendar import Calendar, Period


@dataclass(frozen=True)
class WindowsResult:
    """Concrete periods of one or more calendars over a date range; each period names the
    territory it was listed for (``Period.territory``)."""

    periods: tuple[Period, ...]
    calendars: tuple[Calendar, ...]
    start: date
    end: date  # exclusive
    territories: tuple[str, ...] = ()  # the territories listed, in the order asked

    @property
    def several_territories(self) -> bool:
        """Whether the periods come from more than one territory (then each says which)."""
        return len({p.territory for p in self.periods}) > 1 or len(self.territories) > 1


def windows(
    *,
    start: date,
    end: date,
    calendars: Sequence[str | Path] = (),
    territories: Sequence[str] = (),
    territory: str | None = None,
    kinds: Sequence[str] = (),
    project_dir: Path | None = None,
) -> WindowsResult:
    """The periods of the calendars (or of each territory's calendar in the project's policy)
    that overlap ``[start, end)``, sorted by start; several territories are listed side by
    side, each period saying its territory."""
    from seasongate._calendar import Selector
    from seasongate._policy import expand_calendar_cached

    if end <= start:
        raise InputError(f"the range is empty: it ends ({end - timedelta(days=1)}, inclusive) before --from {start}")
    for kind in kinds:
        if kind not in PERIOD_KINDS:
            raise InputError(f"unknown kind {kind!r} (known: {', '.join(PERIOD_KINDS)})")
    codes = list(dict.fromkeys([*territories, *([territory] if territory else [])]))
    if calendars and codes:
        raise InputError("give --calendar or --territory, not both")
    # (territory listed for, calendar file); a calendar file speaks for its own territory.
    sources: list[tuple[str | None, Path]] = [(None, Path(c)) for c in calendars]
    if not sources:
        project = project_dir or Path.cwd()
        sources = [(code, territory_calendar(code, project)) for code in codes or ["DE"]]
    loaded: list[Calendar] = []
    found: list[Period] = []
    selector = Selector.of(kind=kinds)
    for code, path in sources:
        if not path.exists():
            raise InputError(f"calendar file {path} does not exist")
        calendar, index = expand_calendar_cached(path, start.year, (end - timedelta(days=1)).year)
        loaded.append(calendar)
        label = code or calendar.territory
        lo = local_midnight_ts(start, calendar.tz)
        hi = local_midnight_ts(end, calendar.tz)
        for period in index.overlapping(lo, hi, selector):
            found.append(period if period.territory == label else dataclasses.replace(period, territory=label))
    found.sort(key=lambda p: (p.start, p.end, p.territory or "", p.calendar, p.name))
    listed = tuple(dict.fromkeys(p.territory or "" for p in found if p.territory))
    unique = tuple({c.path: c for c in loaded}.values())
    return WindowsResult(tuple(found), unique, start, end, tuple(codes) or listed)


def territory_calendar(territory: str, project_dir: Path) -> Path:
    """The calendar file the project's policies name for ``territory``; an unknown one is an error."""
    from seasongate._policy import policy_calendar_paths
    from seasongate.api._project import policy_files, policy_folder, relative

    known: list[str] = []
    for candidate in policy_files(policy_folder(project_dir)[0]):
        mapping = policy_calendar_paths(candidate)  # a broken policy file is an error, never skipped
        if territory in mapping:
            return relative(mapping[territory].resolve())
        known.extend(mapping)
    raise InputError(f"unknown territory {territory!r} (known: {', '.join(dict.fromkeys(known)) or 'none'})")


__all__ = ["WindowsResult", "windows"]
