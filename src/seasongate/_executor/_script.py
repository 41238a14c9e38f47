"""A script file of the migrations folder, as every kind of it (``V``, ``U``, ``R``, callback)
is read: what its file name tells (:class:`ScriptFile`) and its text (:func:`script_text`).

One copy for every kind, so that a repeatable script, a callback and a versioned migration
are named, titled and decoded alike.
"""

from __future__ import annotations

from pathlib import Path

from seasongate._fileio import UnreadableFile, read_regular_file

MAX_SCRIPT_BYTES = 64 * 1024 * 1024
"""The largest script read (a larger file is refused, never read in part)."""


class ScriptFile:
    """What a script knows from its file name; mixed into the script dataclasses, which
    supply ``path`` and ``description`` (the part of the name after ``__``)."""

    __slots__ = ()
    path: Path
    description: str

    @property
    def name(self) -> str:
        """The file name, ``V225__communication_core.sql`` (Flyway's ``script``)."""
        return self.path.name

    @property
    def title(self) -> str:
        """The description as Flyway shows and stores it: underscores become spaces."""
        return self.description.replace("_", " ")


class UnreadableScript(Exception):
    """A script that is not a regular file, too large, or not UTF-8 (the message says which)."""


def decode_text(data: bytes) -> str:
    """A script's bytes as text: UTF-8, a leading BOM dropped (Flyway drops it too)."""
    text = data.decode("utf-8")
    return text[1:] if text.startswith("\ufeff") else text


def script_text(path: Path) -> str:
    """The text of the script at ``path``; :class:`UnreadableScript` says why it cannot be read."""
    try:
        return decode_text(read_regular_file(path, limit=MAX_SCRIPT_BYTES))
    except UnicodeDecodeError as exc:
        raise UnreadableScript(f"not UTF-8 text ({exc.reason} at byte {exc.start})") from exc
    except UnreadableFile as exc:
        raise UnreadableScript(str(exc)) from exc
