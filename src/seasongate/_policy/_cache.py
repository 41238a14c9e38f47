"""A cache of compiled policies and expanded calendars, keyed by the files' contents.

``seasongate check`` runs on every pipeline's critical path, usually on a fresh CI runner. A
warm check reads the policy files, hashes them and the calendar files the chosen one depends
on, and reads which file covers the environment and the compiled policy with its expanded
calendars back: no YAML parsing, no pydantic, no ``holidays`` import.

**What the key is.** The entry is named by a hash of seasongate's version, the contents of
the modules whose objects are stored, the policy file's shown path and its bytes; it lists
the calendar files (relative to the policy's folder) with their BLAKE2b digest, checked on every
read. No modification time, absolute path or working directory enters, so a cache folder
restored by CI, a new virtualenv or a second checkout of the same files hit.

**Why it cannot run code.** The entry is JSON of strings, numbers and lists, decoded by a
small tagged codec (``_codec``) that can only build seasongate's own frozen dataclasses (from the policy
and calendar packages, by their fields) and a few value types (dates, times, zones). A
corrupt, foreign or tampered entry fails to decode or to match its key and is ignored and
rebuilt; it is never executed. (Whoever can write the cache folder can still make the gate
answer from other data, as whoever can write the policy files can: keep it the user's own.)

The cache lives in ``$SEASONGATE_CACHE_DIR`` or ``$XDG_CACHE_HOME/seasongate`` (default
``~/.cache/seasongate``), created with mode 0700; entries that the user does not own are
ignored. Failing to write the cache never fails a command.
"""

from __future__ import annotations

import json
import os
import sys
from collections.abc import Callable, Iterator, Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from seasongate._fileio import CONFIG_LIMIT
from seasongate._policy._codec import decode, encode
from seasongate._policy._engine import Policy

if TYPE_CHECKING:
    from seasongate._calendar import Calendar, CalendarIndex

FORMAT = 8  # the layout of an entry; the modules' contents are part of the key as well
MAX_ENTRY_BYTES = 256 * 1024 * 1024
_PACKAGE = Path(__file__).resolve().parent.parent
# Modules whose objects an entry holds (and api/_project.py, which decides what a policy file
# claims): their contents are part of the key.
_SHAPING = ("_policy", "_calendar", "_intervals.py", "_versions.py", "_time.py", "_errors.py", "_vocabulary.py",
            "_yaml.py", "api/_project.py")  # fmt: skip


def cache_dir() -> Path:
    """Where cached policies live."""
    explicit = os.environ.get("SEASONGATE_CACHE_DIR")
    if explicit:
        return Path(explicit)
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "seasongate"


def _read(path: Path, limit: int) -> bytes | None:
    from seasongate._fileio import UnreadableFile, read_regular_file

    try:
        return read_regular_file(path, limit=limit)
    except UnreadableFile:
        return None


def _hasher(data: bytes = b"") -> Any:
    """A BLAKE2b-256 hasher (cryptographic, like SHA-256, and as fast as OpenSSL's SHA-256).
    CPython's built-in ``_blake2`` spares the check the ~5 ms ``hashlib`` spends loading
    OpenSSL; its own ``_sha256`` would be seven times slower on a large calendar."""
    try:
        from _blake2 import blake2b
    except ImportError:  # another interpreter
        from hashlib import blake2b
    return blake2b(data, digest_size=32)


def _digest(path: Path) -> str | None:
    data = _read(path, CONFIG_LIMIT)
    return None if data is None else str(_hasher(data).hexdigest())


_CODE_DIGEST: list[str] = []  # computed once per process


def _code_digest() -> str:
    """A digest of the source of the modules whose objects are stored: a changed seasongate
    never reads an entry written by other code, and the same code on another machine does."""
    if _CODE_DIGEST:
        return _CODE_DIGEST[0]
    digest = _hasher()
    for name in _SHAPING:
        target = _PACKAGE / name
        modules = (
            [target / f for f in sorted(os.listdir(target)) if f.endswith(".py")] if target.is_dir() else [target]
        )
        for module in modules:
            try:
                source = module.read_bytes()
            except OSError:
                source = b"?"  # installed without sources: the version alone tells the code apart
            digest.update(module.name.encode() + b"\0" + source + b"\0")
    _CODE_DIGEST.append(str(digest.hexdigest()))
    return _CODE_DIGEST[0]


def _version_and_code() -> str:
    """seasongate's version, the digest of its entry-shaping code and Python's version."""
    from seasongate._version import __version__ as ours

    return f"{ours}\0{_code_digest()}\0{sys.version_info[0]}.{sys.version_info[1]}"


