"""The expansion cache: a warm check gives the same answer, any file change is a miss, the
key is the files' contents (so a restored CI cache and a second checkout hit), and an entry
is data that can never run code: a corrupt or poisoned one is ignored and rebuilt."""

from __future__ import annotations

import json
import pickle
import shutil
from datetime import datetime
from pathlib import Path

import pytest

from seasongate._policy import Request
from seasongate._policy import _load as policy_load
from seasongate._policy._cache import cache_dir, load_policy_cached
from seasongate._versions import Version
from tests.conftest import CALENDARS, POLICIES

AT = datetime.fromisoformat("2026-09-25T22:00+02:00")
V226 = Request("production", "DE", Version.parse("V226"))


def _project(root: Path) -> Path:
    shutil.copytree(CALENDARS, root / "calendars")
    shutil.copytree(POLICIES, root / "policies")
    return root / "policies" / "production.yaml"


def _entries() -> list[Path]:
    return sorted(cache_dir().glob("policy-*.json"))


def _no_loading(monkeypatch: pytest.MonkeyPatch) -> None:
    """From here on, parsing a policy is a test failure: the answer must come from the cache."""

    def refuse(path: object) -> None:
        raise AssertionError(f"parsed {path} although the cache should have served it")

    monkeypatch.setattr(policy_load, "load_policy", refuse)


