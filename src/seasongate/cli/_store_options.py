"""What the override and audit commands share: their options (``--store``, ``--policy``,
``--at``, ``--format``) and their plain output (JSON, aligned tables, one-line cells)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

import click

if TYPE_CHECKING:
    from datetime import datetime

store_option = click.option(
    "--store",
    metavar="URL",
    envvar="SEASONGATE_STORE",
    default=None,
    help="sqlite:///path.db or postgresql://... [env SEASONGATE_STORE; default: sqlite .seasongate/seasongate.db here]",
)
policy_option = click.option(
    "--policy",
    metavar="FILE",
    default=None,
    type=click.Path(dir_okay=False),
    help="Policy file (default: the one in policies/ covering the environment).",
)
at_option = click.option(
    "--at",
    "at_text",
    metavar="ISO",
    default=None,
    help="Act as if it were this instant (ISO 8601 with offset, or Z); default now.",
)
format_option = click.option(
    "--format",
    "fmt",
    type=click.Choice(["table", "json"]),
    default=None,
    help="Output format (default table).",
)


def instant(text: str | None) -> datetime:
    """``--at`` (or ``--since``) as an aware datetime; the clock when not given."""
    from datetime import UTC, datetime

    from seasongate._time import parse_instant

    if text is None:
        return datetime.now(UTC)
    return parse_instant(text)[0]


def echo_json(value: Any) -> None:
    """``value`` as indented JSON on stdout."""
    import json

    click.echo(json.dumps(value, indent=2, ensure_ascii=False))


def echo_table(header: Sequence[str], rows: Sequence[Sequence[str]]) -> None:
    """Rows under a header, each column as wide as its widest cell."""
    widths = [len(h) for h in header]
    for row in rows:
        widths = [max(w, len(cell)) for w, cell in zip(widths, row, strict=True)]
    for row in (header, *rows):
        click.echo("  ".join(cell.ljust(w) for cell, w in zip(row, widths, strict=True)).rstrip())


def one_line(text: str, limit: int = 60) -> str:
    """``text`` on one line, cut to ``limit`` characters."""
    flat = " ".join(text.split())
    return flat if len(flat) <= limit else flat[: limit - 1] + "…"