def entry_key(shown_path: str, policy_bytes: bytes) -> str:
    """The key of a policy's entry: format, version, code, the policy's shown path and bytes."""
    key = _hasher()
    for part in (str(FORMAT), _version_and_code(), shown_path):
        key.update(part.encode() + b"\0")
    key.update(policy_bytes)
    return str(key.hexdigest())


def load_policy_cached(path: str | Path) -> Policy:
    """Like ``load_policy``, served from the cache when no file involved has changed."""
    from seasongate._calendar import display_path
    policy_path = Path(path)
    raw = _read(policy_path, CONFIG_LIMIT)
    if raw is None:
        return _parse(policy_path)  # let the loader report the problem
    key = entry_key(display_path(policy_path), raw)
    entry = cache_dir() / f"policy-{key[:32]}.json"
    found = _load_entry(entry, key, policy_path)
    hit = found is not None
    if found is None:
        policy = _parse(policy_path)
        deps = _dependencies(policy, policy_path)
    else:
        policy, deps = found

    def save(updated: Policy) -> None:
        _write(entry, key, deps, updated, policy_path)

    policy.on_new_index = save
    if not hit:
        save(policy)
    return policy


def _parse(policy_path: Path) -> Policy:
    from seasongate._policy import _load  # the YAML and pydantic path: only on a miss

    return _load.load_policy(policy_path)


# -- which policy file covers which environment -------------------------------------------------


def discover_cached(
    files: Sequence[tuple[str, bytes]], discover: Callable[[], Mapping[str, str]]
) -> dict[str, str]:
    """Environment -> file name for a policy folder whose files (name, bytes) are ``files``:
    served from the cache when a folder with exactly these names and contents was read
    before, else ``discover()`` (which parses every file and raises on a broken one or an
    environment claimed twice; only its successful answer is stored, so a broken folder is
    parsed, and refused, every time)."""
    key = _hasher()
    for part in (f"claims {FORMAT}", _version_and_code()):
        key.update(part.encode() + b"\0")
    for name, data in files:
        key.update(name.encode() + b"\0" + str(len(data)).encode() + b"\0" + data)
    hexkey = str(key.hexdigest())
    entry = cache_dir() / f"claims-{hexkey[:32]}.json"
    names = {name for name, _ in files}
    document = _read_document(entry, hexkey)
    owner = document.get("owner") if document is not None else None
    if isinstance(owner, dict) and all(isinstance(e, str) and v in names for e, v in owner.items()):
        return dict(owner)
    found = dict(discover())
    _write_document(entry, {"format": FORMAT, "key": hexkey, "owner": found})
    return found


# -- dependencies ------------------------------------------------------------------------------


def _real_path(shown: str) -> Path:
    from seasongate._calendar import source_path

    return source_path(shown)


def _dependencies(policy: Policy, policy_path: Path) -> list[tuple[str, str | None]]:
    """Each calendar file the policy read, relative to the policy's folder, with its digest."""
    base = policy_path.resolve().parent
    files: list[Path] = []
    for calendar in policy.calendars.values():
        files.extend(_real_path(f).resolve() for f in calendar.files)
    out = []
    for file in dict.fromkeys(files):
        out.append((os.path.relpath(file, base), _digest(file)))
    return out


def _calendar_paths(policy: Policy, policy_path: Path) -> dict[str, str]:
    base = policy_path.resolve().parent
    return {
        code: os.path.relpath(_real_path(calendar.path).resolve(), base) for code, calendar in policy.calendars.items()
    }


class _SourceCalendars(Mapping[str, "Calendar"]):
    """The policy's calendars, loaded from their (unchanged, checked) files on first use: a
    check whose years are in the stored indexes never needs them."""

    def __init__(self, paths: dict[str, Path]) -> None:
        self._paths = paths
        self._loaded: dict[str, Calendar] | None = None

    def _all(self) -> dict[str, Calendar]:
        if self._loaded is None:
            from seasongate._calendar import load_calendar

            self._loaded = {code: load_calendar(path) for code, path in self._paths.items()}
        return self._loaded

    def __getitem__(self, code: str) -> Calendar:
        return self._all()[code]

    def __iter__(self) -> Iterator[str]:
        return iter(self._paths)

    def __len__(self) -> int:
        return len(self._paths)

    def __contains__(self, code: object) -> bool:
        return code in self._paths


# -- reading and writing entries ---------------------------------------------------------------


def _read_document(entry: Path, key: str) -> dict[str, Any] | None:
    """The entry at ``entry`` when it is ours, of this format and for ``key``; else None."""
    try:
        stat = entry.stat()
    except OSError:
        return None
    if hasattr(os, "getuid") and stat.st_uid != os.getuid():
        return None
    data = _read(entry, MAX_ENTRY_BYTES)
    if data is None:
        return None
    try:
        document = json.loads(data)
        if not isinstance(document, dict) or document["format"] != FORMAT or document["key"] != key:
            return None
    except (ValueError, KeyError, TypeError):
        return None
    return document


