"""``seasongate run -- COMMAND``: gate, pass output through, forward signals, audit."""

from __future__ import annotations

import signal
import subprocess
import sys
import time
from datetime import datetime
from pathlib import Path

import pytest
from click.testing import CliRunner, Result

from seasongate._gate import Gate, run_command
from seasongate._policy import Request, load_policy
from seasongate._store import open_store
from seasongate._versions import Version
from seasongate.cli import main
from tests.conftest import POLICIES

NOVEMBER_WEEKEND_NIGHT = "2026-11-14T23:00+01:00"
OKTOBERFEST = "2026-09-25T10:00+02:00"
NOVEMBER_SUNDAY_MORNING = "2026-11-15T10:00+01:00"  # allowed, but outside any window


def seasongate() -> list[str]:
    script = Path(sys.executable).parent / "seasongate"
    if script.is_file():
        return [str(script)]
    return [sys.executable, "-c", "from seasongate.cli import main; main()"]


def run_cmd(store: Path, *command: str, options: tuple[str, ...] = (), env: str = "ci") -> list[str]:
    """``seasongate run`` with the staging policy: ``ci`` always allows, ``staging`` never
    takes test data (V10000+); the real clock judges."""
    return [
        *seasongate(),
        "run",
        "--env",
        env,
        "--territory",
        "DE",
        "--policy",
        str(POLICIES / "staging.yaml"),
        "--store",
        f"sqlite:///{store}",
        *options,
        "--",
        *command,
    ]


def sg_at(instant: str, *args: str) -> Result:
    """The CLI in this process with the real clock at ``instant``."""
    from freezegun import freeze_time

    with freeze_time(instant, tick=True):
        return CliRunner().invoke(main, list(args), catch_exceptions=False)


def audit(store: Path) -> list[tuple[str, dict[str, object]]]:
    opened = open_store(f"sqlite:///{store}", store.parent)
    try:
        return [(e.action, dict(e.payload)) for e in opened.audit_entries()]
    finally:
        opened.close()


def test_allowed_command_runs_with_its_output_and_exit_code(tmp_path: Path) -> None:
    store = tmp_path / "store.db"
    code = "import sys; print('hello from the child'); sys.stderr.write('warn\\n'); sys.exit(3)"
    result = subprocess.run(run_cmd(store, sys.executable, "-c", code), capture_output=True, text=True, timeout=60)
    assert result.returncode == 3
    assert result.stdout == "hello from the child\n"
    assert result.stderr == "warn\n"
    [(started, intent), (action, payload)] = audit(store)
    assert started == "run.start" and intent["outcome"] == "started"
    assert intent["command"] == [sys.executable, "-c", code]
    assert action == "run"
    assert payload["exit_code"] == 3 and payload["outcome"] == "failed"
    assert payload["command"] == [sys.executable, "-c", code]


