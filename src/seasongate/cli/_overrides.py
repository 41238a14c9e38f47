"""CLI: ``seasongate override ...`` and ``seasongate audit ...`` (placeholder)."""

from __future__ import annotations

import click


@click.group()
def override() -> None:
    """Emergency overrides: request, approve, reject, revoke, list, show."""


@click.group()
def audit() -> None:
    """The tamper-evident audit trail."""
