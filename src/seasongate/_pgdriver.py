"""The one place psycopg is first imported: ``from seasongate._pgdriver import psycopg``.

Nothing imports this module at start-up: a check with the SQLite store (or ``--no-store``)
never loads psycopg. Whoever connects to PostgreSQL first imports psycopg from here; every
later ``import psycopg`` gets the same module.

Importing psycopg costs a check about as much as all of seasongate. One part of it buys the
gate nothing: ``psycopg.version`` and ``psycopg_binary.version`` ask ``importlib.metadata``
for their own version, which imports the email and zip packages and scans every installed
distribution (~10 % of the import). Here each gets the version from the name of its
``*.dist-info`` folder beside the package, the same string for an installed distribution.
A stand-in is used only when the real ``version.py`` defines nothing but ``__version__`` and
the folder is found; otherwise psycopg is imported the ordinary way.
"""

from __future__ import annotations

import sys
from pathlib import Path
from types import ModuleType


def _defines_only_the_version(source: Path) -> bool:
    """Whether the module at ``source`` binds nothing but ``__version__`` (and ``metadata``)."""
    import ast

    try:
        tree = ast.parse(source.read_bytes())
    except (OSError, SyntaxError, ValueError):
        return False
    bound = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Name) and isinstance(node.ctx, ast.Store):
            bound.add(node.id)
        elif isinstance(node, (ast.Import, ast.ImportFrom)):
            bound.update(alias.asname or alias.name for alias in node.names)
        elif isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            bound.add(node.name)
    return bound == {"__version__", "metadata"}


def _installed_version(distribution: str) -> str | None:
    """The version in the name of ``distribution``'s single ``*.dist-info`` folder beside its
    package, without importing the package; None when there is not exactly one or the
    package's ``version.py`` is not the plain lookup this stands in for."""
    import importlib.machinery

    spec = importlib.machinery.PathFinder.find_spec(distribution)
    if spec is None or not spec.submodule_search_locations:
        return None
    package = Path(next(iter(spec.submodule_search_locations)))
    if not _defines_only_the_version(package / "version.py"):
        return None
    folder = package.parent
    prefix = f"{distribution}-"
    try:
        found = [p.name for p in folder.iterdir() if p.name.startswith(prefix) and p.name.endswith(".dist-info")]
    except OSError:
        return None
    if len(found) != 1:
        return None
    version = found[0][len(prefix) : -len(".dist-info")]
    return version if version and "-" not in version else None


def _stand_in_for_version_lookups() -> list[str]:
    """Put the version modules' stand-ins in place (unless psycopg is loaded already)."""
    if "psycopg" in sys.modules:
        return []
    stand_ins = []
    for distribution in ("psycopg", "psycopg_binary"):
        version = _installed_version(distribution)
        name = f"{distribution}.version"
        if version is not None and name not in sys.modules:
            module = ModuleType(name, f"{distribution} distribution version (read from its dist-info folder)")
            module.__version__ = version  # type: ignore[attr-defined]
            sys.modules[name] = module
            stand_ins.append(name)
    return stand_ins


def _bind(stand_ins: list[str]) -> None:
    """Bind each stand-in on its package, as the import system binds a submodule it loads."""
    for name in stand_ins:
        package, _, attribute = name.rpartition(".")
        if package in sys.modules:
            setattr(sys.modules[package], attribute, sys.modules[name])


_stand_ins = _stand_in_for_version_lookups()
import psycopg  # noqa: E402 - after the stand-ins

_bind(_stand_ins)

__all__ = ["psycopg"]
