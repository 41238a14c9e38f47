"""``seasongate serve``: the dashboard, a Starlette application on uvicorn.

Pages (HTML from Jinja2 templates, a little vanilla JavaScript, no build step, no CDN): Now,
Live runs, Overrides (read-only), the year at a glance. Machine routes: ``/api/v1/check``
(the decision JSON of ``check --format json``), ``/healthz``, ``/calendar/<T>.ics`` and
``/events`` (Server-Sent Events whose ids are audit sequence numbers, so a reconnecting
browser's ``Last-Event-ID`` replays exactly what it missed from the store).

Starlette, uvicorn and Jinja2 are imported only here, and this module only by ``serve``.
This is the one layer of the dashboard that reads the clock (``Settings.clock``).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from starlette.applications import Starlette

DEFAULT_HOST = "127.0.0.1"
DEFAULT_PORT = 8080


def _utc_now() -> datetime:
    return datetime.now(UTC)


@dataclass(frozen=True)
class Settings:
    """What the dashboard shows and where it reads it from."""

    store: str | None = None  # override/audit store URL (default: the project's SQLite store)
    database: str | None = None  # the migrated database, for live progress and lock waits
    project_dir: Path = field(default_factory=Path.cwd)
    environments: tuple[str, ...] = ()  # default: every environment of the project's policies
    poll_seconds: float = 1.0  # how often the event stream looks for new audit entries
    clock: Callable[[], datetime] = _utc_now


def create_app(settings: Settings | None = None) -> Starlette:
    """The dashboard as an ASGI application (for uvicorn, or a test client)."""
    from seasongate.api._web._app import build_app

    return build_app(settings or Settings())


def serve(
    *,
    host: str = DEFAULT_HOST,
    port: int = DEFAULT_PORT,
    store: str | None = None,
    database: str | None = None,
    project_dir: Path | None = None,
    environments: Sequence[str] = (),
    log_level: str = "info",
) -> None:
    """Run the dashboard until interrupted (binds 127.0.0.1 unless told otherwise)."""
    import uvicorn

    from seasongate.api._dashboard import open_dashboard_store

    project = project_dir or Path.cwd()
    open_dashboard_store(store, project).close()  # fail now, not on the first page, when it cannot be read
    app = create_app(Settings(store=store, database=database, project_dir=project, environments=tuple(environments)))
    uvicorn.run(app, host=host, port=port, log_level=log_level, timeout_graceful_shutdown=2, access_log=False)


__all__ = ["DEFAULT_HOST", "DEFAULT_PORT", "Settings", "create_app", "serve"]
