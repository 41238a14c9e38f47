"""The commands a DBA coming from Flyway reaches for: ``baseline``, ``repair``, ``clean``.

Like every api function each returns a result and never prints; the clock is passed in. The
project is a :class:`~seasongate.api.Project` (or its keywords ``policy``, ``store``,
``project_dir``, ``use_store``); every command opens it one way, :func:`_gated`.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from datetime import datetime
from pathlib import Path
from typing import Unpack

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


@contextmanager
def _gated(
    dsn: str | None,
    project: Project | None,
    fields: ProjectFields,
    *,
    environment: str,
    territory: str,
    now: Callable[[], datetime],
) -> Iterator[tuple[Gate, str]]:
    """The database to work on (``dsn`` or ``SEASONGATE_DSN``) and a gate on the project, its
    store open for the command (closed afterwards unless the caller handed it in)."""
    chosen = _dsn(dsn)
    opened = project_of(project, fields, environment)
    with opened.store() as store:
        yield Gate(opened.policy, store, now=now, environment=environment, territory=territory), chosen


def baseline(
    *,
    dsn: str | None,
    version: str | Version,
    environment: str,
    territory: str,
    now: Callable[[], datetime],
    description: str | None = None,
    options: ExecutorOptions | None = None,
    project: Project | None = None,
    **fields: Unpack[ProjectFields],
) -> BaselineResult:
    """``seasongate baseline --version V225``: adopt a database without history (or with an
    empty one) at ``version``; everything up to it counts as applied (Flyway's ``BASELINE``
    row). Refused when the history already holds migrations or another baseline."""
    wanted = _version(version, "--version")
    assert wanted is not None
    with _gated(dsn, project, fields, environment=environment, territory=territory, now=now) as (gate, chosen):
        return gate_baseline(gate, chosen, wanted, description=description, options=options)


def repair(
    *,
    dsn: str | None,
    environment: str,
    territory: str,
    now: Callable[[], datetime],
    migrations: Path = MIGRATIONS,
    dry_run: bool = False,
    options: ExecutorOptions | None = None,
    project: Project | None = None,
    **fields: Unpack[ProjectFields],
) -> RepairReport:
    """``seasongate repair``: remove failed history rows, mark the rows of migrations whose file
    is gone deleted, and realign the checksums of applied files that changed only in
    whitespace or comments; gated (every version it touches must be allowed now, by the
    policy or an override) and audited. ``dry_run`` changes nothing."""
    with _gated(dsn, project, fields, environment=environment, territory=territory, now=now) as (gate, chosen):
        return gate_repair(gate, chosen, migrations, dry_run=dry_run, options=options)


def clean(
    *,
    dsn: str | None,
    environment: str,
    territory: str,
    now: Callable[[], datetime],
    schemas: Sequence[str] = (),
    dry_run: bool = False,
    options: ExecutorOptions | None = None,
    project: Project | None = None,
    **fields: Unpack[ProjectFields],
) -> CleanReport:
    """``seasongate clean``: drop every object in ``schemas`` of a throwaway database. Refused
    outright in an environment the policy marks as protected, whatever the overrides."""
    with _gated(dsn, project, fields, environment=environment, territory=territory, now=now) as (gate, chosen):
        return gate_clean(gate, chosen, schemas=schemas, dry_run=dry_run, options=options)
