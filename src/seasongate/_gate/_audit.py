"""The audit entries of gated work, built in one place.

Actions: ``decision`` (a denial), ``migration.start`` (written before a migration step runs),
``migration.apply`` / ``migration.rollback`` (its outcome, written after; one per start),
``run.start`` / ``run`` (``seasongate run -- COMMAND``: before the child starts, its outcome
after). One clock per entry: the entry's own time is always the real clock (the store's);
the instant the gate judged is in the payload as ``judged_at`` (they differ only under
``--at``, which never acts).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from seasongate._executor import MigrationScript
from seasongate._policy import Decision
from seasongate._time import iso
from seasongate._versions import Version
from seasongate._vocabulary import Operation

START = "migration.start"
OUTCOME: dict[Operation, str] = {"apply": "migration.apply", "rollback": "migration.rollback"}
DECISION = "decision"
RUN_START = "run.start"  # before the child of ``seasongate run`` starts
RUN = "run"
# Changes to the history itself (the Flyway commands): baseline, repair; and clean.
BASELINE = "migration.baseline"
REPAIR = "migration.repair"
CLEAN = "database.clean"


def subject(environment: str, territory: str, version: Version | None) -> str:
    """``production/DE/V226`` (``*`` when no migration is named)."""
    return f"{environment}/{territory}/{version or '*'}"


def judged(decision: Decision | None) -> str | None:
    """The instant ``decision`` was made for, ISO 8601."""
    return None if decision is None else iso(decision.at, decision.zone)


def migration_payload(
    decision: Decision | None,
    *,
    environment: str,
    territory: str,
    version: Version | None,
    operation: Operation,
    status: str,
    script: MigrationScript | None = None,
    execution_ms: int | None = None,
    installed_rank: int | None = None,
    error: str | None = None,
    database: str | None = None,
    start_seq: int | None = None,
    reconciled: bool = False,
) -> dict[str, Any]:
    """The payload of ``migration.start``, ``migration.apply`` and ``migration.rollback``.

    ``status``: started; applied, rolled back, done (a guarded block); failed; incomplete
    (a ``transaction=false`` script that did not finish). ``start_seq`` links an outcome to
    its start; ``reconciled`` says the outcome was written by a later run for one that died.
    """
    override = None if decision is None else decision.override
    return {
        "environment": environment,
        "territory": territory,
        "version": None if version is None else str(version),
        "operation": operation,
        "script": None if script is None else script.name,
        "checksum": None if script is None else script.checksum,
        "sha256": None if script is None else script.sha256,
        "status": status,
        "verdict": None if decision is None else decision.verdict,
        "override_id": None if override is None else override.id,
        "judged_at": judged(decision),
        "execution_ms": execution_ms,
        "installed_rank": installed_rank,
        "error": error,
        "database": database,
        "start_seq": start_seq,
        "reconciled": reconciled,
    }


def run_payload(
    decision: Decision,
    command: Sequence[str],
    *,
    outcome: str,
    exit_code: int | None = None,
    signal: int | None = None,
    seconds: float | None = None,
    error: str | None = None,
) -> dict[str, Any]:
    """The payload of ``run.start`` (``outcome`` started) and ``run`` (denied, error,
    succeeded or failed)."""
    override = decision.override
    payload: dict[str, Any] = {
        "command": list(command),
        "outcome": outcome,
        "verdict": decision.verdict,
        "override_id": None if override is None else override.id,
        "judged_at": judged(decision),
    }
    if outcome == "denied":
        payload["decision"] = decision.to_dict()
    elif outcome == "error":
        payload["error"] = error
    else:
        payload.update(exit_code=exit_code, signal=signal, seconds=None if seconds is None else round(seconds, 3))
    return payload


def history_payload(
    decisions: Sequence[Decision],
    *,
    environment: str,
    territory: str,
    database: str | None,
    table: str,
    **details: Any,
) -> dict[str, Any]:
    """The payload of ``migration.baseline``, ``migration.repair`` and ``database.clean``:
    where, what (``details``), and the verdicts and overrides that allowed it."""
    return {
        "environment": environment,
        "territory": territory,
        "database": database,
        "table": table,
        **details,
        "verdicts": [d.verdict for d in decisions],
        "override_ids": sorted({d.override.id for d in decisions if d.override is not None}),
        "judged_at": judged(decisions[0]) if decisions else None,
    }


def reconciled_payload(
    start: Mapping[str, Any], *, status: str, installed_rank: int | None, start_seq: int
) -> dict[str, Any]:
    """The outcome a later run writes for a ``migration.start`` whose run died before writing
    one: the start's facts, the status the migration history shows, ``reconciled`` true."""
    return {
        **{key: start.get(key) for key in ("environment", "territory", "version", "operation", "script")},
        **{key: start.get(key) for key in ("checksum", "sha256", "verdict", "override_id", "judged_at")},
        "status": status,
        "execution_ms": None,
        "installed_rank": installed_rank,
        "error": "the run ended before recording this outcome; reconciled from the migration history",
        "database": start.get("database"),
        "start_seq": start_seq,
        "reconciled": True,
    }
