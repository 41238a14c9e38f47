"""The year at a glance: ``windows --format html --year`` and ``seasongate.year_view``."""

from __future__ import annotations

import os
from datetime import date, datetime, timedelta
from pathlib import Path

import pytest
from click.testing import CliRunner

from seasongate import api
from seasongate._errors import InputError
from seasongate._time import from_ts
from seasongate.cli import main
from tests.webhelp import cells

GOLDEN = Path(__file__).resolve().parent / "golden" / "year_DE_2027.html"


def sg(*args: str) -> tuple[int, str, str]:
    result = CliRunner().invoke(main, list(args))
    return result.exit_code, result.stdout, result.stderr


def days(first: str, last: str) -> list[str]:
    start, end = date.fromisoformat(first), date.fromisoformat(last)
    return [(start + timedelta(days=n)).isoformat() for n in range((end - start).days + 1)]


def test_the_page_is_byte_identical_to_the_golden_file() -> None:
    code, out, err = sg("windows", "--format", "html", "--year", "2027", "-t", "DE")
    assert code == 0, err
    if os.environ.get("SEASONGATE_UPDATE_GOLDEN") == "1":  # after a deliberate change of the page
        GOLDEN.write_bytes(out.encode())
    assert out.encode() == GOLDEN.read_bytes()
    assert api.year_view(year=2027, territories=["DE"]) == out  # the library gives the same page


def test_oktoberfest_2026_is_blackout_from_19_september_to_4_october_in_de() -> None:
    grid = cells(api.year_view(year=2026, territories=["DE"]))
    for day in days("2026-09-19", "2026-10-04"):
        assert grid[("DE", day)].kind == "blackout", day
        assert "oktoberfest (blackout) all day" in grid[("DE", day)].title
    assert grid[("DE", "2026-09-18")].kind == "preparation"  # oktoberfest-preparation, Friday
    assert grid[("DE", "2026-10-05")].kind == "optimization"
    assert grid[("DE", "2026-10-03")].holiday == "Tag der Deutschen Einheit"
    assert "hol" in grid[("DE", "2026-10-03")].css


def test_every_day_of_the_year_has_one_cell_and_months_are_padded() -> None:
    html = api.year_view(year=2028, territories=["CH"])
    grid = cells(html)
    assert len(grid) == 366  # a leap year
    assert ("CH", "2028-02-29") in grid
    assert html.count('<td class="x"></td>') == 12 * 31 - 366


def test_de_and_ch_side_by_side_keep_their_own_seasons() -> None:
    grid = cells(api.year_view(year=2026, territories=["DE", "CH"]))
    assert grid[("DE", "2026-09-25")].kind == "blackout"
    assert grid[("CH", "2026-09-25")].kind == "preparation"  # no Oktoberfest in Zurich
    assert grid[("CH", "2026-12-26")].holiday == "Stephanstag"
    assert grid[("DE", "2026-12-26")].holiday == "Zweiter Weihnachtstag"


def test_a_partial_day_is_marked_and_dst_nights_show_local_times() -> None:
    grid = cells(api.year_view(year=2026, territories=["DE"]))
    saturday = grid[("DE", "2026-10-24")]  # the night the clocks go back (25 October, 03:00 -> 02:00)
    assert saturday.kind == "maintenance" and "part" in saturday.css
    assert "weekly-maintenance (maintenance) 22:00–24:00" in saturday.title
    sunday = grid[("DE", "2026-10-25")]
    assert "weekly-maintenance (maintenance) 00:00–04:00" in sunday.title
    spring = grid[("DE", "2026-03-29")]  # the 23-hour day
    assert "weekly-maintenance (maintenance) 00:00–04:00" in spring.title


def test_a_migration_marks_exactly_the_days_with_an_allowed_start() -> None:
    html = api.year_view(year=2026, territories=["DE"], migration="V226", duration="45m", risk="high")
    grid = cells(html)
    assert grid[("DE", "2026-10-10")].allowed == "yes"  # Saturday night maintenance window
    assert "allowed starts: 22:00–24:00" in grid[("DE", "2026-10-10")].title
    assert grid[("DE", "2026-10-11")].allowed == "yes"
    assert "allowed starts: 00:00–03:15" in grid[("DE", "2026-10-11")].title
    assert grid[("DE", "2026-10-09")].allowed == "no"  # Friday, optimization window: not for high risk
    assert all(grid[("DE", d)].allowed == "no" for d in days("2026-09-19", "2026-10-04"))
    # The marks agree with the slots the same policy gives over the year.
    tz = api.open_policy(None, "production").zone("DE")
    result = api.slots(environment="production", territory="DE", duration="45m", risk="high", migration="V226",
                       start=datetime(2026, 1, 1, tzinfo=tz), days=365, limit=100_000, use_store=False)  # fmt: skip
    expected = set()
    for slot in result.slots:
        day = from_ts(slot.earliest, tz).date()
        while day <= from_ts(slot.latest, tz).date():
            expected.add(day.isoformat())
            day += timedelta(days=1)
    marked = {d for (_, d), c in grid.items() if c.allowed == "yes"}
    assert marked == expected
    assert f"{len(marked)} day(s) with at least one allowed start" in html


def test_the_cli_writes_both_territories_and_the_plan() -> None:
    code, out, err = sg("windows", "--format", "html", "--year", "2026", "-t", "DE", "-t", "CH", "-m", "V226",
                        "--duration", "45m", "--risk", "high")  # fmt: skip
    assert code == 0, err
    assert sg("windows", "--format", "html", "--year", "2026", "-t", "DE,CH", "-m", "V226", "--duration", "45m",
              "--risk", "high")[1] == out  # fmt: skip
    grid = cells(out)
    assert {t for t, _ in grid} == {"DE", "CH"}
    assert "V226 (45m, risk high) may start at least once in production" in out


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--format", "html", "--year", "2027", "--from", "2027-01-01"], "give --year, not --from"),
        (["--format", "table", "--year", "2027"], "--year: only with --format html"),
        (["--format", "html", "--year", "2027", "-t", "XX"], "unknown territory 'XX'"),
        (["--format", "html", "--year", "1800"], "--year must be between 1990 and 2100"),
        (["--format", "html", "--year", "2027", "--duration", "45 minutes"], "invalid duration"),
    ],
)
def test_wrong_options_are_exit_2_with_a_reason(args: list[str], message: str) -> None:
    code, out, err = sg("windows", *args)
    assert code == 2
    assert message in err
    assert out == ""


def test_no_territory_means_de() -> None:
    with pytest.raises(InputError, match="unknown territory"):
        api.year_view(year=2027, territories=["ZZ"])
    assert cells(api.year_view(year=2027, territories=[])).keys() == cells(api.year_view(year=2027, territories=["DE"])).keys()
