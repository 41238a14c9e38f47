"""The gating commands: ``check`` and ``explain``.

Each takes the instant (``at``) as an argument; the CLI reads the clock, nothing below it
does. The request travels as one :class:`~seasongate.api._request.RequestSpec` and the
policy and store as one :class:`~seasongate.api._project.Project` (or, for Python callers,
their fields as keywords).
"""

from __future__ import annotations

from datetime import datetime
from typing import Unpack

from seasongate._policy import Decision, RuleCheck
from seasongate.api._project import Project, find_policy, open_policy, project_of
from seasongate.api._request import CommandFields, RequestSpec, bounded_instant, build_request, spec_of

# -- check / explain ---------------------------------------------------------------------------


def check(
    request: RequestSpec | None = None,
    *,
    at: datetime,
    project: Project | None = None,
    recorded_at: datetime | None = None,
    **fields: Unpack[CommandFields],
) -> Decision:
    """May this migration run at ``at``? Consults the active overrides in the store and
    records the decision in the audit trail (``use_store=False`` skips both).

    The request is a :class:`RequestSpec` (or its fields as keywords: ``environment``,
    ``territory``, ``migration``, ``migration_class``, ``risk``, ``duration``,
    ``operation``); the project a :class:`Project` (or ``policy``, ``store``,
    ``project_dir``, ``use_store``). The audit entry is stamped ``recorded_at`` (default
    ``at``): the real time when ``at`` is a simulated instant."""
    spec = spec_of(request, fields)
    bounded_instant(at)
    opened = project_of(project, fields, spec.environment)
    asked = spec.resolve()
    with opened.store() as store:
        decision = opened.policy.evaluate(asked, at, opened.grants(store, asked, at))
        if store is not None:
            subject = f"{spec.environment}/{spec.territory}/{asked.version or '*'}"
            store.append_audit(store.identity(), "decision", subject, decision.to_dict(), recorded_at or at)
    return decision


def explain(
    request: RequestSpec | None = None,
    *,
    at: datetime,
    project: Project | None = None,
    **fields: Unpack[CommandFields],
) -> tuple[Decision, tuple[RuleCheck, ...]]:
    """The decision and, for every rule, whether it matched and why (arguments as
    :func:`check`; nothing is recorded)."""
    spec = spec_of(request, fields)
    bounded_instant(at)
    opened = project_of(project, fields, spec.environment)
    asked = spec.resolve()
    with opened.store() as store:
        grants = opened.grants(store, asked, at)
    return opened.policy.explain(asked, at, grants)


__all__ = ["build_request", "check", "explain", "find_policy", "open_policy"]
