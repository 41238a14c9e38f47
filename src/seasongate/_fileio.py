"""Read an input file safely: a regular file, of bounded size, never blocking.

Every file seasongate reads on the gate's path (calendars, policies, migration scripts, health
and configuration files) comes through :func:`read_regular_file`. A FIFO, a device (a symlink
to ``/dev/zero``), a directory or a file larger than the limit is refused at once: opening with
``O_NONBLOCK`` means a FIFO without a writer cannot hang the gate, and the size is checked on
the open descriptor, so a file swapped between a check and the read cannot slip past it.
"""

from __future__ import annotations

import os
import stat
from pathlib import Path

CONFIG_LIMIT = 1024 * 1024
"""The largest configuration file (YAML: calendars, policies, health files) read, in bytes."""


class UnreadableFile(OSError):
    """The path is not a regular file of acceptable size, or cannot be read."""


def read_regular_file(path: Path, *, limit: int) -> bytes:
    """The bytes of ``path``, which must be a regular file of at most ``limit`` bytes."""
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK | getattr(os, "O_CLOEXEC", 0))
    except OSError as exc:
        raise UnreadableFile(f"cannot read file: {exc.strerror or exc}") from exc
    try:
        info = os.fstat(fd)
        if not stat.S_ISREG(info.st_mode):
            raise UnreadableFile(f"not a regular file ({_kind(info.st_mode)}); only regular files are read")
        if info.st_size > limit:
            raise UnreadableFile(f"file is {info.st_size} bytes; the limit is {limit}")
        chunks: list[bytes] = []
        remaining = limit + 1  # one byte more than allowed reveals a file that grew meanwhile
        while remaining > 0:
            chunk = os.read(fd, min(remaining, 1 << 20))
            if not chunk:
                break
            chunks.append(chunk)
            remaining -= len(chunk)
        data = b"".join(chunks)
        if len(data) > limit:
            raise UnreadableFile(f"file grew past the limit of {limit} bytes while being read")
        return data
    except UnreadableFile:
        raise
    except OSError as exc:
        raise UnreadableFile(f"cannot read file: {exc.strerror or exc}") from exc
    finally:
        os.close(fd)


def _kind(mode: int) -> str:
    for test, name in (
        (stat.S_ISFIFO, "a FIFO"),
        (stat.S_ISCHR, "a character device"),
        (stat.S_ISBLK, "a block device"),
        (stat.S_ISDIR, "a directory"),
        (stat.S_ISSOCK, "a socket"),
    ):
        if test(mode):
            return name
    return "not a regular file"


__all__ = ["UnreadableFile", "read_regular_file"]
