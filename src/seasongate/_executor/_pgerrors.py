"""What the PostgreSQL executor says when something goes wrong: the errors it raises, how a
server error becomes a message with its line in the script, and the retries of a statement
that hit the lock timeout."""

from __future__ import annotations

from collections.abc import Callable
from typing import TypeVar

from seasongate._errors import MigrationError
from seasongate._executor._files import MigrationScript
from seasongate._executor._sql import line_of

_T = TypeVar("_T")


class LockBusy(MigrationError):
    """Another run holds the migration lock and did not release it within ``lock_wait``."""

    def __init__(self, message: str, holder_pid: int | None = None) -> None:
        self.holder_pid = holder_pid
        super().__init__(message)


class LockLost(MigrationError):
    """The session no longer holds the migration lock (its connection was ended); the run
    stops before the next migration, since another run may be working."""


class MigrationFailed(MigrationError):
    """A script failed; it was rolled back (or marked incomplete) and recorded as failed."""

    def __init__(
        self,
        script: MigrationScript,
        message: str,
        *,
        sqlstate: str | None = None,
        line: int = 0,
        execution_ms: int = 0,
    ) -> None:
        self.script = script
        self.sqlstate = sqlstate
        self.line = line
        self.execution_ms = execution_ms
        where = f"{script.name}:{line}" if line else script.name
        code = f" (SQLSTATE {sqlstate})" if sqlstate else ""
        super().__init__(f"{where}: {message}{code}")


class StatementFailure(Exception):
    """A statement failed: the database error (or None) and what to say about it."""

    def __init__(self, error: BaseException | None, message: str, line: int, retries: int) -> None:
        self.error = error
        self.message = message
        self.line = line
        self.retries = retries
        super().__init__(message)


def error_text(exc: BaseException) -> str:
    """The server's primary message (the first line of the error otherwise)."""
    diag = getattr(exc, "diag", None)
    primary = getattr(diag, "message_primary", None)
    return str(primary or str(exc).splitlines()[0] if str(exc) else type(exc).__name__)


def error_line(exc: BaseException, script: str, shift: int = 0, fallback: int = 0) -> int:
    """The line of ``script`` that the server's error points at. The server counts characters
    of the query it was sent, from 1; ``shift`` turns that into a position in ``script``: minus
    the length of a prefix sent before the script, or plus where the statement that was sent
    starts in it. ``fallback`` when the error carries no position inside the script."""
    pos = getattr(getattr(exc, "diag", None), "statement_position", None)
    if pos and str(pos).isdigit():
        index = int(pos) - 1 + shift
        if 0 <= index <= len(script):
            return line_of(script, index)
    return fallback


def retries_of(exc: BaseException) -> int:
    """The lock-timeout retries a failed statement took (a note the retry loop attached)."""
    for note in getattr(exc, "__notes__", ()):
        if note.startswith("retries="):
            return int(note.split("=", 1)[1])
    return 0


def retrying(attempt: Callable[[], _T], retries: int, backoff: float, sleep: Callable[[float], None]) -> tuple[_T, int]:
    """Run ``attempt``; on a lock timeout try again up to ``retries`` times, waiting ``backoff``
    seconds, doubled after each try. Returns the result and the number of retries; a lock
    timeout past the last retry propagates with ``retries`` attached (:func:`retries_of`)."""
    import psycopg

    tried = 0
    while True:
        try:
            return attempt(), tried
        except psycopg.errors.LockNotAvailable as exc:
            if tried >= retries:
                exc.add_note(f"retries={tried}")
                raise
            sleep(backoff * (2**tried))
            tried += 1
