"""What a planning command is asked, as one value: :class:`RequestSpec`.

The CLI (or a Python caller) states the request once; the api turns it into the engine's
:class:`~seasongate._policy.Request` in one place (:meth:`RequestSpec.resolve`), reading a
migration file's header when ``migration`` is a path.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, TypedDict

from seasongate._errors import InputError
from seasongate._policy import Request
from seasongate._time import parse_duration
from seasongate._versions import parse_migration_ref
from seasongate._vocabulary import OPERATIONS, RISKS, Operation, Risk

if TYPE_CHECKING:
    from seasongate._policy import Policy
    from seasongate._store import Store


@dataclass(frozen=True, slots=True)
class RequestSpec:
    """A request as a user states it: ``migration`` is a version (``V226``), a file name or
    the path of a migration file (whose header supplies risk and duration when not given);
    ``migration_class`` names the class when no migration is given; ``duration`` is a
    duration text (``20m``) or seconds."""

    environment: str
    territory: str
    migration: str | None = None
    migration_class: str | None = None
    risk: str | None = None  # a Risk, checked when resolved
    duration: str | int | None = None
    operation: str = "apply"  # an Operation, checked when resolved

    def resolve(self) -> Request:
        """The engine's request. A migration file (``.sql``) is resolved the way every
        command resolves one (``seasongate._executor.resolve_migration``): its header must
        be valid, a bare name is looked up in ``migrations/``, and a ``U`` file names the
        rollback of its version, never its apply."""
        version = None
        description = None
        risk = self.risk
        duration = self.duration
        operation = self.operation
        if self.migration is not None:  # "" is a mistake (an unset variable), never "no migration"
            if self.migration.strip().lower().endswith(".sql"):
                from seasongate._executor import resolve_migration

                ref = resolve_migration(self.migration)
                version, description = ref.version, ref.description
                if ref.operation == "rollback":
                    operation = "rollback"
                risk = risk or ref.risk
                if duration is None:
                    duration = ref.duration
            else:
                version, description = parse_migration_ref(self.migration)
        seconds = None
        if duration is not None:
            seconds = duration if isinstance(duration, int) else parse_duration(duration)
        if risk is not None and risk not in RISKS:
            raise InputError(f"unknown risk {risk!r} ({', '.join(RISKS)})")
        if operation not in OPERATIONS:
            raise InputError(f"unknown operation {operation!r} ({' or '.join(OPERATIONS)})")
        return Request(
            self.environment, self.territory, version, risk, seconds, operation, description,
            migration_class=self.migration_class,
        )  # fmt: skip


class RequestFields(TypedDict, total=False):
    """The fields of :class:`RequestSpec` as keyword arguments of an api function."""

    environment: str
    territory: str
    migration: str | None
    migration_class: str | None
    risk: Risk | None
    duration: str | int | None
    operation: Operation


class ProjectFields(TypedDict, total=False):
    """How to open the project, as keyword arguments of an api function."""

    policy: str | Path | Policy | None
    store: str | Store | None
    project_dir: Path | None
    use_store: bool


class CommandFields(RequestFields, ProjectFields, total=False):
    """Both, for an api function called with keywords instead of the two objects."""


_REQUEST_KEYS = frozenset(RequestFields.__annotations__)


def spec_of(spec: RequestSpec | None, fields: CommandFields) -> RequestSpec:
    """The request: the spec given, or one built from keyword fields (not both)."""
    given = {k: v for k, v in fields.items() if k in _REQUEST_KEYS}
    if spec is not None:
        if given:
            raise InputError(f"give a RequestSpec or request keywords, not both ({', '.join(sorted(given))})")
        return spec
    if "environment" not in given or "territory" not in given:
        raise InputError("a request needs an environment and a territory (e.g. --env production --territory DE)")
    return RequestSpec(**given)  # type: ignore[arg-type]  # keys checked above, values typed by CommandFields


def build_request(
    *,
    environment: str,
    territory: str,
    migration: str | None = None,
    risk: str | None = None,
    duration: str | int | None = None,
    operation: str = "apply",
    migration_class: str | None = None,
) -> Request:
    """A :class:`Request` from command-line style values (see :class:`RequestSpec`)."""
    return RequestSpec(environment, territory, migration, migration_class, risk, duration, operation).resolve()


def bounded_instant(at: datetime, what: str = "--at") -> datetime:
    """``at`` if the calendars can answer for it (years 1990-2100), else an error saying so."""
    from seasongate._calendar import MAX_YEAR, MIN_YEAR
    from seasongate._time import to_ts

    to_ts(at)  # refuses a naive datetime
    if not MIN_YEAR <= at.year <= MAX_YEAR:
        raise InputError(f"{what} {at.isoformat()} is outside {MIN_YEAR}-{MAX_YEAR}, the years calendars answer")
    return at