def _intact(document: dict[str, Any], base: Path) -> bool:
    """Whether every file the entry was built from still has the recorded digest."""
    try:
        return all(_digest(base / str(relative)) == digest for relative, digest in document["deps"])
    except (KeyError, TypeError, ValueError):
        return False


def _load_entry(entry: Path, key: str, policy_path: Path) -> tuple[Policy, list[tuple[str, str | None]]] | None:
    """The stored policy and the files it was built from, when they are unchanged."""
    document = _read_document(entry, key)
    base = policy_path.parent
    if document is None or not _intact(document, base):
        return None
    try:
        state = decode(document["policy"])
        if not isinstance(state, dict):
            return None
        state["calendars"] = _SourceCalendars({code: base / rel for code, rel in document["calendars"].items()})
        policy = Policy.__new__(Policy)
        policy.__setstate__(state)
        deps: list[tuple[str, str | None]] = [(str(relative), digest) for relative, digest in document["deps"]]
    except (ValueError, KeyError, TypeError, AttributeError, IndexError, RecursionError):
        return None  # not ours, or not intact: rebuilt from the files
    return policy, deps


def _write(entry: Path, key: str, deps: list[tuple[str, str | None]], policy: Policy, policy_path: Path) -> None:
    state = policy.__getstate__()
    state.pop("calendars", None)
    try:
        document = {
            "format": FORMAT,
            "key": key,
            "deps": deps,
            "calendars": _calendar_paths(policy, policy_path),
            "policy": encode(state),
        }
    except TypeError:
        return  # a value the codec does not know: this policy is not cached (only costs speed)
    _write_document(entry, document)


def _write_document(entry: Path, document: dict[str, Any]) -> None:
    data = json.dumps(document, separators=(",", ":"), ensure_ascii=False).encode()
    try:
        entry.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
        tmp = entry.parent / f".tmp-{os.getpid()}-{os.urandom(6).hex()}"
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_CLOEXEC", 0), 0o600)
        try:
            with os.fdopen(fd, "wb") as fh:
                fh.write(data)
            os.replace(tmp, entry)
        except OSError:
            tmp.unlink(missing_ok=True)
            raise
    except OSError:
        pass  # a cache that cannot be written only costs speed


# -- calendars on their own (``windows``) ---------------------------------------------------------

KEPT_SPANS = 4  # year ranges kept per calendar entry


def expand_calendar_cached(path: str | Path, first_year: int, last_year: int) -> tuple[Calendar, CalendarIndex]:
    """The calendar at ``path`` and its index for ``first_year``-``last_year``, served from the
    cache when none of its files changed (``windows`` answers without parsing or expanding)."""
    from seasongate._calendar import Calendar, CalendarIndex, build_index, display_path, load_calendar
    calendar_path = Path(path)
    raw = _read(calendar_path, CONFIG_LIMIT)
    if raw is None:
        calendar = load_calendar(calendar_path)  # the loader reports the problem
        return calendar, build_index(calendar, first_year, last_year)
    key = entry_key("calendar:" + display_path(calendar_path), raw)
    entry = cache_dir() / f"calendar-{key[:32]}.json"
    base = calendar_path.parent
    span = f"{first_year}-{last_year}"
    found: Any = None
    indexes: dict[str, Any] = {}
    document = _read_document(entry, key)
    if document is not None and _intact(document, base):
        try:
            found = decode(document["calendar"])
            indexes = dict(document["indexes"])
            if span in indexes:
                index = decode(indexes[span])
                if isinstance(found, Calendar) and isinstance(index, CalendarIndex):
                    return found, index
        except (ValueError, KeyError, TypeError, AttributeError, IndexError, RecursionError):
            found, indexes = None, {}
    calendar = found if isinstance(found, Calendar) else load_calendar(calendar_path)
    if calendar is not found:
        indexes = {}
    index = build_index(calendar, first_year, last_year)
    indexes.pop(span, None)
    try:
        indexes[span] = encode(index)
        resolved = base.resolve()
        deps = [(os.path.relpath(_real_path(f).resolve(), resolved), _digest(_real_path(f))) for f in calendar.files]
        document = {
            "format": FORMAT,
            "key": key,
            "deps": deps,
            "calendar": encode(calendar),
            "indexes": dict(list(indexes.items())[-KEPT_SPANS:]),
        }
    except TypeError:
        return calendar, index
    _write_document(entry, document)
    return calendar, index
