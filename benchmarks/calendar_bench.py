"""Calendar benchmarks: loading and expanding the shipped calendars, index queries, loading
calendars of many one-off periods (linear?), a warm check with 10,000 of them, ``windows``
over one and ten years, and reading an index back from its int columns.

Run from the repository root::

    python benchmarks/calendar_bench.py

Prints figures beside their targets; asserts nothing. Uses a temporary
``SEASONGATE_CACHE_DIR`` and writes nothing into the repository.
"""

from __future__ import annotations

import gc
import importlib
import os
import random
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
CALENDARS = (ROOT / "calendars" / "de-by.yaml", ROOT / "calendars" / "ch-zh.yaml")
FIRST_YEAR, LAST_YEAR = 2026, 2075  # 50 years
QUERIES = 100_000
WARM_REPEATS = 15
ROUNDS = 3
SEED = 20260925

EXPAND_TARGET_MS = 50.0
ACTIVE_TARGET_QPS = 200_000
ONE_OFF_SIZES = (1000, 2000, 4000, 8000)
REFERENCE_LOOPS = 2_000_000
ONE_OFF_LOAD_TARGET_MS = 300.0  # for 8,000 periods
MANY_PERIODS = 10_000
MANY_CHECK_TARGET = 1.3  # x a warm check with the shipped calendars
PROCESS_RUNS = 10
CHECK_ARGS = ("check", "--env", "production", "-t", "DE", "-m", "V226", "--at", "2026-09-25T10:00+02:00", "--no-store")


def _ms(seconds: float) -> str:
    return f"{seconds * 1000:8.2f} ms"


def _qps(count: int, seconds: float) -> str:
    return f"{count / seconds:>12,.0f} /s"


def _timed(func: Callable[[], Any]) -> tuple[float, Any]:
    start = time.perf_counter()
    result = func()
    return time.perf_counter() - start, result


def _best_rate(query: Callable[[Any], Any], inputs: Sequence[Any]) -> float:
    """Seconds for one pass over ``inputs``: the median of a few rounds."""
    rounds = []
    for _ in range(ROUNDS):
        start = time.perf_counter()
        for item in inputs:
            query(item)
        rounds.append(time.perf_counter() - start)
    return statistics.median(rounds)


def _verdict(ok: bool) -> str:
    return "ok" if ok else "MISSED"


def bench_expansion() -> None:
    """(a) Load and expand each shipped calendar over 50 years: first call, then warm."""
    from seasongate._calendar import build_index, load_calendar

    years = LAST_YEAR - FIRST_YEAR + 1
    print(f"(a) load and expand over {years} years ({FIRST_YEAR}-{LAST_YEAR}), after imports")
    header = f"    {'calendar':<8}  {'call':<17}  {'load':>11}  {'expand':>11}  {'index':>11}  periods"
    print(header)
    first_expand = warm_expand = 0.0
    first_each: dict[str, float] = {}
    warm_each: dict[str, float] = {}
    for path in CALENDARS:
        name = path.stem
        # First call: pydantic models, the holidays country class and its German
        # translations are built or read on first use.
        t_load, calendar = _timed(lambda p=path: load_calendar(p))  # type: ignore[misc]
        t_expand, periods = _timed(lambda c=calendar: c.expand(FIRST_YEAR, LAST_YEAR))  # type: ignore[misc]
        t_index, _ = _timed(lambda c=calendar: build_index(c, FIRST_YEAR, LAST_YEAR))  # type: ignore[misc]
        first_expand += t_expand
        first_each[name] = t_expand
        print(f"    {name:<8}  {'first':<17}  {_ms(t_load)}  {_ms(t_expand)}  {_ms(t_index)}  {len(periods)}")
        loads, expands, indexes = [], [], []
        for _ in range(WARM_REPEATS):
            t_load, calendar = _timed(lambda p=path: load_calendar(p))  # type: ignore[misc]
            t_expand, periods = _timed(lambda c=calendar: c.expand(FIRST_YEAR, LAST_YEAR))  # type: ignore[misc]
            t_index, _ = _timed(lambda c=calendar: build_index(c, FIRST_YEAR, LAST_YEAR))  # type: ignore[misc]
            loads.append(t_load)
            expands.append(t_expand)
            indexes.append(t_index)
        warm = statistics.median(expands)
        warm_expand += warm
        warm_each[name] = warm
        label = f"warm (median/{WARM_REPEATS})"
        print(
            f"    {name:<8}  {label:<17}  {_ms(statistics.median(loads))}  {_ms(warm)}  "
            f"{_ms(statistics.median(indexes))}  {len(periods)}"
        )
    print("    (index = expand the year before too, sort, and sweep into segments)")
    for label, total, each in (("first", first_expand, first_each), ("warm", warm_expand, warm_each)):
        per = ", ".join(f"{n} {v * 1000:.1f} ms" for n, v in each.items())
        print(
            f"    expand 50 years, {label:<5}: {per}; both {total * 1000:.1f} ms"
            f"   target < {EXPAND_TARGET_MS:.0f} ms: each {_verdict(max(each.values()) * 1000 < EXPAND_TARGET_MS)},"
            f" both together {_verdict(total * 1000 < EXPAND_TARGET_MS)}"
        )


