"""Every route of ``seasongate serve`` over HTTP (Starlette's test client, the real app), with
the clock frozen where time matters and real stores and a real PostgreSQL behind it."""

from __future__ import annotations

import re
import threading
import time
from collections.abc import Callable, Iterator
from datetime import datetime
from pathlib import Path

import psycopg
import pytest
from click.testing import CliRunner
from starlette.testclient import TestClient

from seasongate import api
from seasongate._store import open_store
from seasongate.api._web import Settings, create_app
from seasongate.cli import main
from tests.conftest import ROOT
from tests.store_support import as_os_user
from tests.webhelp import cells

OKTOBERFEST = datetime.fromisoformat("2026-09-25T10:00:00+02:00")  # Friday morning in the blackout


@pytest.fixture
def store_url(tmp_path: Path) -> str:
    url = f"sqlite:///{tmp_path / 'store.db'}"
    with as_os_user("store.owner"):
        open_store(url, ROOT).close()
    return url


def client(store: str, at: datetime = OKTOBERFEST, database: str | None = None) -> TestClient:
    settings = Settings(store=store, database=database, project_dir=ROOT, environments=("production",),
                        clock=lambda: at, poll_seconds=0.1)  # fmt: skip
    return TestClient(create_app(settings))


def card(html: str, territory: str, environment: str = "production") -> str:
    match = re.search(
        rf'<section class="card \w+" data-env="{environment}" data-territory="{territory}".*?</section>', html, re.S
    )
    assert match, f"no card for {environment}/{territory}"
    return match.group(0)


def test_now_denies_de_in_the_blackout_with_reason_next_allowed_and_a_banner(store_url: str) -> None:
    response = client(store_url).get("/")
    assert response.status_code == 200
    html = response.text
    assert re.search(r'data-banner="DE"><b>Blackout in DE: oktoberfest</b> until Mon 05.10.2026 00:00 CEST', html)
    assert 'data-banner="CH"' not in html
    de = card(html, "DE")
    assert 'data-verdict="deny"' in de and "DENIED" in de
    assert 'data-rule="seasonal-blackout"' in de and "Production is in a seasonal blackout" in de
    assert "next allowed at <b data-next>Mon 05.10.2026 00:00 CEST</b>" in de
    assert "overridable: 2 approval(s) by release_manager" in de
    assert "asked for a production-class migration (V1–V7999)" in de
    ch = card(html, "CH")
    assert 'data-verdict="deny"' in ch and 'data-rule="business-hours"' in ch
    assert "next allowed at <b data-next>Fri 25.09.2026 20:00 CEST</b>" in ch


def test_now_allows_on_a_quiet_saturday_night_until_when(store_url: str) -> None:
    html = client(store_url, datetime.fromisoformat("2026-10-10T23:00:00+02:00")).get("/").text
    de = card(html, "DE")
    assert 'data-verdict="allow"' in de and "ALLOWED" in de
    decision = api.check(environment="production", territory="DE", migration="V1",
                         at=datetime.fromisoformat("2026-10-10T23:00:00+02:00"), use_store=False)  # fmt: skip
    assert decision.allowed_until is not None
    assert "allowed until <b data-until>" in de
    assert "Blackout in" not in html


def request_override(store_url: str, *, approvers: tuple[str, ...]) -> str:
    with as_os_user("anna.huber"):
        record = api.override_request(
            None, at=OKTOBERFEST, environment="production", territory="DE", versions="any",
            reason="order import drops Brezn orders", ticket="INC-4711", duration="4h",
            rules=["seasonal-blackout", "business-hours"], store=store_url, project_dir=ROOT,
        )  # fmt: skip
    for approver in approvers:
        with as_os_user(approver):
            api.override_approve(None, record.id, at=OKTOBERFEST, store=store_url, project_dir=ROOT)
    return record.id


