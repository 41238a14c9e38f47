"""Migration versions: ``V226``, ``V2.1``, file names like ``V226__communication_core.sql``.

A version is compared as a tuple of integers, so ``V2.10 > V2.9`` and ``V10000 > V9999``.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import total_ordering

from seasongate._errors import InputError

# ASCII digits only: int() would also read "٣" (Arabic-Indic three) as 3.
_VERSION_RE = re.compile(r"^[Vv]?([0-9]+(?:[._][0-9]+)*)$")
MAX_PART_DIGITS = 18  # a part fits a 64-bit integer (PostgreSQL bigint, Flyway's version parts)
MAX_PARTS = 8
FILE_RE = re.compile(r"^(?P<prefix>[VU])(?P<version>[0-9]+(?:[._][0-9]+)*)__(?P<description>.+)\.sql$")


@total_ordering
@dataclass(frozen=True, slots=True)
class Version:
    """A migration version; ``str(v)`` gives ``V226`` or ``V2.1``."""

    parts: tuple[int, ...]

    @classmethod
    def parse(cls, text: str | int) -> Version:
        """Parse ``V226``, ``226``, ``V2.1`` or ``V2_1``: at most 8 parts of at most 18 digits."""
        raw = str(text).strip()
        digits = raw[1:] if raw[:1] in ("V", "v") else raw
        if digits.isascii() and digits.isdigit() and len(digits) <= MAX_PART_DIGITS:
            return cls((int(digits),))  # the common case, V226 or 226, without the regular expressions
        shown = raw if len(raw) <= 40 else f"{raw[:20]}...({len(raw)} characters)"
        match = _VERSION_RE.match(raw) if len(raw) <= (MAX_PART_DIGITS + 1) * MAX_PARTS + 1 else None
        if not match:
            limit = f"at most {MAX_PARTS} parts of at most {MAX_PART_DIGITS} digits"
            raise InputError(f"invalid migration version {shown!r}: use V<number>, e.g. V226 or V2.1 ({limit})")
        parts = re.split(r"[._]", match.group(1))
        if len(parts) > MAX_PARTS or any(len(p) > MAX_PART_DIGITS for p in parts):
            raise InputError(
                f"invalid migration version {shown!r}: at most {MAX_PARTS} parts of at most {MAX_PART_DIGITS} digits"
            )
        return cls(tuple(int(p) for p in parts))

    @property
    def major(self) -> int:
        """The leading number, which decides the migration class."""
        return self.parts[0]

    def __lt__(self, other: object) -> bool:
        if not isinstance(other, Version):
            return NotImplemented
        return self.parts < other.parts

    def __str__(self) -> str:
        if not self.parts:
            return "R"  # a repeatable migration (R__name.sql) has no version: REPEATABLE
        return "V" + ".".join(str(p) for p in self.parts)

    @property
    def repeatable(self) -> bool:
        """Whether this is :data:`REPEATABLE`, the version of every ``R__`` script."""
        return not self.parts


def parse_migration_ref(text: str) -> tuple[Version, str | None]:
    """Parse what ``--migration`` accepts: a file name/path or a version.

    Returns the version and, for a file name, its description.
    """
    raw = text.strip().replace("\\", "/")
    name = raw.rsplit("/", 1)[-1]
    if "/" in raw and name.lower().endswith(".sql"):
        from pathlib import Path

        if not Path(text.strip()).is_file():
            raise InputError(f"migration file {text.strip()} does not exist")
    match = FILE_RE.match(name)
    if match:
        return Version.parse(match.group("version")), match.group("description")
    if name.lower().endswith(".sql"):
        raise InputError(f"invalid migration file name {name!r}: expected V<version>__<description>.sql")
    return Version.parse(name), None


REPEATABLE = Version(())
"""The "version" of a repeatable migration (``R__name.sql``): sorts before every version and
shows as ``R``; the history records NULL, as Flyway does."""
