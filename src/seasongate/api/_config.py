"""``seasongate config``: the effective settings and where each came from."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from seasongate._config import ProjectConfig, Setting, effective_settings, find_config, placeholder_settings
from seasongate._dsn import display_dsn
from seasongate._versions import Version

_URLS = ("dsn", "store")


@dataclass(frozen=True, slots=True)
class ConfigReport:
    """The configuration file found (if any), every setting and every placeholder.

    URLs are shown with their passwords masked.
    """

    file: str | None
    settings: tuple[Setting, ...]
    placeholders: tuple[Setting, ...]

    def to_dict(self) -> dict[str, Any]:
        """JSON form."""

        def shown(value: Any) -> Any:
            if isinstance(value, Version):
                return str(value)
            if isinstance(value, tuple):
                return list(value)
            return value

        return {
            "file": self.file,
            "settings": {s.name: {"value": shown(s.value), "source": s.source} for s in self.settings},
            "placeholders": {s.name: {"value": s.value, "source": s.source} for s in self.placeholders},
        }


def load_project_config(project_dir: Path) -> ProjectConfig | None:
    """The project's configuration file (``seasongate.toml`` or ``[tool.seasongate]``), or None."""
    return find_config(project_dir)


def show_config(
    project_dir: Path,
    *,
    command_line: Mapping[str, Any],
    placeholders: Mapping[str, str],
    environ: Mapping[str, str],
) -> ConfigReport:
    """The effective settings for commands run in ``project_dir``: the command line over the
    environment over the configuration file over the defaults."""
    found = find_config(project_dir)
    settings = []
    for setting in effective_settings(found, command_line=command_line, environ=environ):
        if setting.name in _URLS and isinstance(setting.value, str):
            setting = Setting(setting.name, display_dsn(setting.value), setting.source, setting.help)
        settings.append(setting)
    return ConfigReport(
        None if found is None else found.shown,
        tuple(settings),
        tuple(placeholder_settings(found, placeholders)),
    )
