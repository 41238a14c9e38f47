"""Structural, not timed: ``windows`` served from the cache imports only what its format needs."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import CALENDARS, POLICIES

RENDERING = {"seasongate._render", "jinja2", "icalendar"}


@pytest.mark.parametrize("fmt", ["table", "json", "csv"])
def test_a_warm_windows_listing_imports_no_renderer(tmp_path: Path, fmt: str) -> None:
    shutil.copytree(CALENDARS, tmp_path / "calendars")
    shutil.copytree(POLICIES, tmp_path / "policies")
    args = ["windows", "-t", "DE", "-t", "CH", "--from", "2026-01-01", "--days", "365", "--format", fmt]
    code = "; ".join([
        "import atexit, runpy, sys",
        "atexit.register(lambda: print(' '.join(sorted(sys.modules)), file=sys.stderr))",  # after SystemExit too
        f"sys.argv = {['seasongate', *args]!r}",
        "runpy.run_module('seasongate', run_name='__main__')",
    ])  # fmt: skip
    env = dict(os.environ, SEASONGATE_CACHE_DIR=str(tmp_path / "cache"))
    runs = [subprocess.run([sys.executable, "-c", code], cwd=tmp_path, env=env, capture_output=True, text=True)
            for _ in range(2)]  # fmt: skip
    assert runs[0].stdout == runs[1].stdout and "territory" in runs[1].stdout.lower()
    warm = set(runs[1].stderr.split())
    assert not RENDERING & warm, RENDERING & warm