def test_an_approved_override_opens_de_and_the_overrides_page_shows_both(store_url: str) -> None:
    active = request_override(store_url, approvers=("jonas.meier", "lea.keller"))
    pending = request_override(store_url, approvers=("jonas.meier",))
    http = client(store_url)
    now = http.get("/").text
    assert 'data-pending="1"><b>1 emergency override(s) waiting for approval</b>' in now
    de = card(now, "DE")
    assert 'data-verdict="allow"' in de
    assert f"lifted by override {active}" in de or f"under override {active}" in de
    page = http.get("/overrides")
    assert page.status_code == 200
    rows = dict(re.findall(r'<tr data-override="([\w-]+)" data-status="(\w+)">', page.text))
    assert rows == {active: "active", pending: "pending"}
    row = re.search(rf'<tr data-override="{pending}".*?</tr>', page.text, re.S)
    assert row and "1 of 2" in row.group(0) and "jonas.meier as release_manager" in row.group(0)
    assert "seasonal-blackout" in row.group(0) and "business-hours" in row.group(0)
    later = client(store_url, datetime.fromisoformat("2026-09-25T15:00:00+02:00")).get("/overrides").text
    assert dict(re.findall(r'<tr data-override="([\w-]+)" data-status="(\w+)">', later)) == {
        active: "expired", pending: "expired"
    }


def test_runs_lists_the_latest_state_of_each_migration_from_the_audit_trail(store_url: str) -> None:
    with as_os_user("ci.runner"), open_store(store_url, ROOT) as store:
        store.append_audit("ci.runner", "migration.apply", "production/DE/V214", {
            "environment": "production", "territory": "DE", "version": "V214", "script": "V214__crm_baseline.sql",
            "status": "applied", "execution_ms": 1250, "database": "crm", "error": None,
        }, OKTOBERFEST)  # fmt: skip
    api.check(environment="production", territory="DE", migration="V226", at=OKTOBERFEST, store=store_url,
              project_dir=ROOT)  # a denied gate question is recorded  # fmt: skip
    response = client(store_url).get("/runs")
    assert response.status_code == 200
    rows = {v: (s, row) for v, s, row in re.findall(
        r'<tr data-version="(\w+)" data-status="([\w ]+)" data-territory="DE">(.*?)</tr>', response.text, re.S)}  # fmt: skip
    assert rows["V214"][0] == "applied" and "took 1.2s" in rows["V214"][1] and "crm" in rows["V214"][1]
    assert rows["V226"][0] == "denied"
    assert "paused: seasonal-blackout, business-hours until Mon 05.10.2026 00:00 CEST" in rows["V226"][1]


def test_runs_show_a_started_migration_as_running_until_its_outcome(store_url: str) -> None:
    def status() -> dict[str, str]:
        html = client(store_url).get("/runs").text
        return dict(re.findall(r'<tr data-version="(\w+)" data-status="([\w ]+)"', html))

    payload = {"environment": "production", "territory": "DE", "version": "V230", "script": "V230__big.sql",
               "status": "started", "database": "crm"}  # fmt: skip
    with as_os_user("ci.runner"), open_store(store_url, ROOT) as store:
        start = store.append_audit("ci.runner", "migration.start", "production/DE/V230", payload, OKTOBERFEST)
    assert status() == {"V230": "running"}
    with as_os_user("ci.runner"), open_store(store_url, ROOT) as store:
        store.append_audit("ci.runner", "migration.apply", "production/DE/V230",
                           {**payload, "status": "failed", "error": "lock timeout on orders", "start_seq": start.seq},
                           OKTOBERFEST)  # fmt: skip
    html = client(store_url).get("/runs").text
    assert status() == {"V230": "failed"}
    assert "lock timeout on orders" in html


@pytest.fixture
def orders(pg_dsn: str) -> str:
    with psycopg.connect(pg_dsn, autocommit=True) as conn:
        conn.execute("CREATE TABLE orders (id bigint PRIMARY KEY, note text)")
        conn.execute("INSERT INTO orders SELECT g, 'n' FROM generate_series(1, 1000) g")
    return pg_dsn