def bench_queries() -> None:
    """(b) ``active_at`` and (c) ``next_start`` over random instants of the 50 years."""
    from seasongate._calendar import Selector, build_index, load_calendar
    from seasongate._time import from_ts

    rng = random.Random(SEED)
    print()
    print(f"(b) CalendarIndex.active_at, {QUERIES:,} random instants in {FIRST_YEAR}-{LAST_YEAR}")
    indexes = {}
    for path in CALENDARS:
        calendar = load_calendar(path)
        index = build_index(calendar, FIRST_YEAR, LAST_YEAR)
        indexes[path.stem] = index
        instants = [rng.randrange(index.lo, index.hi) for _ in range(QUERIES)]
        utc = [from_ts(ts, UTC) for ts in instants]
        local = [from_ts(ts, index.tz) for ts in instants]
        for label, inputs in (("int epoch s", instants), ("datetime UTC", utc), ("datetime local", local)):
            seconds = _best_rate(index.active_at, inputs)
            ok = QUERIES / seconds >= ACTIVE_TARGET_QPS
            print(
                f"    {path.stem:<8}  {label:<15} {_qps(QUERIES, seconds)}"
                f"   target >= {ACTIVE_TARGET_QPS:,}/s: {_verdict(ok)}"
            )

    print()
    print(f'(c) CalendarIndex.next_start(Selector.of(kind="blackout"), ts), {QUERIES:,} instants')
    selector = Selector.of(kind="blackout")
    for name, index in indexes.items():
        instants = [rng.randrange(index.lo, index.hi) for _ in range(QUERIES)]
        # The first query builds the selection (filter, sort, union) once per selector.
        t_first, _ = _timed(lambda i=index, t=instants[0]: i.next_start(selector, t))  # type: ignore[misc]
        seconds = _best_rate(lambda ts, i=index: i.next_start(selector, ts), instants)  # type: ignore[misc]
        print(f"    {name:<8}  int epoch s     {_qps(QUERIES, seconds)}   (first query {_ms(t_first).strip()})")


def _one_off_calendar(path: Path, count: int) -> None:
    """A calendar extending the shipped German one with ``count`` one-day periods in 2026-2027."""
    lines = ["name: many", "timezone: Europe/Berlin", "territory: DE", "extends: [de-by.yaml]", "periods:"]
    for i in range(count):
        day = date(2026, 1, 1) + timedelta(days=i % 730)
        lines.append(f"  - {{name: one-off-{i:05d}, kind: optimization, start: {day}, end: {day}}}")
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")


