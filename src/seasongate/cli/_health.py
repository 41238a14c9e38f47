"""CLI: ``seasongate health check``.

Exit codes: 0 healthy, 1 degraded, 2 error (a broken file, an unreachable source),
3 inconclusive (the data cannot tell whether the promise holds).
"""

from __future__ import annotations

import json
import sys
from datetime import UTC, datetime
from typing import Any

import click

EXIT_OK, EXIT_DEGRADED, EXIT_ERROR, EXIT_INCONCLUSIVE = 0, 1, 2, 3
EXIT_CODES = {"healthy": EXIT_OK, "degraded": EXIT_DEGRADED, "inconclusive": EXIT_INCONCLUSIVE}


@click.group()
def health() -> None:
    """Health checks after a change: the calendar chooses the baseline and the threshold.

    \b
    Exit codes: 0 healthy, 1 degraded, 2 error, 3 inconclusive.
    Example:
      seasongate health check --health health/crm.yaml --env production -t DE --format json
    """


@health.command("check")
@click.option("--health", "health_file", required=True, type=click.Path(dir_okay=False), help="Health file.")
@click.option("--env", "environment", required=True, help="Environment, e.g. production.")
@click.option("--territory", "-t", required=True, help="Territory, e.g. DE.")
@click.option("--at", help="Judge at this instant (ISO 8601; default now). Without offset: the territory's time.")
@click.option("--since", help="Start of the watched span (e.g. when the run started; default: watch.for before --at).")
@click.option("--policy", type=click.Path(dir_okay=False), help="Policy file (default: the one covering --env).")
@click.option("--dsn", envvar="SEASONGATE_DSN", help="Database a SQL probe without dsn_env runs against.")
@click.option("--format", "fmt", type=click.Choice(["text", "json"]), default="text", show_default=True)
def check(
    health_file: str, environment: str, territory: str, at: str | None, since: str | None,
    policy: str | None, dsn: str | None, fmt: str,
) -> None:  # fmt: skip
    """Measure every indicator and judge it: exit 0 healthy, 1 degraded, 2 error, 3 inconclusive.

    \b
    Examples:
      seasongate health check --health health/crm.yaml --env production -t DE
      seasongate health check --health health/crm.yaml --env production -t DE \\
          --since 2026-09-25T13:00+02:00 --at 2026-09-25T13:30+02:00 --format json
    """
    from seasongate._time import parse_instant
    from seasongate.api import health_check, open_project

    loaded = open_project(environment, policy=policy, use_store=False).policy
    tz = loaded.zone(territory)
    moment = parse_instant(at, tz)[0] if at else datetime.now(UTC)
    start = parse_instant(since, tz)[0] if since else None
    report = health_check(
        health_file, environment=environment, territory=territory, at=moment, since=start, policy=loaded, dsn=dsn
    )
    data = report.to_dict()
    if fmt == "json":
        click.echo(json.dumps(data, indent=2, ensure_ascii=False))
    else:
        click.echo(format_report(data))
    sys.exit(EXIT_CODES[report.verdict])


def _pct(value: float | None) -> str:
    return "-" if value is None else f"{value:+.1%}"


def format_report(data: dict[str, Any]) -> str:
    """The text form of a health report's JSON."""
    lines = [
        f"{data['verdict'].upper()}: {data['health']['path']} for {data['environment']} {data['territory']}, "
        f"{data['since']} to {data['at']}"
    ]
    for ind in data["indicators"]:
        critical = "" if ind["critical"] else " (not critical)"
        lines.append(f"  {ind['name']}: {ind['verdict']}{critical}: {ind['reason']}")
        if ind["error"]:
            lines.append(f"    source error: {ind['error']}")
        lines.append(f"    query: {ind['query']}")
        threshold = ind["threshold"]
        limits = []
        if threshold["max_degradation"] is not None:
            limits.append(f"max_degradation {threshold['max_degradation']:.1%}")
        if threshold["max"] is not None:
            limits.append(f"max {threshold['max']:g}")
        chosen = threshold["chosen_by"]
        by = ""
        if chosen:
            by = f" (tightened by {chosen['name']}, {chosen['kind']}, {chosen['start']} to {chosen['end']})"
        lines.append(f"    threshold: {', '.join(limits)}{by}")
        base = ind["baseline"]
        value = "-" if base["value"] is None else f"{base['value']:g}"
        lines.append(f"    baseline: {base['kind']}: {base['description']}: {value} ({base['samples']} samples)")
        measured = ind["measurements"]
        if measured:
            worst = max(measured, key=lambda m: m["relative"] if m["relative"] is not None else float("-inf"))
            fails = sum(m["verdict"] == "fail" for m in measured)
            lines.append(
                f"    measurements: {len(measured)}, {fails} failed; last {measured[-1]['value']:g} "
                f"({_pct(measured[-1]['relative'])}), worst {_pct(worst['relative'])} at {worst['at']}"
            )
        if ind["judge"].get("kind") == "mann_whitney" and "degradation_interval" in ind["judge"]:
            lo, hi = ind["judge"]["degradation_interval"]
            lines.append(
                f"    judge: mann_whitney, {ind['judge']['confidence']:.0%} interval of the degradation "
                f"{_pct(lo)} to {_pct(hi)}, p={ind['judge']['p_value']:.3g}"
            )
    return "\n".join(lines)


COMMANDS = [health]


def watched_lines(result: Any) -> list[str]:
    """The health part of ``migrate --health`` / ``run --health`` as text lines."""
    data = result.to_dict()
    lines = []
    watch = data["watch"]
    if watch is None:
        lines.append(f"Health ({data['health']['path']}): not watched: {data['note']}")
    else:
        report = watch["report"]
        summary = "; ".join(
            f"{i['name']}: {i['verdict']}: {i['reason']}" for i in (report["indicators"] if report else [])
        )
        lines.append(
            f"Health ({data['health']['path']}): {watch['verdict'].upper()} after {watch['checks']} check(s) "
            f"in {watch['seconds']}s: {summary}"
        )
        for error in watch["source_errors"]:
            lines.append(f"  source error: {error}")
    if data["rollback"] is not None:
        undone = [s["version"] for s in data["rollback"]["steps"] if s["status"] == "rolled back"]
        lines.append(
            f"Rolled back: {', '.join(undone) or 'none'} (status {data['rollback']['status']})."
            + (f" {data['rollback']['error']}" if data["rollback"]["error"] else "")
        )
    if data["rollback_command"] is not None:
        undo = data["rollback_command"]
        lines.append(f"Rollback command {' '.join(undo['command'])}: exit {undo['exit_code']}.")
    if data["note"] and watch is not None:
        lines.append(f"Note: {data['note']}")
    for name, slo in data["slo"].items():
        if slo["met"] is not None:
            state = "met" if slo["met"] else "MISSED"
            lines.append(f"slo.{name}: {slo['seconds']:.1f}s of {slo['limit_seconds']}s: {state}.")
    for notice in data["notices"]:
        if notice["delivered"]:
            attempts = notice["attempts"]
            lines.append(f"Notice {notice['event']} -> {notice['target']}: delivered ({attempts} attempt(s)).")
        else:
            lines.append(
                f"Notice {notice['event']} -> {notice['target']}: NOT delivered after {notice['attempts']} "
                f"attempt(s): {notice['error']}"
            )
    return lines
