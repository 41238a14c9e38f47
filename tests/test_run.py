"""``seasongate run -- COMMAND``: gate, pass output through, forward signals, audit."""

from __future__ import annotations

import signal
import subprocess
import sys
import time
from datetime import datetime
from pathlib import Path

import pytest

from seasongate._gate import Gate
from seasongate._policy import load_policy
from seasongate._store import open_store
from tests.conftest import policy_with_default_class

NOVEMBER_WEEKEND_NIGHT = "2026-11-14T23:00+01:00"
OKTOBERFEST = "2026-09-25T10:00+02:00"
NOVEMBER_SUNDAY_MORNING = "2026-11-15T10:00+01:00"  # allowed, but outside any window


# A run names no migration, and an unknown class counts against it (issue 15): the policy
# these tests run under names a default class, as a team wrapping `run` would.
_POLICY: list[Path] = []


@pytest.fixture(scope="module", autouse=True)
def _policy_with_default_class(tmp_path_factory: pytest.TempPathFactory) -> None:
    _POLICY[:] = [policy_with_default_class(tmp_path_factory.mktemp("policies"))]


def seasongate() -> list[str]:
    script = Path(sys.executable).parent / "seasongate"
    if script.is_file():
        return [str(script)]
    return [sys.executable, "-c", "from seasongate.cli import main; main()"]


def run_cmd(store: Path, at: str, *command: str, options: tuple[str, ...] = ()) -> list[str]:
    return [
        *seasongate(),
        "run",
        "--env",
        "production",
        "--territory",
        "DE",
        "--at",
        at,
        "--policy",
        str(_POLICY[0]),
        "--store",
        f"sqlite:///{store}",
        *options,
        "--",
        *command,
    ]


def audit(store: Path) -> list[tuple[str, dict[str, object]]]:
    opened = open_store(f"sqlite:///{store}", store.parent)
    try:
        return [(e.action, dict(e.payload)) for e in opened.audit_entries()]
    finally:
        opened.close()


def test_allowed_command_runs_with_its_output_and_exit_code(tmp_path: Path) -> None:
    store = tmp_path / "store.db"
    code = "import sys; print('hello from the child'); sys.stderr.write('warn\\n'); sys.exit(3)"
    result = subprocess.run(
        run_cmd(store, NOVEMBER_WEEKEND_NIGHT, sys.executable, "-c", code), capture_output=True, text=True, timeout=60
    )
    assert result.returncode == 3
    assert result.stdout == "hello from the child\n"
    assert result.stderr == "warn\n"
    [(action, payload)] = audit(store)
    assert action == "run"
    assert payload["exit_code"] == 3 and payload["outcome"] == "failed"
    assert payload["command"] == [sys.executable, "-c", code]


def test_denied_command_does_not_run(tmp_path: Path) -> None:
    store = tmp_path / "store.db"
    marker = tmp_path / "ran"
    code = f"open({str(marker)!r}, 'w').close()"
    result = subprocess.run(
        run_cmd(store, OKTOBERFEST, sys.executable, "-c", code), capture_output=True, text=True, timeout=60
    )
    assert result.returncode == 1
    assert not marker.exists()
    assert "seasonal-blackout" in result.stderr and "the command was not run" in result.stderr
    assert [(a, p["outcome"]) for a, p in audit(store)] == [("run", "denied")]


def test_the_migration_header_decides_risk(tmp_path: Path) -> None:
    migration = tmp_path / "V226__big_rewrite.sql"
    migration.write_text("-- seasongate: risk=high duration=2h\nSELECT 1;\n", encoding="utf-8")
    result = subprocess.run(
        run_cmd(
            tmp_path / "store.db",
            NOVEMBER_SUNDAY_MORNING,
            sys.executable,
            "-c",
            "pass",
            options=("--migration", str(migration), "--format", "json"),
        ),
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 1
    assert '"rule": "high-risk-in-windows-only"' in result.stdout
    plain = subprocess.run(
        run_cmd(tmp_path / "store.db", NOVEMBER_SUNDAY_MORNING, sys.executable, "-c", "pass"),
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert plain.returncode == 0  # the same instant is fine for a migration of default risk


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
        run_cmd(tmp_path / "store.db", NOVEMBER_WEEKEND_NIGHT, sys.executable, "-c", child),
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
            load_policy(_POLICY[0]),
            store,
            now=lambda: moment,
            environment="production",
            territory="DE",
        )
        outcome = gate.run_command([sys.executable, "-c", "import os, signal; os.kill(os.getpid(), signal.SIGKILL)"])
        assert outcome.ran and outcome.decision.allowed
        assert (outcome.exit_code, outcome.signal) == (128 + 9, 9)
        assert store.audit_entries()[-1].payload["signal"] == 9
    finally:
        store.close()