def test_warm_policy_gives_the_same_decision_without_reexpanding(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = _project(tmp_path)
    cold = load_policy_cached(path)
    first = cold.evaluate(V226, AT)
    (entry,) = _entries()
    assert json.loads(entry.read_bytes())["format"]  # plain JSON, not a pickle
    _no_loading(monkeypatch)
    warm = load_policy_cached(path)
    assert warm.indexes, "the expanded calendar comes from the cache"
    assert warm.evaluate(V226, AT).to_dict() == first.to_dict()
    assert warm.rules == cold.rules and warm.migration_classes == cold.migration_classes
    assert {k: v.periods for k, v in warm.indexes.items()} == {k: v.periods for k, v in cold.indexes.items()}


def test_changing_a_calendar_file_invalidates_the_cache(tmp_path: Path) -> None:
    path = _project(tmp_path)
    assert not load_policy_cached(path).evaluate(V226, AT).allowed  # Oktoberfest
    seasons = tmp_path / "calendars" / "seasons-de.yaml"
    seasons.write_text(
        seasons.read_text(encoding="utf-8").replace("skip: [2020, 2021]", "skip: [2020, 2021, 2026]"), encoding="utf-8"
    )
    changed = load_policy_cached(path)
    assert changed.evaluate(V226, AT).allowed  # no Oktoberfest in 2026 any more


def test_a_second_checkout_path_and_a_restored_cache_hit(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # The key used to hold the absolute path, the working directory and the files' mtimes:
    # a fresh CI runner never hit. Now the same files hit wherever they are checked out.
    first, second = tmp_path / "job-1" / "repo", tmp_path / "job-2" / "checkout"
    _project(first)
    monkeypatch.chdir(first)
    expected = load_policy_cached(Path("policies/production.yaml")).evaluate(V226, AT).to_dict()
    _project(second)  # copied later: other mtimes too
    monkeypatch.chdir(second)
    _no_loading(monkeypatch)
    warm = load_policy_cached(Path("policies/production.yaml"))
    assert warm.evaluate(V226, AT).to_dict() == expected
    assert len(_entries()) == 1


def test_a_corrupt_cache_file_is_ignored_and_rebuilt(tmp_path: Path) -> None:
    path = _project(tmp_path)
    load_policy_cached(path)
    for entry in _entries():
        entry.write_bytes(b"not json at all")
    assert not load_policy_cached(path).evaluate(V226, AT).allowed
    assert all(json.loads(e.read_bytes())["format"] for e in _entries())  # rewritten


class _Boom:
    """Unpickling this runs code: it creates the marker file."""

    def __init__(self, marker: Path) -> None:
        self.marker = marker

    def __reduce__(self) -> tuple[object, ...]:
        return (Path.touch, (self.marker,))


def test_a_poisoned_cache_entry_is_never_executed(tmp_path: Path) -> None:
    # A pickle in the cache folder was code execution inside the gate.
    path = _project(tmp_path)
    load_policy_cached(path)
    marker = tmp_path / "executed"
    for entry in _entries():
        entry.write_bytes(pickle.dumps(_Boom(marker)))
    assert not load_policy_cached(path).evaluate(V226, AT).allowed
    assert not marker.exists()


@pytest.mark.parametrize(
    "forged",
    [
        ["o", "os:system", {"command": "touch executed"}],
        ["o", "builtins:eval", {}],
        ["o", "seasongate._policy._engine:Policy", {}],  # not a dataclass: not buildable
        ["o", "seasongate._store._sqlite:SQLiteStore", {}],  # outside the packages an entry holds
        ["o", "seasongate._calendar._nowhere:Period", {}],  # no such module
        ["o", "seasongate._errors_elsewhere:Location", {}],  # only the exact module names
        ["?", 1],
    ],
)
def test_an_entry_naming_anything_but_plain_data_is_refused(tmp_path: Path, forged: list[object]) -> None:
    path = _project(tmp_path)
    load_policy_cached(path)
    (entry,) = _entries()
    document = json.loads(entry.read_bytes())
    document["policy"] = ["m", "rules", ["t", forged]]
    entry.write_text(json.dumps(document), encoding="utf-8")
    policy = load_policy_cached(path)
    assert "no-testdata-in-production" in policy.rule_names  # rebuilt from the files
    assert not policy.evaluate(V226, AT).allowed


def test_an_entry_for_other_files_is_not_used(tmp_path: Path) -> None:
    path = _project(tmp_path)
    load_policy_cached(path)
    (entry,) = _entries()
    document = json.loads(entry.read_bytes())
    document["key"] = "0" * 64  # copied in from another policy
    entry.write_text(json.dumps(document), encoding="utf-8")
    policy = load_policy_cached(path)
    assert not policy.evaluate(V226, AT).allowed
    assert json.loads(entry.read_bytes())["key"] != "0" * 64


def test_a_warm_check_imports_no_loader(tmp_path: Path) -> None:
    """Structural, not timed: served from the cache, ``check`` parses nothing and imports
    neither pydantic, the calendar and policy loaders, dateutil nor holidays."""
    import os
    import subprocess
    import sys

    _project(tmp_path)
    code = (
        "import sys\n"
        "from seasongate.cli import main\n"
        "try:\n"
        "    main(['check', '--env', 'production', '-t', 'DE', '--no-store', '-m', 'V226',"
        " '--at', '2026-09-25T22:00+02:00'])\n"
        "except SystemExit:\n"
        "    pass\n"
        "print(' '.join(sorted(sys.modules)), file=sys.stderr)\n"
    )
    env = dict(os.environ, SEASONGATE_CACHE_DIR=str(tmp_path / "cache"))
    runs = [subprocess.run([sys.executable, "-c", code], cwd=tmp_path, env=env, capture_output=True, text=True)
            for _ in range(2)]  # fmt: skip
    cold, warm = (set(r.stderr.split()) for r in runs)
    loaders = {"pydantic", "dateutil", "holidays", "seasongate._calendar._load", "seasongate._calendar._rules",
               "seasongate._policy._load"}  # fmt: skip
    assert loaders <= cold  # the first check parses and expands
    assert not loaders & warm, loaders & warm


def test_a_warm_policy_asked_about_other_years_loads_its_calendars_then(tmp_path: Path) -> None:
    path = _project(tmp_path)
    load_policy_cached(path).evaluate(V226, AT)  # caches 2026-2027
    later = datetime.fromisoformat("2031-09-25T22:00+02:00")  # Oktoberfest 2031
    warm = load_policy_cached(path)
    decision = warm.evaluate(V226, later)  # not in the stored indexes: the calendar loads now
    assert not decision.allowed and any(r.rule == "seasonal-blackout" for r in decision.reasons)
    assert decision.to_dict() == policy_load.load_policy(path).evaluate(V226, later).to_dict()


def test_windows_is_served_from_the_cache_and_sees_a_changed_base_calendar(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from click.testing import CliRunner

    from seasongate.cli import main

    _project(tmp_path)
    monkeypatch.chdir(tmp_path)
    args = ["windows", "--calendar", "calendars/de-by.yaml", "--from", "2026-09-01", "--days", "60", "--format", "json"]
    first = CliRunner().invoke(main, args).output
    assert list(cache_dir().glob("calendar-*.json"))
    assert CliRunner().invoke(main, args).output == first  # warm: the same answer
    seasons = tmp_path / "calendars" / "seasons-de.yaml"  # a file de-by.yaml extends
    seasons.write_text(
        seasons.read_text(encoding="utf-8").replace("skip: [2020, 2021]", "skip: [2020, 2021, 2026]"), encoding="utf-8"
    )
    changed = json.loads(CliRunner().invoke(main, args).output)
    assert "oktoberfest" in first and "oktoberfest" not in {p["name"] for p in changed}


def test_a_warm_windows_imports_neither_pydantic_nor_holidays(tmp_path: Path) -> None:
    import os
    import subprocess
    import sys

    _project(tmp_path)
    code = (
        "import sys\n"
        "from seasongate.cli import main\n"
        "try:\n"
        "    main(['windows', '-t', 'DE', '--from', '2026-01-01', '--days', '365'])\n"
        "except SystemExit:\n"
        "    pass\n"
        "print(' '.join(sorted(sys.modules)), file=sys.stderr)\n"
    )
    env = dict(os.environ, SEASONGATE_CACHE_DIR=str(tmp_path / "cache"))
    runs = [subprocess.run([sys.executable, "-c", code], cwd=tmp_path, env=env, capture_output=True, text=True)
            for _ in range(2)]  # fmt: skip
    cold, warm = (set(r.stderr.split()) for r in runs)
    assert {"pydantic", "holidays"} <= cold
    assert not {"pydantic", "holidays"} & warm


# -- which policy file covers which environment ----------------------------------------------


def _claims_entries() -> list[Path]:
    return sorted(cache_dir().glob("claims-*.json"))


def _discover(root: Path) -> dict[str, str]:
    from seasongate.api import find_policy

    return {env: str(find_policy(None, env, root).name) for env in ("production", "staging")}


def test_discovery_is_served_from_the_cache_without_parsing_a_policy(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import yaml

    _project(tmp_path)
    first = _discover(tmp_path)
    assert len(_claims_entries()) == 1

    def refuse(*args: object, **kwargs: object) -> None:
        raise AssertionError("parsed a policy file although the cache should have answered")

    monkeypatch.setattr(yaml, "load", refuse)
    assert _discover(tmp_path) == first
    shutil.copytree(tmp_path / "policies", tmp_path / "second-checkout" / "policies")
    assert _discover(tmp_path / "second-checkout") == first  # another checkout path: a hit


@pytest.mark.parametrize(
    ("name", "body", "message"),
    [
        ("stale.yaml", "environments: [production]\n", "environment 'production' is claimed by"),
        ("broken.yml", "environments: [production\n", "broken.yml:"),
        ("nameless.yaml", "territories: {}\n", "names its environments"),
    ],
)
def test_a_broken_or_duplicate_policy_file_is_refused_even_with_a_warm_cache(
    tmp_path: Path, name: str, body: str, message: str
) -> None:
    from seasongate._errors import ConfigErrors

    _project(tmp_path)
    _discover(tmp_path)
    (tmp_path / "policies" / name).write_text(body, encoding="utf-8")
    for _ in range(2):  # a refused folder is never cached: refused again
        with pytest.raises(ConfigErrors) as caught:
            _discover(tmp_path)
        assert message in str(caught.value)
    (tmp_path / "policies" / name).unlink()
    assert _discover(tmp_path)["production"] == "production.yaml"


@pytest.mark.parametrize(
    "owner",
    [
        {"production": "../elsewhere.yaml"},  # a file that is not in the folder
        {"production": 1},
        "production.yaml",
    ],
)
def test_a_forged_or_corrupt_discovery_entry_is_ignored(tmp_path: Path, owner: object) -> None:
    _project(tmp_path)
    expected = _discover(tmp_path)
    (entry,) = _claims_entries()
    document = json.loads(entry.read_bytes())
    stored = document["owner"]
    document["owner"] = owner
    entry.write_text(json.dumps(document), encoding="utf-8")
    assert _discover(tmp_path) == expected
    entry.write_bytes(b"\xff not json")
    assert _discover(tmp_path) == expected
    assert json.loads(entry.read_bytes())["owner"] == stored  # rewritten
