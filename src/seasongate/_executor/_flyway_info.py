"""The states ``flyway info`` shows for every migration and history row, and what validation
reports on them (what ``flyway validate`` would refuse, and what stops ``migrate``).

Follows Flyway's ``MigrationInfoImpl``: Success, Pending, Baseline, Below Baseline, Ignored,
Missing, Failed, Future, Outdated, Superseded, Undone, Deleted. One difference, on purpose:
"behind the highest applied version" (Ignored) is asked per migration class when classes are
given, as seasongate's own plan does.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

from seasongate._executor._files import MigrationScript, classify
from seasongate._executor._plan import APPLY_TYPES as _APPLY_TYPES
from seasongate._executor._plan import BASELINE_TYPES as _BASELINE_TYPES
from seasongate._executor._plan import HistoryRow, version_order
from seasongate._executor._repeatables import RepeatableScript
from seasongate._policy import MigrationClass
from seasongate._versions import Version

# The states ``flyway info`` shows (MigrationState's display names).
SUCCESS = "Success"
PENDING = "Pending"
BASELINE = "Baseline"
BELOW_BASELINE = "Below Baseline"
IGNORED = "Ignored"
MISSING = "Missing"
FAILED = "Failed"
FAILED_MISSING = "Failed (Missing)"
FUTURE = "Future"
FAILED_FUTURE = "Failed (Future)"
OUTDATED = "Outdated"
SUPERSEDED = "Superseded"
UNDONE = "Undone"
DELETED = "Deleted"


@dataclass(frozen=True, slots=True)
class FlywayEntry:
    """One line of ``info`` in Flyway's terms.

    ``category`` is ``Versioned``, ``Repeatable``, ``Baseline`` or ``Schema``; ``problem`` is
    set when validation fails on it (what ``flyway validate`` would report, and what stops
    ``migrate``).
    """

    category: str
    version: Version | None
    description: str
    state: str
    script: str
    checksum: int | None = None
    row: HistoryRow | None = None
    problem: str | None = None


@dataclass(frozen=True, slots=True)
class FlywayInfo:
    """The folder compared with a Flyway history."""

    entries: tuple[FlywayEntry, ...]
    baseline: Version | None
    pending: tuple[MigrationScript, ...]
    pending_repeatables: tuple[RepeatableScript, ...]

    @property
    def problems(self) -> tuple[str, ...]:
        """What validation reports (each stops ``migrate``)."""
        return tuple(e.problem for e in self.entries if e.problem)

    def state_of(self, version: Version) -> str | None:
        """The state of the versioned migration ``version`` (the file's, when there is one)."""
        found = [e for e in self.entries if e.category == "Versioned" and e.version == version]
        return found[-1].state if found else None

    def repeatable_state(self, description: str) -> str | None:
        """The state of the repeatable file with this description."""
        found = [
            e for e in self.entries if e.category == "Repeatable" and e.description == description.replace("_", " ")
        ]
        return found[-1].state if found else None


def _checksum_problem(name: str, row: HistoryRow, checksum: int) -> str:
    when = "" if row.installed_on is None else f" on {row.installed_on:%Y-%m-%d %H:%M}"
    return (
        f"{name}: checksum mismatch: applied to database{when} with checksum {row.checksum}, "
        f"resolved locally {checksum}; restore the file (put the change in a new migration), or if it "
        "changed only in whitespace or comments run `seasongate repair`"
    )


def flyway_info(
    migrations: Sequence[MigrationScript],
    repeatables: Sequence[RepeatableScript],
    rows: Sequence[HistoryRow],
    *,
    classes: Sequence[MigrationClass] = (),
    repeatable_checksums: Mapping[Path, int] | None = None,
) -> FlywayInfo:
    """Flyway's states of every migration and history row.

    ``classes`` makes "behind the highest applied version" (Ignored) a question per migration
    class, as seasongate's own plan does (test data V10000 applied does not make V226 ignored);
    without classes it is Flyway's single sequence. ``repeatable_checksums`` gives each
    repeatable's checksum after placeholder replacement (default: the raw file's).
    """
    markers: list[FlywayEntry] = []
    baseline: Version | None = None
    versions: dict[Version, list[HistoryRow]] = {}
    repeat_rows: dict[str, list[HistoryRow]] = {}
    for row in sorted(rows, key=lambda r: r.installed_rank):
        if row.type == "SCHEMA":
            markers.append(FlywayEntry("Schema", None, row.description, SUCCESS, row.script, None, row))
        elif row.type in _BASELINE_TYPES:
            if row.version is not None and (baseline is None or row.version > baseline):
                baseline = row.version
            markers.append(FlywayEntry("Baseline", row.version, row.description, BASELINE, row.script, None, row))
        elif row.version is None:
            repeat_rows.setdefault(row.description, []).append(row)
        else:
            versions.setdefault(row.version, []).append(row)
    versioned, pending = _versioned(migrations, versions, baseline, classes)
    repeated, pending_r = _repeatable(repeatables, repeat_rows, repeatable_checksums or {})
    return FlywayInfo((*markers, *versioned, *repeated), baseline, pending, pending_r)


def _versioned(
    migrations: Sequence[MigrationScript],
    versions: Mapping[Version, Sequence[HistoryRow]],
    baseline: Version | None,
    classes: Sequence[MigrationClass],
) -> tuple[tuple[FlywayEntry, ...], tuple[MigrationScript, ...]]:
    """The entries of the versioned migrations (files and rows) and the pending ones."""
    files = {m.version: m for m in migrations}
    top_resolved = max(files, key=version_order, default=None)
    latest: dict[Version, tuple[str, HistoryRow]] = {}
    for version, its_rows in versions.items():
        for one in its_rows:
            if one.type in _APPLY_TYPES:
                latest[version] = ("applied" if one.success else "failed", one)
            elif one.type == "UNDO_SQL" and one.success:
                latest[version] = ("undone", one)
            elif one.type == "DELETE":
                latest[version] = ("deleted", one)

    def class_key(version: Version) -> str | None:
        if not classes:
            return None
        cls = classify(version, classes)
        return None if cls is None else cls.name

    highest: dict[str | None, Version] = {}
    applied = [v for v, (what, _row) in latest.items() if what == "applied"]
    for version in (*applied, *([] if baseline is None else [baseline])):
        key = class_key(version)
        if key not in highest or highest[key] < version:
            highest[key] = version

    entries: list[FlywayEntry] = []
    pending: list[MigrationScript] = []
    for version in sorted(set(files) | set(latest), key=version_order):
        script = files.get(version)
        what, row = latest.get(version, ("", None))
        name = script.name if script else (row.script if row else "")
        description = script.title if script else (row.description if row else "")
        if what == "applied":
            assert row is not None
            if script is None:
                future = top_resolved is None or version > top_resolved
                state = FUTURE if future else MISSING
                problem = f"{row.script} (version {version}) was applied on {row.installed_on:%Y-%m-%d %H:%M} but " + (
                    "no file here has that version or a higher one (Future): pull the newer migrations"
                    if future
                    else "its file is gone (Missing): restore it"
                )
                entries.append(FlywayEntry("Versioned", version, description, state, name, row.checksum, row, problem))
                continue
            mismatch: str | None = None
            if row.type == "SQL" and row.checksum is not None and row.checksum != script.checksum:
                mismatch = _checksum_problem(script.name, row, script.checksum)
            entries.append(FlywayEntry("Versioned", version, description, SUCCESS, name, row.checksum, row, mismatch))
            continue
        if what == "failed":
            assert row is not None
            state = (
                FAILED
                if script is not None
                else (FAILED_FUTURE if top_resolved is None or version > top_resolved else FAILED_MISSING)
            )
            problem = (
                f"{row.script} (version {version}) failed on {row.installed_on:%Y-%m-%d %H:%M} and its effects may be "
                "partial: check the database, then run `seasongate repair` to remove the failed row"
            )
            entries.append(FlywayEntry("Versioned", version, description, state, name, row.checksum, row, problem))
            continue
        if what in ("undone", "deleted") and row is not None:
            state = UNDONE if what == "undone" else DELETED
            entries.append(FlywayEntry("Versioned", version, row.description, state, row.script, row.checksum, row))
        if script is None:
            continue
        if baseline is not None and version <= baseline and what == "":
            entries.append(FlywayEntry("Versioned", version, description, BELOW_BASELINE, name, script.checksum))
            continue
        top = highest.get(class_key(version))
        if top is not None and version < top:
            problem = (
                f"{script.name} is not applied but {top} is (Ignored): renumber it above {top}, "
                "or remove it if it was never meant to run"
            )
            entries.append(
                FlywayEntry("Versioned", version, description, IGNORED, name, script.checksum, None, problem)
            )
            continue
        entries.append(FlywayEntry("Versioned", version, description, PENDING, name, script.checksum))
        pending.append(script)
    return tuple(entries), tuple(pending)


def _repeatable(
    repeatables: Sequence[RepeatableScript],
    repeat_rows: Mapping[str, Sequence[HistoryRow]],
    checksums: Mapping[Path, int],
) -> tuple[tuple[FlywayEntry, ...], tuple[RepeatableScript, ...]]:
    """The entries of the repeatable migrations (files and rows) and the pending ones. A
    ``DELETE`` row (written by ``repair`` when the file was gone) ends what came before it."""
    entries: list[FlywayEntry] = []
    pending: list[RepeatableScript] = []
    resolved = {r.title: r for r in repeatables}
    for title in sorted(set(resolved) | set(repeat_rows)):
        file = resolved.get(title)
        every = list(repeat_rows.get(title, ()))
        deletes = [i for i, r in enumerate(every) if r.type == "DELETE"]
        cut = deletes[-1] + 1 if deletes else 0
        for row in every[:cut]:
            if row.type == "DELETE":
                entries.append(FlywayEntry("Repeatable", None, title, DELETED, row.script, row.checksum, row))
            elif row.success:
                entries.append(FlywayEntry("Repeatable", None, title, SUPERSEDED, row.script, row.checksum, row))
        its_rows = every[cut:]
        applied = [r for r in its_rows if r.success]
        last_applied = applied[-1] if applied else None
        current = None if file is None else checksums.get(file.path, file.checksum)
        for row in its_rows:
            if not row.success:
                if row is its_rows[-1]:
                    problem = (
                        f"{row.script} failed on {row.installed_on:%Y-%m-%d %H:%M}: check the database, then "
                        "run `seasongate repair` to remove the failed row"
                    )
                    entries.append(
                        FlywayEntry("Repeatable", None, title, FAILED, row.script, row.checksum, row, problem)
                    )
                continue
            if row is not last_applied:
                entries.append(FlywayEntry("Repeatable", None, title, SUPERSEDED, row.script, row.checksum, row))
            elif file is None:
                problem = (
                    f"{row.script} was applied on {row.installed_on:%Y-%m-%d %H:%M} but its file is gone "
                    "(Missing): restore it"
                )
                entries.append(FlywayEntry("Repeatable", None, title, MISSING, row.script, row.checksum, row, problem))
            elif row.checksum == current:
                entries.append(FlywayEntry("Repeatable", None, title, SUCCESS, row.script, row.checksum, row))
            else:
                entries.append(FlywayEntry("Repeatable", None, title, OUTDATED, row.script, row.checksum, row))
        if file is not None and (last_applied is None or last_applied.checksum != current):
            entries.append(FlywayEntry("Repeatable", None, title, PENDING, file.name, current))
            pending.append(file)
    return tuple(entries), tuple(pending)
