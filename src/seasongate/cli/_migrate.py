"""CLI: ``seasongate migrate/rollback/info/lint/new/run`` (placeholder)."""

from __future__ import annotations

import click

COMMANDS: list[click.Command] = []
