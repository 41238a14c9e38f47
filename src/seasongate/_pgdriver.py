"""The one place psycopg is first imported: ``from seasongate._pgdriver import psycopg``.

Nothing imports this module at start-up: a check with the SQLite store (or ``--no-store``)
never loads psycopg. Whoever connects to PostgreSQL first imports psycopg from here; every
later ``import psycopg`` gets the same module.

Importing psycopg costs a check about as much as all of seasongate. One part of it buys the
gate nothing: ``psycopg.version`` and ``psycopg_binary.version`` ask ``importlib.metadata``
for their own version, which imports the email and zip packages and scans every installed
distribution (~10 % of the import). They are imported with stand-ins that read the version
from the ``*.dist-info`` folder's name instead (:mod:`seasongate._distversion`).
"""

from __future__ import annotations

from seasongate._distversion import import_with_versions

import_with_versions("psycopg", ("psycopg", "psycopg_binary"))
import psycopg  # noqa: E402 - the module just loaded

__all__ = ["psycopg"]
