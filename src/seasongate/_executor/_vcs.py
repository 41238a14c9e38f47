"""Find the text a migration had when it was applied, in the project's git history.

``repair`` realigns a checksum only when the change since the migration was applied is in
whitespace and comments alone; to know that, it needs the applied text. The history table
holds only Flyway's CRC32 of it, so the text is looked up in git: the newest committed
version of the file whose checksum is the recorded one. No git, no repository, no match:
None, and repair refuses to realign (it never guesses).
"""

from __future__ import annotations

import subprocess
from pathlib import Path

from seasongate._executor._files import _decode, flyway_checksum

_MAX_COMMITS = 200


def _git(args: list[str], cwd: Path) -> bytes | None:
    try:
        done = subprocess.run(["git", *args], cwd=cwd, capture_output=True, timeout=20, check=False)
    except (OSError, subprocess.TimeoutExpired):
        return None
    return done.stdout if done.returncode == 0 else None


def applied_text(path: Path, checksum: int) -> str | None:
    """The newest committed text of ``path`` whose Flyway checksum is ``checksum``, or None."""
    directory = path.parent.resolve()
    top = _git(["rev-parse", "--show-toplevel"], directory)
    if top is None:
        return None
    root = Path(top.decode().strip())
    relative = path.resolve().relative_to(root).as_posix()
    log = _git(["log", f"--max-count={_MAX_COMMITS}", "--format=%H", "--follow", "--", relative], root)
    if log is None:
        return None
    for commit in log.decode().split():
        for name in _names_at(commit, relative, root):
            blob = _git(["show", f"{commit}:{name}"], root)
            if blob is None:
                continue
            try:
                text = _decode(blob)
            except UnicodeDecodeError:
                continue
            if flyway_checksum(text) == checksum:
                return text
    return None


def _names_at(commit: str, relative: str, root: Path) -> list[str]:
    """The file's path in ``commit`` (it may have been renamed since)."""
    names = [relative]
    changed = _git(["show", "--name-only", "--format=", commit], root)
    if changed:
        stem = relative.rsplit("/", 1)[-1].split("__", 1)[0]
        names += [
            n for n in changed.decode().split() if n.rsplit("/", 1)[-1].split("__", 1)[0] == stem and n != relative
        ]
    return names