def test_denied_command_does_not_run(tmp_path: Path) -> None:
    store = tmp_path / "store.db"
    marker = tmp_path / "ran"
    code = f"open({str(marker)!r}, 'w').close()"
    result = subprocess.run(
        run_cmd(store, sys.executable, "-c", code, options=("-m", "V10000"), env="staging"),
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 1
    assert not marker.exists()
    assert "no-testdata-in-staging" in result.stderr and "the command was not run" in result.stderr
    assert [(a, p["outcome"]) for a, p in audit(store)] == [("run", "denied")]


def production_run(store: Path, *options: str) -> list[str]:
    return [
        "run", "--env", "production", "-t", "DE", "--policy", str(POLICIES / "production.yaml"),
        "--store", f"sqlite:///{store}", *options, "--", sys.executable, "-c", "pass",
    ]  # fmt: skip


def test_the_migration_header_decides_risk(tmp_path: Path) -> None:
    migration = tmp_path / "V226__big_rewrite.sql"
    migration.write_text("-- seasongate: risk=high duration=2h\nSELECT 1;\n", encoding="utf-8")
    store = tmp_path / "store.db"
    result = sg_at(NOVEMBER_SUNDAY_MORNING, *production_run(store, "--migration", str(migration), "--format", "json"))
    assert result.exit_code == 1
    assert '"rule": "high-risk-in-windows-only"' in result.output
    # The same instant is fine for a migration of default risk (stated by version: a run that
    # names no migration has an unknown class, which counts against it; issue 15).
    plain = sg_at(NOVEMBER_SUNDAY_MORNING, *production_run(store, "--migration", "V226"))
    assert plain.exit_code == 0


def test_at_never_runs_the_command(tmp_path: Path) -> None:
    # Issue 15 principle 3: --at judges another instant; it must not act now.
    store, marker = tmp_path / "store.db", tmp_path / "ran"
    code = f"open({str(marker)!r}, 'w').close()"
    refused = subprocess.run(
        run_cmd(store, sys.executable, "-c", code, options=("--at", NOVEMBER_WEEKEND_NIGHT)),
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert refused.returncode == 2
    assert "--at judges another instant and executes nothing: add --dry-run" in refused.stderr
    judged = subprocess.run(
        run_cmd(store, sys.executable, "-c", code, options=("--at", OKTOBERFEST, "--dry-run")),
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert judged.returncode == 0, judged.stderr
    assert "allowed; the command was not run" in judged.stderr
    assert not marker.exists()
    assert audit(store) == []


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGINT], ids=["SIGTERM", "SIGINT"])
def test_signals_reach_the_child(tmp_path: Path, sig: signal.Signals) -> None:
    ready, got = tmp_path / "ready", tmp_path / "got"
    child = (
        "import signal, sys, time\n"
        "def handler(num, frame):\n"
        f"    open({str(got)!r}, 'w').write(str(num))\n"
        "    sys.exit(42)\n"
        "signal.signal(signal.SIGTERM, handler)\n"
        "signal.signal(signal.SIGINT, handler)\n"
        f"open({str(ready)!r}, 'w').close()\n"
        "time.sleep(30)\n"
    )
    proc = subprocess.Popen(
        run_cmd(tmp_path / "store.db", sys.executable, "-c", child),
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        deadline = time.monotonic() + 20
        while not ready.exists() and time.monotonic() < deadline:
            time.sleep(0.02)
        assert ready.exists(), proc.stderr.read() if proc.stderr else ""
        proc.send_signal(sig)
        proc.wait(timeout=20)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == 42
    assert got.read_text() == str(int(sig))


def test_run_command_api_reports_a_signal_death(tmp_path: Path) -> None:
    store = open_store(f"sqlite:///{tmp_path / 'store.db'}", tmp_path)
    moment = datetime.fromisoformat(NOVEMBER_WEEKEND_NIGHT)
    try:
        gate = Gate(
            load_policy(POLICIES / "production.yaml"),
            store,
            now=lambda: moment,
            environment="production",
            territory="DE",
        )
        request = Request("production", "DE", Version.parse("V226"))
        argv = [sys.executable, "-c", "import os, signal; os.kill(os.getpid(), signal.SIGKILL)"]
        outcome = run_command(gate, argv, request)
        assert outcome.ran and outcome.decision.allowed
        assert (outcome.exit_code, outcome.signal) == (128 + 9, 9)
        assert store.audit_entries()[-1].payload["signal"] == 9
    finally:
        store.close()


def test_run_states_the_class_of_what_it_runs(tmp_path: Path) -> None:
    # Issue 15 principle 1: wrappers state the class; a classless run meets every class-scoped deny rule.
    store = tmp_path / "store.db"
    production = sg_at(NOVEMBER_WEEKEND_NIGHT, *production_run(store, "--class", "production"))
    assert production.exit_code == 0, production.output
    testdata = sg_at(NOVEMBER_WEEKEND_NIGHT, *production_run(store, "--class", "testdata", "--format", "json"))
    assert testdata.exit_code == 1
    assert '"rule": "no-testdata-in-production"' in testdata.output


def test_the_start_is_on_record_before_the_command_runs(tmp_path: Path) -> None:
    # A run killed with seasongate must still leave a trace: run.start is written first.
    store = tmp_path / "store.db"
    code = (
        "import sys, pathlib; from seasongate._store import open_store;"
        "s = open_store('sqlite:///' + sys.argv[1], pathlib.Path(sys.argv[1]).parent);"
        "print([e.action for e in s.audit_entries()])"
    )
    result = subprocess.run(
        run_cmd(store, sys.executable, "-c", code, str(store)), capture_output=True, text=True, timeout=60
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "['run.start']"
    [_, (_, outcome)] = audit(store)
    assert outcome["outcome"] == "succeeded" and outcome["start_seq"] == 1
