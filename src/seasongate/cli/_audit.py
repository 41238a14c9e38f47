"""CLI: ``seasongate audit ...``: list the trail, verify its hash chain, print its head.

Thin: parse the options, call one function of ``seasongate.api``, format, exit. ``audit
verify`` exits 1 when the chain is broken; errors exit 2 (``seasongate.cli._Group``).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any, TypeVar

import click

from seasongate.cli._store_options import echo_json, echo_table, format_option, instant, one_line, store_option

if TYPE_CHECKING:
    from seasongate.api import AuditEntry

EXIT_BROKEN = 1
F = TypeVar("F", bound=Callable[..., Any])


def _audit_rows(entries: Sequence[AuditEntry]) -> list[list[str]]:
    import json

    from seasongate._time import iso

    return [
        [str(e.seq), iso(e.at), e.actor, e.action, one_line(e.subject, 40),
         one_line(json.dumps(e.payload, ensure_ascii=False, sort_keys=True), 70)]
        for e in entries
    ]  # fmt: skip


def _print_audit(*, since: str | None, fmt: str | None, store: str | None) -> None:
    from seasongate.api import audit_list

    since_at = None if since is None else instant(since)
    entries = audit_list(since=since_at, store=store)
    if fmt == "json":
        echo_json([e.to_dict() for e in entries])
        return
    echo_table(["SEQ", "AT", "ACTOR", "ACTION", "SUBJECT", "PAYLOAD"], _audit_rows(entries))


def _listing_options(func: F) -> F:
    """``--since``, ``--format`` and ``--store``: given to ``audit`` or to ``audit list``."""
    since = click.option("--since", metavar="ISO", default=None, help="Only entries at or after this.")
    return since(format_option(store_option(func)))


@click.group(invoke_without_command=True)
@_listing_options
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
@_listing_options
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
@format_option
@store_option
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
        echo_json(report.to_dict())
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
@store_option
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
