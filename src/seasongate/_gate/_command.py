"""``seasongate run -- COMMAND``: a child process run only when the gate allows it, with its
signals forwarded and its outcome audited."""

from __future__ import annotations

import os
import signal
import subprocess
import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from types import FrameType
from typing import Any

from seasongate._errors import InputError
from seasongate._gate import _audit
from seasongate._gate._guard import Gate
from seasongate._policy import Decision, Request


@dataclass(frozen=True, slots=True)
class RunOutcome:
    """``seasongate run``: the decision and, when it allowed, how the command ended."""

    decision: Decision
    ran: bool
    exit_code: int
    seconds: float = 0.0
    signal: int | None = None  # the signal that ended the command, if one did
    command: tuple[str, ...] = field(default=())


def run_command(
    gate: Gate, argv: Sequence[str], request: Request, *, cwd: Path | None = None, dry_run: bool = False
) -> RunOutcome:
    """Run ``argv`` if the gate allows ``request`` now (its output passes through); SIGTERM,
    SIGINT and SIGHUP reach the child. Audited: ``run.start`` before the child starts, ``run``
    with its outcome after. A dry run only judges: nothing runs, nothing is written."""
    if not argv:
        raise InputError("no command given: seasongate run ... -- COMMAND ARGS")
    decision = gate.decide(request)
    command = tuple(argv)
    if dry_run:
        return RunOutcome(decision, ran=False, exit_code=0 if decision.allowed else 1, command=command)
    subject = _audit.subject(request.environment, request.territory, decision.migration.version)
    if not decision.allowed:
        gate.audit(_audit.RUN, subject, _audit.run_payload(decision, command, outcome="denied"))
        return RunOutcome(decision, ran=False, exit_code=1, command=command)
    gate.claim(decision, subject)
    # The intent is on record before the child starts: a run killed with seasongate (or a
    # crashed host) still left its trace, as a migration leaves ``migration.start``.
    start = gate.audit(_audit.RUN_START, subject, _audit.run_payload(decision, command, outcome="started"))
    linked = {} if start is None else {"start_seq": start.seq}
    started = time.perf_counter()
    try:
        code, sig = _run_child(command, cwd)
    except OSError as exc:
        failed = _audit.run_payload(decision, command, outcome="error", error=str(exc))
        gate.audit(_audit.RUN, subject, {**failed, **linked})
        raise InputError(f"cannot run {command[0]!r}: {exc.strerror or exc}") from exc
    seconds = time.perf_counter() - started
    outcome = "succeeded" if code == 0 else "failed"
    payload = _audit.run_payload(decision, command, outcome=outcome, exit_code=code, signal=sig, seconds=seconds)
    gate.audit(_audit.RUN, subject, {**payload, **linked})
    return RunOutcome(decision, ran=True, exit_code=code, seconds=seconds, signal=sig, command=command)


_FORWARDED = ("SIGTERM", "SIGINT", "SIGHUP")


def _run_child(command: tuple[str, ...], cwd: Path | None) -> tuple[int, int | None]:
    """Run the child with inherited stdio, forwarding signals; (exit code, signal)."""
    proc = subprocess.Popen(list(command), cwd=cwd)
    previous: dict[int, Any] = {}
    if threading.current_thread() is threading.main_thread():
        terminal_sigint = _terminal_foreground()

        def forward(signum: int, frame: FrameType | None) -> None:
            if signum == signal.SIGINT and terminal_sigint:
                return  # the terminal sent Ctrl-C to the whole process group already
            if proc.poll() is None:
                proc.send_signal(signum)

        for name in _FORWARDED:
            sig = getattr(signal, name, None)
            if sig is not None:
                previous[sig] = signal.signal(sig, forward)
    try:
        code = proc.wait()
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)
    if code < 0:
        return 128 - code, -code
    return code, None


def _terminal_foreground() -> bool:
    try:
        return os.isatty(0) and os.tcgetpgrp(0) == os.getpgrp()
    except OSError:
        return False
