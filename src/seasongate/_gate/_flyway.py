"""What a gated ``migrate`` does the way Flyway does it, besides the versioned scripts.

* repeatable scripts (``R__name.sql``): applied after the versioned ones whenever their
  checksum (after placeholder replacement, as Flyway computes it) differs from the latest
  applied run; gated as the class ``repeatable``;
* placeholders (``${name}``) replaced in every script and callback before it runs; a missing
  one stops the run before anything runs;
* SQL callbacks (``beforeMigrate.sql`` ...) run at their events, in their transactions;
* ``--baseline-on-migrate``: an empty history gets Flyway's ``BASELINE`` row first.

The commands ``baseline``, ``repair`` and ``clean`` are in ``_flyway_commands``.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from contextlib import suppress
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import TYPE_CHECKING, TypedDict, Unpack

from seasongate._errors import MigrationError
from seasongate._executor import (
    AFTER_EACH_MIGRATE,
    AFTER_EACH_MIGRATE_ERROR,
    BEFORE_EACH_MIGRATE,
    Applied,
    AuditAnchor,
    Callback,
    Callbacks,
    FlywayInfo,
    MigrationFailed,
    MigrationFolder,
    MigrationScript,
    Placeholders,
    Plan,
    PostgresSession,
    RepeatableScript,
    Step,
    builtin_placeholders,
    find_callbacks,
    flyway_info,
    for_script,
    read_repeatables,
    read_text,
    repeatable_checksum,
    sha256_of,
)
from seasongate._versions import REPEATABLE, Version

if TYPE_CHECKING:
    from seasongate._executor import BaselineResult


@dataclass(frozen=True, slots=True)
class Extras:
    """The repeatable scripts and callbacks of a migrations folder, and what is wrong with them."""

    repeatables: tuple[RepeatableScript, ...] = ()
    callbacks: Callbacks = field(default_factory=Callbacks)
    problems: tuple[str, ...] = ()


def load_extras(folder: MigrationFolder) -> Extras:
    """Read the ``R__`` scripts and the callbacks the scan of ``folder`` found beside the
    versioned scripts (hidden folders skipped; only regular files, as before)."""
    paths = [p for p in folder.beside if p.is_file()]
    repeatables, found = read_repeatables(paths, read_text)
    callbacks, more = find_callbacks(paths, read_text)
    problems = tuple(f.render() for f in (*found, *more) if f.blocking or f.code.startswith("E"))
    return Extras(tuple(repeatables), callbacks, problems)


@dataclass(frozen=True, slots=True)
class Prepared:
    """Scripts and callbacks with their placeholders replaced, ready to run."""

    texts: Mapping[Path, str]
    repeatable_checksums: Mapping[Path, int]
    callbacks: Mapping[str, tuple[tuple[str, str], ...]]  # event -> ((file name, SQL), ...)

    def joined(self, event: str) -> str:
        """Every callback of ``event`` as one SQL text (empty when there is none)."""
        return "\n;\n".join(text for _, text in self.callbacks.get(event, ()))


def session_placeholders(
    session: PostgresSession,
    placeholders: Placeholders,
    *,
    environment: str,
    territory: str,
) -> Placeholders:
    """``placeholders`` with Flyway's built-ins (user, database, schema, table, and the
    timestamp, from the database server's clock)."""
    row = session.conn.execute(
        "SELECT current_user, current_database(), to_char(now(), 'YYYY-MM-DD HH24:MI:SS')"
    ).fetchone()
    user, database, stamp = (str(row[0]), str(row[1]), str(row[2])) if row else ("", "", "")
    builtins = builtin_placeholders(
        schema=session.options.schema,
        user=user,
        database=database,
        table=session.options.table,
        timestamp=stamp,
        environment=environment,
        territory=territory,
    )
    values = {**builtins, **placeholders.values}
    return Placeholders(values, placeholders.prefix, placeholders.suffix, placeholders.enabled)


