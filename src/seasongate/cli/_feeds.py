"""Formats for the tools people already use: ``check --format dotenv`` (GitLab's
``artifacts: reports: dotenv``), ``slots --format ics|csv``, ``windows --format html --year``
(the year at a glance), and the ``export argocd|gitlab`` command.

Only click is imported at module level: ``check`` loads this module on every pipeline run.
"""

from __future__ import annotations

import csv
import io
import sys
from collections.abc import Callable
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

import click

if TYPE_CHECKING:
    from seasongate.api import Decision, SlotsResult

EXIT_OK, EXIT_DENIED, EXIT_ERROR = 0, 1, 2


# -- check --format dotenv ---------------------------------------------------------------------


def _dotenv_value(value: object) -> str:
    """GitLab reads values raw: no quotes (they would be kept), no newlines (unsupported)."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    return " ".join(str(value).split())


def decision_dotenv(decision: Decision) -> str:
    """``SEASONGATE_ALLOWED=true`` … one ``KEY=value`` per line, no blank lines or comments
    (GitLab's dotenv report accepts no more), at most 20 variables."""
    data = decision.to_dict()
    denying = decision.denying
    grant = decision.override
    values: dict[str, object] = {
        "SEASONGATE_ALLOWED": decision.allowed,
        "SEASONGATE_VERDICT": decision.verdict,
        "SEASONGATE_ENVIRONMENT": decision.environment,
        "SEASONGATE_TERRITORY": decision.territory,
        "SEASONGATE_MIGRATION": data["migration"]["version"],
        "SEASONGATE_AT": data["at"],
        "SEASONGATE_TIMEZONE": data["timezone"],
        "SEASONGATE_ALLOWED_UNTIL": data["allowed_until"],
        "SEASONGATE_LATEST_START": data["latest_start"],
        "SEASONGATE_NEXT_ALLOWED_AT": data["next_allowed_at"],
        "SEASONGATE_DENYING_RULES": ",".join(r.rule for r in denying),
        "SEASONGATE_OVERRIDABLE": bool(denying) and all(r.overridable for r in denying),
        "SEASONGATE_REASON": "; ".join(r.message for r in denying),
        "SEASONGATE_OVERRIDE_ID": grant.id if grant is not None else None,
        "SEASONGATE_POLICY": decision.policy_path,
    }
    return "".join(f"{key}={_dotenv_value(value)}\n" for key, value in values.items())


# -- slots --format ics|csv --------------------------------------------------------------------


def _slot_title(result: SlotsResult) -> str:
    from seasongate._time import format_duration

    req = result.request
    what = str(req.version) if req.version else "migration"
    length = format_duration(result.duration) if result.duration else "instant"
    return f"{what} ({length}) in {req.environment} {req.territory}"


def slots_ics(result: SlotsResult) -> bytes:
    """Each span of allowed start times as an event (stable UIDs: subscribe once)."""
    from seasongate._render import slots_ics as render

    tz: Any = result.zone
    req = result.request
    scope = f"{req.environment}|{req.territory}|{req.version}|{result.duration}|{req.risk}"
    spans = [(s.earliest, s.latest, s.finish_by) for s in result.slots]
    return render(spans, tz=tz, title=_slot_title(result), scope=scope, start=result.start, end=result.end)


def slots_csv(result: SlotsResult) -> str:
    """``earliest_start,latest_start,finish_by,continues_after_search`` with UTC offsets."""
    from seasongate._time import iso

    tz: Any = result.zone
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(["environment", "territory", "migration", "earliest_start", "latest_start", "finish_by",
                     "continues_after_search"])  # fmt: skip
    version = str(result.request.version) if result.request.version else ""
    scope = [result.request.environment, result.request.territory, version]
    for s in result.slots:
        writer.writerow([*scope, iso(s.earliest, tz), iso(s.latest, tz), iso(s.finish_by, tz), str(s.clipped).lower()])
    return buffer.getvalue()


# -- windows --format html --year -----------------------------------------------------------------


def year_options(func: Callable[..., Any]) -> Callable[..., Any]:
    """The options of the year at a glance (``windows --format html``)."""
    options = [
        click.option("--year", type=int, help="With --format html: the calendar year to show (default: this year)."),
        click.option("--env", "year_env", default="production", show_default=True,
                     help="With --format html and --migration/--duration/--risk: the environment to plan for."),
        click.option("--migration", "-m", "year_migration",
                     help="With --format html: mark the days on which this migration may start."),
        click.option("--duration", "year_duration", help="With --format html: the run's duration, e.g. 45m."),
        click.option("--risk", "year_risk", type=click.Choice(["low", "medium", "high"]),
                     help="With --format html: the run's risk."),
        click.option("--policy", "year_policy", type=click.Path(dir_okay=False),
                     help="With --format html: the policy to plan with (default: the one covering --env)."),
    ]  # fmt: skip
    for option in reversed(options):
        func = option(func)
    return func


def territory_list(territory: str | tuple[str, ...] | None) -> list[str]:
    """``-t DE -t CH`` or ``-t DE,CH`` as a list."""
    values = (territory,) if isinstance(territory, str) else territory or ()
    return [code.strip() for value in values for code in value.split(",") if code.strip()]


def year_html(
    *,
    territory: str | tuple[str, ...] | None,
    calendars: tuple[str, ...],
    start: str | None,
    end: str | None,
    days: int | None,
    options: dict[str, Any],
    today: datetime,
) -> None:
    """Write the year at a glance (``windows --format html``) to stdout."""
    from seasongate import api
    from seasongate._errors import InputError

    if calendars:
        raise InputError("--format html shows territories (-t DE -t CH), not --calendar files")
    if start or end or days:
        raise InputError("--format html shows a calendar year: give --year, not --from/--to/--days")
    html = api.year_view(
        year=options["year"] or today.year,
        territories=territory_list(territory) or ["DE"],
        environment=options["year_env"],
        migration=options["year_migration"],
        duration=options["year_duration"],
        risk=options["year_risk"],
        policy=options["year_policy"],
    )
    sys.stdout.write(html)
    sys.stdout.flush()


def year_only_check(fmt: str, options: dict[str, Any]) -> None:
    """The year options mean nothing to the other formats: say so rather than ignore them."""
    from seasongate._errors import InputError

    given = [name for name, value in options.items() if value not in (None, "production")]
    if fmt != "html" and given:
        flags = ", ".join("--" + name.removeprefix("year_") for name in given)
        raise InputError(f"{flags}: only with --format html (the year at a glance)")


# -- export argocd|gitlab ------------------------------------------------------------------------


@click.command()
@click.argument("target", type=click.Choice(["argocd", "gitlab"]))
@click.option("--territory", "-t", default="DE", show_default=True, help="Territory whose calendar to export.")
@click.option("--from", "start", help="First day (YYYY-MM-DD; default today in the territory's time zone).")
@click.option("--months", type=int, default=12, show_default=True, help="How many months (1 to 12).")
@click.option("--applications", default="*", show_default=True, help="argocd: applications (comma separated).")
@click.option("--namespaces", default="", help="argocd: namespaces (comma separated).")
@click.option("--clusters", default="", help="argocd: clusters (comma separated).")
@click.option("--manual-sync", is_flag=True, help="argocd: let manual syncs through the deny windows.")
def export(target: str, territory: str, start: str | None, months: int, applications: str, namespaces: str,
           clusters: str, *, manual_sync: bool) -> None:  # fmt: skip
    """The calendar's blackouts as Argo CD sync windows or GitLab deploy-freeze periods.

    \b
    Examples:
      seasongate export argocd -t DE --months 12 > sync-windows.yaml
      seasongate export gitlab -t CH --from 2027-01-01 > freeze-periods.json
    """
    from seasongate import api
    from seasongate._time import parse_date

    def split(text: str) -> list[str]:
        return [v.strip() for v in text.split(",") if v.strip()]

    # Without --from: today in the territory's time zone (the api converts the instant).
    first = parse_date(start) if start else datetime.now(UTC)
    text = api.export_blackouts(
        target=target, territory=territory, start=first, months=months, applications=split(applications),
        namespaces=split(namespaces), clusters=split(clusters), manual_sync=manual_sync,
    )  # fmt: skip
    click.echo(text, nl=False)


COMMANDS = [export]