def bench_one_off_load(work: Path) -> None:
    """(d) Loading calendars of many one-off periods: linear, and 8,000 under the target."""
    from seasongate._calendar import load_calendar

    calendars = work / "one-off" / "calendars"
    shutil.copytree(ROOT / "calendars", calendars)
    load_calendar(calendars / "de-by.yaml")  # imports and first-use costs, not counted
    print()
    print("(d) load_calendar of a calendar with N one-off periods (extending de-by.yaml)")
    paths = {}
    for count in ONE_OFF_SIZES:
        paths[count] = calendars / f"many-{count}.yaml"
        _one_off_calendar(paths[count], count)
    times: dict[int, list[float]] = {count: [] for count in ONE_OFF_SIZES}
    cpu: dict[int, list[float]] = {count: [] for count in ONE_OFF_SIZES}
    for _ in range(ROUNDS):  # sizes interleaved, so a busy moment of the machine hits all alike
        for count, path in paths.items():
            before = time.process_time()
            times[count].append(_timed(lambda p=path: load_calendar(p))[0])  # type: ignore[misc]
            cpu[count].append(time.process_time() - before)
    per_period = []
    smallest = statistics.median(times[ONE_OFF_SIZES[0]])
    for count in ONE_OFF_SIZES:
        seconds = statistics.median(times[count])
        per_period.append(seconds / count)
        verdict = ""
        if count == max(ONE_OFF_SIZES):
            ok = seconds * 1000 < ONE_OFF_LOAD_TARGET_MS
            verdict = f"   target < {ONE_OFF_LOAD_TARGET_MS:.0f} ms: {_verdict(ok)}"
        scale = f"{seconds / smallest:5.2f}x the {ONE_OFF_SIZES[0]:,} (linear: {count / ONE_OFF_SIZES[0]:.0f}x)"
        used = f"CPU {statistics.median(cpu[count]) * 1000:7.1f} ms"
        each = f"{seconds / count * 1e6:6.1f} us a period"
        print(f"    {count:>6,} periods  {_ms(seconds)}  {used}  ({each}, {scale}){verdict}")
    growth = per_period[-1] / per_period[0]
    print(f"    cost a period at {ONE_OFF_SIZES[-1]:,} / at {ONE_OFF_SIZES[0]:,}: {growth:.2f} (1.0 is linear)")
    _load_floor(paths[max(ONE_OFF_SIZES)], statistics.median(times[max(ONE_OFF_SIZES)]))


def _load_floor(path: Path, load: float) -> None:
    """What the biggest load pays before seasongate does anything: libyaml's events as PyYAML
    hands them to Python (every YAML loader on PyYAML pays this), and pydantic's validation."""
    import yaml

    from seasongate._calendar._model import CalendarModel
    from seasongate._yaml import load_yaml

    text = path.read_text(encoding="utf-8")

    def events() -> None:
        loader = yaml.CSafeLoader(text)
        try:
            while not isinstance(loader.get_event(), yaml.StreamEndEvent):
                pass
        finally:
            loader.dispose()

    data, _ = load_yaml(path, text, scalar_marks=False)
    parts = {
        "PyYAML's events alone": events,
        "the YAML with its collections marked": lambda: load_yaml(path, text, scalar_marks=False),
        "pydantic validation": lambda: CalendarModel.model_validate(data),
    }
    for label, func in parts.items():
        gc.disable()  # as load_calendar does while it builds many small objects
        try:
            seconds = statistics.median(_timed(func)[0] for _ in range(ROUNDS))
        finally:
            gc.enable()
        print(f"    of which {label:<37} {_ms(seconds)}  ({seconds / load:4.0%} of the load)")


def _process_env(work: Path, cache: str) -> dict[str, str]:
    """The environment of the timed processes: bytecode written once and then used (as after a
    normal install), whatever this shell says (PYTHONDONTWRITEBYTECODE would make every run
    compile every module, the floor's pydantic included)."""
    env = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}
    return dict(env, SEASONGATE_CACHE_DIR=str(work / cache), PYTHONPYCACHEPREFIX=str(work / "pyc"))


