"""``seasongate new``: create the next free migration file of a class, and its undo file.

Safe when several people run it at once on one machine or shared folder: the folder is
locked (``flock`` on the directory itself, where the platform has it) while the next number
is chosen, and the files are created with ``O_EXCL`` so nothing is ever overwritten; if a
name is taken anyway, the next number is tried. Teams on different branches can still pick
the same number; ``seasongate lint`` (E002) catches that before merge.
"""

from __future__ import annotations

import os
import re
import unicodedata
from collections.abc import Iterator, Sequence
from contextlib import contextmanager, suppress
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from seasongate._errors import InputError
from seasongate._executor._files import DEFAULT_CLASSES, MAX_MIGRATION_SECONDS
from seasongate._executor._findings import display_path
from seasongate._executor._numbering import load_numbering
from seasongate._policy import MigrationClass
from seasongate._time import format_duration
from seasongate._versions import FILE_RE, Version
from seasongate._vocabulary import RISKS

_UMLAUTS = str.maketrans({"ä": "ae", "ö": "oe", "ü": "ue", "Ä": "Ae", "Ö": "Oe", "Ü": "Ue", "ß": "ss"})
_MAX_TRIES = 1000


@dataclass(frozen=True, slots=True)
class NewMigration:
    """The files ``new`` created."""

    version: Version
    migration_class: str
    path: Path
    undo_path: Path | None

    def to_dict(self) -> dict[str, Any]:
        """JSON form."""
        return {
            "version": str(self.version),
            "class": self.migration_class,
            "path": display_path(self.path),
            "undo_path": None if self.undo_path is None else display_path(self.undo_path),
        }


def slugify(description: str) -> str:
    """``"Communication core (v2)"`` -> ``communication_core_v2``; umlauts are transliterated."""
    text = description.translate(_UMLAUTS)
    text = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode("ascii")
    slug = re.sub(r"[^a-z0-9]+", "_", text.lower()).strip("_")
    if not slug:
        raise InputError(
            f"invalid description {description!r}: it needs letters or digits, e.g. 'add customer credit hold'"
        )
    if len(slug) > 120:
        raise InputError(f"description is too long ({len(slug)} characters, at most 120)")
    return slug


def _class(name: str, classes: Sequence[MigrationClass]) -> MigrationClass:
    for cls in classes:
        if cls.name == name:
            return cls
    known = ", ".join(c.name for c in classes)
    raise InputError(f"unknown migration class {name!r} (known: {known})")


@contextmanager
def _folder_lock(directory: Path) -> Iterator[None]:
    try:
        import fcntl
    except ImportError:  # not on this platform: O_EXCL alone still prevents overwrites
        yield
        return
    fd = os.open(directory, os.O_RDONLY)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        yield
    finally:
        with suppress(OSError):
            fcntl.flock(fd, fcntl.LOCK_UN)
        os.close(fd)


def _taken(directory: Path) -> set[int]:
    out: set[int] = set()
    for path in directory.rglob("*.sql"):
        match = FILE_RE.match(path.name)
        if match:
            out.add(Version.parse(match.group("version")).major)
    return out


def next_version(directory: Path, cls: MigrationClass) -> Version:
    """The next whole version of ``cls`` after the highest one in the folder (skipping
    numbers declared as gaps); the class's lowest version when it has none yet."""
    taken = _taken(directory)
    gaps = load_numbering(directory).ignored_gaps
    in_class = [n for n in taken if cls.contains(Version((n,)))]
    number = max(in_class) + 1 if in_class else cls.low.major
    while number in gaps or number in taken:
        number += 1
    version = Version((number,))
    if not cls.contains(version):
        raise InputError(f"migration class {cls.name} ({cls.describe()}) has no free version left after V{number - 1}")
    return version


def _header(title: str, risk: str | None, duration: int | None, *, transaction: bool) -> str:
    directives = []
    if risk:
        directives.append(f"risk={risk}")
    if duration is not None:
        directives.append(f"duration={format_duration(duration)}")
    if not transaction:
        directives.append("transaction=false")
    lines = [f"-- {title}"]
    if directives:
        lines.append(f"-- seasongate: {' '.join(directives)}")
    else:
        lines.append("-- Optional header directive, e.g.: seasongate: risk=high duration=20m")
    return "\n".join(lines) + "\n"


def create_migration(
    directory: Path,
    description: str,
    *,
    migration_class: str = "production",
    classes: Sequence[MigrationClass] = DEFAULT_CLASSES,
    undo: bool = True,
    risk: str | None = None,
    duration: int | None = None,
    transaction: bool = True,
) -> NewMigration:
    """Create ``V<next>__<slug>.sql`` (and ``U<next>__<slug>.sql``) in ``directory``."""
    slug = slugify(description)
    cls = _class(migration_class, classes)
    if risk is not None and risk not in RISKS:
        raise InputError(f"invalid risk {risk!r} (valid: {', '.join(RISKS)})")
    if duration is not None and not 0 < duration <= MAX_MIGRATION_SECONDS:
        raise InputError(
            f"invalid duration {format_duration(duration)}: longer than zero and at most "
            f"{format_duration(MAX_MIGRATION_SECONDS)}"
        )
    if not directory.is_dir():
        raise InputError(f"migrations folder {display_path(directory)} does not exist")
    title = description.strip().splitlines()[0] if description.strip() else slug
    body = _header(title, risk, duration, transaction=transaction)
    body += "\n-- Write the forward change here; it runs in one transaction unless transaction=false.\n"
    body += "-- A migration without a statement is refused: replace this line with the change.\n"
    with _folder_lock(directory):
        version = next_version(directory, cls)
        for _ in range(_MAX_TRIES):
            number = str(version)[1:]
            path = directory / f"V{number}__{slug}.sql"
            undo_path = directory / f"U{number}__{slug}.sql" if undo else None
            try:
                _exclusive_write(path, body)
            except FileExistsError:
                version = Version((version.major + 1,))
                continue
            if undo_path is not None:
                try:
                    _exclusive_write(undo_path, f"-- Undo of {path.name}: revert exactly what it does.\n\n")
                except FileExistsError as exc:
                    path.unlink()
                    raise InputError(
                        f"{display_path(undo_path)} already exists; remove it or pick another description"
                    ) from exc
            return NewMigration(version, cls.name, path, undo_path)
    raise InputError(f"could not find a free version in {cls.name} ({cls.describe()})")


def _exclusive_write(path: Path, text: str) -> None:
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o644)
    try:
        os.write(fd, text.encode("utf-8"))
    finally:
        os.close(fd)
