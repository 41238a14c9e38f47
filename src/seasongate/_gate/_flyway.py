"""What a DBA coming from Flyway reaches for, around the gated run.

* repeatable scripts (``R__name.sql``): applied after the versioned ones whenever their
  checksum (after placeholder replacement, as Flyway computes it) differs from the latest
  applied run; gated as the class ``repeatable``;
* placeholders (``${name}``) replaced in every script and callback before it runs; a missing
  one stops the run before anything runs;
* SQL callbacks (``beforeMigrate.sql`` ...) run at their events, in their transactions;
* ``baseline``, ``--baseline-on-migrate``, ``repair`` (gated and audited), ``clean``
  (refused in protected environments) and Flyway's states beside the gate's verdict in ``info``.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from contextlib import suppress
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from seasongate._dsn import database_label
from seasongate._errors import InputError, MigrationError
from seasongate._executor import (
    AFTER_EACH_MIGRATE,
    AFTER_EACH_MIGRATE_ERROR,
    BEFORE_EACH_MIGRATE,
    Applied,
    AuditAnchor,
    BaselineResult,
    Callbacks,
    ExecutorOptions,
    FlywayInfo,
    MigrationFailed,
    MigrationScript,
    Placeholders,
    Plan,
    PostgresSession,
    RepairPlan,
    RepeatableScript,
    Step,
    applied_text,
    apply_repair,
    builtin_placeholders,
    clean_schemas,
    find_callbacks,
    flyway_info,
    for_script,
    plan_repair,
    read_repeatables,
    read_text,
    repeatable_checksum,
    scan,
    sha256_of,
    write_baseline,
)
from seasongate._gate import _audit
from seasongate._gate._guard import Gate, denial_message
from seasongate._policy import Request
from seasongate._versions import REPEATABLE, Version


@dataclass(frozen=True, slots=True)
class Extras:
    """The repeatable scripts and callbacks of a migrations folder, and what is wrong with them."""

    repeatables: tuple[RepeatableScript, ...] = ()
    callbacks: Callbacks = field(default_factory=Callbacks)
    problems: tuple[str, ...] = ()


def load_extras(directory: Path) -> Extras:
    """Read the ``R__`` scripts and the callbacks of ``directory`` (hidden folders skipped)."""
    paths = [
        p
        for p in directory.rglob("*.sql")
        if p.is_file() and not any(part.startswith(".") for part in p.relative_to(directory).parts)
    ]
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
    texts: dict[Path, str] = {}
    for script in scripts:
        texts[script.path] = for_script(placeholders, script.name).replace(script.sql, str(script.path))
    checksums: dict[Path, int] = {}
    for repeatable in extras.repeatables:
        text = for_script(placeholders, repeatable.name).replace(repeatable.sql, str(repeatable.path))
        texts[repeatable.path] = text
        checksums[repeatable.path] = repeatable_checksum(text)
    callbacks: dict[str, list[tuple[str, str]]] = {}
    for callback in extras.callbacks.scripts:
        text = for_script(placeholders, callback.name).replace(callback.sql, str(callback.path))
        callbacks.setdefault(callback.event, []).append((callback.name, text))
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


class FlywayTarget:
    """Runs steps on a session with placeholders replaced and the each-migration callbacks
    around them (inside the migration's transaction)."""

    def __init__(self, session: PostgresSession, prepared: Prepared) -> None:
        self.session = session
        self.prepared = prepared

    def _text(self, script: MigrationScript) -> MigrationScript:
        text = self.prepared.texts.get(script.path)
        return script if text is None or text == script.sql else replace(script, sql=text)

    def apply(
        self,
        migration: MigrationScript,
        *,
        verdict: str | None = None,
        override_id: str | None = None,
        audit: AuditAnchor | None = None,
    ) -> Applied | None:
        """Run a migration (its placeholders replaced) between the each-migration callbacks."""
        around = (self.prepared.joined(BEFORE_EACH_MIGRATE), self.prepared.joined(AFTER_EACH_MIGRATE))
        try:
            return self.session.apply(
                self._text(migration), verdict=verdict, override_id=override_id, audit=audit, around=around
            )
        except MigrationFailed:
            with suppress(MigrationError):  # the migration's failure is the error to report
                run_callbacks(self.session, self.prepared, AFTER_EACH_MIGRATE_ERROR)
            raise

    def undo(
        self,
        migration: MigrationScript,
        undo: MigrationScript,
        *,
        verdict: str | None = None,
        override_id: str | None = None,
        audit: AuditAnchor | None = None,
    ) -> Applied | None:
        """Run an undo script (its placeholders replaced)."""
        return self.session.undo(migration, self._text(undo), verdict=verdict, override_id=override_id, audit=audit)


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


# --- baseline ------------------------------------------------------------------------------------


def baseline_if_empty(session: PostgresSession, version: Version) -> BaselineResult | None:
    """``--baseline-on-migrate``: a history without rows gets Flyway's ``BASELINE`` row first."""
    if session.history():
        return None
    done = write_baseline(
        session.conn, session.options.schema, session.options.table, version, installed_by=session.options.installed_by
    )
    session.refresh()
    return done


# --- repair ---------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class RepairReport:
    """What ``repair`` did or (``dry_run``) would do, and the gate's verdict."""

    plan: RepairPlan
    dry_run: bool
    status: str  # ok | denied | nothing
    reason: str = ""
    decisions: tuple[Any, ...] = ()

    @property
    def exit_code(self) -> int:
        """0 done (or nothing to do, or a dry run), 1 denied or refused realignments, 2 never."""
        if self.status == "denied" or self.plan.refused:
            return 1
        return 0

    def to_dict(self) -> dict[str, Any]:
        """JSON form."""
        return {
            "status": self.status,
            "dry_run": self.dry_run,
            "reason": self.reason or None,
            **self.plan.to_dict(),
            "decisions": [d.to_dict() for d in self.decisions if hasattr(d, "to_dict")],
        }


def repair_plan(
    folder_migrations: Sequence[MigrationScript],
    extras: Extras,
    rows: Sequence[Any],
    classes: Sequence[Any],
    originals: Callable[[Path, int], str | None],
) -> RepairPlan:
    """The repair of this history: failed rows out, cosmetic checksum changes realigned (the
    applied text looked up by ``originals(path, recorded checksum)``)."""
    info = flyway_info(folder_migrations, extras.repeatables, rows, classes=classes)
    files = {m.version: m for m in folder_migrations}
    known: dict[str, str | None] = {}
    for entry in info.entries:
        if entry.problem and entry.row is not None and entry.version in files and entry.state == "Success":
            script = files[entry.version]
            recorded = entry.row.checksum
            known[script.name] = None if recorded is None else originals(script.path, recorded)
    return plan_repair(info, rows, folder_migrations, known)


def check_clean_allowed(policy: Any, environment: str) -> None:
    """``clean`` runs only where a policy covers the environment and does not protect it."""
    if environment not in policy.environments:
        raise InputError(f"policy {policy.name} does not cover environment {environment!r}; clean is refused")
    protected = getattr(policy, "protected", None)
    if protected is None or environment in protected:
        raise InputError(
            f"clean is refused outright in {environment}: policy {policy.name} ({policy.path}) marks it as "
            "protected (protected: [...]), whatever the overrides"
        )


# --- the commands: baseline, repair, clean ---------------------------------------------------------


def baseline(
    gate: Gate,
    dsn: str,
    version: Version,
    *,
    environment: str | None = None,
    territory: str | None = None,
    description: str | None = None,
    options: ExecutorOptions | None = None,
) -> BaselineResult:
    """Adopt a database without history at ``version``: Flyway's ``BASELINE`` row (the history
    tables are created when missing); audited as ``migration.baseline``."""
    env, terr = gate.scope(environment, territory)
    with PostgresSession(dsn, options).open(lock=True, create=True) as session:
        opts = session.options
        done = write_baseline(
            session.conn, opts.schema, opts.table, version, installed_by=opts.installed_by,
            **({} if description is None else {"description": description}),
        )  # fmt: skip
        if not done.already:
            gate.audit(
                _audit.BASELINE, _audit.subject(env, terr, version),
                _audit.history_payload(
                    (), environment=env, territory=terr, database=database_label(dsn), table=opts.table,
                    version=str(version), installed_rank=done.installed_rank,
                ),
            )  # fmt: skip
    return done


def _repair_requests(plan: RepairPlan, environment: str, territory: str) -> list[Request]:
    """What the gate is asked before a repair: one request per version it touches (repairing
    the history of a migration is a change to that migration's record, in its class)."""
    versions: set[Version] = set()
    repeatable = False
    for row in (*plan.remove, *(a.row for a in plan.realign)):
        if row.version is None:
            repeatable = True
        else:
            versions.add(row.version)
    requests = [
        Request(environment, territory, v, "low", 60, "apply", "repair of the migration history")
        for v in sorted(versions)
    ]
    if repeatable:
        requests.append(
            Request(
                environment, territory, None, "low", 60, "apply", "repair of the migration history", repeatable=True
            )
        )
    return requests


def repair(
    gate: Gate,
    dsn: str,
    migrations: Path,
    *,
    environment: str | None = None,
    territory: str | None = None,
    dry_run: bool = False,
    options: ExecutorOptions | None = None,
    originals: Callable[[Path, int], str | None] = applied_text,
) -> RepairReport:
    """Flyway's ``repair``, gated: remove failed rows, realign the checksums of applied files
    that changed only in whitespace or comments (the applied text found in git). Every version
    it touches must be allowed now (policy or override), as for any change in this
    environment; done under the migration lock and audited (``migration.repair``).
    ``dry_run`` shows the plan and the verdicts and changes nothing."""
    env, terr = gate.scope(environment, territory)
    session = PostgresSession(dsn, options)
    session.open(lock=not dry_run, create=False)
    try:
        rows = session.history()
        folder = scan(migrations, classes=gate.policy.migration_classes)
        extras = load_extras(migrations)
        plan = repair_plan(folder.migrations, extras, rows, gate.policy.migration_classes, originals)
        if plan.empty:
            return RepairReport(plan, dry_run, "nothing")
        decisions = tuple(gate.decide(r) for r in _repair_requests(plan, env, terr))
        denied = [d for d in decisions if not d.allowed]
        subject = _audit.subject(env, terr, None)
        if denied:
            reason = "; ".join(denial_message(d) for d in denied)
            if not dry_run:
                for d in denied:
                    gate.audit(_audit.DECISION, subject, d.to_dict())
            return RepairReport(plan, dry_run, "denied", reason, decisions)
        if dry_run:
            return RepairReport(plan, dry_run, "ok", "", decisions)
        for d in decisions:
            gate.claim(d, subject)
        gate.audit(
            _audit.REPAIR, subject,
            _audit.history_payload(
                decisions, environment=env, territory=terr, database=database_label(dsn), table=session.options.table,
                **plan.to_dict(),
            ),
        )  # fmt: skip
        apply_repair(session.conn, session.options.schema, session.options.table, plan)
        return RepairReport(plan, dry_run, "ok", "", decisions)
    finally:
        session.close()


@dataclass(frozen=True, slots=True)
class CleanReport:
    """What ``clean`` dropped (or, ``dry_run``, would drop)."""

    schemas: tuple[str, ...]
    dropped: tuple[str, ...]
    dry_run: bool

    def to_dict(self) -> dict[str, Any]:
        """JSON form."""
        return {"schemas": list(self.schemas), "dropped": list(self.dropped), "dry_run": self.dry_run}


def clean(
    gate: Gate,
    dsn: str,
    *,
    environment: str | None = None,
    territory: str | None = None,
    schemas: Sequence[str] = (),
    dry_run: bool = False,
    options: ExecutorOptions | None = None,
) -> CleanReport:
    """Drop every object in ``schemas`` (default: the history table's schema) of a throwaway
    database. Refused outright where the policy protects the environment, whatever the
    overrides; done under the migration lock and audited (``database.clean``)."""
    env, terr = gate.scope(environment, territory)
    check_clean_allowed(gate.policy, env)
    session = PostgresSession(dsn, options)
    session.open(lock=True, create=False)
    try:
        chosen = tuple(schemas) or (session.options.schema,)
        dropped = clean_schemas(session.conn, chosen, dry_run=dry_run)
        if not dry_run:
            gate.audit(
                _audit.CLEAN, _audit.subject(env, terr, None),
                _audit.history_payload(
                    (), environment=env, territory=terr, database=database_label(dsn), table=session.options.table,
                    schemas=list(chosen), dropped=len(dropped),
                ),
            )  # fmt: skip
        return CleanReport(chosen, tuple(dropped), dry_run)
    finally:
        session.close()
