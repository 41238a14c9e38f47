"""A cache of compiled policies and expanded calendars, keyed by the files' contents.

``seasongate check`` runs on every pipeline's critical path. A warm check reads the policy
file, hashes it and the calendar files it depends on, and unpickles the compiled policy with
its expanded calendars: no YAML parsing, no pydantic, no ``holidays`` import.

The cache lives in ``$SEASONGATE_CACHE_DIR`` or ``$XDG_CACHE_HOME/seasongate`` (default
``~/.cache/seasongate``), a directory of the user's own (mode 0700); files that the user does
not own are ignored. Any change to any file involved is a miss. Failing to write the cache
never fails a command.
"""

from __future__ import annotations

import hashlib
import os
import pickle
import sys
import tempfile
from pathlib import Path

from seasongate._policy._engine import Policy

FORMAT = 5  # bump when the pickled classes change shape (the code signature catches the rest)


def cache_dir() -> Path:
    """Where cached policies live."""
    explicit = os.environ.get("SEASONGATE_CACHE_DIR")
    if explicit:
        return Path(explicit)
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "seasongate"


def _digest(path: Path) -> str | None:
    try:
        return hashlib.sha256(path.read_bytes()).hexdigest()
    except OSError:
        return None


def _entry_path(policy_path: Path, policy_bytes: bytes) -> Path:
    from seasongate._version import __version__ as ours

    key = hashlib.sha256()
    for part in (str(FORMAT), ours, _code_signature(), sys.version, str(policy_path.resolve()), os.getcwd()):
        key.update(part.encode() + b"\0")
    key.update(policy_bytes)
    return cache_dir() / f"policy-{key.hexdigest()[:32]}.pickle"


def _code_signature() -> str:
    """Size and mtime of the modules whose objects are pickled: a changed or reinstalled
    seasongate never reads a cache written by other code (cheap: a few stat calls)."""
    package = Path(__file__).resolve().parent.parent
    parts = []
    for sub in ("_policy", "_calendar"):
        for module in sorted((package / sub).glob("*.py")):
            stat = module.stat()
            parts.append(f"{module.name}:{stat.st_size}:{stat.st_mtime_ns}")
    for name in ("_intervals.py", "_versions.py", "_time.py"):
        stat = (package / name).stat()
        parts.append(f"{name}:{stat.st_size}:{stat.st_mtime_ns}")
    return ";".join(parts)


def _dependencies(policy: Policy, policy_path: Path) -> list[tuple[str, str | None]]:
    files = [str(policy_path.resolve())]
    for calendar in policy.calendars.values():
        files.extend(str(Path(f).resolve()) for f in calendar.files)
    return [(f, _digest(Path(f))) for f in dict.fromkeys(files)]


def load_policy_cached(path: str | Path) -> Policy:
    """Like ``load_policy``, served from the cache when no file involved has changed."""
    from seasongate._policy._load import load_policy

    policy_path = Path(path)
    try:
        raw = policy_path.read_bytes()
    except OSError:
        return load_policy(policy_path)  # let the loader report the problem
    entry = _entry_path(policy_path, raw)
    policy = _read(entry)
    if policy is None:
        policy = load_policy(policy_path)
    deps = _dependencies(policy, policy_path)

    def save(updated: Policy) -> None:
        _write(entry, (FORMAT, deps, updated))

    policy.on_new_index = save
    if not entry.exists():
        save(policy)
    return policy


def _read(entry: Path) -> Policy | None:
    try:
        stat = entry.stat()
        if hasattr(os, "getuid") and stat.st_uid != os.getuid():
            return None
        with entry.open("rb") as fh:
            fmt, deps, policy = pickle.load(fh)
    except (OSError, EOFError, pickle.UnpicklingError, ValueError, TypeError, AttributeError, ImportError):
        return None
    if fmt != FORMAT or not isinstance(policy, Policy):
        return None
    for file, digest in deps:
        if _digest(Path(file)) != digest:
            return None
    return policy


def _write(entry: Path, payload: object) -> None:
    try:
        entry.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=entry.parent, prefix=".tmp-", suffix=".pickle")
        with os.fdopen(fd, "wb") as fh:
            pickle.dump(payload, fh, protocol=pickle.HIGHEST_PROTOCOL)
        os.replace(tmp, entry)
    except OSError:
        pass  # a cache that cannot be written only costs speed