def blocked(dsn: str, holder_sql: str, waiter_sql: str) -> Iterator[tuple[int, threading.Thread]]:  # one round
    """A session (``psql``) that holds a lock, and a ``seasongate migrate`` session waiting
    for it in a thread; the holder rolls back at the end, which lets the waiter finish."""
    holder = psycopg.connect(dsn, application_name="psql")
    holder.execute(holder_sql)
    pid = holder.info.backend_pid
    failures: list[BaseException] = []

    def wait() -> None:
        try:
            with psycopg.connect(dsn, autocommit=True, application_name="seasongate migrate") as conn:
                conn.execute(waiter_sql)
        except BaseException as exc:  # reported by the test
            failures.append(exc)

    thread = threading.Thread(target=wait, daemon=True)
    thread.start()
    try:
        yield pid, thread
    finally:
        holder.rollback()
        holder.close()
        thread.join(30)
    assert not failures, failures


def eventually(fetch: Callable[[], str], pattern: str, seconds: float = 15.0) -> re.Match[str]:
    deadline = time.monotonic() + seconds
    text = ""
    while time.monotonic() < deadline:
        text = fetch()
        found = re.search(pattern, text, re.S)
        if found:
            return found
        time.sleep(0.2)
    raise AssertionError(f"{pattern!r} not in {text[-3000:]}")


@pytest.mark.postgres
def test_runs_says_which_lock_a_migration_waits_for_and_who_holds_it(store_url: str, orders: str) -> None:
    http = client(store_url, database=orders)
    for pid, _ in blocked(orders, "LOCK TABLE orders IN ACCESS SHARE MODE", "ALTER TABLE orders ADD COLUMN x int"):
        row = eventually(lambda: http.get("/runs").text, rf'<tr data-pid="\d+">(?:(?!</tr>).)*held by pid {pid}.*?</tr>').group(0)
        assert "seasongate migrate" in row
        assert f"waiting for AccessExclusiveLock on orders held by pid {pid} (psql, idle in transaction for " in row
        assert "ALTER TABLE orders ADD COLUMN x int" in row


@pytest.mark.postgres
def test_runs_shows_the_phase_of_an_index_build_and_why_it_waits(store_url: str, orders: str) -> None:
    http = client(store_url, database=orders)
    holder = "BEGIN; INSERT INTO orders VALUES (5000, 'open transaction')"
    waiter = "CREATE INDEX CONCURRENTLY orders_note ON orders (note)"
    for pid, _ in blocked(orders, holder, waiter):
        row = eventually(
            lambda: http.get("/runs").text,
            rf'<tr data-pid="\d+">(?:(?!</tr>).)*waiting for writers before build(?:(?!</tr>).)*held by pid {pid}.*?</tr>',
        )
        text = row.group(0)
        assert "CREATE INDEX CONCURRENTLY on orders: waiting for writers before build" in text
        assert f"waiting for another transaction to finish held by pid {pid} (psql, idle in transaction" in text


def test_runs_without_a_database_says_how_to_see_progress(store_url: str) -> None:
    html = client(store_url).get("/runs").text
    assert "seasongate serve --database URL" in html
    assert "No migration has been recorded in the audit trail yet." in html


def test_runs_reports_an_unreachable_database_without_its_password(store_url: str) -> None:
    html = client(store_url, database="postgresql://gate:s3cret@127.0.0.1:1/crm").get("/runs").text
    assert "cannot read the database&#39;s activity" in html
    assert "s3cret" not in html


def cli_json(*args: str) -> str:
    result = CliRunner().invoke(main, ["check", *args, "--format", "json"])
    return result.stdout


@pytest.mark.parametrize("at", ["2026-09-25T10:00+02:00", "2026-10-10T23:00+02:00", "2026-09-25T10:00"])
def test_the_check_endpoint_returns_exactly_the_cli_json(store_url: str, at: str) -> None:
    args = ["--env", "production", "-t", "DE", "-m", "V226", "--at", at, "--no-store"]
    http = client(store_url)
    response = http.get("/api/v1/check", params={"env": "production", "territory": "DE", "migration": "V226",
                                                  "at": at, "no_store": "1"})  # fmt: skip
    assert response.status_code == 200
    assert response.headers["content-type"] == "application/json"
    assert response.text == cli_json(*args)


