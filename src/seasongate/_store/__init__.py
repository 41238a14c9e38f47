"""The override and audit store: one interface, two backends (SQLite, PostgreSQL).

``open_store(url, project_dir)`` picks the backend from the URL:

* ``sqlite:///relative/path.db`` (relative to the project directory) or
  ``sqlite:////absolute/path.db``; the default, when neither ``url`` nor the
  ``SEASONGATE_STORE`` environment variable is set, is ``.seasongate/seasongate.db`` in the
  project directory. No server; WAL mode and a busy timeout let processes share it.
* ``postgresql://...`` (or ``postgres://``): everything lives in the schema ``seasongate``;
  the approval rules are enforced a second time inside the database.

Each backend creates and upgrades its own schema (a ``schema_version`` in its ``meta`` table),
idempotently and safely when several processes start at once. A store that cannot be opened
or read raises :class:`~seasongate._errors.StoreError`, so ``check`` can fail closed.
"""

from __future__ import annotations

import os
from abc import ABC, abstractmethod
from collections.abc import Mapping, Sequence
from datetime import datetime
from pathlib import Path
from types import TracebackType
from typing import TYPE_CHECKING, Any

from seasongate._errors import StoreError
from seasongate._lazy import lazy_names
from seasongate._store._audit import AuditEntry, AuditReport

if TYPE_CHECKING:
    from seasongate._overrides import Closing, OverrideRecord, Roster
    from seasongate._policy import OverrideGrant
    from seasongate._store._anchors import Anchor as Anchor
    from seasongate._store._anchors import check_anchors as check_anchors
    from seasongate._store._anchors import history_anchors as history_anchors
    from seasongate._store._anchors import parse_kept_head as parse_kept_head

__all__ = [
    "DEFAULT_SQLITE_PATH",
    "SCHEMA_VERSION",
    "STORE_ENV",
    "Anchor",
    "AuditEntry",
    "AuditReport",
    "Store",
    "check_anchors",
    "display_url",
    "history_anchors",
    "open_store",
    "parse_kept_head",
    "resolve_url",
]

SCHEMA_VERSION = 2
"""The schema version this seasongate writes; a newer store is refused."""
STORE_ENV = "SEASONGATE_STORE"
DEFAULT_SQLITE_PATH = Path(".seasongate") / "seasongate.db"


class Store(ABC):
    """An open store. Use it as a context manager or call :meth:`close`.

    Instants (``at``) are aware datetimes passed in by the api layer. SQLite records them
    (never earlier than the override's request, and audit times never go backwards);
    PostgreSQL records the server's clock instead and ignores ``at`` for anything it writes.
    """

    backend: str
    url: str  # for messages: no password

    # -- the interface the gate and ``check`` use ------------------------------------------

    @abstractmethod
    def identity(self) -> str:
        """Who is acting: the OS user (SQLite) or the database ``session_user`` (PostgreSQL)."""

    @abstractmethod
    def active_grants(self, environment: str, territory: str, at: datetime) -> list[OverrideGrant]:
        """The fully approved overrides for this environment and territory valid at ``at``.

        Pending, rejected, revoked, expired and consumed overrides are never returned.
        """

    @abstractmethod
    def consume(
        self, override_id: str, at: datetime, subject: str, *, decision: Mapping[str, Any] | None = None
    ) -> None:
        """Record that a migration run (``subject``), which the gate allowed with this
        override, starts using it.

        A single-use override is consumed (it grants nothing afterwards; a second use raises
        :class:`~seasongate._errors.OverrideError`); using any other override is a no-op.
        ``decision`` is the gate's allowing decision (``Decision.to_dict()``); PostgreSQL
        records it in the same transaction and refuses a consumption without an allowing
        decision naming the override, or by someone not in ``seasongate_migrator``.
        """

    @abstractmethod
    def append_audit(
        self, actor: str, action: str, subject: str, payload: Mapping[str, Any], at: datetime
    ) -> AuditEntry:
        """Append one entry to the audit trail (``override.*`` actions are reserved).

        Returns the entry with its ``seq`` and ``hash`` (the anchor a migration-history row
        keeps). The actor is always :meth:`identity` (``actor`` must name it); PostgreSQL
        stamps the server's clock, SQLite ``at`` or, if later, the previous entry's time.
        """

    @abstractmethod
    def append_audits(
        self, actor: str, entries: Sequence[tuple[str, str, Mapping[str, Any]]], at: datetime
    ) -> list[AuditEntry]:
        """Append ``(action, subject, payload)`` entries in order, as :meth:`append_audit`
        does one; SQLite writes them in one transaction (all or none)."""

    @abstractmethod
    def audit_head(self) -> str | None:
        """The head of the intact trail as ``<seq>:<sha256>``, for a pipeline to keep
        elsewhere (None when the trail is empty)."""

    @abstractmethod
    def entries_at(self, seqs: Sequence[int]) -> dict[int, AuditEntry]:
        """The entries with these numbers that the trail still holds."""

    @abstractmethod
    def unsettled_starts(self, database: str) -> list[AuditEntry]:
        """The ``migration.start`` entries about ``database`` that no outcome names by its
        ``start_seq`` (their run died), in order; found by the store, not by reading the trail."""

    @abstractmethod
    def close(self) -> None:
        """Release the connection."""

    # -- overrides ---------------------------------------------------------------------------

    @abstractmethod
    def create_override(self, record: OverrideRecord) -> OverrideRecord:
        """Store a new pending override requested by :meth:`identity`, and audit it."""

    @abstractmethod
    def approve(self, override_id: str, *, at: datetime, comment: str, roster: Roster) -> tuple[OverrideRecord, bool]:
        """Approve as :meth:`identity`; returns the record and whether the approval was new.

        ``roster`` (``policy.role_members``) says who holds a role in SQLite; PostgreSQL
        uses membership of the database role ``seasongate_<role>`` instead.
        """

    def reject(self, override_id: str, *, at: datetime, reason: str, roster: Roster) -> OverrideRecord:
        """Reject a pending override as :meth:`identity`."""
        from seasongate._overrides import REJECT

        return self.close_override(REJECT, override_id, at=at, reason=reason, roster=roster)

    def revoke(self, override_id: str, *, at: datetime, reason: str, roster: Roster) -> OverrideRecord:
        """Revoke an open override as :meth:`identity`."""
        from seasongate._overrides import REVOKE

        return self.close_override(REVOKE, override_id, at=at, reason=reason, roster=roster)

    @abstractmethod
    def close_override(
        self, closing: Closing, override_id: str, *, at: datetime, reason: str, roster: Roster
    ) -> OverrideRecord:
        """Reject or revoke (``closing``) an override as :meth:`identity`, giving ``reason``."""

    @abstractmethod
    def get_override(self, override_id: str) -> OverrideRecord:
        """One override; an unknown id raises :class:`~seasongate._errors.InputError`."""

    @abstractmethod
    def list_overrides(self) -> list[OverrideRecord]:
        """Every override, oldest first."""

    # -- the audit trail ---------------------------------------------------------------------

    @abstractmethod
    def audit_entries(self, since: datetime | None = None) -> list[AuditEntry]:
        """Audit entries in order, optionally only those at or after ``since``."""

    @abstractmethod
    def audit_count(self) -> int:
        """How many audit entries there are."""

    @abstractmethod
    def verify_audit(self) -> AuditReport:
        """Check the hash chain of the whole trail."""

    @abstractmethod
    def schema_version(self) -> int:
        """The schema version of the open store."""

    def __enter__(self) -> Store:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()


