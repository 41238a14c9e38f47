"""CLI: ``seasongate config`` shows the effective settings and where each came from.

Also builds the ``default_map`` that gives every command its defaults from the configuration
file (``seasongate.toml`` or ``[tool.seasongate]`` in pyproject.toml), read once per run and only
when such a file is there.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import click

# Settings of the configuration file -> the option (parameter) names that take them.
_PARAMS = {
    "policy": ("policy",),
    "store": ("store",),
    "migrations": ("migrations", "directory"),
    "table": ("table",),
    "lock_wait": ("lock_wait",),
    "lock_timeout": ("lock_timeout",),
    "statement_timeout": ("statement_timeout",),
    "baseline_version": ("baseline_version",),
}
# Command groups whose subcommands take a --store.
_STORE_GROUPS = {
    "override": ("request", "approve", "reject", "revoke", "list", "show"),
    "audit": ("list", "verify"),
}


def project_defaults(directory: Path, commands: list[str]) -> tuple[dict[str, Any], dict[str, Any]] | None:
    """The click ``default_map`` for ``commands`` and what goes into the context object (the
    placeholders and their syntax) from the project's configuration file; None when there is
    no configuration file (nothing is parsed then)."""
    if not (directory / "seasongate.toml").exists() and not (directory / "pyproject.toml").exists():
        return None
    from seasongate.api import load_project_config

    found = load_project_config(directory)
    if found is None:
        return None
    values: dict[str, Any] = {}
    for key, params in _PARAMS.items():
        if key in found.values:
            value = found.values[key]
            for param in params:
                values[param] = str(value)
    dsn_env = found.values.get("dsn_env")
    if dsn_env and os.environ.get(dsn_env):
        values["dsn"] = os.environ[dsn_env]
    store_env = found.values.get("store_env")
    if store_env and os.environ.get(store_env):
        values["store"] = os.environ[store_env]
    if found.values.get("baseline_on_migrate"):
        values["baseline_on_migrate"] = True
    default_map: dict[str, Any] = {name: dict(values) for name in commands if name not in _STORE_GROUPS}
    if "schemas" in found.values:
        default_map.setdefault("clean", {})["schemas"] = list(found.values["schemas"])
    if "baseline_description" in found.values:
        default_map.setdefault("baseline", {})["description"] = found.values["baseline_description"]
    default_map.pop("config", None)
    if "store" in values:
        for group, subcommands in _STORE_GROUPS.items():
            default_map[group] = {sub: {"store": values["store"]} for sub in subcommands}
    syntax = (
        found.values.get("placeholder_prefix", "${"),
        found.values.get("placeholder_suffix", "}"),
        found.values.get("placeholder_replacement", True),
    )
    return default_map, {"placeholders": dict(found.placeholders), "placeholder_syntax": syntax}


_OVERRIDABLE = ("dsn", "store", "policy", "migrations", "table", "lock_wait", "lock_timeout", "statement_timeout")


@click.command(name="config")
@click.option("--dsn", help="Target database URL (shown with its password masked).")
@click.option("--store", help="Override/audit store URL.")
@click.option("--policy", help="Policy file.")
@click.option("--migrations", help="Migrations folder.")
@click.option("--table", help="History table.")
@click.option("--lock-wait", help="How long to wait for another run's migration lock.")
@click.option("--lock-timeout", help="lock_timeout of each statement.")
@click.option("--statement-timeout", help="statement_timeout of each statement.")
@click.option("--placeholder", "placeholders", multiple=True, metavar="NAME=VALUE", help="A placeholder value.")
@click.option("--format", "fmt", type=click.Choice(["text", "json"]), default="text", show_default=True)
def config(placeholders: tuple[str, ...], fmt: str, **given: str | None) -> None:
    """Show the effective settings and where each came from.

    \b
    Sources, highest first: the command line, the environment (SEASONGATE_DSN,
    SEASONGATE_STORE, SEASONGATE_MIGRATIONS), the configuration file (seasongate.toml, or
    [tool.seasongate] in pyproject.toml, with its line), the built-in default.

    \b
    Example:
      seasongate config --format json
    """
    from seasongate.api import parse_placeholder_options, show_config

    report = show_config(
        Path.cwd(),
        command_line={k: v for k, v in given.items() if k in _OVERRIDABLE and v is not None},
        placeholders=parse_placeholder_options(placeholders),
        environ=dict(os.environ),
    )
    if fmt == "json":
        click.echo(json.dumps(report.to_dict(), indent=2))
        return
    click.echo(f"Configuration file: {report.file or 'none (seasongate.toml or [tool.seasongate] in pyproject.toml)'}")
    rows = [(s.name, _shown(s.value), s.source) for s in report.settings]
    width = [max(len(r[i]) for r in rows) for i in range(2)]
    for name, value, source in rows:
        click.echo(f"  {name:<{width[0]}}  {value:<{width[1]}}  {source}")
    if report.placeholders:
        click.echo("Placeholders:")
        for s in report.placeholders:
            click.echo(f"  {s.name} = {s.value}  ({s.source})")


def _shown(value: Any) -> str:
    if value is None:
        return "-"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, tuple):
        return ", ".join(str(v) for v in value)
    return str(value)


COMMANDS: list[click.Command] = [config]
