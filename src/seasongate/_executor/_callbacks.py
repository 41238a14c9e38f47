"""SQL callbacks in the migrations folder, with Flyway's names.

==========================  =======================================================================
file                        runs
==========================  =======================================================================
``beforeMigrate.sql``       once, after the lock is taken and the plan validated, before the first
                            migration; in its own transaction
``beforeEachMigrate.sql``   before each migration, *inside* the migration's transaction (so a
                            ``SET LOCAL lock_timeout`` applies to the migration and a failed check
                            rolls the migration back); before a ``transaction=false`` migration,
                            in its own transaction
``afterEachMigrate.sql``    after each successful migration, inside its transaction likewise
``afterEachMigrateError.sql``  after a failed migration, once it was rolled back; own transaction
``afterMigrate.sql``        once, after a run in which nothing failed; own transaction
``afterMigrateError.sql``   once, after a run that failed; own transaction
==========================  =======================================================================

Several callbacks for one event are written ``beforeMigrate__set_timeouts.sql``; they run in
order of their description. Callbacks are not recorded in the history (as in Flyway);
placeholders are replaced in them. The other events Flyway knows (``beforeClean``,
``beforeInfo``, ``beforeEachMigrateStatement`` ...) are refused by name rather than ignored:
a callback the user expects to run and which silently does not is worse than an error.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path

from seasongate._executor._findings import Finding, display_path
from seasongate._executor._names import CALLBACK_RE
from seasongate._executor._script import ScriptFile

BEFORE_MIGRATE = "beforeMigrate"
BEFORE_EACH_MIGRATE = "beforeEachMigrate"
AFTER_EACH_MIGRATE = "afterEachMigrate"
AFTER_EACH_MIGRATE_ERROR = "afterEachMigrateError"
AFTER_MIGRATE = "afterMigrate"
AFTER_MIGRATE_ERROR = "afterMigrateError"

EVENTS = (
    BEFORE_MIGRATE,
    BEFORE_EACH_MIGRATE,
    AFTER_EACH_MIGRATE,
    AFTER_EACH_MIGRATE_ERROR,
    AFTER_MIGRATE,
    AFTER_MIGRATE_ERROR,
)
#: Events that run inside the migration's own transaction (for a transactional migration).
IN_MIGRATION_TRANSACTION = frozenset({BEFORE_EACH_MIGRATE, AFTER_EACH_MIGRATE})

#: Flyway's other callback events: recognised so that they are refused, not ignored.
UNSUPPORTED_EVENTS = (
    "afterBaseline", "afterBaselineError", "afterClean", "afterCleanError", "afterConnect",
    "afterEachMigrateStatement", "afterEachMigrateStatementError", "afterEachUndo",
    "afterEachUndoError", "afterInfo", "afterInfoError", "afterMigrateApplied", "afterRepair",
    "afterRepairError", "afterUndo", "afterUndoError", "afterValidate", "afterValidateError",
    "afterVersioned", "beforeBaseline", "beforeClean", "beforeConnect", "beforeEachMigrateStatement",
    "beforeEachUndo", "beforeEachUndoStatement", "beforeInfo", "beforeRepair", "beforeRepeatables",
    "beforeUndo", "beforeValidate", "createSchema",
)  # fmt: skip

_NAME = CALLBACK_RE


@dataclass(frozen=True, slots=True)
class Callback(ScriptFile):
    """One callback script."""

    event: str
    description: str
    path: Path
    sql: str = field(repr=False)

    @property
    def in_migration_transaction(self) -> bool:
        """Whether it runs inside a transactional migration's own transaction."""
        return self.event in IN_MIGRATION_TRANSACTION


def callback_event(path: Path) -> str | None:
    """The event a file name is a callback for (supported or not); None: not a callback name."""
    match = _NAME.match(path.name)
    if not match:
        return None
    event = match.group("event")
    return event if event in EVENTS or event in UNSUPPORTED_EVENTS else None


@dataclass(frozen=True, slots=True)
class Callbacks:
    """The callbacks of a folder, by event, each list in running order."""

    scripts: tuple[Callback, ...] = ()

    def for_event(self, event: str) -> tuple[Callback, ...]:
        """The callbacks of ``event``, in running order."""
        return tuple(c for c in self.scripts if c.event == event)

    def __bool__(self) -> bool:
        return bool(self.scripts)


def find_callbacks(paths: Iterable[Path], read: Callable[[Path], str]) -> tuple[Callbacks, list[Finding]]:
    """The callbacks among ``paths``; ``read(path) -> str`` reads one file.

    A Flyway event seasongate does not run is an error finding (E020) naming the file.
    """
    found: list[Callback] = []
    findings: list[Finding] = []
    for path in sorted(paths, key=lambda p: (p.name, str(p))):
        event = callback_event(path)
        if event is None:
            continue
        if event not in EVENTS:
            findings.append(
                Finding(
                    display_path(path),
                    0,
                    "E020",
                    f"{path.name} is a Flyway {event} callback, which seasongate does not run "
                    f"(supported: {', '.join(EVENTS)}); remove or rename it",
                )
            )
            continue
        match = _NAME.match(path.name)
        description = (match.group("description") if match else None) or ""
        found.append(Callback(event, description, path, read(path)))
    found.sort(key=lambda c: (EVENTS.index(c.event), c.description, c.name))
    return Callbacks(tuple(found)), findings

