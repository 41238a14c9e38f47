"""The commands a DBA coming from Flyway reaches for: ``baseline``, ``repair``, ``clean``.

Like every api function each returns a result and never prints; the clock is passed in.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING

from seasongate._executor import BaselineResult, ExecutorOptions
from seasongate._gate import CleanReport, RepairReport
from seasongate._gate import baseline as gate_baseline
from seasongate._gate import clean as gate_clean
from seasongate._gate import repair as gate_repair
from seasongate._versions import Version
from seasongate.api._migrate import MIGRATIONS, _dsn, _gate, _version

if TYPE_CHECKING:
    from seasongate._policy import Policy
    from seasongate._store import Store

__all__ = ["BaselineResult", "CleanReport", "RepairReport", "baseline", "clean", "repair"]


def baseline(
    *,
    dsn: str | None,
    version: str | Version,
    environment: str,
    territory: str,
    now: Callable[[], datetime],
    description: str | None = None,
    policy: str | Path | Policy | None = None,
    store: str | Store | None = None,
    options: ExecutorOptions | None = None,
    project_dir: Path | None = None,
    use_store: bool = True,
) -> BaselineResult:
    """``seasongate baseline --version V225``: adopt a database without history (or with an
    empty one) at ``version``; everything up to it counts as applied (Flyway's ``BASELINE``
    row). Refused when the history already holds migrations or another baseline."""
    chosen = _dsn(dsn)
    wanted = _version(version, "--version")
    assert wanted is not None
    with _gate(now, environment, territory, policy, store, project_dir, use_store=use_store) as gate:
        return gate_baseline(gate, chosen, wanted, description=description, options=options)


def repair(
    *,
    dsn: str | None,
    environment: str,
    territory: str,
    now: Callable[[], datetime],
    migrations: Path = MIGRATIONS,
    dry_run: bool = False,
    policy: str | Path | Policy | None = None,
    store: str | Store | None = None,
    options: ExecutorOptions | None = None,
    project_dir: Path | None = None,
    use_store: bool = True,
) -> RepairReport:
    """``seasongate repair``: remove failed history rows and realign the checksums of applied
    files that changed only in whitespace or comments; gated (every version it touches must
    be allowed now, by the policy or an override) and audited. ``dry_run`` changes nothing."""
    chosen = _dsn(dsn)
    with _gate(now, environment, territory, policy, store, project_dir, use_store=use_store) as gate:
        return gate_repair(gate, chosen, migrations, dry_run=dry_run, options=options)


def clean(
    *,
    dsn: str | None,
    environment: str,
    territory: str,
    now: Callable[[], datetime],
    schemas: Sequence[str] = (),
    dry_run: bool = False,
    policy: str | Path | Policy | None = None,
    store: str | Store | None = None,
    options: ExecutorOptions | None = None,
    project_dir: Path | None = None,
    use_store: bool = True,
) -> CleanReport:
    """``seasongate clean``: drop every object in ``schemas`` of a throwaway database. Refused
    outright in an environment the policy marks as protected, whatever the overrides."""
    chosen = _dsn(dsn)
    with _gate(now, environment, territory, policy, store, project_dir, use_store=use_store) as gate:
        return gate_clean(gate, chosen, schemas=schemas, dry_run=dry_run, options=options)
