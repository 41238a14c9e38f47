"""CLI: ``seasongate override ...``: request, approve, reject, revoke, list, show.

Thin: parse the options, call one function of ``seasongate.api``, format, exit.
Errors (``SeasongateError``) become one line and exit 2 in ``seasongate.cli._Group``.
"""

from __future__ import annotations

import functools
from typing import TYPE_CHECKING, Any

import click

from seasongate.cli._store_options import (
    at_option,
    echo_json,
    echo_table,
    format_option,
    instant,
    one_line,
    policy_option,
    store_option,
)

if TYPE_CHECKING:
    from datetime import datetime

    from seasongate.api import OverrideRecord


@functools.lru_cache(maxsize=32)
def _zone(environment: str, territory: str) -> Any:
    """The territory's zone from the project's policy (UTC when there is none)."""
    from seasongate._errors import SeasongateError
    from seasongate._time import zone
    from seasongate.api import open_policy

    try:
        return open_policy(None, environment).zone(territory)
    except SeasongateError:
        return zone("UTC")


def _local(ts: int, record: OverrideRecord) -> str:
    """An instant of an override, in its territory's local time (people read these)."""
    from seasongate._time import iso

    return iso(ts, _zone(record.environment, record.territory))


def _summary(record: OverrideRecord, at: datetime) -> str:
    from seasongate._time import to_ts

    return (
        f"override {record.id} [{record.status(to_ts(at))}]: {record.environment}/"
        f"{record.territory} {record.scope.versions_text}, lifts {', '.join(record.rules)}"
        f", {_local(record.valid_from, record)} .. {_local(record.valid_until, record)}"
        f"{' (single use)' if record.single_use else ''}; approvals "
        f"{len(record.approvers)}/{record.approvals_required} from {', '.join(record.roles)}"
    )


@click.group()
def override() -> None:
    """Emergency overrides: request, approve, reject, revoke, list, show.

    \b
    Examples:
      seasongate override request --env production --territory DE --versions V226 \\
          --reason "hotfix order import" --ticket INC-4711 --for 4h
      seasongate override approve ovr-1a2b3c4d --comment "checked with ops"
      seasongate override list --active
    """


@override.command("request")
@click.option("--env", "environment", required=True, help="Environment, e.g. production.")
@click.option("--territory", required=True, help="Territory, e.g. DE.")
@click.option("--versions", required=True, help="V226, V226..V230 (inclusive) or any.")
@click.option("--reason", required=True, help="Why the override is needed.")
@click.option("--ticket", required=True, help="Incident or change ticket id.")
@click.option("--rule", "rules", multiple=True,
              help="A rule to lift (repeatable); default: every overridable rule denying at --from.")  # fmt: skip
@click.option("--from", "valid_from", metavar="ISO", help="Start of validity; default --at.")
@click.option("--until", "valid_until", metavar="ISO", help="End of validity.")
@click.option("--for", "duration", metavar="DURATION", help="Validity length, e.g. 4h.")
@click.option("--single-use", is_flag=True, help="Consumed by the first migration run using it.")
@policy_option
@store_option
@at_option
def request_cmd(
    *,
    environment: str,
    territory: str,
    versions: str,
    reason: str,
    ticket: str,
    rules: tuple[str, ...],
    valid_from: str | None,
    valid_until: str | None,
    duration: str | None,
    single_use: bool,
    policy: str | None,
    store: str | None,
    at_text: str | None,
) -> None:
    """Request an override; prints its id (details on stderr).

    \b
    Example:
      seasongate override request --env production --territory DE --versions V226..V228 \\
          --reason "order import drops orders" --ticket INC-4711 --for 4h --single-use
    """
    from seasongate.api import override_request

    at = instant(at_text)
    record = override_request(
        policy,
        at=at,
        environment=environment,
        territory=territory,
        versions=versions,
        reason=reason,
        ticket=ticket,
        rules=rules,
        valid_from=valid_from,
        valid_until=valid_until,
        duration=duration,
        single_use=single_use,
        store=store,
    )
    click.echo(record.id)
    click.echo(_summary(record, at), err=True)


@override.command("approve")
@click.argument("override_id", metavar="ID")
@click.option("--comment", default="", help="A note kept with the approval.")
@policy_option
@store_option
@at_option
def approve_cmd(*, override_id: str, comment: str, policy: str | None, store: str | None, at_text: str | None) -> None:
    """Approve an override (never your own).

    \b
    Example:
      seasongate override approve ovr-1a2b3c4d --comment "checked with ops"
    """
    from seasongate.api import override_approve

    at = instant(at_text)
    outcome = override_approve(policy, override_id, at=at, comment=comment, store=store)
    note = "approved" if outcome.counted else "already approved by you (counts once)"
    click.echo(f"{note}: {_summary(outcome.record, at)}")


