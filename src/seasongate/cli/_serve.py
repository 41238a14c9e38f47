"""CLI: ``seasongate serve`` — the dashboard (Starlette on uvicorn, loaded only here)."""

from __future__ import annotations

import click


@click.command()
@click.option("--host", default="127.0.0.1", show_default=True, help="Address to bind (loopback unless told).")
@click.option("--port", type=click.IntRange(0, 65535), default=8080, show_default=True, help="Port to listen on.")
@click.option("--store", envvar="SEASONGATE_STORE", help="Override/audit store URL (sqlite:///path or postgresql://...).")
@click.option(
    "--database", envvar="SEASONGATE_DATABASE", help="The migrated database (libpq URL): live progress and lock waits."
)
@click.option("--env", "environments", multiple=True, help="Environments to show (default: every policy's).")
@click.option(
    "--log-level",
    default="info",
    show_default=True,
    type=click.Choice(["critical", "error", "warning", "info", "debug"]),
)
def serve(host: str, port: int, store: str | None, database: str | None, environments: tuple[str, ...],
          log_level: str) -> None:  # fmt: skip
    """The dashboard: may each territory change now, live runs, overrides, the year at a glance.

    \b
    Examples:
      seasongate serve                                  # http://127.0.0.1:8080/
      seasongate serve --store postgresql://gate@db/crm --database postgresql://gate@db/crm
    """
    from seasongate import api

    api.serve(host=host, port=port, store=store, database=database, environments=environments, log_level=log_level)


COMMANDS = [serve]
