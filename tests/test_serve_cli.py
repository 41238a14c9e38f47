"""``seasongate serve`` as a user starts it, and what it must not cost ``check``."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import httpx

from tests.conftest import ROOT
from tests.webhelp import free_port


def test_serve_binds_loopback_and_answers(tmp_path: Path) -> None:
    port = free_port()
    store = f"sqlite:///{tmp_path / 'store.db'}"
    process = subprocess.Popen(
        [sys.executable, "-m", "seasongate", "serve", "--port", str(port), "--store", store, "--log-level", "warning"],
        cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )  # fmt: skip
    try:
        deadline = time.monotonic() + 30
        health = None
        while time.monotonic() < deadline and process.poll() is None:
            try:
                health = httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=2)
                break
            except httpx.TransportError:
                time.sleep(0.2)
        assert health is not None, process.communicate(timeout=5)
        assert health.json() == {"status": "ok", "audit_seq": 0}
        listening = subprocess.run(["ss", "-ltnH", f"sport = :{port}"], capture_output=True, text=True, check=False)
        if listening.returncode == 0:  # the local address of every listening socket is loopback
            assert [line.split()[3] for line in listening.stdout.splitlines()] == [f"127.0.0.1:{port}"]
        page = httpx.get(f"http://127.0.0.1:{port}/", timeout=10)
        assert page.status_code == 200 and "May we change the database now?" in page.text
    finally:
        process.send_signal(signal.SIGINT)
        process.wait(timeout=20)


def test_serve_refuses_an_unreadable_store_with_exit_2(tmp_path: Path) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("not a directory")
    result = subprocess.run(
        [sys.executable, "-m", "seasongate", "serve", "--port", str(free_port()), "--store", f"sqlite:///{blocker}/s.db"],
        cwd=ROOT, capture_output=True, text=True, timeout=60, check=False,
    )  # fmt: skip
    assert result.returncode == 2
    assert "seasongate: error: cannot open the SQLite store" in result.stderr


def test_check_loads_no_web_stack(tmp_path: Path) -> None:
    code = (
        "import sys\n"
        "sys.argv = ['seasongate', 'check', '--env', 'production', '-t', 'DE', '-m', 'V226',"
        " '--at', '2026-09-25T10:00+02:00', '--no-store', '--format', 'dotenv']\n"
        "from seasongate.cli import main\n"
        "try:\n    main()\nexcept SystemExit:\n    pass\n"
        "print(sorted(m for m in ('starlette', 'uvicorn', 'jinja2', 'seasongate._render') if m in sys.modules),"
        " file=sys.stderr)\n"
    )
    env = {**os.environ, "SEASONGATE_CACHE_DIR": str(tmp_path)}
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, env=env, cwd=ROOT)
    assert "SEASONGATE_ALLOWED=false" in result.stdout
    assert result.stderr.strip().splitlines()[-1] == "[]"
