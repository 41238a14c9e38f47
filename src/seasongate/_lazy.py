"""Names a package exports without importing their modules until first used.

``seasongate check`` sits on every pipeline's critical path: the packages it passes through
(``seasongate``, ``seasongate.api``, ``seasongate._calendar``) export many names whose modules
a check never needs (the executor, the store, the calendar loader). Each such package keeps a
table of name -> defining module and gets its module ``__getattr__`` from :func:`lazy_names`.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any


def lazy_names(package: str, table: Mapping[str, str], namespace: dict[str, Any]) -> Callable[[str], Any]:
    """A module ``__getattr__`` for ``package``: imports the module ``table`` names for an
    attribute on first use and keeps the value in ``namespace`` (the package's globals)."""

    def __getattr__(name: str) -> Any:
        module = table.get(name)
        if module is None:
            raise AttributeError(f"module {package!r} has no attribute {name!r}")
        import importlib

        value = getattr(importlib.import_module(module), name)
        namespace[name] = value
        return value

    return __getattr__
