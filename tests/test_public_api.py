"""The public API is small and explicit: ``__all__`` names exactly what is exported."""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import pytest

import seasongate


def test_every_exported_name_resolves_and_is_documented() -> None:
    for name in seasongate.__all__:
        value = getattr(seasongate, name)
        assert value.__doc__, f"{name} has no docstring"


def test_all_is_sorted_and_public() -> None:
    assert seasongate.__all__ == sorted(seasongate.__all__)
    assert not [n for n in seasongate.__all__ if n.startswith("_")]
    assert set(dir(seasongate)) == {*seasongate.__all__, "__version__"}


def test_api_functions_are_exported_at_the_top() -> None:
    import seasongate.api

    missing = [n for n in seasongate.api.__all__ if callable(getattr(seasongate.api, n)) and n[0].islower()
               and n not in seasongate.__all__
               and n not in {"build_request", "find_policy", "open_policy", "open_project", "parse_placeholder_options"}]  # fmt: skip
    assert missing == []


def test_import_is_light() -> None:
    code = (
        "import sys; before = set(sys.modules); import seasongate\n"
        "print(sorted(m for m in ('pydantic.main', 'holidays', 'psycopg', 'icalendar') if m in sys.modules and m not in before))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "[]"


def test_all_matches_the_lazy_export_table() -> None:
    assert set(seasongate.__all__) == set(seasongate._EXPORTS)


def test_a_warm_check_imports_nothing_heavy(tmp_path: object) -> None:
    """``seasongate check`` is on every pipeline's critical path: importing ``seasongate.cli``
    and running ``check --no-store`` loads neither a database driver, the holiday tables, the
    iCalendar writer, the executor nor, once the cache is warm, any parser (YAML, pydantic)."""
    import os

    never = (
        "psycopg", "psycopg_binary", "icalendar", "seasongate._executor", "seasongate._gate",
        "seasongate._health", "seasongate._store", "seasongate._overrides", "sqlite3", "urllib.request", "asyncio",
    )  # fmt: skip
    warm_only = (
        "holidays", "dateutil", "pydantic", "yaml", "importlib.metadata", "seasongate._policy._load",
        "seasongate._calendar._load", "_hashlib", "seasongate._yaml",
    )  # fmt: skip
    heavy = (*never, *warm_only)
    code = (
        "import sys\n"
        "_before = set(sys.modules)  # what start-up (site, .pth files) loaded is not ours\n"
        "sys.argv = ['seasongate', 'check', '--env', 'production', '-t', 'DE', '-m', 'V226',"
        " '--at', '2026-09-25T10:00+02:00', '--no-store']\n"
        "from seasongate.cli import main\n"
        "try:\n    main()\nexcept SystemExit:\n    pass\n"
        f"print(sorted(m for m in {heavy!r} if m in sys.modules and m not in _before), file=sys.stderr)\n"
    )
    env = {**os.environ, "SEASONGATE_CACHE_DIR": str(tmp_path)}
    cold = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, env=env)
    warm = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, env=env)
    loaded_cold = ast.literal_eval(cold.stderr.strip().splitlines()[-1])
    assert not set(never) & set(loaded_cold), loaded_cold  # not even on an empty cache
    assert {"holidays", "pydantic", "yaml"} <= set(loaded_cold)  # (the cold check did parse and expand)
    assert warm.stderr.strip().splitlines()[-1] == "[]"


def _modules_a_check_loads(candidates: tuple[str, ...], *args: str, cwd: object, cache: object) -> list[str]:
    """Which of ``candidates`` a ``seasongate check`` process (``args`` added) has imported at its
    end, the second time it runs (the expansion cache warm)."""
    import os

    code = (
        "import sys\n"
        "_before = set(sys.modules)  # what start-up (site, .pth files) loaded is not ours\n"
        "sys.argv = ['seasongate', 'check', '--env', 'production', '-t', 'DE', '-m', 'V226',"
        f" '--at', '2026-09-25T10:00+02:00', *{list(args)!r}]\n"
        "from seasongate.cli import main\n"
        "try:\n    main()\nexcept SystemExit as exc:\n    assert exc.code == 1, exc.code\n"
        f"print(sorted(m for m in {candidates!r} if m in sys.modules and m not in _before), file=sys.stderr)\n"
    )
    env = {k: v for k, v in os.environ.items() if k != "SEASONGATE_STORE"}
    env["SEASONGATE_CACHE_DIR"] = str(cache)
    for _ in range(2):
        done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, env=env,
                              cwd=str(cwd))  # fmt: skip
    return list(ast.literal_eval(done.stderr.strip().splitlines()[-1]))


