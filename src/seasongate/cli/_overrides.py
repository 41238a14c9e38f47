"""CLI: ``seasongate override ...`` and ``seasongate audit ...``.

Thin: parse the options, call one function of ``seasongate.api``, format, exit.
Errors (``SeasongateError``) become one line and exit 2 in ``seasongate.cli._Group``;
``audit verify`` exits 1 when the chain is broken.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any, TypeVar

import click

if TYPE_CHECKING:
    from datetime import datetime

    from seasongate.api import AuditEntry, OverrideRecord

F = TypeVar("F", bound=Callable[..., Any])

EXIT_BROKEN = 1


def _store_option(func: F) -> F:
    return click.option(
        "--store",
        metavar="URL",
        envvar="SEASONGATE_STORE",
        default=None,
        help="sqlite:///path.db or postgresql://... [env SEASONGATE_STORE; "
        "default: sqlite .seasongate/seasongate.db here]",
    )(func)


def _policy_option(func: F) -> F:
    return click.option(
        "--policy",
        metavar="FILE",
        default=None,
        type=click.Path(dir_okay=False),
        help="Policy file (default: the one in policies/ covering the environment).",
    )(func)


def _at_option(func: F) -> F:
    return click.option(
        "--at",
        "at_text",
        metavar="ISO",
        default=None,
        help="Act as if it were this instant (ISO 8601 with offset, or Z); default now.",
    )(func)


def _format_option(func: F) -> F:
    return click.option(
        "--format",
        "fmt",
        type=click.Choice(["table", "json"]),
        default=None,
        help="Output format (default table).",
    )(func)


def _at(text: str | None) -> datetime:
    from datetime import UTC, datetime

    from seasongate._time import parse_instant

    if text is None:
        return datetime.now(UTC)
    return parse_instant(text)[0]


def _json(value: Any) -> None:
    import json

    click.echo(json.dumps(value, indent=2, ensure_ascii=False))


def _table(header: Sequence[str], rows: Sequence[Sequence[str]]) -> None:
    widths = [len(h) for h in header]
    for row in rows:
        widths = [max(w, len(cell)) for w, cell in zip(widths, row, strict=True)]
    for row in (header, *rows):
        click.echo("  ".join(cell.ljust(w) for cell, w in zip(row, widths, strict=True)).rstrip())


def _one_line(text: str, limit: int = 60) -> str:
    flat = " ".join(text.split())
    return flat if len(flat) <= limit else flat[: limit - 1] + "…"


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
@click.option(
    "--rule",
    "rules",
    multiple=True,
    help="A rule to lift (repeatable); default: every overridable rule denying at --from.",
)
@click.option("--from", "valid_from", metavar="ISO", help="Start of validity; default --at.")
@click.option("--until", "valid_until", metavar="ISO", help="End of validity.")
@click.option("--for", "duration", metavar="DURATION", help="Validity length, e.g. 4h.")
@click.option("--single-use", is_flag=True, help="Consumed by the first migration run using it.")
@_policy_option
@_store_option
@_at_option
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

    at = _at(at_text)
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
@_policy_option
@_store_option
@_at_option
def approve_cmd(*, override_id: str, comment: str, policy: str | None, store: str | None, at_text: str | None) -> None:
    """Approve an override (never your own).

    \b
    Example:
      seasongate override approve ovr-1a2b3c4d --comment "checked with ops"
    """
    from seasongate.api import override_approve

    at = _at(at_text)
    outcome = override_approve(policy, override_id, at=at, comment=comment, store=store)
    note = "approved" if outcome.counted else "already approved by you (counts once)"
    click.echo(f"{note}: {_summary(outcome.record, at)}")


@override.command("reject")
@click.argument("override_id", metavar="ID")
@click.option("--reason", required=True, help="Why it is rejected.")
@_policy_option
@_store_option
@_at_option
def reject_cmd(*, override_id: str, reason: str, policy: str | None, store: str | None, at_text: str | None) -> None:
    """Reject a pending override.

    \b
    Example:
      seasongate override reject ovr-1a2b3c4d --reason "wait for the weekend window"
    """
    from seasongate.api import override_reject

    at = _at(at_text)
    record = override_reject(policy, override_id, at=at, reason=reason, store=store)
    click.echo(f"rejected: {_summary(record, at)}")


@override.command("revoke")
@click.argument("override_id", metavar="ID")
@click.option("--reason", required=True, help="Why it is revoked.")
@_policy_option
@_store_option
@_at_option
def revoke_cmd(*, override_id: str, reason: str, policy: str | None, store: str | None, at_text: str | None) -> None:
    """Revoke an override (its requester or a holder of its roles).

    \b
    Example:
      seasongate override revoke ovr-1a2b3c4d --reason "fix shipped"
    """
    from seasongate.api import override_revoke

    at = _at(at_text)
    record = override_revoke(policy, override_id, at=at, reason=reason, store=store)
    click.echo(f"revoked: {_summary(record, at)}")


@override.command("list")
@click.option("--active", "active_only", is_flag=True, help="Only overrides granting now.")
@_format_option
@_store_option
@_at_option
def list_cmd(*, active_only: bool, fmt: str | None, store: str | None, at_text: str | None) -> None:
    """List overrides with their status at --at.

    \b
    Examples:
      seasongate override list --active
      seasongate override list --format json
    """
    from seasongate._time import to_ts
    from seasongate.api import override_list

    at = _at(at_text)
    ts = to_ts(at)
    records = override_list(at=at, active_only=active_only, store=store)
    if fmt == "json":
        _json([r.to_dict(ts, _zone(r.environment, r.territory)) for r in records])
        return
    rows = [
        [
            r.id, r.status(ts), r.environment, r.territory, r.scope.versions_text,
            ",".join(r.rules), _local(r.valid_from, r), _local(r.valid_until, r), r.requester,
            f"{len(r.approvers)}/{r.approvals_required}", _one_line(r.ticket, 20),
        ]
        for r in records
    ]  # fmt: skip
    header = ["ID", "STATUS", "ENV", "TERR", "VERSIONS", "RULES", "FROM", "UNTIL", "REQUESTER",
              "APPROVALS", "TICKET"]  # fmt: skip
    _table(header, rows)


@override.command("show")
@click.argument("override_id", metavar="ID")
@_format_option
@_store_option
@_at_option
def show_cmd(*, override_id: str, fmt: str | None, store: str | None, at_text: str | None) -> None:
    """Show one override, its approvals and what closed it.

    \b
    Example:
      seasongate override show ovr-1a2b3c4d
    """
    from seasongate._time import to_ts
    from seasongate.api import override_show

    at = _at(at_text)
    record = override_show(override_id, store=store)
    data = record.to_dict(to_ts(at), _zone(record.environment, record.territory))
    if fmt == "json":
        _json(data)
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


def _audit_rows(entries: Sequence[AuditEntry]) -> list[list[str]]:
    import json

    from seasongate._time import iso

    return [
        [str(e.seq), iso(e.at), e.actor, e.action, _one_line(e.subject, 40),
         _one_line(json.dumps(e.payload, ensure_ascii=False, sort_keys=True), 70)]
        for e in entries
    ]  # fmt: skip


def _print_audit(*, since: str | None, fmt: str | None, store: str | None) -> None:
    from seasongate.api import audit_list

    since_at = None if since is None else _at(since)
    entries = audit_list(since=since_at, store=store)
    if fmt == "json":
        _json([e.to_dict() for e in entries])
        return
    _table(["SEQ", "AT", "ACTOR", "ACTION", "SUBJECT", "PAYLOAD"], _audit_rows(entries))


@click.group(invoke_without_command=True)
@click.option("--since", metavar="ISO", default=None, help="Only entries at or after this.")
@_format_option
@_store_option
@click.pass_context
def audit(ctx: click.Context, *, since: str | None, fmt: str | None, store: str | None) -> None:
    """The tamper-evident audit trail: list it (the default) or verify its hash chain.

    \b
    Examples:
      seasongate audit --since 2026-09-01T00:00Z
      seasongate audit verify
    """
    ctx.ensure_object(dict)
    ctx.obj["audit"] = {"since": since, "fmt": fmt, "store": store}
    if ctx.invoked_subcommand is None:
        _print_audit(since=since, fmt=fmt, store=store)


def _inherited(ctx: click.Context, name: str, value: str | None) -> str | None:
    """An option given to ``audit list/verify`` itself wins over the one given to ``audit``."""
    parent: str | None = (ctx.obj or {}).get("audit", {}).get(name)
    source = ctx.get_parameter_source(name)
    if parent is None or source is click.core.ParameterSource.COMMANDLINE:
        return value
    return parent


@audit.command("list")
@click.option("--since", metavar="ISO", default=None, help="Only entries at or after this.")
@_format_option
@_store_option
@click.pass_context
def audit_list_cmd(ctx: click.Context, *, since: str | None, fmt: str | None, store: str | None) -> None:
    """List audit entries, oldest first.

    \b
    Example:
      seasongate audit list --since 2026-09-01T00:00Z --format json
    """
    _print_audit(
        since=_inherited(ctx, "since", since),
        fmt=_inherited(ctx, "fmt", fmt),
        store=_inherited(ctx, "store", store),
    )


@audit.command("verify")
@click.option(
    "--head", "kept_head", metavar="SEQ:HASH", default=None, help="A head kept by `audit head`: it must still be there."
)
@click.option(
    "--against",
    metavar="DSN",
    multiple=True,
    help="A target database: every migration-history row there must still have its audit entry (repeatable).",
)
@click.option("--table", default="seasongate_schema_history", show_default=True, help="History table of --against.")
@_format_option
@_store_option
@click.pass_context
def audit_verify_cmd(
    ctx: click.Context,
    *,
    kept_head: str | None,
    against: tuple[str, ...],
    table: str,
    fmt: str | None,
    store: str | None,
) -> None:
    """Check the hash chain: exit 0 when intact, 1 naming the first broken entry.

    With --head or --against it also checks anchors kept outside the store, so a trail
    deleted or replaced whole is found.

    \b
    Example:
      seasongate audit verify --store postgresql://seasongate@db/crm
      seasongate audit verify --head "$(cat audit-head.txt)" --against postgresql://deploy@db/crm
    """
    from seasongate.api import audit_verify

    report = audit_verify(head=kept_head, against=against, table=table, store=_inherited(ctx, "store", store))
    if _inherited(ctx, "fmt", fmt) == "json":
        _json(report.to_dict())
    else:
        for note in report.notes:
            click.echo(f"note: {note}", err=True)
        if report.ok:
            head = f", head {report.head[:16]}" if report.head else ""
            anchors = f", {report.anchors} anchors found" if report.anchors else ""
            click.echo(f"audit trail intact: {report.entries} entries{head}{anchors}")
        else:
            click.echo(f"audit trail broken at entry {report.broken_seq}: {report.problem}")
    if not report.ok:
        ctx.exit(EXIT_BROKEN)


@audit.command("head")
@_store_option
@click.pass_context
def audit_head_cmd(ctx: click.Context, *, store: str | None) -> None:
    """Print the head of the intact trail (SEQ:SHA256) for a pipeline to keep elsewhere.

    Pass it back to `audit verify --head` later: a trail that no longer contains it was
    deleted or replaced. Exit 2 when the trail is broken or empty.

    \b
    Example:
      seasongate audit head > audit-head.txt
    """
    from seasongate.api import audit_head

    head = audit_head(store=_inherited(ctx, "store", store))
    if head is None:
        from seasongate._errors import InputError

        raise InputError("the audit trail is empty: there is no head to keep yet")
    click.echo(head)
