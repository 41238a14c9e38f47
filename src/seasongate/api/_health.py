"""The health commands: ``health check`` (and the watch used by ``migrate --health``)."""

from __future__ import annotations

import os
from collections.abc import Mapping
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING

from seasongate._errors import InputError
from seasongate._time import to_ts

if TYPE_CHECKING:
    from seasongate._health import HealthReport, HealthSpec
    from seasongate._policy import Policy

EXIT_CODES = {"healthy": 0, "degraded": 1, "inconclusive": 3}


def load_health_file(health: str | Path | HealthSpec) -> HealthSpec:
    """A loaded health file (``file:line:column`` errors for a broken one)."""
    from seasongate._health import HealthSpec, load_health

    if isinstance(health, HealthSpec):
        return health
    path = Path(health)
    if not path.is_file():
        raise InputError(f"health file {health} does not exist")
    return load_health(path)


def health_check(
    health: str | Path | HealthSpec,
    *,
    environment: str,
    territory: str,
    at: datetime,
    since: datetime | None = None,
    policy: str | Path | Policy | None = None,
    dsn: str | None = None,
    environ: Mapping[str, str] | None = None,
) -> HealthReport:
    """Measure every indicator of ``health`` over ``[since, at]`` (``since`` defaults to
    ``watch.for`` before ``at``) against its calendar-chosen baseline, and judge it.

    The URLs of the sources come from the environment variables the file names (``environ``,
    default the process environment); ``dsn`` is the database a SQL probe without
    ``dsn_env`` runs against.
    """
    from seasongate._health import Sources, check_health
    from seasongate.api._check import open_policy

    spec = load_health_file(health)
    loaded = open_policy(policy, environment)
    if environment not in loaded.environments:
        raise InputError(f"policy {loaded.name} does not cover environment {environment!r}")
    loaded.territory(territory)
    end = to_ts(at)
    start = to_ts(since) if since is not None else end - spec.watch_for
    sources = Sources.from_environment(spec, os.environ if environ is None else environ, dsn)
    return check_health(
        spec, sources, policy=loaded, environment=environment, territory=territory, at=end, since=start
    )
