"""The ``seasongate`` command: parse options, call one api function, format, pick an exit code.

Exit codes: 0 allowed / all well, 1 denied (or a finding that fails the run), 2 any error
(a broken file, an unknown territory, an unreadable store: the gate fails closed).
"""

from __future__ import annotations

import sys
from typing import Any

import click

from seasongate._errors import SeasongateError

EXIT_OK = 0
EXIT_DENIED = 1
EXIT_ERROR = 2


class _Group(click.Group):
    """A group that loads its commands lazily and turns every SeasongateError into one line
    on stderr and exit 2."""

    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted(_COMMAND_MODULES)

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        return _lookup(cmd_name)

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except SeasongateError as exc:
            if ctx.obj and ctx.obj.get("traceback"):
                raise
            click.echo(f"seasongate: error: {exc}", err=True)
            sys.exit(EXIT_ERROR)


@click.group(cls=_Group, context_settings={"help_option_names": ["-h", "--help"]})
@click.option("--traceback", is_flag=True, help="Show the full traceback of an error.")
@click.version_option(package_name="seasongate")
@click.pass_context
def main(ctx: click.Context, *, traceback: bool) -> None:
    """seasongate: may this migration run now? Seasonal calendars and policies as a deploy gate.

    \b
    Examples:
      seasongate windows --territory DE --days 365
      seasongate check --env production --territory DE --migration V226 --format json
      seasongate slots --env production --territory DE --class production --duration 45m
    """
    ctx.ensure_object(dict)
    ctx.obj["traceback"] = traceback
    _apply_project_config(ctx)


def _apply_project_config(ctx: click.Context) -> None:
    """Defaults from ``seasongate.toml`` / ``[tool.seasongate]``: looked for only when such a file
    is there, so that ``check`` stays fast; the command line and the environment still win."""
    from pathlib import Path

    if not Path("seasongate.toml").exists() and not Path("pyproject.toml").exists():
        return
    from seasongate.cli._config import project_defaults

    found = project_defaults(Path.cwd(), sorted(_COMMAND_MODULES))
    if found is not None:
        ctx.default_map, extra = found
        ctx.obj.update(extra)


# Command name -> module. Modules are imported only when their command runs (or for --help):
# ``seasongate check`` sits on every pipeline's critical path and must start fast.
_COMMAND_MODULES = {
    "baseline": "seasongate.cli._flyway",
    "check": "seasongate.cli._check",
    "clean": "seasongate.cli._flyway",
    "config": "seasongate.cli._config",
    "explain": "seasongate.cli._plan",
    "slots": "seasongate.cli._plan",
    "windows": "seasongate.cli._windows",
    "validate": "seasongate.cli._plan",
    "override": "seasongate.cli._overrides",
    "audit": "seasongate.cli._audit",
    "migrate": "seasongate.cli._migrate",
    "repair": "seasongate.cli._flyway",
    "rollback": "seasongate.cli._migrate",
    "info": "seasongate.cli._migrate",
    "lint": "seasongate.cli._migrate",
    "new": "seasongate.cli._migrate",
    "run": "seasongate.cli._migrate",
    "export": "seasongate.cli._feeds",
    "serve": "seasongate.cli._serve",
    "health": "seasongate.cli._health",
}


def _lookup(name: str) -> click.Command | None:
    import importlib

    module_name = _COMMAND_MODULES.get(name)
    if module_name is None:
        return None
    module = importlib.import_module(module_name)
    for command in getattr(module, "COMMANDS", []):
        if command.name == name:
            return command  # type: ignore[no-any-return]
    found = getattr(module, name, None)
    return found if isinstance(found, click.Command) else None
