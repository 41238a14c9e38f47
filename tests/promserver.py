"""Real Prometheus and Alertmanager servers for the health tests (Debian's binaries).

Each server listens on a free loopback port with its own temporary storage and is stopped
afterwards. ``promtool tsdb create-blocks-from openmetrics`` backfills deterministic series
before the server starts; retention is long so last year's blocks stay.
"""

from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
import tempfile
import time
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path


class ServiceUnavailable(RuntimeError):
    """A server binary is missing or did not become ready."""


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@dataclass
class Server:
    """A running server process and its URL."""

    url: str
    process: subprocess.Popen[bytes]
    workdir: Path
    log: Path
    extra: dict[str, object] = field(default_factory=dict)

    def stop(self) -> None:
        self.process.terminate()
        try:
            self.process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait(timeout=10)
        shutil.rmtree(self.workdir, ignore_errors=True)


def _binary(name: str) -> str:
    found = shutil.which(name) or (f"/usr/bin/{name}" if os.path.exists(f"/usr/bin/{name}") else None)
    if not found:
        raise ServiceUnavailable(f"{name} is not installed (Debian package: run .ci/install-services)")
    return found


def _wait_ready(url: str, process: subprocess.Popen[bytes], log: Path, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise ServiceUnavailable(f"{url} exited early: {log.read_text(errors='replace')[-2000:]}")
        try:
            with urllib.request.urlopen(url + "/-/ready", timeout=2) as answer:
                if answer.status == 200:
                    return
        except OSError:
            pass
        time.sleep(0.2)
    process.terminate()
    raise ServiceUnavailable(f"{url} not ready after {timeout}s: {log.read_text(errors='replace')[-2000:]}")


def backfill(openmetrics: str, storage: Path) -> None:
    """Write ``openmetrics`` (ending in ``# EOF``) into TSDB blocks under ``storage``."""
    source = storage.parent / "backfill.om"
    source.write_text(openmetrics, encoding="utf-8")
    storage.mkdir(parents=True, exist_ok=True)
    done = subprocess.run(
        [_binary("promtool"), "tsdb", "create-blocks-from", "openmetrics", "-q", str(source), str(storage)],
        capture_output=True, text=True, timeout=300, check=False,
    )  # fmt: skip
    if done.returncode != 0:
        raise ServiceUnavailable(f"promtool backfill failed: {done.stderr[-2000:]}")


def start_prometheus(*, scrape_targets: list[str] = (), scrape_interval: str = "1s", openmetrics: str | None = None) -> Server:  # type: ignore[assignment]
    """Start Prometheus on a free loopback port (scraping ``scrape_targets`` when given)."""
    binary = _binary("prometheus")
    workdir = Path(tempfile.mkdtemp(prefix="sg-prom-"))
    storage = workdir / "data"
    if openmetrics is not None:
        backfill(openmetrics, storage)
    config = {
        "global": {"scrape_interval": scrape_interval, "evaluation_interval": scrape_interval},
        "scrape_configs": (
            [{"job_name": "crm", "scrape_interval": scrape_interval, "static_configs": [{"targets": list(scrape_targets)}]}]
            if scrape_targets
            else []
        ),
    }
    (workdir / "prometheus.yml").write_text(json.dumps(config), encoding="utf-8")
    port = free_port()
    log = workdir / "prometheus.log"
    process = subprocess.Popen(
        [
            binary,
            f"--config.file={workdir / 'prometheus.yml'}",
            f"--storage.tsdb.path={storage}",
            "--storage.tsdb.retention.time=100y",
            f"--web.listen-address=127.0.0.1:{port}",
            "--web.enable-lifecycle",
        ],
        stdout=log.open("wb"),
        stderr=subprocess.STDOUT,
        cwd=workdir,
    )
    url = f"http://127.0.0.1:{port}"
    _wait_ready(url, process, log)
    return Server(url, process, workdir, log)


def start_alertmanager() -> Server:
    """Start Alertmanager on a free loopback port, with no receivers (alerts are read back)."""
    binary = _binary("prometheus-alertmanager")
    workdir = Path(tempfile.mkdtemp(prefix="sg-am-"))
    config = {
        "route": {"receiver": "null", "group_wait": "1s", "group_interval": "1s", "repeat_interval": "1h"},
        "receivers": [{"name": "null"}],
    }
    (workdir / "alertmanager.yml").write_text(json.dumps(config), encoding="utf-8")
    port = free_port()
    log = workdir / "alertmanager.log"
    process = subprocess.Popen(
        [
            binary,
            f"--config.file={workdir / 'alertmanager.yml'}",
            f"--storage.path={workdir / 'data'}",
            f"--web.listen-address=127.0.0.1:{port}",
            "--cluster.listen-address=",
        ],
        stdout=log.open("wb"),
        stderr=subprocess.STDOUT,
        cwd=workdir,
    )
    url = f"http://127.0.0.1:{port}"
    _wait_ready(url, process, log)
    return Server(url, process, workdir, log)


class WebhookReceiver:
    """A webhook receiver on a loopback port: records every POSTed JSON body; the first
    ``fail_first`` requests get HTTP 500 (to prove retries)."""

    def __init__(self, *, fail_first: int = 0) -> None:
        import threading
        from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

        self.received: list[object] = []
        self.requests = 0
        self.fail_first = fail_first
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length", "0"))
                body = self.rfile.read(length)
                receiver.requests += 1
                if receiver.requests <= receiver.fail_first:
                    self.send_response(500)
                    self.end_headers()
                    self.wfile.write(b"try again")
                    return
                receiver.received.append(json.loads(body))
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.end_headers()
                self.wfile.write(b"{}")

            def log_message(self, format: str, *args: object) -> None:
                return

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/hook"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()


def get_json(url: str) -> object:
    with urllib.request.urlopen(url, timeout=10) as answer:
        return json.loads(answer.read())
