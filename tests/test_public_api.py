"""The public API is small and explicit: ``__all__`` names exactly what is exported."""

from __future__ import annotations

import subprocess
import sys

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
    code = "import sys, seasongate; print(sorted(m for m in ('pydantic.main', 'holidays', 'psycopg', 'icalendar') if m in sys.modules))"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "[]"


def test_all_matches_the_lazy_export_table() -> None:
    assert set(seasongate.__all__) == set(seasongate._EXPORTS)


def test_a_warm_check_imports_nothing_heavy(tmp_path: object) -> None:
    """``seasongate check`` is on every pipeline's critical path."""
    import os

    heavy = (
        "pydantic.main", "holidays", "psycopg", "icalendar", "seasongate._executor", "seasongate._gate",
        "seasongate._health", "urllib.request",
    )  # fmt: skip
    code = (
        "import sys\n"
        "sys.argv = ['seasongate', 'check', '--env', 'production', '-t', 'DE', '-m', 'V226',"
        " '--at', '2026-09-25T10:00+02:00', '--no-store']\n"
        "from seasongate.cli import main\n"
        "try:\n    main()\nexcept SystemExit:\n    pass\n"
        f"print(sorted(m for m in {heavy!r} if m in sys.modules), file=sys.stderr)\n"
    )
    env = {**os.environ, "SEASONGATE_CACHE_DIR": str(tmp_path)}
    subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, env=env)  # fills the cache
    warm = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, env=env)
    assert warm.stderr.strip().splitlines()[-1] == "[]"