def _run(command: Sequence[str], cwd: Path, env: dict[str, str]) -> float:
    start = time.perf_counter()
    subprocess.run(command, cwd=cwd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, check=False)
    return time.perf_counter() - start


def bench_many_periods_check(work: Path) -> None:
    """(e) A warm ``check`` whose calendar has 10,000 one-off periods, paired with a warm check
    with the shipped calendars (and the import floor) in the same run."""
    script = Path(sys.executable).with_name("seasongate")
    command = (str(script),) if script.is_file() else (sys.executable, "-m", "seasongate")
    shipped, many = work / "shipped", work / "many"
    for project in (shipped, many):
        shutil.copytree(ROOT / "policies", project / "policies")
        shutil.copytree(ROOT / "calendars", project / "calendars")
    _one_off_calendar(many / "calendars" / "many.yaml", MANY_PERIODS)
    policy = many / "policies" / "production.yaml"
    policy.write_text(policy.read_text(encoding="utf-8").replace("de-by.yaml", "many.yaml"), encoding="utf-8")
    env = _process_env(work, "process-cache")
    check = (*command, *CHECK_ARGS)
    floor_cmd = (sys.executable, "-c", "import yaml, click, pydantic")
    _run(floor_cmd, shipped, env)  # bytecode
    for project in (shipped, many):  # bytecode and the cache
        _run(check, project, env)
    runs: dict[str, list[float]] = {"floor": [], "shipped": [], "many": []}
    for _ in range(PROCESS_RUNS):
        runs["floor"].append(_run(floor_cmd, shipped, env))
        runs["shipped"].append(_run(check, shipped, env))
        runs["many"].append(_run(check, many, env))
    floor, base, big = (statistics.median(runs[k]) for k in ("floor", "shipped", "many"))
    print()
    print(f"(e) warm `seasongate {' '.join(CHECK_ARGS)}`, medians of {PROCESS_RUNS} interleaved runs")
    print(f"    floor (import yaml, click, pydantic)        {_ms(floor)}")
    print(f"    shipped calendars                           {_ms(base)}  = {base / floor:.2f}x the floor")
    ratio = big / base
    print(
        f"    DE calendar with {MANY_PERIODS:,} one-off periods    {_ms(big)}  = {ratio:.2f}x the shipped check"
        f"   target <= {MANY_CHECK_TARGET}x: {_verdict(ratio <= MANY_CHECK_TARGET)}"
    )


WINDOWS_TARGET = 1.5  # x the floor


def bench_windows(work: Path) -> None:
    """(f) ``seasongate windows -t DE`` over one year and over ten, warm cache and empty cache,
    paired with the import floor in the same run."""
    script = Path(sys.executable).with_name("seasongate")
    command = (str(script),) if script.is_file() else (sys.executable, "-m", "seasongate")
    project = work / "windows-project"
    shutil.copytree(ROOT / "policies", project / "policies")
    shutil.copytree(ROOT / "calendars", project / "calendars")
    env = _process_env(work, "windows-cache")
    spans = {"1 year": "365", "10 years": "3650"}
    floor_cmd = (sys.executable, "-c", "import yaml, click, pydantic")
    _run(floor_cmd, project, env)  # bytecode
    runs: dict[str, list[float]] = {"floor": []}
    for label, days in spans.items():
        _run((*command, "windows", "-t", "DE", "--from", "2026-01-01", "--days", days), project, env)  # the cache
        runs[f"warm {label}"], runs[f"empty {label}"] = [], []
    for i in range(PROCESS_RUNS):
        runs["floor"].append(_run(floor_cmd, project, env))
        for label, days in spans.items():
            windows = (*command, "windows", "-t", "DE", "--from", "2026-01-01", "--days", days)
            runs[f"warm {label}"].append(_run(windows, project, env))
            empty_env = dict(env, SEASONGATE_CACHE_DIR=str(work / f"windows-empty-{label}-{i}"))
            runs[f"empty {label}"].append(_run(windows, project, empty_env))
    floor = statistics.median(runs["floor"])
    print()
    print(f"(f) `seasongate windows -t DE --from 2026-01-01 --days N`, medians of {PROCESS_RUNS} interleaved runs")
    print(f"    floor (import yaml, click, pydantic)   {_ms(floor)}")
    for label in spans:
        warm, empty = statistics.median(runs[f"warm {label}"]), statistics.median(runs[f"empty {label}"])
        ok = warm / floor <= WINDOWS_TARGET
        verdict = f"   target <= {WINDOWS_TARGET}x: {_verdict(ok)}" if label == "1 year" else ""
        print(f"    {label:<8} warm cache                {_ms(warm)}  = {warm / floor:.2f}x the floor{verdict}")
        print(f"    {label:<8} empty cache               {_ms(empty)}  = {empty / floor:.2f}x the floor")


