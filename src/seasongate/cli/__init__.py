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
    """A group that turns every SeasongateError into one line on stderr and exit 2."""

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
      seasongate slots --env production --territory DE --duration 45m
    """
    ctx.ensure_object(dict)
    ctx.obj["traceback"] = traceback


def _register() -> None:
    # Each module imports only click at the top; heavy imports happen inside the commands.
    from seasongate.cli import _migrate, _overrides

    main.add_command(_overrides.override)
    main.add_command(_overrides.audit)
    for command in _migrate.COMMANDS:
        main.add_command(command)


_register()
