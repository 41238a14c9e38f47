"""Helpers for the dashboard tests: cells of the year page, a real uvicorn on a loopback
port, a Server-Sent Events reader, and the browser (Debian's chromium through Playwright)."""

from __future__ import annotations

import json
import os
import re
import shutil
import socket
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

import pytest

CELL = re.compile(r'<td class="(?P<css>[^"]*)" data-day="(?P<day>[\d-]+)" data-kind="(?P<kind>\w+)"(?P<rest>[^>]*)>')
CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync",
]  # fmt: skip


@dataclass(frozen=True)
class Cell:
    """A day cell of the year page, as the HTML says it."""

    territory: str
    day: str
    kind: str
    css: str
    holiday: str | None
    allowed: str | None
    title: str


def cells(html: str) -> dict[tuple[str, str], Cell]:
    """Every day cell of a year page, keyed by (territory, ISO day)."""
    out: dict[tuple[str, str], Cell] = {}
    for section in re.finditer(r'<section class="grid" id="grid-(\w+)".*?</section>', html, re.S):
        territory = section.group(1)
        for m in CELL.finditer(section.group(0)):
            rest = m.group("rest")
            holiday = re.search(r'data-holiday="([^"]*)"', rest)
            allowed = re.search(r'data-allowed="(\w+)"', rest)
            title = re.search(r'title="([^"]*)"', rest, re.S)
            out[(territory, m.group("day"))] = Cell(
                territory, m.group("day"), m.group("kind"), m.group("css"),
                holiday.group(1) if holiday else None, allowed.group(1) if allowed else None,
                title.group(1) if title else "",
            )  # fmt: skip
    return out


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class LiveServer:
    """The dashboard on a real uvicorn, in a thread of the test process (so the test can
    freeze its clock), on a loopback port that survives a restart."""

    def __init__(self, settings: Any, port: int | None = None) -> None:
        self.settings = settings
        self.port = port or free_port()
        self._server: Any = None
        self._thread: threading.Thread | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> LiveServer:
        import uvicorn

        from seasongate.api._web import create_app

        config = uvicorn.Config(
            create_app(self.settings), host="127.0.0.1", port=self.port, log_level="warning",
            lifespan="off", timeout_graceful_shutdown=1,
        )  # fmt: skip
        self._server = uvicorn.Server(config)
        self._thread = threading.Thread(target=self._server.run, daemon=True)
        self._thread.start()
        deadline = time.monotonic() + 20
        while not self._server.started:
            if time.monotonic() > deadline or not self._thread.is_alive():
                raise RuntimeError("the dashboard did not start")
            time.sleep(0.05)
        return self

    def stop(self) -> None:
        if self._server is not None:
            self._server.should_exit = True
        if self._thread is not None:
            self._thread.join(15)
            assert not self._thread.is_alive(), "the dashboard did not stop"
        self._server = self._thread = None


@contextmanager
def live_server(settings: Any) -> Iterator[LiveServer]:
    server = LiveServer(settings).start()
    try:
        yield server
    finally:
        server.stop()


def read_events(url: str, *, count: int, last_event_id: str | None = None, timeout: float = 20.0) -> list[dict[str, Any]]:
    """Up to ``count`` events (``id``, ``event``, ``data`` parsed) of an event stream; fewer
    when nothing more arrives within ``timeout``. Comments and the retry line are skipped."""
    import httpx

    headers = {"accept": "text/event-stream"}
    if last_event_id is not None:
        headers["last-event-id"] = last_event_id
    events: list[dict[str, Any]] = []
    current: dict[str, Any] = {}
    with httpx.stream("GET", url, headers=headers, timeout=httpx.Timeout(timeout)) as response:
        assert response.status_code == 200, response.read()
        assert response.headers["content-type"].startswith("text/event-stream")
        try:
            for line in response.iter_lines():
                if line == "":
                    if "data" in current:
                        events.append(current)
                        if len(events) >= count:
                            break
                    current = {}
                elif not line.startswith((":", "retry:")):
                    key, _, value = line.partition(":")
                    value = value.removeprefix(" ")
                    current[key] = json.loads(value) if key == "data" else value
        except httpx.ReadTimeout:
            pass  # nothing more came within ``timeout``: what arrived is the answer
    return events


def chromium_or_fail() -> str:
    """Debian's chromium; a test that needs it fails (never skips) under CI=true."""
    path = CHROMIUM if os.path.exists(CHROMIUM) else shutil.which("chromium")
    if path is None:
        if os.environ.get("CI", "").lower() == "true":
            pytest.fail("chromium is required under CI=true (.ci/install-services installs it)")
        pytest.skip("chromium is not installed")  # only outside CI
    return path
