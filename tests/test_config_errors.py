"""Bad calendar and policy files: every problem located as path:line:column: field: message."""

from __future__ import annotations

import shutil
import textwrap
from pathlib import Path

import pytest

from seasongate._calendar import load_calendar
from seasongate._errors import ConfigError, ConfigErrors
from seasongate._policy import load_policy
from seasongate._yaml import MAX_BYTES, load_yaml
from tests.conftest import CALENDARS


def problems(exc: ConfigError) -> list[str]:
    items = exc.problems if isinstance(exc, ConfigErrors) else [exc]
    return [p.render() for p in items]


def calendar_errors(tmp_path: Path, body: str) -> list[str]:
    path = tmp_path / "cal.yaml"
    path.write_text(textwrap.dedent(body), encoding="utf-8")
    with pytest.raises(ConfigError) as info:
        load_calendar(path)
    return [p.replace(str(tmp_path) + "/", "") for p in problems(info.value)]


def test_yaml_keeps_clock_times_and_country_codes_as_strings(tmp_path: Path) -> None:
    path = tmp_path / "x.yaml"
    path.write_text("start: 22:00\ncountry: NO\nflag: true\n", encoding="utf-8")
    data, marks = load_yaml(path)
    assert data == {"start": "22:00", "country": "NO", "flag": True}
    assert marks[("country",)] == (2, 10)


def test_yaml_refuses_alias_bombs_huge_files_and_duplicate_keys(tmp_path: Path) -> None:
    bomb = tmp_path / "bomb.yaml"
    lines = ["a0: &a0 [x, x, x, x, x, x, x, x, x, x]"]
    lines += [f"a{i}: &a{i} [" + ", ".join([f"*a{i - 1}"] * 10) + "]" for i in range(1, 8)]
    bomb.write_text("\n".join(lines) + "\n", encoding="utf-8")
    with pytest.raises(ConfigError, match="alias bomb"):
        load_yaml(bomb)
    huge = tmp_path / "huge.yaml"
    huge.write_text("# " + "x" * MAX_BYTES + "\n", encoding="utf-8")
    with pytest.raises(ConfigError, match="the limit is"):
        load_yaml(huge)
    dup = tmp_path / "dup.yaml"
    dup.write_text("name: a\nname: b\n", encoding="utf-8")
    with pytest.raises(ConfigError, match="2:1: name: duplicate key 'name'"):
        load_yaml(dup)


def test_calendar_structure_errors(tmp_path: Path) -> None:
    assert calendar_errors(tmp_path, """
        name: bad
        timezone: Europe/Berlin
        periods:
          - name: x
            kind: blakout
            start: "01-01"
            end: "01-02"
            colour: red
    """) == [
        "cal.yaml:6:11: periods[0].kind: unknown period kind 'blakout' (known: blackout, preparation, maintenance, optimization)",
        "cal.yaml:9:5: periods[0].colour: unknown key",
    ]  # fmt: skip


def test_calendar_meaning_errors(tmp_path: Path) -> None:
    assert calendar_errors(tmp_path, """
        timezone: Europe/Berlyn
        periods:
          - {name: x, kind: blackout, start: "02-30", end: "03-01"}
          - name: y
            kind: maintenance
            weekly: {days: [caturday], start: "25:00", end: "04:00"}
          - {name: z, kind: blackout, start: 2027-03-10, end: 2027-03-01}
        holidays:
          - {country: DE, subdivision: XX, kind: blackout}
          - {country: ZZ, kind: blackout}
    """) == [
        "cal.yaml:2:11: timezone: unknown time zone 'Europe/Berlyn' (use an IANA name such as Europe/Berlin)",
        "cal.yaml:4:38: periods[0].start: invalid date '02-30': February has no day 30",
        "cal.yaml:7:21: periods[1].weekly.days[0]: unknown weekday 'caturday' (use monday..sunday or mon..sun)",
        "cal.yaml:7:39: periods[1].weekly.start: invalid time of day '25:00': use HH:MM, e.g. 06:00",
        "cal.yaml:8:55: periods[2].end: end 2027-03-01 is before start 2027-03-10",
        "cal.yaml:10:32: holidays[0].subdivision: country DE has no subdivision 'XX' "
        "(known: BB, BE, BW, BY, HB, HE, HH, MV, NI, NW, RP, SH, SL, SN, ST, TH, Augsburg)",
        "cal.yaml:11:15: holidays[1].country: unknown country 'ZZ' (e.g. DE, CH, AT; see the holidays package)",
    ]  # fmt: skip


