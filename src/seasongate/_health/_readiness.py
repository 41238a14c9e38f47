"""Before a watched run starts: is a rollback of every migration it would apply possible,
and within the rollback SLO? A run that could not be undone is refused before it begins."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from seasongate._health._spec import HealthSpec
from seasongate._time import format_duration


@dataclass(frozen=True)
class RollbackFacts:
    """What the folder and the history say about undoing one pending migration."""

    version: str
    has_undo: bool
    transactional: bool
    reversible: bool
    undo_seconds: int | None  # recorded duration of an earlier undo, when there is one


def rollback_refusals(spec: HealthSpec, pending: Sequence[RollbackFacts]) -> list[str]:
    """Why the run may not start under ``on_degraded: rollback`` (empty: it may)."""
    if spec.on_degraded != "rollback":
        return []
    out = []
    for item in pending:
        if not item.has_undo:
            out.append(f"{item.version} has no undo script: an automatic rollback is impossible")
        elif not item.transactional and not item.reversible:
            out.append(
                f"{item.version} runs without a transaction (transaction=false) and does not declare "
                "reversible=true: a failed undo could leave it half done"
            )
        if spec.slo_rollback is not None and item.undo_seconds is not None and item.undo_seconds > spec.slo_rollback:
            out.append(
                f"{item.version}'s recorded undo took {format_duration(item.undo_seconds)}, more than the "
                f"rollback SLO of {format_duration(spec.slo_rollback)} (slo.rollback in {spec.path})"
            )
    return out
