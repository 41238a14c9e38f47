"""Rendering of decisions, explanations and slots for people and machines, and the one way a
gated command calls the api and reports an error (:func:`judged_call`)."""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from datetime import datetime, tzinfo
from typing import TYPE_CHECKING, Any, TypeVar

from seasongate._time import format_duration, from_ts, iso

if TYPE_CHECKING:
    from seasongate._errors import Location, SeasongateError
    from seasongate.api import Decision, Reason, RuleCheck, SlotsResult

T = TypeVar("T")


def judged_call(
    call: Callable[[Any, Callable[[], datetime]], T],
    *,
    policy: str | None,
    environment: str,
    territory: str,
    at: str | None,
    fmt: str,
    acts: bool,
) -> T:
    """Call one api command as every gated command does: ``call(policy, now)`` with the policy
    covering ``environment`` (or ``--policy``) and the clock (``--at`` or the system's; a
    command that ``acts`` refuses ``--at``). An error ends the command with exit 2 (one JSON
    document with ``--format json``); the note on an ``--at`` without offset goes to stderr."""
    import click

    from seasongate._errors import SeasongateError
    from seasongate.cli._migrate import _clock, _fail, _policy

    try:
        loaded = _policy(policy, environment)
        now, note = _clock(at, loaded, territory, acts=acts)
        result = call(loaded, now)
    except SeasongateError as exc:
        _fail(exc, fmt)
    if note:
        click.echo(f"seasongate: note: {note}", err=True)
    return result


def local(ts: int, tz: tzinfo) -> str:
    """``2026-10-10 22:00 CEST (Sat)``"""
    moment = from_ts(ts, tz)
    return moment.strftime("%Y-%m-%d %H:%M %Z (%a)")


def _subject(decision: Decision) -> str:
    mig = decision.migration
    what = str(mig.version) if mig.version else "a migration"
    if mig.operation == "rollback":
        what = f"the rollback of {what}"
    return f"{what} in {decision.environment} ({decision.territory})"


def _period_text(reason: Reason, tz: tzinfo) -> str:
    parts = []
    for p in reason.periods:
        parts.append(f"{p.name} {local(p.start, tz)[:16]} to {local(p.end, tz)[:16]}")
    return "; ".join(parts)


def decision_text(decision: Decision) -> str:
    """One line of verdict, then the reasons, then until when / next allowed."""
    tz = decision.zone
    mig = decision.migration
    lines = []
    verb = "may run" if decision.allowed else "may not run"
    lines.append(f"{decision.verdict.upper()}: {_subject(decision)} {verb} at {local(decision.at, tz)}")
    details = [f"class {mig.migration_class}" if mig.migration_class else None, f"risk {mig.risk or 'unknown'}",
               f"duration {format_duration(mig.duration)}" if mig.duration else None]  # fmt: skip
    lines.append("  (" + ", ".join(d for d in details if d) + f"; policy {decision.policy_path})")
    for note in decision.notes:
        lines.append(f"  note: {note}")
    for reason in decision.reasons:
        mark = "allow" if reason.effect == "allow" else ("lifted" if reason.lifted_by else "deny")
        text = f"  [{mark}] {reason.rule}: {reason.message}"
        periods = _period_text(reason, tz)
        if periods:
            text += f" ({periods})"
        lines.append(text)
        if reason.effect == "deny" and reason.lifted_by:
            lines.append(f"          lifted by override {reason.lifted_by}")
        elif reason.effect == "deny" and reason.override:
            o = reason.override
            lines.append(
                f"          overridable: {o.approvals} approval(s) by {o.role}, "
                f"valid at most {format_duration(o.max_validity)}"
            )
        elif reason.effect == "deny":
            lines.append("          not overridable")
    if decision.default_applied:
        lines.append(f"  [default] no rule decided: the policy's default ({decision.verdict}) applies")
    if decision.override is not None:
        grant = decision.override
        lines.append(
            f"  override {grant.id} by {grant.requester}, approved by {', '.join(grant.approvers)}: "
            f"{grant.reason} [{grant.ticket}] until {local(grant.valid_until, tz)}"
        )
    for unapplied in decision.unapplied_overrides:
        lines.append(f"  override {unapplied.id} [{unapplied.ticket}] not applied to {unapplied.rule}: {unapplied.why}")
    if decision.allowed:
        if decision.allowed_until is not None:
            line = f"Allowed until {local(decision.allowed_until, tz)}"
            if mig.duration and decision.latest_start is not None:
                line += f"; start by {local(decision.latest_start, tz)}"
            lines.append(line + ".")
        else:
            lines.append("Allowed beyond the examined horizon.")
    elif decision.next_allowed_at is not None:
        run = f", long enough for a run of {format_duration(mig.duration)}" if mig.duration else ""
        lines.append(f"Next allowed at {local(decision.next_allowed_at, tz)}{run}.")
    else:
        lines.append("Not allowed at any time within the examined horizon.")
    return "\n".join(lines)


