"""File names in a migrations folder that are neither ``V`` nor ``U`` scripts but belong there:
repeatable migrations (``R__name.sql``) and Flyway's SQL callbacks (``beforeMigrate.sql``)."""

from __future__ import annotations

import re

REPEATABLE_RE = re.compile(r"^R__(?P<description>.+)\.sql$")
CALLBACK_RE = re.compile(r"^(?P<event>(?:before|after|create)[A-Z][A-Za-z]*)(?:__(?P<description>.+))?\.sql$")


def is_repeatable(name: str) -> bool:
    """``R__rls_policies.sql``."""
    return REPEATABLE_RE.match(name) is not None


def is_callback(name: str) -> bool:
    """``beforeMigrate.sql``, ``afterEachMigrate__check.sql`` (any of Flyway's event names)."""
    return CALLBACK_RE.match(name) is not None
