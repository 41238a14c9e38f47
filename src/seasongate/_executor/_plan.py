"""History rows, per-version states and the validation that runs before anything is applied.

Pure functions of the folder and the history; no database here.

States (``seasongate info``):

==============  ===============================================================================
applied         the latest successful row applied it and the file still matches
pending         not applied (never, or undone by a rollback); ``migrate`` will apply it
failed          the last attempt failed and was rolled back; ``migrate`` retries it
incomplete      a ``transaction=false`` migration started and did not finish (or failed):
                its effects may be partial; ``migrate`` refuses until it is resolved
changed         applied, but the file differs from what was applied
missing         applied, but its file is gone
out of order    pending, but a higher version of the same class is already applied
ignored gap     a version declared unused in ``numbering.yaml``
baseline        at or below the history's ``BASELINE`` row: counts as applied, never runs
deleted         applied, then marked deleted by Flyway's repair (its file was gone)
==============  ===============================================================================
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, NamedTuple

from seasongate._errors import MigrationError
from seasongate._executor._files import MigrationScript, classify
from seasongate._executor._folder import MigrationFolder
from seasongate._versions import Version
from seasongate._vocabulary import Operation

SQL = "SQL"
UNDO_SQL = "UNDO_SQL"
DELETE = "DELETE"
#: Row types Flyway writes. ``INIT`` is the pre-4.0 name of ``BASELINE``; ``JDBC``/``SCRIPT``
#: rows are Java or script migrations: applied, though seasongate cannot run their files.
ROW_TYPES = ("SQL", "BASELINE", "INIT", "SCHEMA", "UNDO_SQL", "DELETE", "JDBC", "SCRIPT", "SQL_BASELINE")
BASELINE_TYPES = frozenset({"BASELINE", "INIT", "SQL_BASELINE"})
APPLY_TYPES = frozenset({"SQL", "JDBC", "SCRIPT"})


@dataclass(frozen=True, slots=True)
class HistoryRow:
    """One row of the history table (Flyway's columns) joined with seasongate's facts about it."""

    installed_rank: int
    version: Version | None
    description: str
    type: str
    script: str
    checksum: int | None
    installed_by: str
    installed_on: datetime
    execution_time: int | None  # milliseconds; None while a non-transactional run is going
    success: bool
    gate_verdict: str | None = None
    override_id: str | None = None
    sha256: str | None = None
    transactional: bool = True
    audit_seq: int | None = None  # the audit chain's anchor for this execution
    audit_hash: str | None = None

    def to_dict(self) -> dict[str, Any]:
        """JSON form."""
        return {
            "installed_rank": self.installed_rank,
            "version": None if self.version is None else str(self.version),
            "description": self.description,
            "type": self.type,
            "script": self.script,
            "checksum": self.checksum,
            "installed_by": self.installed_by,
            "installed_on": self.installed_on.isoformat(),
            "execution_time": self.execution_time,
            "success": self.success,
            "gate_verdict": self.gate_verdict,
            "override_id": self.override_id,
            "sha256": self.sha256,
            "transactional": self.transactional,
            "audit_seq": self.audit_seq,
            "audit_hash": self.audit_hash,
        }


@dataclass(frozen=True, slots=True)
class Entry:
    """One version as ``info`` shows it."""

    version: Version
    description: str
    state: str
    script: MigrationScript | None = None
    row: HistoryRow | None = None  # the row that decided the state
    problem: str | None = None

    @property
    def installed_on(self) -> datetime | None:
        """When the deciding row was written."""
        return None if self.row is None else self.row.installed_on

    @property
    def execution_ms(self) -> int | None:
        """How long the deciding run took."""
        return None if self.row is None else self.row.execution_time


class AuditAnchor(NamedTuple):
    """The audit entry a migration step was written under (its ``migration.start``): the
    history side table records ``seq`` and ``hash`` so a wiped trail is noticed. A plain
    ``(seq, hash)`` pair, as the session takes it."""

    seq: int
    hash: str


@dataclass(frozen=True, slots=True)
class Step:
    """One thing a run does, and what the gate is asked about before it: apply a migration,
    or undo it with its undo script.

    ``duration`` is seconds: the header's, else an estimate from earlier executions in the
    history, else None (the policy's default); ``duration_source`` says which.
    """

    operation: Operation
    migration: MigrationScript  # the V script
    script: MigrationScript  # what runs: the V script, or its U script
    risk: str | None
    duration: int | None
    duration_source: str  # header | history | default

    @property
    def version(self) -> Version:
        """The migration's version."""
        return self.migration.version

    @property
    def kind(self) -> str:
        """The history row type it writes: ``SQL`` or ``UNDO_SQL``."""
        return SQL if self.operation == "apply" else UNDO_SQL


Include = Callable[[Version], bool]
"""Which versions a run takes (the classes asked for, or those the policy handles)."""


def _everything(version: Version) -> bool:
    return True


@dataclass(frozen=True, slots=True)
class Plan:
    """The folder checked against the history: what is applied, what is pending, what is wrong."""

    folder: MigrationFolder
    rows: tuple[HistoryRow, ...]
    entries: tuple[Entry, ...]
    pending: tuple[MigrationScript, ...]
    applied: tuple[Version, ...]  # in application order
    problems: tuple[str, ...]
    longest: Mapping[tuple[Version, str], int] = field(default_factory=dict)  # ms of the longest success

    def check(self) -> None:
        """Raise :class:`ValidationError` when anything would make a run unsafe."""
        if self.problems:
            # Name what is wrong: a broken file is not a history that disagrees with the folder.
            broken = len(self.folder.blocking)
            if broken == len(self.problems):
                raise ValidationError(self.problems, "the migrations folder has errors")
            if broken:
                raise ValidationError(self.problems, "the migrations folder has errors, and the history disagrees")
            raise ValidationError(self.problems)

    def estimate(self, version: Version, kind: str = SQL) -> int | None:
        """Seconds an earlier successful execution of ``version`` took (the longest, with 50%
        headroom, at least one second); None when there is none in the history. Failed runs
        do not count: one that broke off at its first statement says nothing of the length."""
        longest = self.longest.get((version, kind))
        if longest is None:
            return None
        return max(1, -(-longest * 3 // 2000))

    def step(self, operation: Operation, migration: MigrationScript, undo: MigrationScript | None = None) -> Step:
        """The step for one script: risk from the header; duration from the header, else from
        earlier executions in the history, else None (the policy's default)."""
        script = undo if operation == "rollback" and undo is not None else migration
        risk = script.risk or migration.risk
        if script.duration is not None:
            return Step(operation, migration, script, risk, script.duration, "header")
        estimate = self.estimate(migration.version, SQL if script is migration else UNDO_SQL)
        if estimate is not None:
            return Step(operation, migration, script, risk, estimate, "history")
        return Step(operation, migration, script, risk, None, "default")

    def apply_steps(self, include: Include = _everything) -> tuple[Step, ...]:
        """Apply every pending migration that ``include`` takes, lowest first."""
        return tuple(self.step("apply", m) for m in self.pending if include(m.version))

    def rollback_steps(self, to: Version, include: Include = _everything) -> tuple[Step, ...]:
        """Undo every applied migration above ``to`` that ``include`` takes, highest first.

        Raises :class:`ValidationError` naming every undo script that is missing: a rollback
        either has all it needs or does not start.
        Only the undo scripts of the versions it undoes are read (when the scan did not read
        them); a broken one stops the rollback before its first step.
        """
        files = self.folder.by_version()
        targets = sorted((v for v in self.applied if v > to and include(v)), reverse=True)
        missing = [
            f"{v} has no undo script (expected U{str(v)[1:]}__{files[v].description}.sql)"
            for v in targets
            if v not in self.folder.undo_paths
        ]
        if missing:
            raise ValidationError(missing, "the rollback needs an undo script for every migration it undoes")
        undo: dict[Version, MigrationScript] = {}
        broken: list[str] = []
        for v in targets:
            script, findings = self.folder.undo_script(v)
            if v not in self.folder.undo:  # read just now: the scan did not judge it
                broken += [f.render() for f in findings if f.blocking]
            if script is not None:
                undo[v] = script
        if broken:
            raise ValidationError(broken, "the migrations folder has errors")
        return tuple(self.step("rollback", files[v], undo[v]) for v in targets)


class ValidationError(MigrationError):
    """The history and the folder disagree; nothing was run. ``problems`` lists each one."""

    def __init__(self, problems: Sequence[str], head: str | None = None) -> None:
        self.problems = tuple(problems)
        count = len(self.problems)
        if head is None:
            head = "the migration history does not match the migrations folder" if count else "invalid migrations"
        lines = "\n".join(f"  {p}" for p in self.problems)
        super().__init__(f"{head} ({count} problem{'s' if count != 1 else ''}); nothing was run:\n{lines}")


def version_order(version: Version) -> tuple[int, ...]:
    """Sort key of a version (its parts: no comparison method per pair)."""
    return version.parts


def _fold(rows: Sequence[HistoryRow]) -> dict[Version, tuple[str, HistoryRow]]:
    """The state each version's rows leave it in: applied, undone, failed or incomplete."""
    state: dict[Version, tuple[str, HistoryRow]] = {}
    for row in sorted(rows, key=lambda r: r.installed_rank):
        if row.version is None or row.version.repeatable:
            continue
        prev = state.get(row.version)
        if row.type == DELETE:
            state[row.version] = ("deleted", row)
        elif row.type in APPLY_TYPES:
            if row.success:
                state[row.version] = ("applied", row)
            elif row.transactional and row.execution_time is not None:
                if prev is None or prev[0] != "applied":
                    state[row.version] = ("failed", row)
            else:
                state[row.version] = ("incomplete", row)
        elif row.type == UNDO_SQL:
            if row.success:
                state[row.version] = ("undone", row)
            elif not row.transactional or row.execution_time is None:
                # A non-transactional undo that did not finish: the migration may be half
                # undone. It is not pending (migrate must not apply it again on top).
                state[row.version] = ("undo incomplete", row)
    return state


def build_plan(
    folder: MigrationFolder,
    rows: Sequence[HistoryRow],
    *,
    target: Version | None = None,
    retry_incomplete: bool = False,
) -> Plan:
    """Compare the folder with the history rows and decide what is pending.

    Out-of-order is judged per migration class: applying ``V226`` after the test data
    ``V10000`` is fine, applying ``V224`` after ``V225`` is not.
    """
    files = folder.by_version()
    folded = _fold(rows)
    problems = [f.render() for f in folder.blocking]
    problems += [
        f"history row {r.installed_rank} has type {r.type!r}, which seasongate does not know "
        f"(known: {', '.join(ROW_TYPES)})"
        for r in rows
        if r.type not in ROW_TYPES
    ]
    baselines = [r for r in rows if r.type in BASELINE_TYPES and r.version is not None]
    baseline = max(baselines, key=lambda r: r.version or Version(()), default=None)
    entries: list[Entry] = []
    highest: dict[str | None, Version] = {}
    for version, (state, _row) in folded.items():
        if state == "applied":
            cls = classify(version, folder.classes)
            key = None if cls is None else cls.name
            if key not in highest or highest[key] < version:
                highest[key] = version
    pending: list[MigrationScript] = []

    def refuse(version: Version, description: str, state: str, script: MigrationScript | None,
               row: HistoryRow | None, problem: str) -> None:  # fmt: skip
        entries.append(Entry(version, description, state, script, row, problem))
        problems.append(problem)

    for version in sorted(set(files) | set(folded), key=version_order):
        script = files.get(version)
        state, row = folded.get(version, ("pending", None))
        description = script.title if script is not None else (row.description if row else "")
        if state == "applied":
            assert row is not None
            if script is None:
                problem = (
                    f"{version} ({row.script}) was applied on "
                    f"{row.installed_on:%Y-%m-%d %H:%M} but its file is gone; restore it"
                )
                refuse(version, description, "missing", None, row, problem)
            elif _changed(script, row):
                same_crc = row.checksum == script.checksum
                was = f"sha256 {(row.sha256 or '')[:12]}" if same_crc else f"checksum {row.checksum}"
                now = f"sha256 {script.sha256[:12]}" if same_crc else f"{script.checksum}"
                problem = (
                    f"{script.name} was changed after it was applied on "
                    f"{row.installed_on:%Y-%m-%d %H:%M %Z} ({was} -> {now}); restore it and put the "
                    "change in a new migration"
                )
                refuse(version, description, "changed", script, row, problem)
            else:
                entries.append(Entry(version, description, "applied", script, row))
            continue
        if state == "undo incomplete":
            assert row is not None
            if retry_incomplete:
                # Counts as applied again, so that rollback retries its undo script.
                entries.append(Entry(version, description, "undo incomplete", script, row))
            else:
                problem = (
                    f"{row.script} (transaction=false) started undoing {version} on "
                    f"{row.installed_on:%Y-%m-%d %H:%M} and did not finish; the migration may be "
                    "half undone. Check the database, make the undo script safe to re-run, then "
                    "run rollback --retry-incomplete"
                )
                refuse(version, description, "undo incomplete", script, row, problem)
            continue
        if script is None:
            # Undone or failed and since deleted: nothing to do.
            entries.append(Entry(version, description, state, None, row))
            continue
        if baseline is not None and state == "pending" and baseline.version is not None and version <= baseline.version:
            # Flyway's "Below Baseline": the database had it before its history began.
            entries.append(Entry(version, description, "baseline", script, baseline))
            continue
        if state == "incomplete":
            assert row is not None
            if not retry_incomplete:
                problem = (
                    f"{script.name} (transaction=false) started on "
                    f"{row.installed_on:%Y-%m-%d %H:%M} and did not finish; its effects "
                    "may be partial. Check the database (e.g. INVALID indexes), make the "
                    "script safe to re-run, then run migrate --retry-incomplete"
                )
                refuse(version, description, "incomplete", script, row, problem)
                continue
        cls = classify(version, folder.classes)
        top = highest.get(None if cls is None else cls.name)
        if top is not None and version < top:
            problem = f"{script.name} is pending but {top} is already applied (out of order); renumber it above {top}"
            refuse(version, description, "out of order", script, row, problem)
            continue
        shown = "pending" if state in ("pending", "undone", "deleted") else state
        # An undone migration is pending again: its old installation is history, not state.
        entries.append(Entry(version, description, shown, script, None if state in ("undone", "deleted") else row))
        if target is None or version <= target:
            pending.append(script)
    if baseline is not None and baseline.version is not None and baseline.version not in files:
        entries.append(Entry(baseline.version, baseline.description, "baseline", None, baseline))
    for number, declared in folder.gaps():
        if declared:
            entries.append(Entry(Version((number,)), "", "ignored gap"))
    entries.sort(key=lambda e: e.version.parts)
    applied = tuple(
        v
        for v, _ in sorted(
            (
                (v, row.installed_rank)
                for v, (s, row) in folded.items()
                if s == "applied" or (s == "undo incomplete" and retry_incomplete)
            ),
            key=lambda item: item[1],
        )
    )
    longest: dict[tuple[Version, str], int] = {}
    for r in rows:
        if r.version is not None and r.success and r.execution_time is not None:
            ran = (r.version, r.type)
            longest[ran] = max(longest.get(ran, 0), r.execution_time)
    return Plan(folder, tuple(rows), tuple(entries), tuple(pending), applied, tuple(problems), longest)


def _changed(script: MigrationScript, row: HistoryRow) -> bool:
    if row.sha256:
        return row.sha256 != script.sha256
    return row.checksum is not None and row.checksum != script.checksum
