"""The ``override.*`` audit entries: what they carry, and the override state they prove
(pure: both stores use it before granting).

The tables of a store are an index; the audit chain is the record. Before an override lifts
anything, :func:`unexplained` rebuilds it from its ``override.*`` entries (request, approvals,
rejection, revocation, consumption) and compares it with what the tables say. An approval row
inserted by hand, a ``valid_until`` extended in place or a revocation wiped from the table is
a state the chain does not explain, and the store refuses it (``check`` exits 2).

The SQLite store writes the payloads with :func:`request_payload` and :func:`approve_payload`;
the PostgreSQL functions build the very same JSON in SQL.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from datetime import datetime
from typing import Any

from seasongate._overrides import Approval, Closure, OverrideRecord, format_versions, parse_versions
from seasongate._store._audit import AuditEntry
from seasongate._time import iso, to_ts


def _ts(text: Any) -> int:
    return to_ts(datetime.fromisoformat(str(text)))


def _texts(value: Any) -> tuple[str, ...]:
    return tuple(str(v) for v in value) if isinstance(value, list) else ()


def replay(entries: Iterable[AuditEntry]) -> dict[str, OverrideRecord]:
    """The overrides the ``override.*`` entries (in chain order) describe, by id.

    An approval entry written before approvals carried their roles (schema 1) stands for
    every role of its override: the rules then asked each approver to hold all of them.
    """
    found: dict[str, OverrideRecord] = {}
    for entry in entries:
        payload = entry.payload
        oid = entry.subject
        if entry.action == "override.request":
            found[oid] = OverrideRecord(
                id=oid,
                environment=str(payload.get("environment")),
                territory=str(payload.get("territory")),
                versions=parse_versions(str(payload.get("versions"))),
                rules=_texts(payload.get("rules")),
                valid_from=_ts(payload.get("valid_from")),
                valid_until=_ts(payload.get("valid_until")),
                requester=entry.actor,
                reason=str(payload.get("reason")),
                ticket=str(payload.get("ticket")),
                single_use=bool(payload.get("single_use")),
                approvals_required=int(payload.get("approvals_required", 0)),
                roles=_texts(payload.get("roles")),
                max_validity=int(payload.get("max_validity", -1)),
                created_at=entry.at,
            )
            continue
        record = found.get(oid)
        if record is None:
            continue  # unexplained; the comparison reports the override
        if entry.action == "override.approve":
            roles = _texts(payload["roles"]) if "roles" in payload else record.roles
            approval = Approval(entry.actor, entry.at, str(payload.get("comment", "")), roles)
            found[oid] = _with(record, approvals=(*record.approvals, approval))
        elif entry.action == "override.reject":
            found[oid] = _with(record, rejected=Closure(entry.actor, entry.at, str(payload.get("reason", ""))))
        elif entry.action == "override.revoke":
            found[oid] = _with(record, revoked=Closure(entry.actor, entry.at, str(payload.get("reason", ""))))
        elif entry.action == "override.consume":
            found[oid] = _with(record, consumed=Closure(entry.actor, entry.at, str(payload.get("subject", ""))))
    return found


def _with(record: OverrideRecord, **changes: Any) -> OverrideRecord:
    from dataclasses import replace

    return replace(record, **changes)


def _proof(record: OverrideRecord, *, max_validity: bool) -> tuple[Any, ...]:
    """What must agree between the tables and the chain (approvals in a stable order)."""
    approvals = sorted((a.approver, a.at, a.comment, tuple(sorted(a.roles))) for a in record.approvals)
    return (
        record.environment, record.territory, record.versions, tuple(sorted(record.rules)),
        record.valid_from, record.valid_until, record.requester, record.reason, record.ticket,
        record.single_use, record.approvals_required, tuple(sorted(record.roles)),
        record.max_validity if max_validity else None, record.created_at, tuple(approvals),
        record.rejected, record.revoked, record.consumed,
    )  # fmt: skip


def unexplained(stored: Sequence[OverrideRecord], proven: Mapping[str, OverrideRecord]) -> list[str]:
    """The ids of ``stored`` records whose state the chain's records do not explain."""
    bad: list[str] = []
    for record in stored:
        chain = proven.get(record.id)
        if chain is None:
            bad.append(record.id)
            continue
        # Schema 1 request entries did not carry max_validity (-1 after replay).
        with_max = chain.max_validity >= 0
        if _proof(record, max_validity=with_max) != _proof(chain, max_validity=with_max):
            bad.append(record.id)
    return bad


def request_payload(record: OverrideRecord) -> dict[str, Any]:
    """The payload of an ``override.request`` entry."""
    return {
        "environment": record.environment,
        "territory": record.territory,
        "versions": format_versions(record.versions),
        "rules": list(record.rules),
        "valid_from": iso(record.valid_from),
        "valid_until": iso(record.valid_until),
        "reason": record.reason,
        "ticket": record.ticket,
        "single_use": record.single_use,
        "approvals_required": record.approvals_required,
        "roles": list(record.roles),
        "max_validity": record.max_validity,
    }


def approve_payload(record: OverrideRecord, comment: str, roles: tuple[str, ...]) -> dict[str, Any]:
    """The payload of an ``override.approve`` entry (``record`` with the approval)."""
    return {
        "comment": comment,
        "roles": list(roles),
        "approvals": min(len(record.approvers_under(role)) for role in record.roles),
        "required": record.approvals_required,
    }