def decision_json(decision: Decision) -> str:
    """The stable JSON of ``docs/decision.md``."""
    return json.dumps(decision.to_dict(), indent=2, ensure_ascii=False)


def _gh_escape(text: str) -> str:
    return text.replace("%", "%25").replace("\r", "%0D").replace("\n", "%0A")


def _gh_property(text: str) -> str:
    return _gh_escape(text).replace(":", "%3A").replace(",", "%2C")


def _gh_file(file: str | None) -> str:
    return f"file={_gh_property(file)}," if file else ""


def decision_github(decision: Decision, file: str | None = None) -> str:
    """GitHub Actions workflow annotations; ``file`` (the migration file) anchors them.

    An allow granted by an override is a warning naming the override and its ticket: the
    gate was opened by people, and the run's log should say so."""
    tz = decision.zone
    where = _gh_file(file)
    notes = [f"::notice {where}title=seasongate: note::{_gh_escape(note)}" for note in decision.notes]
    unapplied = [
        f"::warning {where}title=seasongate: override {u.id} not applied::"
        f"{_gh_escape(f'override {u.id} [{u.ticket}] does not lift {u.rule}: {u.why}')}"
        for u in decision.unapplied_overrides
    ]
    if decision.allowed:
        until = f" until {local(decision.allowed_until, tz)}" if decision.allowed_until else ""
        if decision.override is not None:
            grant = decision.override
            lifted = ", ".join(r.rule for r in decision.reasons if r.lifted_by == grant.id)
            text = (
                f"{_subject(decision)} may run{until} only by override {grant.id} [{grant.ticket}] "
                f"(lifts {lifted}; requested by {grant.requester}, approved by {', '.join(grant.approvers)})"
            )
            title = f"seasongate: allowed by override {grant.id}"
            return "\n".join([*notes, *unapplied, f"::warning {where}title={title}::{_gh_escape(text)}"])
        allowed = f"{_gh_escape(_subject(decision))} may run{until}"
        return "\n".join([*notes, f"::notice {where}title=seasongate: allowed::{allowed}"])
    lines = [*notes, *unapplied]
    for reason in decision.denying or ():
        hint = " (overridable)" if reason.overridable else ""
        lines.append(f"::error {where}title=seasongate: {reason.rule}::{_gh_escape(reason.message + hint)}")
    if not decision.denying:
        lines.append(f"::error {where}title=seasongate: denied::no rule allows it (the policy's default is deny)")
    nxt = (
        f"next allowed at {local(decision.next_allowed_at, tz)}"
        if decision.next_allowed_at
        else "not allowed within the horizon"
    )
    denied = f"{_gh_escape(_subject(decision))} may not run at {local(decision.at, tz)}; {nxt}"
    lines.append(f"::error {where}title=seasongate: denied::{denied}")
    return "\n".join(lines)


def error_github(error: SeasongateError, file: str | None = None) -> str:
    """An error (exit 2) as ``::error`` annotations: one per located problem, anchored at
    its file, line and column; an error without a location anchors at ``file``."""
    from seasongate._errors import ConfigError, ConfigErrors

    problems: list[tuple[Location | None, str]]
    if isinstance(error, ConfigErrors):
        problems = [(p.location, p.render()) for p in error.problems]
    elif isinstance(error, ConfigError):
        problems = [(error.location, error.render())]
    else:
        problems = [(None, str(error))]
    lines = []
    for location, message in problems:
        if location is not None and location.path:
            anchor = f"file={_gh_property(location.path)},"
            if location.line:
                anchor += f"line={location.line},col={location.column or 1},"
        else:
            anchor = _gh_file(file)
        lines.append(f"::error {anchor}title=seasongate: error::{_gh_escape(message)}")
    return "\n".join(lines)


def decision_markdown(decision: Decision) -> str:
    """A Markdown summary for ``$GITHUB_STEP_SUMMARY``."""
    tz = decision.zone
    icon = "✅" if decision.allowed else "⛔"
    out = [f"### {icon} seasongate: {decision.verdict} — {_subject(decision)}", ""]
    out.append(f"Checked at {local(decision.at, tz)} against `{decision.policy_path}`.")
    out.append("")
    out.append("| rule | effect | message | overridable |")
    out.append("|---|---|---|---|")
    for r in decision.reasons:
        effect = "lifted" if r.lifted_by else r.effect
        out.append(f"| `{r.rule}` | {effect} | {r.message} | {'yes' if r.overridable else 'no'} |")
    out.append("")
    said = [f"Note: {note}" for note in decision.notes]
    unapplied = decision.unapplied_overrides
    said += [f"Override `{u.id}` [{u.ticket}] not applied to `{u.rule}`: {u.why}." for u in unapplied]
    if decision.override is not None:
        said.append(f"Allowed by override `{decision.override.id}` [{decision.override.ticket}].")
    if said:
        out.extend([*said, ""])
    if decision.next_allowed_at is not None:
        out.append(f"**Next allowed at {local(decision.next_allowed_at, tz)}.**")
    if decision.allowed_until is not None:
        out.append(f"**Allowed until {local(decision.allowed_until, tz)}.**")
    return "\n".join(out) + "\n"


