"""The commands a DBA coming from Flyway reaches for: ``baseline``, ``repair``, ``clean``.

Like every api function each returns a result and never prints; the clock is passed in. The
project is a :class:`~seasongate.api.Project` (or its keywords ``policy``, ``store``,
``project_dir``, ``use_store``); where, when and how travel as :class:`GatedFields`, and
every command opens its gate one way, :func:`_gated`.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from datetime import datetime
from pathlib import Path
from typing import TypedDict, Unpack

from seasongate._executor import BaselineResult, ExecutorOptions
from seasongate._gate import CleanReport, Gate, RepairReport
from seasongate._gate import baseline as gate_baseline
from seasongate._gate import clean as gate_clean
from seasongate._gate import repair as gate_repair
from seasongate._versions import Version
from seasongate.api._migrate import MIGRATIONS, _dsn, _version
from seasongate.api._project import Project, project_of
from seasongate.api._request import ProjectFields

__all__ = ["BaselineResult", "CleanReport", "RepairReport", "baseline", "clean", "repair"]


class _Where(TypedDict):
    dsn: str | None
    environment: str
    territory: str
    now: Callable[[], datetime]


class GatedFields(_Where, ProjectFields, total=False):
    """Where, when and how a command that changes a database works, as keyword arguments:
    the database (``dsn``, else ``SEASONGATE_DSN``), the scope, the clock (required), the
    executor's options; and the project's keywords (or pass a :class:`~seasongate.api.Project`)."""

    options: ExecutorOptions | None


@contextmanager
def _gated(project: Project | None, fields: GatedFields) -> Iterator[tuple[Gate, str]]:
    """The database to work on and a gate on the project in the command's scope, its store
    open for the command (closed afterwards unless the caller handed it in). A keyword it
    does not know, or a missing one, is refused as Python refuses it (a misspelt ``use_store``
    must not fall back to the default)."""
    unknown = sorted(set(fields) - GatedFields.__required_keys__ - GatedFields.__optional_keys__)
    missing = sorted(GatedFields.__required_keys__ - set(fields))
    if unknown or missing:
        raise TypeError(f"unexpected keyword argument(s): {', '.join(unknown)}" if unknown
                        else f"missing keyword argument(s): {', '.join(missing)}")  # fmt: skip
    chosen = _dsn(fields["dsn"])
    environment, territory = fields["environment"], fields["territory"]
    opened = project_of(project, fields, environment)
    with opened.store() as store:
        yield Gate(opened.policy, store, now=fields["now"], environment=environment, territory=territory), chosen


def baseline(
    *,
    version: str | Version,
    description: str | None = None,
    project: Project | None = None,
    **fields: Unpack[GatedFields],
) -> BaselineResult:
    """``seasongate baseline --version V225``: adopt a database without history (or with an
    empty one) at ``version``; everything up to it counts as applied (Flyway's ``BASELINE``
    row). Refused when the history already holds migrations or another baseline."""
    wanted = _version(version, "--version")
    assert wanted is not None
    with _gated(project, fields) as (gate, dsn):
        return gate_baseline(gate, dsn, wanted, description=description, options=fields.get("options"))


def repair(
    *,
    migrations: Path = MIGRATIONS,
    dry_run: bool = False,
    project: Project | None = None,
    **fields: Unpack[GatedFields],
) -> RepairReport:
    """``seasongate repair``: remove failed history rows, mark the rows of migrations whose file
    is gone deleted, and realign the checksums of applied files that changed only in
    whitespace or comments; gated (every version it touches must be allowed now, by the
    policy or an override) and audited. ``dry_run`` changes nothing."""
    with _gated(project, fields) as (gate, dsn):
        return gate_repair(gate, dsn, migrations, dry_run=dry_run, options=fields.get("options"))


def clean(
    *,
    schemas: Sequence[str] = (),
    dry_run: bool = False,
    project: Project | None = None,
    **fields: Unpack[GatedFields],
) -> CleanReport:
    """``seasongate clean``: drop every object in ``schemas`` of a throwaway database. Refused
    outright in an environment the policy marks as protected, whatever the overrides."""
    with _gated(project, fields) as (gate, dsn):
        return gate_clean(gate, dsn, schemas=schemas, dry_run=dry_run, options=fields.get("options"))