@pytest.mark.parametrize(
    ("body", "expected"),
    [
        ("", "cal.yaml:1:1: the file is empty"),
        ("- 1\n", "cal.yaml:1:1: a calendar file is a mapping (name, timezone, periods...), not a list"),
        ("name: [\n", "cal.yaml:2:1: YAML syntax error"),
        ("name: x\nperiods: []\n", "cal.yaml:1:1: timezone: no timezone"),
        (
            "timezone: UTC\nperiods:\n  - {name: a, kind: blackout, start: {start_of: b}, end: '12-31'}\n"
            "  - {name: b, kind: blackout, start: {end_of: a}, end: '12-31'}\n",
            "cycle: a -> b -> a",
        ),
        (
            "timezone: UTC\nperiods:\n  - {name: a, kind: blackout, start: {start_of: zz}, end: '12-31'}\n",
            "cal.yaml:3:5: periods.a: refers to unknown period 'zz'",
        ),
        (
            "timezone: UTC\nextends: [missing.yaml]\n",
            "cal.yaml:2:11: extends[0]: extended calendar missing.yaml does not exist",
        ),
        (
            "timezone: UTC\nperiods:\n  - {name: a, kind: blackout, start: 2027-03-01, end: '03-05'}\n",
            "cal.yaml:3:55: periods[0].end: start and end must both be exact dates",
        ),
        (
            "timezone: UTC\nperiods:\n  - {name: a, kind: blackout, start: '03-01', end: '03-05', duration: 2h}\n",
            "periods[0].duration: duration does not apply to a dated (start/end) period",
        ),
        (
            "timezone: UTC\nperiods:\n  - {name: a, kind: maintenance, rrule: 'FREQ=WEEKLY;INTERVAL=2', duration: 2h}\n",
            "periods[0].rrule: a rule with INTERVAL or COUNT needs a dtstart",
        ),
        (
            "timezone: UTC\nholidays:\n  - {country: DE, kind: blackout}\n  - {country: DE, kind: maintenance}\n",
            "cal.yaml:4:5: holidays[1]: duplicate holidays entry 'holidays:DE:public'",
        ),
    ],
)
def test_calendar_file_errors(tmp_path: Path, body: str, expected: str) -> None:
    (tmp_path / "cal.yaml").write_text(body, encoding="utf-8")
    with pytest.raises(ConfigError) as info:
        load_calendar(tmp_path / "cal.yaml")
    rendered = "\n".join(problems(info.value)).replace(str(tmp_path) + "/", "")
    assert expected in rendered


def test_extends_cycle_is_refused(tmp_path: Path) -> None:
    (tmp_path / "a.yaml").write_text("timezone: UTC\nextends: [b.yaml]\n", encoding="utf-8")
    (tmp_path / "b.yaml").write_text("timezone: UTC\nextends: [a.yaml]\n", encoding="utf-8")
    with pytest.raises(ConfigError, match=r"b.yaml:2:11: extends\[0\]: extends cycle"):
        load_calendar(tmp_path / "a.yaml")


def _policy_dir(tmp_path: Path, body: str) -> Path:
    shutil.copytree(CALENDARS, tmp_path / "calendars")
    (tmp_path / "policies").mkdir()
    path = tmp_path / "policies" / "p.yaml"
    path.write_text(textwrap.dedent(body), encoding="utf-8")
    return path


def test_policy_errors_name_file_line_and_field(tmp_path: Path) -> None:
    path = _policy_dir(
        tmp_path,
        """
        environments: [production]
        territories:
          DE: {calendar: ../calendars/de-by.yaml}
          CH: {calendar: ../calendars/nope.yaml}
        classes:
          production: {from: V1, to: V7999}
          testdata: {from: V10000}
          feature: {from: V8000, to: V10500}
        rules:
          - name: a
            effect: deny
            when: {environments: [prod], territories: [AT], in_period: {name: wiesn}}
          - name: b
            effect: allow
            when: {finish_before: {kind: blackout, margin: 30m}}
            override: {approvals: 1}
          - name: c
            effect: deny
            when: {classes: [production], versions: {from: V9000, to: V9100}}
    """,
    )
    with pytest.raises(ConfigError) as info:
        load_policy(path)
    got = [p.split(": ", 1)[0].rsplit("/", 1)[-1] + ": " + p.split(": ", 1)[1] for p in problems(info.value)]
    assert got == [
        "p.yaml:5:18: territories.CH.calendar: calendar file ../calendars/nope.yaml does not exist",
        "p.yaml:7:3: classes: version ranges must be listed in ascending order: production, feature, testdata",
        "p.yaml:8:20: classes.testdata.from: range V10000+ overlaps feature V8000-V10500",
        "p.yaml:13:27: rules[0].when.environments[0]: unknown environment 'prod' (known: production)",
        "p.yaml:13:48: rules[0].when.territories[0]: unknown territory 'AT' (known: DE, CH)",
        "p.yaml:13:71: rules[0].when.in_period.name: no calendar of this policy has a period 'wiesn' (known: "
        "christmas-peak, new-year-optimization, oktoberfest, oktoberfest-optimization, oktoberfest-preparation, "
        "q3-preparation, spargel-optimization, spargelsaison, weekly-maintenance)",
        "p.yaml:16:27: rules[1].when.finish_before: finish_before is a requirement: use it in a deny rule",
        "p.yaml:17:15: rules[1].override: only deny rules can be overridden",
        "p.yaml:20:45: rules[2].when.versions: the versions lie in none of the rule's classes: the rule can never match",
    ]  # fmt: skip


def test_validate_warns_about_an_override_role_nobody_holds(tmp_path: Path) -> None:
    from datetime import UTC, datetime

    from seasongate.api import validate

    shutil.copytree(CALENDARS, tmp_path / "calendars")
    (tmp_path / "policies").mkdir()
    text = (CALENDARS.parent / "policies" / "production.yaml").read_text(encoding="utf-8")
    path = tmp_path / "policies" / "p.yaml"
    path.write_text(
        text.replace("role: release_manager, max_validity: 72h", "role: dba, max_validity: 72h"), encoding="utf-8"
    )
    report = validate([path], at=datetime(2026, 11, 25, tzinfo=UTC))
    assert report.errors == []
    assert [w.field for w in report.warnings] == ["rules.seasonal-blackout.override.role"]
    assert not report.ok(strict=True)
