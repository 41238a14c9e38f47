"""Emergency override records and their rules (pure: no I/O, no clock).

An override lifts named, overridable policy rules for one scope (environment, territory,
versions) during a validity window, once enough people approved it. This package holds the
records (``_record``), the rules every store enforces (``_rules``) and the words they refuse
with (``_refusals``); the PostgreSQL store enforces the same rules a second time inside the
database (``seasongate._store``), with the same messages.

Life of an override (``OverrideRecord.status(at)``)::

    pending ─(approvals)─> scheduled ─(valid_from)─> active ─(valid_until)─> expired
       │                       │                       │
       └─ rejected, revoked,   └─ revoked              └─ revoked, consumed (single use)
          expired

Rules:

* the requester never approves their own request; each approver counts once;
* an approver approves under each of the override's roles they hold (at least one), and the
  store records those roles; the override counts as approved when, for each of its roles,
  enough people approved under it. The policy engine counts again, per lifted rule, only
  approvals under the role *its* policy requires for that rule;
* the validity window is no longer than the shortest ``max_validity`` of the lifted rules;
* only rules the policy marks overridable can be lifted;
* pending, rejected, revoked, expired and consumed overrides grant nothing;
* nothing is dated before the request; a release manager can always revoke.
"""

from __future__ import annotations

from seasongate._overrides._record import (
    ACTIVE,
    CONSUMED,
    EXPIRED,
    OPEN_STATUSES,
    PENDING,
    REJECTED,
    REVOKED,
    SCHEDULED,
    Approval,
    Closure,
    OverrideRecord,
    Requirements,
    Scope,
    format_versions,
    parse_versions,
)
from seasongate._overrides._refusals import MIGRATOR_ROLE, REFUSALS, RELEASE_MANAGER, Refusal
from seasongate._overrides._rules import (
    MAX_TEXT,
    REJECT,
    REVOKE,
    Closing,
    Roster,
    approval_roles,
    check_consume,
    check_reject,
    check_revoke,
    check_text,
    combine_specs,
    new_override,
)

__all__ = [
    "ACTIVE",
    "CONSUMED",
    "EXPIRED",
    "MAX_TEXT",
    "MIGRATOR_ROLE",
    "OPEN_STATUSES",
    "PENDING",
    "REFUSALS",
    "REJECT",
    "REJECTED",
    "RELEASE_MANAGER",
    "REVOKE",
    "REVOKED",
    "SCHEDULED",
    "Approval",
    "Closing",
    "Closure",
    "OverrideRecord",
    "Refusal",
    "Requirements",
    "Roster",
    "Scope",
    "approval_roles",
    "check_consume",
    "check_reject",
    "check_revoke",
    "check_text",
    "combine_specs",
    "format_versions",
    "new_override",
    "parse_versions",
]
