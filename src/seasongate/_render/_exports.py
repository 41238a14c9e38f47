"""A calendar's blackouts in the terms of tools that enforce them natively: Argo CD sync
windows (``kind: deny``, a cron ``schedule``, a ``duration``, a ``timeZone``) and GitLab
deploy-freeze periods (cron ``freeze_start``/``freeze_end`` and a ``cron_timezone``).

Neither tool knows a one-off date: a five-field cron line has no year, so each occurrence
becomes a cron line that fires every year on that date. Exports therefore cover at most
twelve months and must be regenerated before the next year's occurrences (a moving feast or
Oktoberfest falls on other dates next year). What each window cannot express is written into
its ``notes``.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING
from zoneinfo import ZoneInfo

from seasongate._time import from_ts

if TYPE_CHECKING:
    from seasongate._calendar import Period


@dataclass(frozen=True, slots=True)
class ExportedWindow:
    """A merged span of blackout periods ``[start, end)`` (epoch seconds) in zone ``tz``."""

    start: int
    end: int
    names: tuple[str, ...]
    tz: ZoneInfo

    @property
    def start_cron(self) -> str:
        """``minute hour day month *`` of the local start: fires every year on that date."""
        return _cron(self.start, self.tz)

    @property
    def end_cron(self) -> str:
        """The cron line of the local end (exclusive)."""
        return _cron(self.end, self.tz)

    @property
    def go_duration(self) -> str:
        """The elapsed length as a Go duration (``384h``, ``23h30m``): Argo CD parses it with
        ``time.ParseDuration``, which has no day unit."""
        hours, rest = divmod(self.end - self.start, 3600)
        minutes = rest // 60
        return f"{hours}h{minutes}m" if minutes else f"{hours}h"

    @property
    def crosses_dst(self) -> bool:
        """Whether the UTC offset at the end differs from the one at the start."""
        return from_ts(self.start, self.tz).utcoffset() != from_ts(self.end, self.tz).utcoffset()

    @property
    def description(self) -> str:
        """``oktoberfest: 2026-09-19 00:00 to 2026-10-05 00:00 CEST``"""
        start = from_ts(self.start, self.tz)
        end = from_ts(self.end, self.tz)
        return f"{', '.join(self.names)}: {start:%Y-%m-%d %H:%M %Z} to {end:%Y-%m-%d %H:%M %Z} (seasongate)"

    def notes(self) -> list[str]:
        """What the target tools cannot express about this window."""
        out = [f"a cron line has no year: this window recurs on {from_ts(self.start, self.tz):%d %b} every year"]
        if self.crosses_dst:
            out.append(
                "crosses a DST change: Argo CD adds the duration as elapsed time, "
                f"so {self.go_duration} ends at the local end only for this occurrence"
            )
        return out


def _cron(ts: int, tz: ZoneInfo) -> str:
    moment = from_ts(ts, tz)
    return f"{moment.minute} {moment.hour} {moment.day} {moment.month} *"


def blackout_windows(periods: Sequence[Period], tz: ZoneInfo) -> list[ExportedWindow]:
    """The periods merged where they overlap or touch (a holiday inside the Christmas peak
    is one window, not two), in order."""
    merged: list[tuple[int, int, list[str]]] = []
    for p in sorted(periods, key=lambda p: (p.start, p.end, p.name)):
        if merged and p.start <= merged[-1][1]:
            start, end, names = merged[-1]
            if p.name not in names:
                names.append(p.name)
            merged[-1] = (start, max(end, p.end), names)
        else:
            merged.append((p.start, p.end, [p.name]))
    windows: dict[tuple[str, str], ExportedWindow] = {}
    for s, e, n in merged:
        window = ExportedWindow(s, e, tuple(n), tz)
        # The same season twelve months apart is the same cron line: keep it once.
        windows.setdefault((window.start_cron, window.end_cron), window)
    return list(windows.values())


def _yaml_string(text: str) -> str:
    return json.dumps(text, ensure_ascii=False)  # a JSON string is a valid YAML flow scalar


def argocd_sync_windows(
    windows: Sequence[ExportedWindow],
    *,
    applications: Sequence[str] = ("*",),
    namespaces: Sequence[str] = (),
    clusters: Sequence[str] = (),
    manual_sync: bool = False,
    header: Sequence[str] = (),
) -> str:
    """An ``AppProject.spec.syncWindows`` list (YAML) of deny windows with ``timeZone``."""
    lines = [f"# {h}" for h in header]
    lines.append("syncWindows:")
    for w in windows:
        for note in w.notes():
            lines.append(f"  # {note}")
        lines.append("  - kind: deny")
        lines.append(f"    schedule: {_yaml_string(w.start_cron)}")
        lines.append(f"    duration: {w.go_duration}")
        lines.append(f"    timeZone: {w.tz.key}")
        for key, values in (("applications", applications), ("namespaces", namespaces), ("clusters", clusters)):
            if values:
                lines.append(f"    {key}: [{', '.join(_yaml_string(v) for v in values)}]")
        lines.append(f"    manualSync: {'true' if manual_sync else 'false'}")
        lines.append(f"    description: {_yaml_string(w.description)}")
    if not windows:
        lines[-1] = "syncWindows: []"
    return "\n".join(lines) + "\n"


def gitlab_freeze_periods(windows: Sequence[ExportedWindow]) -> str:
    """The bodies for GitLab's freeze periods API (``POST /projects/:id/freeze_periods``), as
    a JSON list; ``description`` and ``notes`` are for people (the API ignores them)."""
    items = [
        {
            "freeze_start": w.start_cron,
            "freeze_end": w.end_cron,
            "cron_timezone": w.tz.key,
            "description": w.description,
            "notes": w.notes(),
        }
        for w in windows
    ]
    return json.dumps(items, indent=2, ensure_ascii=False) + "\n"


__all__ = ["ExportedWindow", "argocd_sync_windows", "blackout_windows", "gitlab_freeze_periods"]