def resolve_url(url: str | None, project_dir: Path) -> str:
    """The store URL to use: ``url``, else ``$SEASONGATE_STORE``, else the default SQLite file."""
    if url is not None and not url.strip():
        from seasongate._errors import InputError

        raise InputError("--store is empty: give sqlite:///path or postgresql://... (or leave it out)")
    chosen = (url or "").strip() or os.environ.get(STORE_ENV, "").strip()
    if chosen:
        return chosen
    return "sqlite:///" + str((project_dir / DEFAULT_SQLITE_PATH).resolve())


def display_url(url: str) -> str:
    """``url`` without its password, for messages."""
    from seasongate._dsn import display_dsn

    return display_dsn(url)


def sqlite_path(url: str, project_dir: Path) -> Path:
    """The file of a ``sqlite:///`` URL (relative paths are under ``project_dir``)."""
    rest = url[len("sqlite://") :]
    if not rest.startswith("/") or rest in ("/", ""):
        raise StoreError(f"invalid store URL {url!r}: use sqlite:///relative/path.db or sqlite:////absolute/path.db")
    path_text = rest[1:].split("?", 1)[0]
    path = Path(path_text)
    return path if path.is_absolute() else project_dir / path


def open_store(url: str | None, project_dir: Path) -> Store:
    """Open (creating or upgrading its schema if needed) the store at ``url``.

    Raises :class:`~seasongate._errors.StoreError` with the reason when it cannot be opened.
    """
    chosen = resolve_url(url, project_dir)
    scheme = chosen.split(":", 1)[0].lower()
    if scheme == "sqlite":
        from seasongate._store._sqlite import SQLiteStore

        return SQLiteStore.open(sqlite_path(chosen, project_dir), display=chosen)
    if scheme in ("postgresql", "postgres"):
        from seasongate._store._postgres import PostgresStore

        return PostgresStore.open(chosen)
    raise StoreError(
        f"unsupported store URL {display_url(chosen)!r}: use sqlite:///path/to/file.db "
        "or postgresql://user@host/database"
    )


# The anchors (``audit verify --head/--against``) load when first used: a check opens the
# store on every pipeline run and never needs them. The override rules load likewise, in
# the backends, only when an override is read or changed.
__getattr__ = lazy_names(
    __name__, dict.fromkeys(["Anchor", "check_anchors", "history_anchors", "parse_kept_head"], f"{__name__}._anchors"),
    globals(),
)