def test_a_warm_check_with_the_sqlite_store_loads_only_what_it_uses(tmp_path: Path) -> None:
    """With the SQLite store a check reads the overrides in force (none) and appends its
    decision: it loads neither the override rules, the anchors, OpenSSL, ``random`` (only
    for retries under contention) nor the URL redaction; it does write its audit entry."""
    from seasongate._store import open_store

    project = tmp_path / "project"
    project.mkdir()
    heavy = (
        "seasongate._overrides", "seasongate._store._anchors", "seasongate._store._replay", "seasongate._dsn",
        "_hashlib", "hashlib", "random", "psycopg", "yaml", "pydantic", "seasongate._executor", "seasongate._gate",
        "seasongate._yaml",
    )  # fmt: skip
    assert _modules_a_check_loads(heavy, cwd=project, cache=tmp_path / "cache") == []
    store = open_store(None, project)
    try:
        assert [e.action for e in store.audit_entries()] == ["decision", "decision"]
        assert store.verify_audit().ok
    finally:
        store.close()


def test_a_check_with_the_postgresql_store_loads_psycopg_without_the_metadata_scan(
    tmp_path: object, pg_dsn: str
) -> None:
    """psycopg is first imported through ``seasongate._pgdriver``: the same versions, without
    ``importlib.metadata`` (which psycopg would import only to learn its own version; a warm
    check imports nothing else that needs it)."""
    import os
    from importlib import metadata

    code = (
        "import sys\n"
        "_before = set(sys.modules)  # what start-up (site, .pth files) loaded is not ours\n"
        "sys.argv = ['seasongate', 'check', '--env', 'production', '-t', 'DE', '-m', 'V226',"
        f" '--at', '2026-09-25T10:00+02:00', '--store', {pg_dsn!r}]\n"
        "from seasongate.cli import main\n"
        "try:\n    main()\nexcept SystemExit as exc:\n    assert exc.code == 1, exc.code\n"
        "import psycopg, psycopg_binary\n"
        "print(psycopg.__version__, psycopg.version.__version__, psycopg_binary.__version__,"
        " 'importlib.metadata' in sys.modules, file=sys.stderr)\n"
    )
    env = {**os.environ, "SEASONGATE_CACHE_DIR": str(tmp_path)}
    subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, env=env)  # the cache
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, env=env)
    versions = (metadata.version("psycopg"), metadata.version("psycopg"), metadata.version("psycopg-binary"))
    assert done.stderr.split()[-4:] == [*versions, "False"]


def test_the_store_interface_the_docs_show_is_public(tmp_path: Path) -> None:
    """docs/overrides.md opens the store through ``seasongate.api.open_store``: a URL opens
    the store it names, a malformed one is a StoreError, never another store."""
    from datetime import UTC, datetime

    from seasongate import StoreError
    from seasongate.api import open_store

    store = open_store(f"sqlite:///{tmp_path / 'gate.db'}", tmp_path)
    try:
        entry = store.append_audit(store.identity(), "decision", "production/DE", {"allowed": True},
                                   datetime(2026, 9, 25, 8, tzinfo=UTC))
        assert store.audit_head() == f"{entry.seq}:{entry.hash}"
    finally:
        store.close()
    assert (tmp_path / "gate.db").is_file()
    with pytest.raises(StoreError):
        open_store("mysql://nowhere/x", tmp_path)


