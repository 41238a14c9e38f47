"""The event stream of ``seasongate serve`` on a real uvicorn (loopback port): every audit
entry is an event whose id is its sequence number, so a reconnecting browser's
``Last-Event-ID`` replays exactly what it missed — across a server restart too."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest

from seasongate._store import open_store
from seasongate.api._web import Settings
from tests.conftest import ROOT
from tests.store_support import as_os_user
from tests.webhelp import LiveServer, live_server, read_events

AT = datetime.fromisoformat("2026-11-14T23:00:00+01:00")


@pytest.fixture
def store_url(tmp_path: Path) -> str:
    return f"sqlite:///{tmp_path / 'store.db'}"


def settings(store_url: str) -> Settings:
    return Settings(store=store_url, project_dir=ROOT, environments=("production",), clock=lambda: AT,
                    poll_seconds=0.1)  # fmt: skip


def append(store_url: str, *versions: str) -> list[int]:
    """A migration run's audit entries, written through the store's own api."""
    seqs = []
    with as_os_user("ci.runner"), open_store(store_url, ROOT) as store:
        for version in versions:
            entry = store.append_audit("ci.runner", "migration.apply", f"production/DE/{version}",
                                       {"version": version, "status": "applied"}, AT)  # fmt: skip
            seqs.append(entry.seq)
    return seqs


def ids(events: list[dict[str, Any]]) -> list[int]:
    assert all(e["event"] == "audit" and int(e["id"]) == e["data"]["seq"] for e in events)
    return [int(e["id"]) for e in events]


@pytest.fixture
def server(store_url: str) -> Iterator[LiveServer]:
    append(store_url, "V214", "V215", "V216")
    with live_server(settings(store_url)) as running:
        yield running


def test_the_stream_replays_after_the_last_event_id_exactly(server: LiveServer, store_url: str) -> None:
    first = read_events(server.url + "/events?after=0", count=3)
    assert ids(first) == [1, 2, 3]
    assert [e["data"]["subject"] for e in first] == ["production/DE/V214", "production/DE/V215", "production/DE/V216"]
    append(store_url, "V218", "V221")  # while no browser is connected
    again = read_events(server.url + "/events", last_event_id="3", count=2)
    assert ids(again) == [4, 5]  # exactly the missed ones: none twice, none lost
    assert read_events(server.url + "/events", last_event_id="5", count=1, timeout=1.5) == []


def test_the_header_wins_over_the_page_head_and_a_fresh_stream_starts_at_the_head(
    server: LiveServer, store_url: str
) -> None:
    assert ids(read_events(server.url + "/events?after=0", last_event_id="2", count=1)) == [3]
    assert read_events(server.url + "/events?after=0", last_event_id="3", count=1, timeout=1.5) == []
    assert read_events(server.url + "/events", count=1, timeout=1.5) == []  # no replay without an id


def test_an_entry_written_while_connected_arrives_live(server: LiveServer, store_url: str) -> None:
    got: list[dict[str, Any]] = []
    reader = threading.Thread(target=lambda: got.extend(read_events(server.url + "/events?after=3", count=1)))
    reader.start()
    time.sleep(0.5)
    (seq,) = append(store_url, "V222")
    reader.join(20)
    assert ids(got) == [seq] == [4]
    assert got[0]["data"]["action"] == "migration.apply"


def test_a_server_restart_mid_run_loses_nothing(store_url: str) -> None:
    append(store_url, "V214")
    server = LiveServer(settings(store_url)).start()
    try:
        seen = ids(read_events(server.url + "/events?after=0", count=1))
        assert seen == [1]
    finally:
        server.stop()
    append(store_url, "V215", "V216")  # the run goes on while the dashboard is down
    restarted = LiveServer(settings(store_url), port=server.port).start()  # same URL for the browser
    try:
        replay = read_events(restarted.url + "/events", last_event_id=str(seen[-1]), count=2)
        assert ids(replay) == [2, 3]
        assert read_events(restarted.url + "/events", last_event_id="3", count=1, timeout=1.5) == []
        assert [e["data"]["subject"] for e in replay] == ["production/DE/V215", "production/DE/V216"]
    finally:
        restarted.stop()
