"""How the migration commands print: a line per step (with a progress bar on a terminal),
the run's summary, the ``info`` table, and the exit that ends each command."""

from __future__ import annotations

import json
import sys
import time
from collections.abc import Callable
from datetime import datetime
from typing import Any, NoReturn

import click

from seasongate.cli._gate_args import show_note


def when(moment: datetime | None) -> str:
    """``2026-09-25 10:00 CEST`` (``-`` for none)."""
    return "-" if moment is None else moment.strftime("%Y-%m-%d %H:%M %Z").strip()


def step_line(step: Any) -> str:
    """One migration step: version, description, verdict, time taken, status and why."""
    took = "-" if step.seconds is None else f"{step.seconds:.2f}s"
    text = f"{step.version!s:<8} {step.description[:40]:<40} {step.verdict or '-':<6} {took:>8}  {step.status}"
    if step.status == "denied" and step.reason:
        text += f": {step.reason}"
        if step.next_allowed_at is not None:
            text += f" (next allowed {when(step.next_allowed_at)})"
    elif step.override_id:
        text += f" (override {step.override_id})"
    if step.error:
        text += f": {step.error}"
    return text


class TerminalProgress:
    """One line per migration on stdout; on a terminal, a progress bar on stderr below them
    while a long run goes on."""

    WIDTH = 24

    def __init__(self, *, bar: bool) -> None:
        self.bar = bar
        self.started = time.monotonic()
        self.shown = False

    def starting(self, index: int, total: int, label: str) -> None:
        """Step ``index`` of ``total`` starts: redraw the bar."""
        if not self.bar or total < 2:
            return
        filled = self.WIDTH * index // total
        elapsed = time.monotonic() - self.started
        text = f"[{'#' * filled}{'.' * (self.WIDTH - filled)}] {index}/{total} {elapsed:5.0f}s  {label[:40]}"
        click.echo("\r" + text.ljust(80), nl=False, err=True)
        self.shown = True

    def __call__(self, step: Any) -> None:
        if self.shown:
            click.echo("\r" + " " * 80 + "\r", nl=False, err=True)
            self.shown = False
        click.echo(step_line(step))


def progress(fmt: str) -> Callable[[Any], None] | None:
    """What shows each step as it ends (nothing in json mode)."""
    if fmt == "json":
        return None
    return TerminalProgress(bar=sys.stderr.isatty())


def summary(report: Any) -> str:
    """What a migrate or rollback run did, or (dry run) would do, in a few lines."""
    verb = "applied" if report.operation == "migrate" else "rolled back"
    done = [str(s.version) for s in report.done]
    if report.dry_run:
        would = [str(s.version) for s in report.steps if s.status.startswith("would")]
        if report.status == "ok":
            return f"Dry run: would have {verb} {len(would)} migration(s); nothing changed." if would else (
                "Dry run: nothing to do."
            )  # fmt: skip
        return (
            f"Dry run: would stop before {report.pending[0].version}"
            f"{' after ' + ', '.join(would) if would else ''}; nothing changed."
        )
    if report.status == "ok":
        return f"Done: {verb} {len(done)} migration(s)." if done else "Nothing to do."
    lines = []
    stop = report.stopped_at
    if report.status == "denied" and stop is not None:
        lines.append(f"Stopped by the gate before {stop.version}: {stop.reason}.")
        lines.append(f"Next allowed: {when(stop.next_allowed_at)}.")
    lines.append(f"{verb.capitalize()}: {', '.join(done) if done else 'none'}.")
    if report.pending:
        left = "Still pending" if report.operation == "migrate" else "Not rolled back (still applied)"
        lines.append(f"{left}: {', '.join(str(p.version) for p in report.pending)}.")
    return "\n".join(lines)


def _echo_json(result: Any) -> None:
    click.echo(json.dumps(result.to_dict(), indent=2, ensure_ascii=False))


def _echo_run(report: Any) -> None:
    click.echo(summary(report))
    if report.status == "failed" and report.error:
        click.echo(f"seasongate: error: {report.error}", err=True)


def finish(report: Any, fmt: str, note: str | None) -> NoReturn:
    """Print a migrate or rollback report and exit with its code."""
    show_note(note)
    if fmt == "json":
        _echo_json(report)
    else:
        _echo_run(report)
    sys.exit(report.exit_code)


def finish_watched(result: Any, fmt: str, note: str | None) -> NoReturn:
    """Print a watched run (``--health``) and exit with its code."""
    from seasongate.cli._health import watched_lines

    show_note(note)
    if fmt == "json":
        _echo_json(result)
    else:
        if result.migrate is not None:
            _echo_run(result.migrate)
        for line in watched_lines(result):
            click.echo(line)
    sys.exit(result.exit_code)


def _gate_cell(row: Any) -> str:
    gate = row.reason if row.state == "excluded" else "-"
    if row.verdict:
        gate = row.verdict
        if row.verdict == "deny":
            gate += f" until {when(row.next_allowed_at)}" if row.next_allowed_at else " (no window)"
    return str(gate)


def info_rows(report: Any) -> list[tuple[str, ...]]:
    """The ``info`` table, header first; a run of declared gaps shows as one line (V101-V213)."""
    rows: list[tuple[str, ...]] = [
        ("Version", "Description", "State", "Flyway", "Installed on", "Time", "Undo", "Gate now")
    ]
    gap_start = None
    for index, r in enumerate(report.rows):
        if r.state == "ignored gap":
            nxt = report.rows[index + 1] if index + 1 < len(report.rows) else None
            gap_start = gap_start or r.version
            if nxt is not None and nxt.state == "ignored gap" and nxt.version.major == r.version.major + 1:
                continue
            shown = str(r.version) if gap_start == r.version else f"{gap_start}-{r.version}"
            rows.append((shown, "", r.state, "-", "-", "-", "-", "-"))
            gap_start = None
            continue
        took = "-" if r.execution_ms is None else f"{r.execution_ms / 1000:.2f}s"
        installed = "-" if r.installed_on is None else when(r.installed_on.astimezone(report.zone))
        version = r.script or "R" if r.version.repeatable else str(r.version)
        undo = "yes" if r.undo else "-"
        rows.append((version, r.description[:40], r.state, r.flyway_state or "-", installed, took, undo, _gate_cell(r)))
    return rows


def print_info(report: Any, fmt: str) -> None:
    """The ``info`` report: the table (or JSON) on stdout, each problem on stderr."""
    if fmt == "json":
        _echo_json(report)
        return
    rows = info_rows(report)
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
    # One write for the table: thousands of rows are thousands of flushed writes otherwise.
    lines = ("  ".join(cell.ljust(w) for cell, w in zip(row, widths, strict=True)).rstrip() for row in rows)
    click.echo("\n".join(lines))
    for problem in report.problems:
        click.echo(f"problem: {problem}", err=True)