def test_info_loads_neither_the_linter_the_flyway_commands_nor_the_file_scaffolding(
    tmp_path: Path, pg_dsn: str
) -> None:
    """``seasongate info`` reads the folder and the history and judges what is pending: it
    loads the plan, the session and Flyway's states, but not the linter, the Flyway history
    writes and repair (``baseline``, ``repair``), ``run``'s child processes, ``new``'s
    scaffolding, the VCS lookup, the configuration module (no ``--placeholder``; no
    seasongate.toml), pydantic or YAML (the policy comes from the cache, no numbering.yaml)."""
    import os

    migrations = tmp_path / "migrations"
    migrations.mkdir()
    (migrations / "V1__first.sql").write_text("create table first_table (id int);\n")
    never = (
        "seasongate._executor._lint", "seasongate._executor._flyway_db", "seasongate._executor._flyway_repair",
        "seasongate._executor._new", "seasongate._executor._vcs", "seasongate._executor._clean",
        "seasongate._gate._command", "seasongate._gate._flyway_commands", "seasongate._overrides",
        "seasongate._config", "seasongate._yaml", "pydantic", "yaml", "holidays",
    )  # fmt: skip
    code = (
        "import sys\n"
        "_before = set(sys.modules)  # what start-up (site, .pth files) loaded is not ours\n"
        f"sys.argv = ['seasongate', 'info', '--dsn', {pg_dsn!r}, '--env', 'staging', '-t', 'DE', '--no-store',"
        f" '--migrations', {str(migrations)!r}]\n"
        "from seasongate.cli import main\n"
        "try:\n    main()\nexcept SystemExit as exc:\n    assert exc.code == 0, exc.code\n"
        f"print(sorted(m for m in {never!r} if m in sys.modules and m not in _before), file=sys.stderr)\n"
        "print('seasongate._executor._plan' in sys.modules, file=sys.stderr)\n"
    )
    env = {k: v for k, v in os.environ.items() if k not in ("SEASONGATE_STORE", "SEASONGATE_DSN")}
    env["SEASONGATE_CACHE_DIR"] = str(tmp_path / "cache")
    for _ in range(2):  # the second one with the cache warm
        done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, env=env,
                              cwd=str(tmp_path))  # fmt: skip
    assert done.stderr.strip().splitlines()[-2:] == ["[]", "True"], done.stderr


def test_the_lazily_exported_names_of_the_executor_and_the_gate_resolve() -> None:
    """``seasongate._executor`` and ``seasongate._gate`` load a module when one of its names is
    first used; every name they export is in their table and resolves."""
    import seasongate._executor
    import seasongate._gate

    for package in (seasongate._executor, seasongate._gate):
        assert sorted(package.__all__) == sorted(package._EXPORTS)
        for name in package.__all__:
            assert getattr(package, name) is not None, name


def test_holidays_are_loaded_without_the_metadata_scan() -> None:
    """``holidays.version`` asks ``importlib.metadata`` for the package's own version (a scan of
    every installed distribution on each cold check); seasongate loads the package with a
    stand-in that reads the same version from its dist-info folder, and the stand-in still
    gives the names the real module bound."""
    from importlib import metadata

    code = (
        "import sys\n"
        "from seasongate._calendar._holidays import check_holidays\n"
        "check_holidays('DE', 'BY', ('public',))\n"
        "import holidays\n"
        "print('importlib.metadata' in sys.modules, holidays.__version__, holidays.version.__version__,"
        " file=sys.stderr)\n"
        "print(holidays.version.version('holidays'), file=sys.stderr)\n"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    version = metadata.version("holidays")
    assert done.stderr.split()[-4:] == ["False", version, version, version]


def test_importing_the_policy_and_calendar_models_builds_no_validator() -> None:
    # A validator is built when a file is first validated (defer_build); a default made as an
    # instance in a class body (`when: WhenModel = WhenModel()`) would build it at import.
    code = (
        "import pydantic, seasongate._policy._model as p, seasongate._calendar._model as c\n"
        "built = [n for m in (p, c) for n, o in vars(m).items() if isinstance(o, type)\n"
        "         and issubclass(o, pydantic.BaseModel) and o.__module__ == m.__name__ and o.__pydantic_complete__]\n"
        "print(built)"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "[]"
