"""Ways around the gate through its inputs (issue 15), each closed at its principle.

A calendar file is an input like any other: a rule the RFC forbids, a value out of range, a
file that is not a regular file are errors (exit 2, ``file:line:column: field: message``),
never a hang, a silent fallback or a period that quietly vanishes. ``windows`` says which
territory each period belongs to, and its ``.ics`` never writes an instant a client would
read as another one.
"""

from __future__ import annotations

import os
import re
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner, Result

from seasongate.cli import main
from tests.conftest import ROOT

HEAD = "name: x\ntimezone: Europe/Berlin\nperiods:\n"


@pytest.fixture(autouse=True)
def _in_repo(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(ROOT)


def run(*args: str) -> Result:
    return CliRunner().invoke(main, list(args), catch_exceptions=False)


def _calendar(tmp_path: Path, period: str) -> Path:
    path = tmp_path / "cal.yaml"
    path.write_text(HEAD + period, encoding="utf-8")
    return path


def _rejected(result: Result, field: str, fragment: str) -> None:
    assert result.exit_code == 2, result.output
    line = next((x for x in result.stderr.splitlines() if fragment in x), "")
    # file:line:column: field: message
    assert re.search(rf"(^|\s)\S*cal\.yaml:\d+:\d+: {re.escape(field)}: ", line), result.stderr


# -- Principle 2: recurrence rules the RFC forbids, and rules that would hang the gate -----------

RRULE = "  - {{name: r, kind: maintenance, rrule: '{rule}', dtstart: '2026-01-05T02:00', duration: 1h}}\n"


@pytest.mark.parametrize(
    ("rule", "fragment"),
    [
        ("FREQ=DAILY;INTERVAL=0", "INTERVAL=0"),  # hung validate, windows and check
        ("FREQ=MONTHLY;BYMONTHDAY=0", "BYMONTHDAY=0"),  # repeated every day
        ("FREQ=DAILY;COUNT=3;UNTIL=20270101", "COUNT and UNTIL"),
        ("FREQ=YEARLY;BYMONTH=13", "BYMONTH=13"),
        ("FREQ=MONTHLY;BYMONTHDAY=32", "BYMONTHDAY=32"),
        ("FREQ=YEARLY;BYYEARDAY=0", "BYYEARDAY=0"),
        ("FREQ=YEARLY;BYWEEKNO=0", "BYWEEKNO=0"),
        ("FREQ=DAILY;BYHOUR=24", "BYHOUR=24"),
        ("FREQ=MONTHLY;BYDAY=MO;BYSETPOS=0", "BYSETPOS=0"),
        ("FREQ=DAILY;BYEASTER=0", "unknown part BYEASTER"),
        ("FREQ=DAILY;FREQ=WEEKLY", "twice"),
        ("FREQ=SECONDLY", "FREQ=SECONDLY"),  # ran for minutes and took a gigabyte
        ("FREQ=MINUTELY", "FREQ=MINUTELY"),  # 28 s
        ("FREQ=HOURLY", "more than 1000 occurrences a year"),
        ("FREQ=YEARLY;BYMONTH=2;BYMONTHDAY=30", "no occurrence"),  # dateutil searched to 9999
        ("FREQ=DAILY;BYMONTH=4;BYMONTHDAY=31", "no occurrence"),
        ("FREQ=MONTHLY;BYDAY=MO;BYSETPOS=6", "no occurrence"),
        ("FREQ=MONTHLY;INTERVAL=12;BYMONTH=3", "no occurrence"),  # dtstart in January: never March
        ("FREQ=WEEKLY;BYDAY=1MO", "position"),
    ],
)
def test_validate_rejects_each_bad_rule_with_its_location(tmp_path: Path, rule: str, fragment: str) -> None:
    path = _calendar(tmp_path, RRULE.format(rule=rule))
    result = run("validate", str(path))
    _rejected(result, "periods[0].rrule", fragment)


def test_a_rule_that_hung_windows_is_an_error_there_too(tmp_path: Path) -> None:
    path = _calendar(tmp_path, RRULE.format(rule="FREQ=DAILY;INTERVAL=0"))
    result = run("windows", "--calendar", str(path), "--from", "2026-01-01", "--days", "30")
    _rejected(result, "periods[0].rrule", "INTERVAL=0")


def test_a_project_whose_calendar_has_a_hanging_rule_cannot_check(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (tmp_path / "calendars").mkdir()
    (tmp_path / "policies").mkdir()
    (tmp_path / "calendars" / "cal.yaml").write_text(
        HEAD + RRULE.format(rule="FREQ=DAILY;INTERVAL=0"), encoding="utf-8"
    )
    (tmp_path / "policies" / "p.yaml").write_text(
        "environments: [production]\nterritories:\n  DE: {calendar: ../calendars/cal.yaml}\n"
        "rules:\n  - {name: r, effect: deny, when: {in_period: {kind: maintenance}}}\n",
        encoding="utf-8",
    )
    monkeypatch.chdir(tmp_path)
    result = run("check", "--env", "production", "-t", "DE", "--no-store", "--at", "2026-01-05T10:00+01:00")
    assert result.exit_code == 2
    assert "INTERVAL=0" in result.stderr


@pytest.mark.parametrize(
    "rule",
    ["FREQ=MONTHLY;BYDAY=2TU", "FREQ=MONTHLY;INTERVAL=3;BYMONTHDAY=-1", "FREQ=YEARLY;BYMONTH=2;BYMONTHDAY=29",
     "FREQ=MONTHLY;BYDAY=MO,TU,WE,TH,FR;BYSETPOS=-1", "FREQ=HOURLY;BYHOUR=2,14", "FREQ=YEARLY;BYWEEKNO=53;BYDAY=MO"],
)  # fmt: skip
def test_rules_within_the_rfc_and_the_bounds_still_load(tmp_path: Path, rule: str) -> None:
    result = run("validate", str(_calendar(tmp_path, RRULE.format(rule=rule))))
    assert result.exit_code == 0, result.stderr


# -- Principle 2: values out of range -----------------------------------------------------------


@pytest.mark.parametrize(
    ("period", "field", "fragment"),
    [
        # The period vanished while validate said ok.
        ("  - {name: p, kind: blackout, start: {easter: 100000}, end: {easter: 100001}}\n", "periods[0].start",
         "outside -366..366"),
        ("  - {name: p, kind: blackout, start: {date: '05-01', offset: -5000}, end: '05-02'}\n", "periods[0].start",
         "outside -366..366"),
        ("  - {name: p, kind: blackout, start: {nth: 6, weekday: monday, month: 5}, end: '05-31'}\n",
         "periods[0].start", "nth must be"),
        ("  - {name: p, kind: blackout, start: '05-01', end: '05-02', years: {skip: [99999]}}\n",
         "periods[0].years.skip[0]", "outside 1990-2100"),
        ("  - {name: p, kind: blackout, start: '05-01', end: '05-02', years: {from: 1}}\n",
         "periods[0].years.from", "outside 1990-2100"),
        ("  - {name: p, kind: blackout, start: '05-01', end: '05-02', exceptions: {2026: {start: 2300-05-01}}}\n",
         "periods[0].exceptions[2026].start", "not near 2026"),
        ("  - {name: p, kind: maintenance, weekly: {days: [saturday], start: '22:00', duration: 30d}}\n",
         "periods[0].weekly.duration", "longer than 7d"),
        ("  - {name: p, kind: maintenance, rrule: 'FREQ=MONTHLY', duration: 400d}\n", "periods[0].duration",
         "longer than"),
        ("  - {name: p, kind: maintenance, rrule: 'FREQ=YEARLY', dtstart: '9999-01-01T00:00', duration: 1h}\n",
         "periods[0].dtstart", "outside 1990-2100"),
    ],
)  # fmt: skip
def test_values_out_of_range_are_errors(tmp_path: Path, period: str, field: str, fragment: str) -> None:
    _rejected(run("validate", str(_calendar(tmp_path, period))), field, fragment)


# -- Principle 2: only regular files of bounded size are read -----------------------------------


@pytest.mark.parametrize("make", [os.mkfifo, lambda p: os.symlink("/dev/zero", p)], ids=["fifo", "dev-zero"])
def test_a_calendar_that_is_not_a_regular_file_is_refused_at_once(
    tmp_path: Path, make: Callable[[Path], None]
) -> None:
    path = tmp_path / "cal.yaml"
    make(path)
    for args in (["validate", str(path)], ["windows", "--calendar", str(path), "--from", "2026-01-01"]):
        result = run(*args)  # blocked forever before
        assert result.exit_code == 2
        assert "not a regular file" in result.stderr


@pytest.mark.parametrize("make", [os.mkfifo, lambda p: os.symlink("/dev/zero", p)], ids=["fifo", "dev-zero"])
def test_check_with_a_territory_calendar_that_is_not_a_regular_file_is_an_error(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, make: Callable[[Path], None]
) -> None:
    (tmp_path / "calendars").mkdir()
    (tmp_path / "policies").mkdir()
    make(tmp_path / "calendars" / "cal.yaml")  # blocked check forever before
    (tmp_path / "policies" / "p.yaml").write_text(
        "environments: [production]\nterritories:\n  DE: {calendar: ../calendars/cal.yaml}\n"
        "rules:\n  - {name: r, effect: deny, when: {in_period: {kind: maintenance}}}\n",
        encoding="utf-8",
    )
    monkeypatch.chdir(tmp_path)
    result = run("check", "--env", "production", "-t", "DE", "--no-store", "--at", "2026-01-05T10:00+01:00")
    assert result.exit_code == 2
    assert "cal.yaml" in result.stderr


def test_an_extended_calendar_that_is_a_fifo_is_refused(tmp_path: Path) -> None:
    os.mkfifo(tmp_path / "base.yaml")
    path = tmp_path / "cal.yaml"
    path.write_text("name: x\ntimezone: Europe/Berlin\nextends: [base.yaml]\n", encoding="utf-8")
    result = run("validate", str(path))
    assert result.exit_code == 2 and "not a regular file" in result.stderr


# -- windows: several territories side by side --------------------------------------------------


def test_windows_lists_several_territories_each_period_saying_its_own() -> None:
    import json

    args = ["windows", "-t", "DE", "-t", "CH", "--from", "2026-09-19", "--to", "2026-12-01", "--kind", "blackout"]
    rows = json.loads(run(*args, "--format", "json").output)
    pairs = {(r["name"], r["territory"]) for r in rows}
    assert ("oktoberfest", "DE") in pairs and ("oktoberfest", "CH") not in pairs  # no Oktoberfest in Zurich
    assert {("christmas-peak", "DE"), ("christmas-peak", "CH")} <= pairs  # only CH was shown before
    table = run(*args).output.splitlines()
    assert table[0].split()[-1] == "territory"
    assert any(line.split()[-1] == "DE" and "oktoberfest" in line for line in table)
    csv_rows = run(*args, "--format", "csv").output.splitlines()
    assert any(line.startswith("oktoberfest,blackout,de-by,DE,") for line in csv_rows)


def test_windows_ics_of_two_territories_names_each_and_keeps_uids_apart() -> None:
    import icalendar

    data = run("windows", "-t", "DE", "-t", "CH", "--from", "2026-12-01", "--to", "2026-12-01",
               "--kind", "blackout", "--format", "ics").stdout_bytes  # fmt: skip
    events = list(icalendar.Calendar.from_ical(data).walk("VEVENT"))
    peaks = [e for e in events if str(e["SUMMARY"]).startswith("christmas-peak")]
    assert sorted(str(e["SUMMARY"]) for e in peaks) == [
        "christmas-peak (blackout, CH)", "christmas-peak (blackout, DE)"
    ]  # fmt: skip
    assert len({str(e["UID"]) for e in peaks}) == 2
    assert {"DE", "CH"} <= {str(c) for e in peaks for c in e["CATEGORIES"].cats}


# -- .ics: the repeated hour of the autumn change, and moved periods ----------------------------


def _ics(tmp_path: Path, period: str, *range_: str) -> list[Any]:
    import icalendar

    path = _calendar(tmp_path, period)
    result = run("windows", "--calendar", str(path), *range_, "--format", "ics")
    assert result.exit_code == 0, result.stderr
    return list(icalendar.Calendar.from_ical(result.stdout_bytes).walk("VEVENT"))


def test_an_instant_in_the_repeated_hour_is_written_in_utc(tmp_path: Path) -> None:
    from datetime import UTC, datetime

    events = _ics(tmp_path, "  - {name: d, kind: maintenance, daily: {start: '02:30', duration: 1h}}\n",
                  "--from", "2026-10-25", "--to", "2026-10-25")  # fmt: skip
    (night,) = events
    start, end = night["DTSTART"].dt, night["DTEND"].dt
    # 02:30 CEST (first occurrence) for one real hour ends at 02:30 CET: DTEND == DTSTART before.
    assert start.astimezone(UTC) == datetime(2026, 10, 25, 0, 30, tzinfo=UTC)
    assert end.astimezone(UTC) == datetime(2026, 10, 25, 1, 30, tzinfo=UTC)
    assert end - start == (end.astimezone(UTC) - start.astimezone(UTC))
    assert b"DTEND:20261025T013000Z" in night.to_ical()
    ordinary = _ics(tmp_path, "  - {name: d, kind: maintenance, daily: {start: '02:30', duration: 1h}}\n",
                    "--from", "2026-10-26", "--to", "2026-10-26")  # fmt: skip
    assert ordinary[0]["DTEND"].params["TZID"] == "Europe/Berlin"  # elsewhere: local time with its zone


def test_a_moved_period_keeps_its_uid_and_changes_sequence_and_stamp(tmp_path: Path) -> None:
    before = _ics(tmp_path, "  - {name: fest, kind: blackout, start: '09-19', end: '10-04'}\n",
                  "--from", "2026-09-01", "--days", "60")  # fmt: skip
    after = _ics(tmp_path, "  - {name: fest, kind: blackout, start: '09-19', end: '10-04',"
                 " exceptions: {2026: {start: 2026-09-20}}}\n", "--from", "2026-09-01", "--days", "60")  # fmt: skip
    assert str(before[0]["UID"]) == str(after[0]["UID"])
    assert before[0]["SEQUENCE"] != after[0]["SEQUENCE"]
    assert before[0]["DTSTAMP"].dt != after[0]["DTSTAMP"].dt
    again = _ics(tmp_path, "  - {name: fest, kind: blackout, start: '09-19', end: '10-04'}\n",
                 "--from", "2026-09-01", "--days", "60")  # fmt: skip
    assert again[0].to_ical() == before[0].to_ical()  # deterministic: no clock in the feed


# -- the cold path imports one country of the holidays package ----------------------------------


def test_loading_a_calendar_imports_only_its_country_of_the_holidays_package() -> None:
    import subprocess
    import sys

    code = (
        "import sys; from seasongate._calendar import load_calendar, build_index;"
        "build_index(load_calendar('calendars/de-by.yaml'), 2026, 2026);"
        "print(sorted(m for m in sys.modules if m.startswith('holidays.countries.')))"
    )
    done = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, check=True)
    assert done.stdout.strip() == "['holidays.countries.germany']"  # all 250 before


def test_ics_of_the_autumn_change_is_byte_identical_to_the_golden_file() -> None:
    # The events of DE and CH around the autumn change, as subscribed clients receive them.
    # (The VTIMEZONE blocks come from the zone database and are left out of the comparison.)
    args = ["windows", "-t", "DE", "-t", "CH", "--from", "2026-10-24", "--to", "2026-10-26", "--format", "ics"]
    data = run(*args).stdout_bytes
    events = re.sub(rb"BEGIN:VTIMEZONE.*?END:VTIMEZONE\r\n", b"", data, flags=re.S)
    assert events == (ROOT / "tests" / "golden" / "windows-de-ch-dst.ics").read_bytes()


@pytest.mark.parametrize(
    "args",
    [
        ["check", "--env", "production", "-t", "DE", "--no-store", "--at", "9999-12-31T23:59Z"],
        ["windows", "-t", "DE", "--from", "9999-12-01"],
        ["windows", "-t", "DE", "--from", "2099-12-01", "--days", "99999999"],
    ],
)
def test_instants_near_the_year_9999_are_errors_not_tracebacks(args: list[str]) -> None:
    result = CliRunner().invoke(main, args)  # a traceback with exit 1 before
    assert result.exit_code == 2, result.output
    assert "9999" in result.stderr
