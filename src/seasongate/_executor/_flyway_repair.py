"""Flyway's ``repair``, planned: which failed rows go, which missing migrations are marked
deleted, which checksums are realigned.

Pure: the plan is computed from the states of ``_flyway_info`` and the applied texts; it is
carried out on a connection by ``_flyway_db.apply_repair``. Unlike Flyway, a checksum is
realigned only when the file changed in whitespace and comments alone (:func:`sql_fingerprint`).
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from seasongate._executor._files import MigrationScript
from seasongate._executor._flyway_info import FUTURE, MISSING, SUCCESS, FlywayInfo
from seasongate._executor._plan import HistoryRow
from seasongate._executor._sql import _skip_block_comment


@dataclass(frozen=True, slots=True)
class Realignment:
    """An applied row whose checksum repair sets to the file's (the file changed only in form)."""

    row: HistoryRow
    script: str
    checksum: int
    sha256: str | None = None  # the file's, for the side table of a row seasongate wrote


@dataclass(frozen=True, slots=True)
class RepairPlan:
    """What ``repair`` would do: remove failed rows, mark the applied rows of missing files
    deleted (``delete``), realign checksums; ``refused`` lists the changed files it will not
    realign (their SQL changed, or the applied text is unknown)."""

    remove: tuple[HistoryRow, ...]
    realign: tuple[Realignment, ...]
    refused: tuple[str, ...]
    delete: tuple[HistoryRow, ...] = ()

    @property
    def empty(self) -> bool:
        """Nothing to do."""
        return not self.remove and not self.realign and not self.delete

    @property
    def touched(self) -> tuple[HistoryRow, ...]:
        """Every row whose migration's record this repair changes."""
        return (*self.remove, *self.delete, *(a.row for a in self.realign))

    def to_dict(self) -> dict[str, Any]:
        """JSON form."""
        return {
            "remove": [r.to_dict() for r in self.remove],
            "delete": [r.to_dict() for r in self.delete],
            "realign": [
                {"installed_rank": a.row.installed_rank, "script": a.script, "from": a.row.checksum, "to": a.checksum}
                for a in self.realign
            ],
            "refused": list(self.refused),
        }


def plan_repair(
    info: FlywayInfo,
    rows: Sequence[HistoryRow],
    migrations: Sequence[MigrationScript],
    originals: Mapping[str, str | None],
) -> RepairPlan:
    """Decide what ``repair`` does.

    Failed rows (``success = false``) are removed, as Flyway's ``removeFailedMigrations`` does.
    An applied migration whose file is gone (Missing, or Future: repair must see the same
    folder as migrate) is marked deleted, as Flyway's ``deleteMissingMigrations`` does: a
    ``DELETE`` row is added, the applied row stays.
    A checksum mismatch is realigned only when the applied text is known (``originals`` maps
    the script name to the text whose Flyway checksum is the recorded one, e.g. found in git)
    and the two texts differ in whitespace and comments only; otherwise it is refused, named.
    """
    remove = tuple(r for r in sorted(rows, key=lambda r: r.installed_rank) if not r.success)
    delete = tuple(e.row for e in info.entries if e.state in (MISSING, FUTURE) and e.row is not None)
    files = {m.version: m for m in migrations}
    realign: list[Realignment] = []
    refused: list[str] = []
    for entry in info.entries:
        if entry.category != "Versioned" or entry.state != SUCCESS or entry.problem is None or entry.row is None:
            continue
        script = files.get(entry.version) if entry.version is not None else None
        if script is None:
            continue
        original = originals.get(script.name)
        if original is None:
            refused.append(
                f"{script.name}: the applied text (checksum {entry.row.checksum}) is not known, so seasongate "
                "cannot tell a cosmetic change from a real one; restore the file from version control"
            )
            continue
        if sql_fingerprint(original) != sql_fingerprint(script.sql):
            refused.append(
                f"{script.name}: changed beyond whitespace and comments since it was applied (checksum "
                f"{entry.row.checksum} -> {script.checksum}); restore it and put the change in a new migration"
            )
            continue
        realign.append(Realignment(entry.row, script.name, script.checksum, script.sha256))
    return RepairPlan(remove, tuple(realign), tuple(refused), delete)


_TOKEN = re.compile(
    r"""
    (?P<space>\s+)
  | (?P<line>--[^\n]*)
  | (?P<block>/\*)
  | (?P<dollar>\$(?:[^\W\d]\w*)?\$)
  | (?P<string>[eE]?'(?:[^']|'')*')
  | (?P<ident>"(?:[^"]|"")*")
  | (?P<word>\w+|[^\s\w'"])
    """,
    re.VERBOSE,
)


def sql_fingerprint(text: str) -> tuple[str, ...]:
    """The tokens of a script with whitespace and comments dropped: two scripts with the same
    fingerprint differ only in layout and comments. String literals, quoted identifiers and
    dollar-quoted bodies are kept verbatim (a space inside them is a real change)."""
    if text.startswith("\ufeff"):
        text = text[1:]
    out: list[str] = []
    i = 0
    n = len(text)
    while i < n:
        if text.startswith("/*", i):  # nested, as PostgreSQL nests them
            i = _skip_block_comment(text, i)
            out.append(" ")
            continue
        match = _TOKEN.match(text, i)
        if match is None:  # an unterminated quote: keep the rest verbatim
            out.append(text[i:])
            break
        kind = match.lastgroup
        token = match.group(0)
        if kind == "dollar":
            close = text.find(token, match.end())
            end = n if close < 0 else close + len(token)
            out.append(text[i:end])
            i = end
            continue
        i = match.end()
        if kind in ("space", "line"):
            out.append(" ")
        else:
            out.append(token)
    # Adjacent word pieces separated by nothing stay joined; a separator matters only between
    # two word characters (``a b`` is not ``ab``), so collapse separators to one marker.
    tokens: list[str] = []
    gap = False
    for piece in out:
        if piece == " ":
            gap = True
            continue
        if gap and tokens and _wordy(tokens[-1][-1]) and _wordy(piece[0]):
            tokens.append(" ")
        tokens.append(piece)
        gap = False
    return tuple(tokens)


def _wordy(ch: str) -> bool:
    return ch.isalnum() or ch in "_$"
