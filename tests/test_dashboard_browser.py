"""The dashboard in a real browser: Playwright driving Debian's chromium (never downloaded),
against the real app on uvicorn, a real store and the suite's PostgreSQL. Each test saves a
screenshot in its temporary folder."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from collections.abc import Iterator
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from seasongate import api
from seasongate._store import open_store
from seasongate.api._web import Settings
from tests.conftest import MIGRATIONS, POLICIES, ROOT
from tests.store_support import as_os_user
from tests.webhelp import CHROMIUM_ARGS, chromium_or_fail, live_server

OKTOBERFEST = datetime.fromisoformat("2026-09-25T10:00:00+02:00")
SATURDAY_NIGHT = datetime.fromisoformat("2026-11-14T23:00:00+01:00")  # weekly maintenance window


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    executable = chromium_or_fail()
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        launched = playwright.chromium.launch(executable_path=executable, args=CHROMIUM_ARGS)
        yield launched
        launched.close()


@pytest.fixture
def page(browser: Any) -> Iterator[Any]:
    context = browser.new_context(viewport={"width": 1400, "height": 900})
    opened = context.new_page()
    yield opened
    context.close()


@pytest.fixture
def store_url(tmp_path: Path) -> str:
    url = f"sqlite:///{tmp_path / 'store.db'}"
    with as_os_user("store.owner"):
        open_store(url, ROOT).close()
    return url


def settings(store_url: str, at: datetime, database: str | None = None) -> Settings:
    return Settings(store=store_url, database=database, project_dir=ROOT, environments=("production",),
                    clock=lambda: at, poll_seconds=0.2)  # fmt: skip


def test_a_denied_territory_shows_its_reason_and_next_allowed_time(page: Any, store_url: str, tmp_path: Path) -> None:
    with live_server(settings(store_url, OKTOBERFEST)) as server:
        page.goto(server.url + "/")
        page.wait_for_selector("#live.up", timeout=10_000)  # the event stream is connected
        de = page.locator('section[data-env="production"][data-territory="DE"]')
        assert de.get_attribute("data-verdict") == "deny"
        text = de.inner_text()
        assert "DENIED" in text
        assert "seasonal-blackout" in text and "Production is in a seasonal blackout" in text
        assert "next allowed at Mon 05.10.2026 00:00 CEST" in text
        banner = page.locator('[data-banner="DE"]')
        assert "Blackout in DE: oktoberfest" in banner.inner_text()
        colour = de.locator(".pill").evaluate("e => getComputedStyle(e).backgroundColor")
        assert colour == "rgb(198, 40, 40)"  # red means no
        page.screenshot(path=str(tmp_path / "now.png"), full_page=True)


def test_a_real_migrate_turns_applied_on_the_live_runs_page(
    page: Any, store_url: str, pg_dsn: str, tmp_path: Path
) -> None:
    with live_server(settings(store_url, SATURDAY_NIGHT, database=pg_dsn)) as server:
        page.goto(server.url + "/runs")
        page.wait_for_selector("#live.up", timeout=10_000)
        assert page.locator("tr[data-version]").count() == 0
        run = subprocess.run(
            # staging allows any time (a real run never takes --at): the page is what is tested here
            [sys.executable, "-m", "seasongate", "migrate", "--dsn", pg_dsn, "--migrations", str(MIGRATIONS),
             "--env", "staging", "--territory", "DE", "--store", store_url, "--policy", str(POLICIES / "staging.yaml")],
            cwd=ROOT, capture_output=True, text=True, timeout=120, env={**os.environ, "USER": "ci.runner", "LOGNAME": "ci.runner"},
        )  # fmt: skip
        assert run.returncode == 0, run.stderr + run.stdout
        # No reload: the page learns of each step from the event stream.
        page.wait_for_selector('tr[data-version="V214"][data-status="applied"]', timeout=15_000)
        page.wait_for_selector('tr[data-version="V225"][data-status="applied"]', timeout=15_000)
        row = page.locator('tr[data-version="V225"]').inner_text()
        assert "applied" in row and "V225__communication_core.sql" in row
        page.screenshot(path=str(tmp_path / "runs.png"), full_page=True)


def test_a_migration_waiting_for_a_lock_says_who_holds_it_then_turns_applied(
    page: Any, store_url: str, pg_dsn: str, tmp_path: Path
) -> None:
    import psycopg

    with psycopg.connect(pg_dsn, autocommit=True) as conn:
        conn.execute("CREATE TABLE orders (id bigint PRIMARY KEY)")
    folder = tmp_path / "migrations"
    folder.mkdir()
    (folder / "V1__orders_note.sql").write_text("ALTER TABLE orders ADD COLUMN note text;\n")
    holder = psycopg.connect(pg_dsn, application_name="psql")
    holder.execute("LOCK TABLE orders IN ACCESS SHARE MODE")  # a report left open in a transaction
    process = None
    try:
        with live_server(settings(store_url, SATURDAY_NIGHT, database=pg_dsn)) as server:
            page.goto(server.url + "/runs")
            page.wait_for_selector("#live.up", timeout=10_000)
            process = subprocess.Popen(
                [sys.executable, "-m", "seasongate", "migrate", "--dsn", pg_dsn, "--migrations", str(folder),
                 "--env", "staging", "--territory", "DE", "--store", store_url, "--lock-timeout", "2m",
                 "--policy", str(POLICIES / "staging.yaml")],
                cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
            )  # fmt: skip
            pid = holder.info.backend_pid
            why = page.wait_for_selector(f'#sessions td.why:has-text("held by pid {pid}")', timeout=20_000)
            text = why.inner_text()
            assert text.startswith(f"waiting for AccessExclusiveLock on orders held by pid {pid} (psql, idle in transaction")
            page.wait_for_selector('tr[data-version="V1"][data-status="running"]', timeout=10_000)  # migration.start
            page.screenshot(path=str(tmp_path / "runs-waiting.png"), full_page=True)
            holder.rollback()  # the report ends: the migration goes on
            page.wait_for_selector('tr[data-version="V1"][data-status="applied"]', timeout=20_000)
            out, err = process.communicate(timeout=60)
            assert process.returncode == 0, out + err
            page.screenshot(path=str(tmp_path / "runs-applied.png"), full_page=True)
    finally:
        holder.close()
        if process is not None and process.poll() is None:
            process.kill()
            process.wait(10)


def test_an_override_request_appears_without_a_reload(page: Any, store_url: str, tmp_path: Path) -> None:
    with live_server(settings(store_url, OKTOBERFEST)) as server:
        page.goto(server.url + "/overrides")
        page.wait_for_selector("#live.up", timeout=10_000)
        with as_os_user("anna.huber"):
            record = api.override_request(
                None, at=OKTOBERFEST, environment="production", territory="DE", versions="V226",
                reason="order import drops Brezn orders", ticket="INC-4711", duration="4h",
                store=store_url, project_dir=ROOT,
            )  # fmt: skip
        row = page.wait_for_selector(f'tr[data-override="{record.id}"][data-status="pending"]', timeout=15_000)
        assert "0 of 2" in row.inner_text() and "seasonal-blackout" in row.inner_text()
        page.screenshot(path=str(tmp_path / "overrides.png"), full_page=True)


def test_the_year_view_cells_and_one_a3_page(page: Any, store_url: str, tmp_path: Path) -> None:
    with live_server(settings(store_url, OKTOBERFEST)) as server:
        page.goto(server.url + "/year/DE,CH/2026")
        assert page.locator("td[data-allowed]").count() == 0
        page.fill("input[name=migration]", "V226")  # a planner asks: when can this one start?
        page.fill("input[name=duration]", "45m")
        page.select_option("select[name=risk]", "high")
        page.click("button[type=submit]")
        page.wait_for_url("**/year/DE,CH/2026?migration=V226&duration=45m&risk=high")
        kinds = page.eval_on_selector_all(
            "#grid-DE td[data-day]", "cells => Object.fromEntries(cells.map(c => [c.dataset.day, c.dataset.kind]))"
        )
        day = datetime(2026, 9, 19)
        while day <= datetime(2026, 10, 4):
            assert kinds[day.date().isoformat()] == "blackout", day
            day += timedelta(days=1)
        assert kinds["2026-10-05"] == "optimization"
        ch = page.locator('#grid-CH td[data-day="2026-09-25"]')
        assert ch.get_attribute("data-kind") == "preparation"
        cell = page.locator('#grid-DE td[data-day="2026-10-10"]')
        assert cell.get_attribute("data-allowed") == "yes" and "✓" in cell.inner_text()
        assert "allowed starts: 22:00–24:00" in (cell.get_attribute("title") or "")
        colour = page.locator('#grid-DE td[data-day="2026-09-25"]').evaluate("e => getComputedStyle(e).backgroundColor")
        assert colour == "rgb(198, 40, 40)"
        page.screenshot(path=str(tmp_path / "year.png"), full_page=True)
        pdf = page.pdf(format="A3", landscape=True, print_background=True)
        assert len(re.findall(rb"/Type\s*/Page[^s]", pdf)) == 1  # the whole year prints on one A3 page
