"""Renderings of calendars and plans for other tools and for people: the year at a glance
(HTML), iCalendar feeds, Argo CD sync windows and GitLab deploy freezes.

Pure functions of periods, allowed-start spans and time zones: no clock, no I/O beyond the
package's own templates. Jinja2 and icalendar are imported only when a rendering needs them.
"""

from __future__ import annotations

from seasongate._render._exports import ExportedWindow, argocd_sync_windows, blackout_windows, gitlab_freeze_periods
from seasongate._render._ics import PeriodFeed, periods_ics, slots_ics
from seasongate._render._year import DayCell, TerritoryYear, build_year, render_year

__all__ = [
    "DayCell",
    "ExportedWindow",
    "PeriodFeed",
    "TerritoryYear",
    "argocd_sync_windows",
    "blackout_windows",
    "build_year",
    "gitlab_freeze_periods",
    "periods_ics",
    "render_year",
    "slots_ics",
]
