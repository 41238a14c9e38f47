"""The database commands open their project and their database one way (``api._gated``):
as one value or as keywords, never both, and nothing runs without a database."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from seasongate import api
from seasongate._errors import InputError
from seasongate.api._gated import Database
from tests.conftest import MIGRATIONS, POLICIES

AT = datetime(2026, 11, 14, 22, 0, tzinfo=UTC)


def now() -> datetime:
    return AT


def where() -> dict[str, object]:
    return {"environment": "production", "territory": "DE", "now": now}


def test_a_project_and_project_keywords_are_refused_together() -> None:
    project = api.open_project("production", policy=POLICIES / "production.yaml", use_store=False)
    with pytest.raises(InputError, match=r"give a Project or project keywords, not both \(store\)"):
        api.info(dsn="postgresql:///x", project=project, store="sqlite:///x.db", **where())  # type: ignore[arg-type]


def test_a_database_and_database_keywords_are_refused_together() -> None:
    with pytest.raises(InputError, match=r"give a Database or database keywords, not both \(dsn, migrations\)"):
        api.migrate(Database("postgresql:///x"), dsn="postgresql:///y", migrations=MIGRATIONS, **where())  # type: ignore[arg-type]


def test_no_database_is_an_error_before_anything_opens(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("SEASONGATE_DSN", raising=False)
    for command in (api.migrate, api.info):
        with pytest.raises(InputError, match="no database given: use --dsn URL or set SEASONGATE_DSN"):
            command(migrations=MIGRATIONS, use_store=False, **where())  # type: ignore[operator]


def test_a_database_value_carries_its_placeholders() -> None:
    assert Database(placeholders={"Territory": "de"}).placeholder_values().values == {"territory": "de"}
    assert Database().migrations.name == "migrations"


def test_a_misspelt_keyword_is_refused_not_ignored() -> None:
    # ``use_stor=False`` must not quietly mean "use the store".
    with pytest.raises(TypeError, match="unexpected keyword argument"):
        api.info(dsn="postgresql:///x", use_stor=False, **where())  # type: ignore[call-arg,arg-type]
    with pytest.raises(TypeError, match="unexpected keyword argument"):
        api.run(["true"], now=now, environment="production", territory="DE", migraton="V226")  # type: ignore[call-arg]
    with pytest.raises(TypeError, match="unexpected keyword argument"):
        api.open_gate(now=now, environment="production", territory="DE", use_stor=False)  # type: ignore[call-arg]
