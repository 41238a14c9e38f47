"""Repeatable migrations (``R__<description>.sql``): read, checksummed as Flyway does.

A repeatable is re-applied whenever its checksum changes. The checksum recorded and compared
is Flyway's CRC32 of the text *after* placeholder replacement (:func:`repeatable_checksum`),
so a changed placeholder value re-applies it; a versioned script's is that of the raw file.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path

from seasongate._errors import MigrationError
from seasongate._executor._files import Directives, flyway_checksum, parse_directives, sha256_of
from seasongate._executor._findings import Finding, display_path
from seasongate._executor._names import REPEATABLE_RE
from seasongate._executor._script import ScriptFile, UnreadableScript, script_text


@dataclass(frozen=True, slots=True)
class RepeatableScript(ScriptFile):
    """A repeatable migration ``R__<description>.sql``: re-applied whenever its checksum changes.

    ``checksum`` is Flyway's CRC32 of the raw file; the checksum recorded and compared is that
    of the text after placeholder replacement (:func:`repeatable_checksum`).
    """

    path: Path
    description: str
    sql: str = field(repr=False)
    checksum: int
    sha256: str
    directives: Directives


def read_text(path: Path) -> str:
    """A script's text (a regular file of at most 64 MiB, UTF-8, a leading BOM dropped); one
    that cannot be read is a :class:`MigrationError` naming it."""
    try:
        return script_text(path)
    except UnreadableScript as exc:
        raise MigrationError(f"{display_path(path)}: {exc}") from exc


def repeatable_checksum(text_after_placeholders: str) -> int:
    """The checksum Flyway records for a repeatable: CRC32 of the text after placeholders."""
    return flyway_checksum(text_after_placeholders)


def read_repeatable(path: Path, text: str) -> tuple[RepeatableScript | None, list[Finding]]:
    """A repeatable script from its (already decoded) text; not an ``R__`` name: ``None``."""
    match = REPEATABLE_RE.match(path.name)
    if not match:
        return None, []
    directives, findings = parse_directives(text, display_path(path))
    return (
        RepeatableScript(path, match.group("description"), text, flyway_checksum(text), sha256_of(text), directives),
        findings,
    )


def read_repeatables(
    paths: Iterable[Path], decode: Callable[[Path], str]
) -> tuple[list[RepeatableScript], list[Finding]]:
    """Read every ``R__`` script among ``paths`` (``decode(path) -> str`` reads one file); two
    with one title are an error finding (E002) naming both."""
    out: list[RepeatableScript] = []
    findings: list[Finding] = []
    seen: dict[str, Path] = {}
    for path in sorted(paths, key=lambda p: (p.name, str(p))):
        if not REPEATABLE_RE.match(path.name):
            continue
        script, problems = read_repeatable(path, decode(path))
        findings.extend(problems)
        if script is None:
            continue
        other = seen.get(script.title)
        if other is not None:
            findings.append(
                Finding(
                    display_path(path), 0, "E002", f"duplicate repeatable {script.name}: also {display_path(other)}"
                )
            )
            continue
        seen[script.title] = path
        out.append(script)
    return out, findings