def _source(location: Location) -> str:
    """``path:line`` of a rule, as decisions have always shown it."""
    return f"{location.path}:{location.line}"


def explain_text(decision: Decision, checks: Sequence[RuleCheck]) -> str:
    """Every rule, whether it matched and why, for a release manager."""
    lines = [decision_text(decision).splitlines()[0], *(f"  note: {note}" for note in decision.notes), ""]
    for check in checks:
        rule = check.rule
        state = "MATCHES" if check.matched else "does not match"
        lines.append(f"{rule.name} ({rule.effect}) {state} — {rule.message}  [{_source(rule.source)}]")
        if not check.conditions:
            lines.append("    no conditions: applies to every request")
        for label, ok in check.conditions:
            lines.append(f"    {'yes' if ok else 'no '}  {label}")
        for u in decision.unapplied_overrides:
            if u.rule == rule.name:
                lines.append(f"    override {u.id} [{u.ticket}] not applied: {u.why}")
        if check.reason and check.reason.lifted_by:
            lines.append(f"    lifted by override {check.reason.lifted_by}")
        elif rule.effect == "deny" and check.matched:
            if rule.override:
                o = rule.override
                lines.append(
                    f"    can be overridden: {o.approvals} approval(s) by {o.role}, "
                    f"at most {format_duration(o.max_validity)}"
                )
            else:
                lines.append("    cannot be overridden")
    lines.append("")
    deny_matched = [
        c.rule.name for c in checks if c.matched and c.rule.effect == "deny" and not (c.reason and c.reason.lifted_by)
    ]
    allow_matched = [c.rule.name for c in checks if c.matched and c.rule.effect == "allow"]
    if deny_matched:
        lines.append(f"Verdict: deny, because {', '.join(deny_matched)} matched (a matching deny beats any allow).")
    elif allow_matched:
        lines.append(f"Verdict: allow, because {', '.join(allow_matched)} matched and no deny did.")
    else:
        lines.append(f"Verdict: {decision.verdict}, the policy's default (no rule matched).")
    lines.extend(decision_text(decision).splitlines()[-1:])
    return "\n".join(lines)


def explain_json(decision: Decision, checks: Sequence[RuleCheck]) -> str:
    data = decision.to_dict()
    data["rules"] = [
        {
            "rule": c.rule.name,
            "effect": c.rule.effect,
            "matched": c.matched,
            "conditions": [{"condition": label, "holds": ok} for label, ok in c.conditions],
            "source": _source(c.rule.source),
        }
        for c in checks
    ]
    return json.dumps(data, indent=2, ensure_ascii=False)


def slots_text(result: SlotsResult) -> str:
    tz: Any = result.zone
    req = result.request
    what = str(req.version) if req.version else "a migration"
    head = (
        f"Start times for {what} ({format_duration(result.duration) if result.duration else 'instant'}) "
        f"in {req.environment} ({req.territory}), {local(result.start, tz)[:16]} to {local(result.end, tz)[:16]}:"
    )
    head += "".join(f"\n  note: {note}" for note in result.notes)
    if not result.slots:
        return head + "\n  none: no start time in this range is allowed for the whole run."
    rows = [("earliest start", "latest start", "finished by", "span")]
    for slot in result.slots:
        latest = local(slot.latest, tz) + (" (and later)" if slot.clipped else "")
        rows.append((local(slot.earliest, tz), latest, local(slot.finish_by, tz),
                     format_duration(slot.latest - slot.earliest) or "0m"))  # fmt: skip
    out = [head, _table(rows)]
    if result.truncated:
        out.append(f"(first {len(result.slots)} slots; raise --limit for more)")
    if result.horizon_clipped:
        out.append("(the search was cut at the end of the expanded calendar years)")
    return "\n".join(out)


def slots_json(result: SlotsResult) -> str:
    tz: Any = result.zone
    return json.dumps(
        {
            "environment": result.request.environment,
            "territory": result.request.territory,
            "migration": str(result.request.version) if result.request.version else None,
            "duration": format_duration(result.duration) if result.duration else None,
            "from": iso(result.start, tz),
            "to": iso(result.end, tz),
            "slots": [
                {
                    "earliest_start": iso(s.earliest, tz),
                    "latest_start": iso(s.latest, tz),
                    "finish_by": iso(s.finish_by, tz),
                    "continues_after_search": s.clipped,
                }
                for s in result.slots
            ],
            "truncated": result.truncated,
            "notes": list(result.notes),
        },
        indent=2,
    )


def _table(rows: Sequence[Sequence[str]]) -> str:
    widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]
    out = []
    for n, row in enumerate(rows):
        out.append("  ".join(cell.ljust(widths[i]) for i, cell in enumerate(row)).rstrip())
        if n == 0:
            out.append("  ".join("-" * w for w in widths))
    return "\n".join(out)