def test_the_check_endpoint_records_the_decision_like_check_does(store_url: str) -> None:
    http = client(store_url)
    before = http.get("/healthz").json()["audit_seq"]
    body = http.get("/api/v1/check?env=production&territory=CH&migration=V226&duration=20m").json()
    assert body["verdict"] == "deny" and body["territory"] == "CH"
    assert body["migration"]["duration"] == "20m"
    assert http.get("/healthz").json() == {"status": "ok", "audit_seq": before + 1}
    with open_store(store_url, ROOT) as store:
        entry = store.audit_entries()[-1]
    assert (entry.action, entry.subject) == ("decision", "production/CH/V226")


@pytest.mark.parametrize(
    ("query", "message"),
    [
        ("env=production", "give env and territory"),
        ("env=production&territory=XX", "XX"),
        ("env=production&territory=DE&duration=soon", "invalid duration"),
        ("env=production&territory=DE&at=tomorrow", "invalid time"),
    ],
)
def test_the_check_endpoint_refuses_bad_input_with_400(store_url: str, query: str, message: str) -> None:
    response = client(store_url).get(f"/api/v1/check?{query}")
    assert response.status_code == 400
    assert message in response.json()["error"]


def test_healthz_and_events_fail_when_the_store_cannot_be_read(tmp_path: Path) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("not a directory")
    http = client(f"sqlite:///{blocker / 'store.db'}")
    response = http.get("/healthz")
    assert response.status_code == 503
    assert response.json()["status"] == "error"
    events = http.get("/events?after=0")
    assert events.status_code == 503 and "cannot open the SQLite store" in events.text
    now = http.get("/")
    assert now.status_code == 200  # the verdicts still show, stricter: no override counted
    assert "the override store cannot be read" in now.text


def test_the_calendar_feed_is_the_windows_ics_of_three_years(store_url: str) -> None:
    response = client(store_url).get("/calendar/DE.ics")
    assert response.status_code == 200
    assert response.headers["content-type"] == "text/calendar; charset=utf-8"
    expected = CliRunner().invoke(main, ["windows", "-t", "DE", "--from", "2025-01-01", "--to", "2027-12-31",
                                         "--format", "ics"]).stdout_bytes  # fmt: skip
    assert response.content == expected
    assert b"SUMMARY:oktoberfest (blackout)" in response.content
    assert client(store_url).get("/calendar/ch.ics").content.count(b"oktoberfest") == 0
    missing = client(store_url).get("/calendar/XX.ics")
    assert missing.status_code == 404 and "unknown territory" in missing.text


def test_the_year_view_is_the_same_renderer_with_a_way_back(store_url: str) -> None:
    http = client(store_url)
    response = http.get("/year/DE/2026")
    assert response.status_code == 200
    assert response.text == api.year_view(year=2026, territories=["DE"], back_link="/", project_dir=ROOT)
    grid = cells(response.text)
    assert all(grid[("DE", f"2026-09-{d}")].kind == "blackout" for d in range(19, 31))
    both = cells(http.get("/year/DE,CH/2026?migration=V226&duration=45m&risk=high").text)
    assert both[("DE", "2026-10-10")].allowed == "yes" and both[("CH", "2026-09-25")].kind == "preparation"
    assert http.get("/year/XX/2026").status_code == 404
    redirect = http.get("/year", follow_redirects=False)
    assert redirect.status_code == 307 and redirect.headers["location"] == "/year/DE,CH/2026"


def test_the_event_stream_refuses_a_bad_last_event_id(store_url: str) -> None:
    response = client(store_url).get("/events", headers={"last-event-id": "abc"})
    assert response.status_code == 400
    assert "invalid event id" in response.text


def test_the_script_is_served_without_a_build_step(store_url: str) -> None:
    response = client(store_url).get("/static/dashboard.js")
    assert response.status_code == 200 and response.headers["content-type"].startswith("text/javascript")
    assert "new EventSource(" in response.text and "Last-Event-ID" in response.text