def _closing_command(name: str, *, status: str, reason_help: str, doc: str) -> None:
    """``override reject`` / ``override revoke``: the same command but for the api function
    it calls (``override_<name>``) and the words it prints."""

    @override.command(name, help=doc)
    @click.argument("override_id", metavar="ID")
    @click.option("--reason", required=True, help=reason_help)
    @policy_option
    @store_option
    @at_option
    def command(*, override_id: str, reason: str, policy: str | None, store: str | None, at_text: str | None) -> None:
        from seasongate import api

        at = instant(at_text)
        close = getattr(api, f"override_{name}")
        record = close(policy, override_id, at=at, reason=reason, store=store)
        click.echo(f"{status}: {_summary(record, at)}")


_closing_command(
    "reject",
    status="rejected",
    reason_help="Why it is rejected.",
    doc="""Reject a pending override.

    \b
    Example:
      seasongate override reject ovr-1a2b3c4d --reason "wait for the weekend window"
    """,
)
_closing_command(
    "revoke",
    status="revoked",
    reason_help="Why it is revoked.",
    doc="""Revoke an override (its requester or a holder of its roles).

    \b
    Example:
      seasongate override revoke ovr-1a2b3c4d --reason "fix shipped"
    """,
)


@override.command("list")
@click.option("--active", "active_only", is_flag=True, help="Only overrides granting now.")
@format_option
@store_option
@at_option
def list_cmd(*, active_only: bool, fmt: str | None, store: str | None, at_text: str | None) -> None:
    """List overrides with their status at --at.

    \b
    Examples:
      seasongate override list --active
      seasongate override list --format json
    """
    from seasongate._time import to_ts
    from seasongate.api import override_list

    at = instant(at_text)
    ts = to_ts(at)
    records = override_list(at=at, active_only=active_only, store=store)
    if fmt == "json":
        echo_json([r.to_dict(ts, _zone(r.environment, r.territory)) for r in records])
        return
    rows = [
        [
            r.id, r.status(ts), r.environment, r.territory, r.scope.versions_text,
            ",".join(r.rules), _local(r.valid_from, r), _local(r.valid_until, r), r.requester,
            f"{len(r.approvers)}/{r.approvals_required}", one_line(r.ticket, 20),
        ]
        for r in records
    ]  # fmt: skip
    header = ["ID", "STATUS", "ENV", "TERR", "VERSIONS", "RULES", "FROM", "UNTIL", "REQUESTER",
              "APPROVALS", "TICKET"]  # fmt: skip
    echo_table(header, rows)


@override.command("show")
@click.argument("override_id", metavar="ID")
@format_option
@store_option
@at_option
def show_cmd(*, override_id: str, fmt: str | None, store: str | None, at_text: str | None) -> None:
    """Show one override, its approvals and what closed it.

    \b
    Example:
      seasongate override show ovr-1a2b3c4d
    """
    from seasongate._time import to_ts
    from seasongate.api import override_show

    at = instant(at_text)
    record = override_show(override_id, store=store)
    data = record.to_dict(to_ts(at), _zone(record.environment, record.territory))
    if fmt == "json":
        echo_json(data)
        return
    for key in ("id", "status", "environment", "territory", "versions"):
        click.echo(f"{key + ':':<20}{data[key]}")
    click.echo(f"{'rules:':<20}{', '.join(data['rules'])}")
    for key in ("valid_from", "valid_until", "single_use", "requester", "reason", "ticket"):
        click.echo(f"{key + ':':<20}{data[key]}")
    click.echo(
        f"{'needs:':<20}{data['approvals_required']} approval(s) from "
        f"{', '.join(data['roles'])} (max validity {data['max_validity']})"
    )
    for approval in data["approvals"]:
        comment = f": {approval['comment']}" if approval["comment"] else ""
        click.echo(f"{'approved:':<20}{approval['approver']} at {approval['at']}{comment}")
    for key, note in (("rejected", "reason"), ("revoked", "reason"), ("consumed", "subject")):
        event = data[key]
        if event is not None:
            click.echo(f"{key + ':':<20}by {event['by']} at {event['at']}: {event[note]}")
