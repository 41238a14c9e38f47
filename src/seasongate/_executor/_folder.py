"""The migrations folder: every migration and undo script in it, checked together.

A folder holds ``V<version>__<description>.sql`` migrations and, optionally, their undo scripts
``U<version>__<description>.sql`` (any subfolder, hidden ones skipped), plus an optional
``numbering.yaml`` (:mod:`._numbering`) that declares intentional gaps. Repeatable scripts and
callbacks in it are read by the Flyway layer.
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from seasongate._errors import InputError
from seasongate._executor._files import DEFAULT_CLASSES, MigrationScript, classify, read_script
from seasongate._executor._findings import Finding, display_path
from seasongate._executor._names import is_callback, is_repeatable
from seasongate._executor._numbering import NUMBERING_FILE, Numbering, load_numbering
from seasongate._policy import MigrationClass
from seasongate._versions import FILE_RE, Version


@dataclass(frozen=True, slots=True)
class MigrationFolder:
    """Everything in a migrations folder, with the structural problems found while reading.

    ``migrations`` is sorted by version and holds one script per version (the first of a
    duplicate pair, which is reported as E002); ``undo`` maps versions to the undo scripts that
    were read, ``undo_paths`` to every undo file found (a folder scanned with
    ``read_undo=False`` reads none: :meth:`undo_script` reads one when it is needed).
    ``beside`` lists the repeatable scripts and callbacks found (the Flyway layer reads them),
    so that the folder is listed once.
    """

    directory: Path
    migrations: tuple[MigrationScript, ...]
    undo: Mapping[Version, MigrationScript]
    numbering: Numbering
    classes: tuple[MigrationClass, ...]
    findings: tuple[Finding, ...]
    undo_paths: Mapping[Version, Path] = field(default_factory=dict)
    beside: tuple[Path, ...] = ()

    def undo_script(self, version: Version) -> tuple[MigrationScript | None, tuple[Finding, ...]]:
        """The undo script of ``version``; read now, with its findings, when the scan did not
        read it (a script the scan read has its findings in :attr:`findings`). (None, ()) when
        there is none."""
        script = self.undo.get(version)
        if script is not None:
            return script, ()
        path = self.undo_paths.get(version)
        if path is None:
            return None, ()
        read, findings = read_script(path)
        return read, tuple(findings)

    def by_version(self) -> dict[Version, MigrationScript]:
        """The migrations keyed by version."""
        return {m.version: m for m in self.migrations}

    @property
    def blocking(self) -> tuple[Finding, ...]:
        """The findings that stop ``migrate`` (naming, duplicates, gaps, directives)."""
        return tuple(f for f in self.findings if f.blocking)

    def gaps(self) -> list[tuple[int, bool]]:
        """Every whole version missing between two migrations of one class, and whether
        it is declared in ``numbering.yaml``."""
        majors: dict[str, set[int]] = {}
        for script in self.migrations:
            cls = classify(script.version, self.classes)
            if cls is not None:
                majors.setdefault(cls.name, set()).add(script.version.major)
        out: list[tuple[int, bool]] = []
        for present in majors.values():
            low, high = min(present), max(present)
            out.extend((n, n in self.numbering.ignored_gaps) for n in range(low + 1, high) if n not in present)
        return sorted(out)


def sql_files(directory: Path) -> list[Path]:
    """Every ``.sql`` entry below ``directory`` that is not a directory (hidden folders and
    files skipped; symbolic links to folders not followed), by name. Not only regular files:
    a FIFO or device named like a migration is an error (E014), never silently skipped."""
    # (name, path text, folder): sorted as text; each Path is made as its folder's child,
    # which parses only the name (a folder of 4,000 scripts made 4,000 full parses).
    found: list[tuple[str, str, Path]] = []
    pending = [directory]
    while pending:
        folder = pending.pop()
        try:
            listing = os.scandir(folder)
        except PermissionError:
            continue  # as pathlib's rglob: a folder that cannot be listed holds nothing
        with listing as entries:
            for entry in entries:
                if entry.name.startswith("."):
                    continue
                if entry.is_dir():
                    if not entry.is_symlink():
                        pending.append(folder / entry.name)
                elif entry.name.lower().endswith(".sql"):
                    found.append((entry.name, entry.path, folder))
    return [folder / name for name, _, folder in sorted(found, key=lambda f: f[:2])]


def scan(
    directory: Path, *, classes: Sequence[MigrationClass] = DEFAULT_CLASSES, read_undo: bool = True
) -> MigrationFolder:
    """Read a migrations folder. Raises MigrationError when it is missing or unreadable and
    ConfigError for a broken ``numbering.yaml``; everything else becomes a finding.

    ``read_undo=False`` (``info``, ``rollback``) lists the undo scripts without reading them:
    their findings are those of their names only, and :meth:`MigrationFolder.undo_script`
    reads the ones a rollback undoes."""
    if not directory.is_dir():
        raise InputError(f"migrations folder {display_path(directory)} does not exist (use --migrations DIR)")
    numbering = load_numbering(directory)
    findings: list[Finding] = []
    versioned: dict[Version, MigrationScript] = {}
    undo: dict[Version, MigrationScript] = {}
    undo_paths: dict[Version, Path] = {}
    beside: list[Path] = []
    for path in sql_files(directory):
        name = path.name
        if is_repeatable(name) or is_callback(name):
            beside.append(path)  # read by the Flyway layer: seasongate._gate._flyway.load_extras
            continue
        if not read_undo:
            named = FILE_RE.match(name)
            if named is not None and named.group("prefix") == "U":
                version = Version.parse(named.group("version"))
                if version in undo_paths:
                    findings.append(_duplicate(path, "undo script", version, undo_paths[version]))
                else:
                    undo_paths[version] = path
                continue
        script, problems = read_script(path)
        findings.extend(problems)
        if script is None:
            continue
        target = versioned if script.kind == "V" else undo
        other = target.get(script.version)
        if other is not None:
            kind = "migration" if script.kind == "V" else "undo script"
            findings.append(_duplicate(path, kind, script.version, other.path))
            continue
        target[script.version] = script
        if script.kind == "U":
            undo_paths[script.version] = path
    classes = tuple(classes)
    migrations = tuple(versioned[v] for v in sorted(versioned, key=lambda v: v.parts))
    folder = MigrationFolder(directory, migrations, undo, numbering, classes, (), undo_paths)
    for number, declared in folder.gaps():
        if not declared:
            after = max((m for m in folder.migrations if m.version.major < number), key=lambda m: m.version)
            findings.append(
                Finding(
                    display_path(after.path),
                    0,
                    "E003",
                    f"V{number} is missing after {after.version}: add it to "
                    f"ignored_gaps in {NUMBERING_FILE} if the gap is intended",
                )
            )
    present = {m.version.major for m in folder.migrations}
    if numbering.path is not None:
        for number in sorted(numbering.ignored_gaps & present):
            findings.append(
                Finding(
                    display_path(numbering.path),
                    numbering.lines.get(number, 0),
                    "W002",
                    f"V{number} is declared as a gap but a migration with that number exists",
                )
            )
    return MigrationFolder(
        folder.directory, folder.migrations, folder.undo, numbering, classes, tuple(findings), undo_paths,
        tuple(beside),
    )


def _duplicate(path: Path, kind: str, version: Version, other: Path) -> Finding:
    return Finding(display_path(path), 0, "E002", f"duplicate {kind} version {version}: also {display_path(other)}")