def prepare(scripts: Sequence[MigrationScript], extras: Extras, placeholders: Placeholders) -> Prepared:
    """Replace the placeholders of every script that may run, of every repeatable and every
    callback, before anything runs: a missing placeholder is an error naming file and line."""

    def replaced(script: MigrationScript | RepeatableScript | Callback) -> str:
        if not placeholders.enabled or placeholders.prefix not in script.sql:
            return script.sql  # nothing to replace: no per-script placeholders built
        return for_script(placeholders, script.name).replace(script.sql, str(script.path))

    runnable: list[MigrationScript | RepeatableScript] = [*scripts, *extras.repeatables]
    texts = {script.path: replaced(script) for script in runnable}
    checksums = {r.path: repeatable_checksum(texts[r.path]) for r in extras.repeatables}
    callbacks: dict[str, list[tuple[str, str]]] = {}
    for callback in extras.callbacks.scripts:
        callbacks.setdefault(callback.event, []).append((callback.name, replaced(callback)))
    return Prepared(texts, checksums, {k: tuple(v) for k, v in callbacks.items()})


def repeatable_info(plan: Plan, extras: Extras, prepared: Prepared) -> FlywayInfo:
    """Flyway's view of the repeatables: which are pending (new or changed), which failed."""
    info = flyway_info((), extras.repeatables, plan.rows, repeatable_checksums=prepared.repeatable_checksums)
    return replace(info, entries=tuple(e for e in info.entries if e.category == "Repeatable"))


def repeatable_steps(plan: Plan, info: FlywayInfo, prepared: Prepared) -> tuple[Step, ...]:
    """A step for each pending repeatable, in order of description (after every versioned one)."""
    steps: list[Step] = []
    for repeatable in sorted(info.pending_repeatables, key=lambda r: r.title):
        text = prepared.texts[repeatable.path]
        script = MigrationScript(
            kind="R",
            version=REPEATABLE,
            description=repeatable.description,
            path=repeatable.path,
            sql=text,
            checksum=prepared.repeatable_checksums[repeatable.path],
            sha256=sha256_of(text),
            directives=repeatable.directives,
        )
        steps.append(plan.step("apply", script))
    return tuple(steps)


class RunFacts(TypedDict, total=False):
    """What the run loop tells a target about a step (the keywords of ``Target.apply``)."""

    verdict: str | None
    override_id: str | None
    audit: AuditAnchor | None


class FlywayTarget:
    """Runs steps on a session with placeholders replaced and the each-migration callbacks
    around them (inside the migration's transaction); a :class:`Target` of the run loop."""

    def __init__(self, session: PostgresSession, prepared: Prepared) -> None:
        self.session = session
        self.prepared = prepared

    def _text(self, script: MigrationScript) -> MigrationScript:
        text = self.prepared.texts.get(script.path)
        return script if text is None or text == script.sql else replace(script, sql=text)

    def apply(self, migration: MigrationScript, **facts: Unpack[RunFacts]) -> Applied | None:
        """Run a migration (its placeholders replaced) between the each-migration callbacks."""
        around = (self.prepared.joined(BEFORE_EACH_MIGRATE), self.prepared.joined(AFTER_EACH_MIGRATE))
        try:
            return self.session.apply(self._text(migration), around=around, **facts)
        except MigrationFailed:
            with suppress(MigrationError):  # the migration's failure is the error to report
                run_callbacks(self.session, self.prepared, AFTER_EACH_MIGRATE_ERROR)
            raise

    def undo(self, migration: MigrationScript, undo: MigrationScript, **facts: Unpack[RunFacts]) -> Applied | None:
        """Run an undo script (its placeholders replaced)."""
        return self.session.undo(migration, self._text(undo), **facts)


def run_callbacks(session: PostgresSession, prepared: Prepared, event: str) -> None:
    """Run the callbacks of ``event``, each in a transaction of its own."""
    import psycopg

    for name, text in prepared.callbacks.get(event, ()):
        if not text.strip():
            continue
        try:
            with session.conn.transaction():
                session.conn.execute(text.encode())
        except psycopg.Error as exc:
            message = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
            raise MigrationError(f"callback {name} failed: {message}") from exc


def baseline_if_empty(session: PostgresSession, version: Version) -> BaselineResult | None:
    """``--baseline-on-migrate``: a history without rows gets Flyway's ``BASELINE`` row first."""
    from seasongate._executor import write_baseline  # the Flyway history writes: only here

    if session.history():
        return None
    done = write_baseline(
        session.conn, session.options.schema, session.options.table, version, installed_by=session.options.installed_by
    )
    session.refresh()
    return done
