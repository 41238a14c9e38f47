"""The dashboard's routes: pages, the JSON decision endpoint, feeds and the event stream."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from datetime import datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import jinja2
from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import HTMLResponse, JSONResponse, PlainTextResponse, Response, StreamingResponse
from starlette.routing import Route

from seasongate._errors import InputError, SeasongateError, StoreError
from seasongate._overrides import format_versions
from seasongate._time import from_ts, parse_instant, to_ts
from seasongate._vocabulary import RISKS, Risk
from seasongate.api._web import Settings

_HERE = Path(__file__).resolve().parent
_SCRIPT = (_HERE / "static" / "dashboard.js").read_text(encoding="utf-8")
HEARTBEAT_SECONDS = 15.0
ACTIVITY_EVERY = 2  # polls between two looks at the database's sessions


def _local(ts: int | None, tz: ZoneInfo) -> str:
    """``Mon 05.10.2026 00:00 CEST``"""
    if ts is None:
        return "—"
    return from_ts(ts, tz).strftime("%a %d.%m.%Y %H:%M %Z")


def _relative(ts: int | None, now: int) -> str:
    """``in 4d 13h``, ``5m ago``"""
    if ts is None:
        return ""
    delta = ts - now
    seconds = abs(delta)
    days, rest = divmod(seconds, 86400)
    hours, rest = divmod(rest, 3600)
    minutes = rest // 60
    if days:
        text = f"{days}d {hours}h"
    elif hours:
        text = f"{hours}h {minutes}m"
    else:
        text = f"{minutes}m" if minutes else "<1m"
    return f"in {text}" if delta > 0 else f"{text} ago"


def _environment() -> jinja2.Environment:
    env = jinja2.Environment(
        loader=jinja2.FileSystemLoader(str(_HERE / "templates")),
        autoescape=True,
        trim_blocks=True,
        lstrip_blocks=True,
        undefined=jinja2.StrictUndefined,
    )
    env.filters["local"] = _local
    env.filters["relative"] = _relative
    env.filters["versions"] = format_versions
    return env


def _sse(entry_id: int | None, event: str, data: Any) -> str:
    lines = []
    if entry_id is not None:
        lines.append(f"id: {entry_id}")
    lines.append(f"event: {event}")
    text = json.dumps(data, ensure_ascii=False, separators=(",", ":"))
    lines.append(f"data: {text}")
    return "\n".join(lines) + "\n\n"


def _last_event_id(request: Request) -> int | None:
    """The browser's ``Last-Event-ID`` (a reconnect), else ``?after=`` (the page's head)."""
    for raw in (request.headers.get("last-event-id"), request.query_params.get("after")):
        if raw is not None and raw.strip():
            try:
                value = int(raw.strip())
            except ValueError as exc:
                raise InputError(f"invalid event id {raw!r}: an audit sequence number is a whole number") from exc
            if value < 0:
                raise InputError(f"invalid event id {raw!r}: must not be negative")
            return value
    return None


def _risk(text: str | None) -> Risk | None:
    """A query's ``risk``: one of the vocabulary's, else an error (empty means not given)."""
    if not text:
        return None
    for risk in RISKS:
        if risk == text:
            return risk
    raise InputError(f"unknown risk {text!r} ({', '.join(RISKS)})")


def build_app(settings: Settings) -> Starlette:
    """The Starlette application for ``settings``."""
    from seasongate import api
    from seasongate.api import _dashboard

    templates = _environment()

    def now() -> datetime:
        moment = settings.clock()
        to_ts(moment)  # an aware instant, or an error
        return moment

    def page(name: str, status: int = 200, **context: Any) -> HTMLResponse:
        html = templates.get_template(name).render(active=name.split(".")[0], **context)
        return HTMLResponse(html, status_code=status)

    def error_page(exc: Exception, status: int) -> HTMLResponse:
        return page("error.html.j2", status=status, message=str(exc), head=0)

    def head_seq() -> int:
        with _dashboard.open_dashboard_store(settings.store, settings.project_dir) as store:
            return store.audit_count()

    # -- pages ---------------------------------------------------------------------------------

    async def now_page(request: Request) -> Response:
        moment = now()

        def work() -> tuple[Any, int]:
            board = _dashboard.now_board(
                at=moment, environments=settings.environments, store=settings.store, project_dir=settings.project_dir
            )
            try:
                head = head_seq()
            except StoreError:
                head = 0
            return board, head

        try:
            board, head = await run_in_threadpool(work)
        except SeasongateError as exc:
            return error_page(exc, 500)
        return page("now.html.j2", board=board, now=board.at, head=head)

    async def runs_page(request: Request) -> Response:
        def work() -> tuple[Any, dict[str, ZoneInfo]]:
            view = _dashboard.runs_view(
                store=settings.store, database=settings.database, project_dir=settings.project_dir
            )
            return view, _zones()

        try:
            view, zones = await run_in_threadpool(work)
        except SeasongateError as exc:
            return error_page(exc, 500)
        return page("runs.html.j2", view=view, zones=zones, now=to_ts(now()), head=view.head)

    def _zones() -> dict[str, ZoneInfo]:
        zones: dict[str, ZoneInfo] = {}
        for environment in settings.environments or _dashboard.project_environments(settings.project_dir):
            policy = api.open_project(environment, project_dir=settings.project_dir, use_store=False).policy
            for territory in policy.territories:
                zones.setdefault(territory, policy.zone(territory))
        return zones

    async def overrides_page(request: Request) -> Response:
        moment = now()

        def work() -> tuple[list[tuple[str, Any]], dict[str, ZoneInfo], int]:
            rows = _dashboard.overrides_view(at=moment, store=settings.store, project_dir=settings.project_dir)
            return rows, _zones(), head_seq()

        try:
            rows, zones, head = await run_in_threadpool(work)
        except SeasongateError as exc:
            return error_page(exc, 500)
        utc = ZoneInfo("UTC")
        items = [(status, r, zones.get(r.territory, utc)) for status, r in rows]
        open_now = ("pending", "active", "scheduled")
        groups = [
            ("Waiting for approval", [i for i in items if i[0] == "pending"]),
            ("Active and scheduled", [i for i in items if i[0] in ("active", "scheduled")]),
            ("Closed: expired, rejected, revoked, consumed", [i for i in items if i[0] not in open_now]),
        ]
        return page("overrides.html.j2", groups=groups, head=head, now=to_ts(moment))

    async def year_page(request: Request) -> Response:
        codes = [c for c in request.path_params["territories"].replace("+", ",").split(",") if c]
        params = request.query_params

        def work() -> str:
            return api.year_view(
                year=int(request.path_params["year"]), territories=codes,
                environment=params.get("env") or "production", migration=params.get("migration") or None,
                duration=params.get("duration") or None, risk=_risk(params.get("risk")),
                project_dir=settings.project_dir, back_link="/",
            )  # fmt: skip

        try:
            known = await run_in_threadpool(_territories)
            unknown = [c for c in codes if c.upper() not in known]
            if unknown:
                raise LookupError(f"unknown territory {unknown[0]!r} (known: {', '.join(known)})")
            html = await run_in_threadpool(work)
        except LookupError as exc:
            return error_page(exc, 404)
        except SeasongateError as exc:
            return error_page(exc, 400)
        return HTMLResponse(html)

    def _territories() -> list[str]:
        return list(_zones())

    async def year_default(request: Request) -> Response:
        codes = await run_in_threadpool(_territories)
        target = f"/year/{','.join(codes) or 'DE'}/{now().year}"
        return Response(status_code=307, headers={"location": target})

    # -- machine routes ------------------------------------------------------------------------

    async def check_endpoint(request: Request) -> Response:
        params = request.query_params
        moment = now()

        def work() -> str:
            environment = params.get("env") or params.get("environment")
            territory = params.get("territory")
            if not environment or not territory:
                raise InputError("give env and territory, e.g. /api/v1/check?env=production&territory=DE")
            project = api.open_project(
                environment, store=settings.store, project_dir=settings.project_dir,
                use_store=params.get("no_store", "").lower() not in ("1", "true"),
            )  # fmt: skip
            loaded = project.policy
            at = moment
            note = None
            if params.get("at"):
                at, was_naive = parse_instant(params["at"], loaded.zone(territory))
                if was_naive:
                    note = f"--at {params['at']} has no UTC offset; read as {loaded.zone(territory).key} local time"
            rollback = params.get("rollback", "").lower() in ("1", "true", "yes")
            risk = _risk(params.get("risk"))
            asked = api.RequestSpec(
                environment, territory, params.get("migration") or None, risk=risk,
                duration=params.get("duration") or None, operation="rollback" if rollback else "apply",
            )  # fmt: skip
            decision = api.check(asked, at=at, project=project, recorded_at=moment)
            data = decision.to_dict()
            if note:
                data["notes"] = [*data["notes"], note]
            return json.dumps(data, indent=2, ensure_ascii=False)

        try:
            body = await run_in_threadpool(work)
        except StoreError as exc:
            return JSONResponse({"error": str(exc)}, status_code=503)
        except SeasongateError as exc:
            return JSONResponse({"error": str(exc)}, status_code=400)
        return Response(body + "\n", media_type="application/json")

    async def healthz(request: Request) -> Response:
        try:
            head = await run_in_threadpool(head_seq)
        except SeasongateError as exc:
            return JSONResponse({"status": "error", "error": str(exc)}, status_code=503)
        return JSONResponse({"status": "ok", "audit_seq": head})

    async def calendar_ics(request: Request) -> Response:
        territory = request.path_params["territory"].upper()
        year = now().year

        def work() -> bytes:
            return api.calendar_feed(
                territory=territory, first_year=year - 1, last_year=year + 1, project_dir=settings.project_dir
            )

        try:
            data = await run_in_threadpool(work)
        except InputError as exc:
            return PlainTextResponse(str(exc) + "\n", status_code=404)
        except SeasongateError as exc:
            return PlainTextResponse(str(exc) + "\n", status_code=500)
        return Response(
            data,
            media_type="text/calendar; charset=utf-8",
            headers={"content-disposition": f'inline; filename="seasongate-{territory}.ics"'},
        )

    async def script(request: Request) -> Response:
        return Response(_SCRIPT, media_type="text/javascript; charset=utf-8")

    async def events(request: Request) -> Response:
        try:
            after = _last_event_id(request)
        except InputError as exc:
            return PlainTextResponse(str(exc) + "\n", status_code=400)
        try:
            store = await run_in_threadpool(_dashboard.open_dashboard_store, settings.store, settings.project_dir)
        except SeasongateError as exc:
            return PlainTextResponse(str(exc) + "\n", status_code=503)
        if after is None:
            after = await run_in_threadpool(store.audit_count)

        async def stream() -> AsyncIterator[str]:
            seq = after
            polls = 0
            quiet = 0.0
            sessions_seen: str | None = None
            try:
                yield f"retry: 2000\n: seasongate events after {seq}\n\n"
                while not await request.is_disconnected():
                    entries = await run_in_threadpool(_dashboard.audit_after, seq, store=store)
                    for entry in entries:
                        yield _sse(entry.seq, "audit", entry.to_dict())
                        seq = entry.seq
                    if settings.database and polls % ACTIVITY_EVERY == 0:
                        sessions, problem = await run_in_threadpool(_dashboard.database_sessions, settings.database)
                        state = json.dumps([[s.pid, s.state, s.why] for s in sessions] + [problem])
                        if state != sessions_seen:
                            sessions_seen = state
                            yield _sse(None, "activity", {"sessions": len(sessions), "problem": problem})
                    polls += 1
                    quiet = 0.0 if entries else quiet + settings.poll_seconds
                    if quiet >= HEARTBEAT_SECONDS:
                        quiet = 0.0
                        yield ": keep-alive\n\n"
                    await asyncio.sleep(settings.poll_seconds)
            finally:
                await run_in_threadpool(store.close)

        return StreamingResponse(
            stream(),
            media_type="text/event-stream",
            headers={"cache-control": "no-cache", "x-accel-buffering": "no"},
        )

    routes = [
        Route("/", now_page),
        Route("/runs", runs_page),
        Route("/overrides", overrides_page),
        Route("/year", year_default),
        Route("/year/{territories}/{year:int}", year_page),
        Route("/api/v1/check", check_endpoint),
        Route("/healthz", healthz),
        Route("/calendar/{territory}.ics", calendar_ics),
        Route("/events", events),
        Route("/static/dashboard.js", script),
    ]
    return Starlette(routes=routes)


__all__ = ["build_app"]
