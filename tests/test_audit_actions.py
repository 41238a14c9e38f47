"""The audit vocabulary: ``APPEND_ACTIONS`` / ``ACTIONS`` list every action the program writes,
nothing else, and the store refuses an action outside them."""

from __future__ import annotations

import ast
import re
from datetime import UTC, datetime
from pathlib import Path

import pytest

import seasongate
from seasongate._errors import InputError
from seasongate._gate import _audit as gate_audit
from seasongate._overrides import REJECT, REVOKE
from seasongate._store._audit import ACTIONS, APPEND_ACTIONS, OVERRIDE_ACTIONS
from seasongate._store._pg_sql import SCHEMA
from tests import store_support
from tests.store_support import CI_USER, Actors

actors = store_support.actors
pg_roles = store_support.pg_roles
store_url = store_support.store_url

SRC = Path(seasongate.__file__).parent
AT = datetime(2026, 9, 25, 8, 0, tzinfo=UTC)

# Where the action is among a writer's positional arguments.
_WRITERS = {"append_audit": 1, "_append": 1, "audit": 0}
# Arguments that only pass an action on (the writer's own parameter).
_FORWARDED = {"action"}


def _values(node: ast.expr, where: str) -> set[str]:
    """The actions an argument can be; anything the test cannot resolve fails it."""
    if isinstance(node, ast.Constant) and isinstance(node.value, str):
        return {node.value}
    if isinstance(node, ast.Attribute) and isinstance(node.value, ast.Name) and node.value.id == "_audit":
        return {getattr(gate_audit, node.attr)}
    if (
        isinstance(node, ast.Subscript)
        and isinstance(node.value, ast.Attribute)
        and isinstance(node.value.value, ast.Name)
        and node.value.value.id == "_audit"
    ):
        return set(getattr(gate_audit, node.value.attr).values())
    if isinstance(node, ast.Attribute) and node.attr == "action" and getattr(node.value, "id", None) == "closing":
        return {REJECT.action, REVOKE.action}
    if isinstance(node, ast.Name) and node.id in _FORWARDED:
        return set()
    raise AssertionError(f"{where}: cannot tell which audit action {ast.unparse(node)} is; name it plainly")


def _written() -> dict[str, str]:
    """Every action the source writes (Python calls and the PL/pgSQL), with one place each."""
    found: dict[str, str] = {}
    for version, sql in SCHEMA.items():
        for match in re.finditer(r"_audit_append\('([^']+)'", sql):
            found.setdefault(match.group(1), f"PostgreSQL schema {version}")
    for path in sorted(SRC.rglob("*.py")):
        text = path.read_text(encoding="utf-8")
        for node in ast.walk(ast.parse(text)):
            if not isinstance(node, ast.Call):
                continue
            func = node.func
            name = func.attr if isinstance(func, ast.Attribute) else getattr(func, "id", "")
            position = _WRITERS.get(name)
            if position is None or len(node.args) <= position:
                continue
            where = f"{path.relative_to(SRC)}:{node.lineno}"
            for action in _values(node.args[position], where):
                found.setdefault(action, where)
    return found


def test_every_written_action_is_listed_and_every_listed_one_is_written() -> None:
    written = _written()
    assert set(written) - set(ACTIONS) == set(), f"written but not in ACTIONS: {written}"
    assert set(ACTIONS) - set(written) == set(), "listed in ACTIONS but never written"
    assert len(ACTIONS) == len(set(ACTIONS))
    assert set(OVERRIDE_ACTIONS) == {a for a in ACTIONS if a.startswith("override.")}


def test_the_gate_writes_only_what_append_audit_accepts() -> None:
    constants = {gate_audit.START, gate_audit.DECISION, gate_audit.RUN, *gate_audit.OUTCOME.values()}
    constants |= {gate_audit.BASELINE, gate_audit.REPAIR, gate_audit.CLEAN}
    assert constants <= set(APPEND_ACTIONS)


@pytest.mark.parametrize("action", ["decisions", "migration.applied", "Decision", "ci.custom"])
def test_an_unknown_action_is_refused(actors: Actors, action: str) -> None:
    with actors.open(CI_USER) as store:
        with pytest.raises(InputError, match=f"unknown audit action '{re.escape(action)}'"):
            store.append_audit(CI_USER, action, "x", {}, AT)
        assert store.audit_count() == 0


@pytest.mark.parametrize("action", APPEND_ACTIONS)
def test_every_listed_action_is_accepted(actors: Actors, action: str) -> None:
    with actors.open(CI_USER) as store:
        entry = store.append_audit(CI_USER, action, "production/DE/V226", {}, AT)
        assert entry.action == action