def bench_index_columns(work: Path) -> None:
    """(g) What an expansion cache pays to read an index of 10,000 one-off periods back from
    JSON: the cache's codec today (one Period made a period, then indexed) against the index's
    own int columns (``CalendarIndex.from_columns``: Periods made only when a query returns them)."""
    import json

    from seasongate._calendar import CalendarIndex, build_index, load_calendar
    from seasongate._policy import _codec

    if not hasattr(CalendarIndex, "from_columns"):
        return
    calendars = work / "columns" / "calendars"
    shutil.copytree(ROOT / "calendars", calendars)
    _one_off_calendar(calendars / "many.yaml", MANY_PERIODS)
    index = build_index(load_calendar(calendars / "many.yaml"), 2026, 2027)
    today = json.dumps(_codec.encode(index))
    columns = json.dumps(index.columns())
    codec = statistics.median(_timed(lambda: _codec.decode(json.loads(today)))[0] for _ in range(WARM_REPEATS))
    taken = statistics.median(
        _timed(lambda: CalendarIndex.from_columns(json.loads(columns), tz=index.tz))[0] for _ in range(WARM_REPEATS)
    )
    print()
    print(f"(g) reading back an index of {len(index.periods):,} periods from JSON, medians of {WARM_REPEATS}")
    print(f"    the cache's codec today ({len(today) / 1e6:.1f} MB)          {_ms(codec)}")
    print(f"    CalendarIndex.from_columns ({len(columns) / 1e6:.1f} MB)      {_ms(taken)}  = {taken / codec:.2f}x")


def main() -> None:
    """Run the calendar benchmarks and print the figures."""
    with tempfile.TemporaryDirectory(prefix="seasongate-bench-") as cache:
        os.environ["SEASONGATE_CACHE_DIR"] = cache
        sys.dont_write_bytecode = True
        print(f"seasongate calendar benchmarks (Python {sys.version.split()[0]}, {datetime.now(UTC):%Y-%m-%d})")
        # Imports are paid once per process and measured apart from the calls below.
        parts = []
        for module in ("holidays", "pydantic", "seasongate._calendar", "seasongate._calendar._model"):
            seconds, _ = _timed(lambda m=module: importlib.import_module(m))  # type: ignore[misc]
            parts.append(f"{module} {_ms(seconds).strip()}")
        print("imports: " + ", ".join(parts))
        reference, _ = _timed(lambda: sum(range(REFERENCE_LOOPS)))
        print(f"machine: sum(range({REFERENCE_LOOPS:,})) {_ms(reference).strip()} (how busy the machine is)")
        print()
        bench_expansion()
        bench_queries()
        with tempfile.TemporaryDirectory(prefix="seasongate-bench-") as tmp:
            bench_one_off_load(Path(tmp))
            bench_many_periods_check(Path(tmp))
            bench_windows(Path(tmp))
            bench_index_columns(Path(tmp))


if __name__ == "__main__":
    main()
