"""A package's own version, read without ``importlib.metadata``'s scan of every distribution.

Some packages seasongate imports on a pipeline's critical path (psycopg, psycopg_binary,
holidays) learn their own version at import with ``importlib.metadata.version(...)``: that
scans every installed distribution and parses a METADATA file with the email package, on
every process start, for a string the gate never reads. :func:`import_with_versions` puts a
stand-in ``<package>.version`` module in place first, whose ``__version__`` comes from the
name of the package's single ``*.dist-info`` folder beside it (the same string for an
installed distribution); any other name the real module bound comes from
``importlib.metadata`` on first use. A stand-in is used only when the real ``version.py``
does nothing but that lookup and the folder is found; otherwise the package is imported
the ordinary way.
"""

from __future__ import annotations

import sys
from collections.abc import Sequence
from pathlib import Path
from types import ModuleType
from typing import Any

_LOOKUP_NAMES = frozenset({"__version__", "metadata", "version", "PackageNotFoundError"})


def _lookup_names(source: Path) -> frozenset[str] | None:
    """The names the module at ``source`` binds when it only asks ``importlib.metadata`` for
    ``__version__`` (its imports come from ``importlib.metadata`` alone); else None."""
    import ast

    try:
        tree = ast.parse(source.read_bytes())
    except (OSError, SyntaxError, ValueError):
        return None
    bound: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Name) and isinstance(node.ctx, ast.Store):
            bound.add(node.id)
        elif isinstance(node, ast.ImportFrom):
            if node.module not in ("importlib", "importlib.metadata"):
                return None
            bound.update(alias.asname or alias.name for alias in node.names)
        elif isinstance(node, (ast.Import, ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            return None
    return frozenset(bound) if "__version__" in bound and bound <= _LOOKUP_NAMES else None


def _installed_version(package: str) -> tuple[str, frozenset[str]] | None:
    """The version in the name of ``package``'s single ``*.dist-info`` folder beside it and the
    names its ``version.py`` binds, without importing the package; None when there is not
    exactly one such folder or ``version.py`` is not the plain lookup this stands in for."""
    import importlib.machinery

    spec = importlib.machinery.PathFinder.find_spec(package)
    if spec is None or not spec.submodule_search_locations:
        return None
    folder = Path(next(iter(spec.submodule_search_locations)))
    names = _lookup_names(folder / "version.py")
    if names is None:
        return None
    prefix = f"{package}-"
    try:
        found = [p.name for p in folder.parent.iterdir() if p.name.startswith(prefix) and p.name.endswith(".dist-info")]
    except OSError:
        return None
    if len(found) != 1:
        return None
    version = found[0][len(prefix) : -len(".dist-info")]
    return (version, names) if version and "-" not in version else None


def _stand_in(name: str, version: str, names: frozenset[str]) -> ModuleType:
    module = ModuleType(name, f"{name.rpartition('.')[0]} distribution version (read from its dist-info folder)")
    module.__version__ = version  # type: ignore[attr-defined]
    others = names - {"__version__"}

    def __getattr__(attribute: str) -> Any:
        if attribute not in others:
            raise AttributeError(f"module {name!r} has no attribute {attribute!r}")
        import importlib.metadata

        return importlib.metadata if attribute == "metadata" else getattr(importlib.metadata, attribute)

    module.__dict__["__getattr__"] = __getattr__
    return module


def import_with_versions(package: str, versioned: Sequence[str]) -> None:
    """Import ``package`` with a stand-in ``<name>.version`` for each package in ``versioned``
    that is not loaded yet (and whose version the stand-in can read), then bind each stand-in
    on its package as the import system binds a submodule it loads. The caller then imports
    ``package`` as usual (and gets the module loaded here)."""
    import importlib

    stand_ins = []
    for name in versioned:
        module_name = f"{name}.version"
        if name in sys.modules or module_name in sys.modules:
            continue
        found = _installed_version(name)
        if found is not None:
            sys.modules[module_name] = _stand_in(module_name, *found)
            stand_ins.append(module_name)
    importlib.import_module(package)
    for module_name in stand_ins:
        parent, _, attribute = module_name.rpartition(".")
        if parent in sys.modules:
            setattr(sys.modules[parent], attribute, sys.modules[module_name])
