"""``{{name}}`` placeholders: the one renderer for queries and notice texts."""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping

PLACEHOLDER = re.compile(r"\{\{\s*([A-Za-z_][A-Za-z0-9_]*)\s*\}\}")
QUERY_NAMES = ("territory", "environment", "window")


def unknown_placeholders(text: str, known: Iterable[str]) -> list[str]:
    """The placeholder names in ``text`` that are not in ``known`` (in order, once each)."""
    allowed = set(known)
    return list(dict.fromkeys(m.group(1) for m in PLACEHOLDER.finditer(text) if m.group(1) not in allowed))


def render(text: str, values: Mapping[str, str]) -> str:
    """``text`` with every ``{{name}}`` replaced by ``values[name]`` (names are checked at load)."""
    return PLACEHOLDER.sub(lambda m: values.get(m.group(1), m.group(0)), text)
