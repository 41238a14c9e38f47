"""The expansion cache: a warm check gives the same answer and any file change is a miss."""

from __future__ import annotations

import shutil
from datetime import datetime
from pathlib import Path

from seasongate._policy import Request
from seasongate._policy._cache import cache_dir, load_policy_cached
from seasongate._versions import Version
from tests.conftest import CALENDARS, POLICIES

AT = datetime.fromisoformat("2026-09-25T22:00+02:00")


def _project(tmp_path: Path) -> Path:
    shutil.copytree(CALENDARS, tmp_path / "calendars")
    shutil.copytree(POLICIES, tmp_path / "policies")
    return tmp_path / "policies" / "production.yaml"


def test_warm_policy_gives_the_same_decision_without_reexpanding(tmp_path: Path) -> None:
    path = _project(tmp_path)
    request = Request("production", "DE", Version.parse("V226"))
    cold = load_policy_cached(path)
    first = cold.evaluate(request, AT)
    assert list(cache_dir().glob("policy-*.pickle"))
    warm = load_policy_cached(path)
    assert warm.indexes, "the expanded calendar comes from the cache"
    assert warm.evaluate(request, AT).to_dict() == first.to_dict()


def test_changing_a_calendar_file_invalidates_the_cache(tmp_path: Path) -> None:
    path = _project(tmp_path)
    request = Request("production", "DE", Version.parse("V226"))
    assert not load_policy_cached(path).evaluate(request, AT).allowed  # Oktoberfest
    seasons = tmp_path / "calendars" / "seasons-de.yaml"
    seasons.write_text(
        seasons.read_text(encoding="utf-8").replace("skip: [2020, 2021]", "skip: [2020, 2021, 2026]"), encoding="utf-8"
    )
    changed = load_policy_cached(path)
    assert changed.evaluate(request, AT).allowed  # no Oktoberfest in 2026 any more


def test_a_foreign_or_corrupt_cache_file_is_ignored(tmp_path: Path) -> None:
    path = _project(tmp_path)
    load_policy_cached(path)
    for entry in cache_dir().glob("policy-*.pickle"):
        entry.write_bytes(b"not a pickle")
    policy = load_policy_cached(path)
    assert not policy.evaluate(Request("production", "DE", Version.parse("V226")), AT).allowed
