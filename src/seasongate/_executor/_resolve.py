"""What ``check -m`` and ``run -m`` name: a version, or a migration or undo file found and read."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from seasongate._errors import InputError
from seasongate._executor._files import read_header
from seasongate._executor._findings import display_path
from seasongate._versions import FILE_RE, Version


@dataclass(frozen=True, slots=True)
class MigrationRef:
    """What ``-m`` names: a version, or a migration or undo file with its header read.

    ``operation`` is ``apply`` for a version or a ``V`` file and ``rollback`` for a ``U`` file;
    ``risk`` and ``duration`` (seconds) come from the file's header (None when not declared or
    no file was named); ``path`` is the file that was read.
    """

    version: Version
    description: str | None
    operation: str
    risk: str | None = None
    duration: int | None = None
    path: Path | None = None


def resolve_migration(ref: str, *, migrations: Path | None = None) -> MigrationRef:
    """Interpret what ``check -m``/``run -m`` were given, failing closed.

    ``V226`` is a version. A path to a ``.sql`` file is read and its header must be valid
    (:func:`read_header`). A bare file name (``V225__communication_core.sql``) is looked up
    in ``migrations`` (default ``./migrations``) and must exist there. A ``U`` file names the
    rollback of its version (operation ``rollback``), never its apply. Raises
    :class:`InputError` or :class:`ConfigError`.
    """
    raw = ref.strip()
    if not raw:
        raise InputError("empty migration reference: give a version such as V226 or a migration file")
    name = raw.replace("\\", "/").rsplit("/", 1)[-1]
    if not name.lower().endswith(".sql"):
        return MigrationRef(Version.parse(name), None, "apply")
    match = FILE_RE.match(name)
    if not match:
        raise InputError(
            f"invalid migration file name {name!r}: expected V<version>__<description>.sql "
            "or U<version>__<description>.sql"
        )
    path = Path(raw)
    if "/" not in raw.replace("\\", "/"):
        folder = migrations if migrations is not None else Path("migrations")
        found = _candidates(folder, name) if folder.is_dir() else []
        if not found and path.exists():
            found = [path]
        if not found:
            raise InputError(f"migration file {name} not found in {display_path(folder)} (give its path)")
        if len(found) > 1:
            raise InputError(f"migration file {name} is ambiguous: {', '.join(display_path(p) for p in found)}")
        path = found[0]
    elif not path.exists() and not path.is_symlink():
        raise InputError(f"migration file {raw} does not exist")
    directives = read_header(path)
    risk, duration = directives.risk, directives.duration
    operation = "apply"
    if match.group("prefix") == "U":
        operation = "rollback"
        sibling = next(iter(_candidates(path.parent, f"V{match.group('version')}__")), None)
        if sibling is not None and risk is None:
            risk = read_header(sibling).risk
    return MigrationRef(
        Version.parse(match.group("version")), match.group("description"), operation, risk, duration, path
    )


def _candidates(folder: Path, name: str) -> list[Path]:
    """Files below ``folder`` called ``name`` (or starting with it, for a ``V<n>__`` prefix)."""
    if name.endswith("__"):
        return sorted(p for p in folder.glob(f"{name}*.sql") if not p.is_dir())
    depth = len(folder.parts)
    return sorted(p for p in folder.rglob(name) if not any(part.startswith(".") for part in p.parts[depth:]))
