"""The planning and gating commands end to end: exit codes, text, JSON, GitHub, ICS."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
from click.testing import Result
from freezegun import freeze_time

from tests.conftest import ROOT
from tests.conftest import invoke as run

OKTOBERFEST = "2026-09-25T10:00+02:00"
QUIET_SATURDAY_NIGHT = "2026-11-28T23:00+01:00"


pytestmark = pytest.mark.usefixtures("in_repo")


def check(*args: str) -> Result:
    return run("check", "--env", "production", "-t", "DE", "--no-store", *args)


def test_denied_during_oktoberfest_exits_1_with_reasons_and_next_time() -> None:
    result = check("-m", "V226", "--at", OKTOBERFEST)
    assert result.exit_code == 1
    first = result.output.splitlines()[0]
    assert first.startswith("DENY: V226 in production (DE) may not run at 2026-09-25 10:00 CEST")
    assert "seasonal-blackout" in result.output and "oktoberfest 2026-09-19 00:00" in result.output
    assert "Next allowed at 2026-10-05 00:00 CEST (Mon)" in result.output


def test_allowed_exits_0_and_says_until_when() -> None:
    result = check("-m", "V226", "--at", QUIET_SATURDAY_NIGHT)
    assert result.exit_code == 0
    assert result.output.startswith("ALLOW: V226 in production (DE) may run")
    assert "Allowed until 2026-11-30 06:00 CET (Mon)" in result.output


def test_json_decision_schema() -> None:
    result = check("-m", "migrations/V225__communication_core.sql", "--at", OKTOBERFEST, "--format", "json")
    assert result.exit_code == 1
    data = json.loads(result.output)
    assert set(data) >= {"allowed", "verdict", "at", "environment", "territory", "migration", "reasons",
                         "allowed_until", "next_allowed_at", "policy", "override"}  # fmt: skip
    assert data["allowed"] is False and data["verdict"] == "deny"
    assert data["at"] == "2026-09-25T10:00:00+02:00"
    assert data["migration"]["version"] == "V225" and data["migration"]["class"] == "production"
    blackout = next(r for r in data["reasons"] if r["rule"] == "seasonal-blackout")
    assert blackout["overridable"] is True
    assert blackout["override_requires"] == {"approvals": 2, "role": "release_manager", "max_validity": "3d"}
    assert blackout["periods"][0]["name"] == "oktoberfest"
    assert blackout["source"].startswith("policies/production.yaml:")
    assert data["next_allowed_at"] == "2026-10-05T00:00:00+02:00"
    assert len(data["policy"]["sha256"]) == 64


def test_naive_at_is_read_in_the_territory_zone_and_said_so() -> None:
    result = check("-m", "V226", "--at", "2026-09-25T10:00")
    assert result.exit_code == 1
    assert "read as Europe/Berlin local time" in result.output
    assert "at 2026-09-25 10:00 CEST" in result.output


@freeze_time("2026-09-25 08:00:00", tz_offset=0)
def test_without_at_the_clock_is_read_once_at_the_edge() -> None:
    result = check("-m", "V226", "--format", "json")
    assert json.loads(result.output)["at"] == "2026-09-25T10:00:00+02:00"
    assert result.exit_code == 1


def test_github_format_annotations_and_step_summary(tmp_path: Path) -> None:
    summary = tmp_path / "summary.md"
    result = run("check", "--env", "production", "-t", "DE", "--no-store", "-m", "V226", "--at", OKTOBERFEST,
                 "--format", "github", env={"GITHUB_STEP_SUMMARY": str(summary)})  # fmt: skip
    assert result.exit_code == 1
    assert (
        "::error title=seasongate: seasonal-blackout::Production is in a seasonal blackout (overridable)"
        in result.output
    )
    text = summary.read_text(encoding="utf-8")
    assert "seasongate: deny" in text and "| `seasonal-blackout` | deny |" in text


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["-t", "AT"], "unknown territory 'AT'"),
        (["--duration", "twenty"], "invalid duration 'twenty'"),
        (["-m", "X226"], "invalid migration version 'X226'"),
        (["--at", "tomorrow"], "invalid time 'tomorrow'"),
        (["--at", "2026-03-29T02:30"], "does not exist in Europe/Berlin (the clocks jump forward over it)"),
        (["--at", "2026-10-25T02:30"], "happens twice in Europe/Berlin (the clocks go back): give a UTC offset"),
        (["-t", "de"], "unknown territory 'de' (policy production knows: DE, CH)"),
        (["--policy", "nope.yaml"], "policy file nope.yaml does not exist"),
        (["-m", ""], "invalid migration version ''"),  # an unset $MIGRATION must not mean "anything"
        (["-m", "V٣"], "invalid migration version 'V٣'"),
        (["-m", "migrations/V999__missing.sql"], "migration file migrations/V999__missing.sql does not exist"),
    ],
)
def test_bad_input_is_one_line_and_exit_2(args: list[str], message: str) -> None:
    result = run("check", "--env", "production", "-t", "DE", "--no-store", "--at", QUIET_SATURDAY_NIGHT, *args)
    assert result.exit_code == 2
    assert message in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1
    assert result.stdout == ""


def test_broken_policy_fails_closed_with_its_location(tmp_path: Path) -> None:
    text = (ROOT / "policies" / "production.yaml").read_text(encoding="utf-8")
    broken = tmp_path / "prod.yaml"
    broken.write_text(
        text.replace("in_period: {kind: blackout, tag: season}", "in_period: {kind: blakout}"), encoding="utf-8"
    )
    result = run(
        "check", "--env", "production", "-t", "DE", "--no-store", "--policy", str(broken), "--at", QUIET_SATURDAY_NIGHT
    )
    line = next(i for i, text in enumerate(broken.read_text().splitlines(), 1) if "blakout" in text)
    assert result.exit_code == 2
    assert f"prod.yaml:{line}:25: " in result.stderr
    assert "rules[2].when.in_period.kind" in result.stderr and "unknown period kind 'blakout'" in result.stderr


def test_unknown_environment_picks_no_policy() -> None:
    result = run("check", "--env", "qa", "-t", "DE", "--no-store")
    assert result.exit_code == 2
    assert "no policy covers environment 'qa'" in result.stderr and "staging" in result.stderr


def test_explain_lists_every_rule_in_plain_language() -> None:
    result = run("explain", "--env", "production", "-t", "DE", "--no-store", "-m", "V226", "--at", OKTOBERFEST)
    assert result.exit_code == 1
    out = result.output
    assert "seasonal-blackout (deny) MATCHES" in out
    assert "no-testdata-in-production (deny) does not match" in out
    assert "no   migration class is testdata" in out
    assert "yes  the run touches: in kind blackout and tag season" in out
    assert "Verdict: deny, because seasonal-blackout, business-hours matched" in out


def test_slots_json() -> None:
    result = run("slots", "--env", "production", "-t", "DE", "--class", "production", "--no-store", "--duration", "45m",
                 "--risk", "high", "--from", "2026-11-25T12:00+01:00", "--days", "30", "--format", "json")  # fmt: skip
    assert result.exit_code == 0
    data = json.loads(result.output)
    assert data["slots"] == [{
        "earliest_start": "2026-11-28T22:00:00+01:00", "latest_start": "2026-11-29T03:15:00+01:00",
        "finish_by": "2026-11-29T04:00:00+01:00", "continues_after_search": False,
    }]  # fmt: skip


def test_windows_json_and_csv() -> None:
    result = run(
        "windows", "-t", "DE", "--from", "2026-09-01", "--to", "2026-10-31", "--kind", "blackout", "--format", "json"
    )
    assert result.exit_code == 0
    rows = json.loads(result.output)
    okt = next(r for r in rows if r["name"] == "oktoberfest")
    assert okt == {
        "name": "oktoberfest", "kind": "blackout", "calendar": "de-by", "territory": "DE",
        "start": "2026-09-19T00:00:00+02:00", "end": "2026-10-05T00:00:00+02:00", "all_day": True,
        "tags": ["season", "peak"], "description": "Oktoberfest (Munich)", "source": okt["source"],
    }  # fmt: skip
    assert okt["source"].startswith("calendars/seasons-de.yaml:")
    assert {r["kind"] for r in rows} == {"blackout"}
    csv_out = run(
        "windows", "--calendar", "calendars/ch-zh.yaml", "--from", "2026-05-01", "--days", "60", "--format", "csv"
    ).output
    header, *lines = csv_out.splitlines()
    assert header == "name,kind,calendar,territory,start,end,all_day,tags,source"
    assert any(line.startswith("spargelsaison,blackout,ch-zh,CH,2026-04-15T00:00:00+02:00") for line in lines)


def test_windows_ics_is_valid_and_byte_identical() -> None:
    import icalendar

    args = ["windows", "-t", "DE", "--from", "2026-10-20", "--to", "2026-11-10", "--format", "ics"]
    first = run(*args).stdout_bytes
    assert first == run(*args).stdout_bytes
    cal = icalendar.Calendar.from_ical(first)
    events = list(cal.walk("VEVENT"))
    assert [str(t["TZID"]) for t in cal.walk("VTIMEZONE")] == ["Europe/Berlin"]
    holiday = next(e for e in events if str(e["SUMMARY"]).startswith("Allerheiligen"))
    assert holiday["DTSTART"].params.get("VALUE") == "DATE"
    assert str(holiday["DTEND"].to_ical(), "ascii") == "20261102"  # exclusive end
    night = next(e for e in events if str(e["SUMMARY"]).startswith("weekly-maintenance"))
    assert night["DTSTART"].params["TZID"] == "Europe/Berlin"
    assert len({str(e["UID"]) for e in events}) == len(events)


def test_windows_refuses_contradictions() -> None:
    result = run("windows", "-t", "DE", "--calendar", "calendars/de-by.yaml")
    assert result.exit_code == 2 and "not both" in result.stderr
    result = run("windows", "--kind", "blakout")
    assert result.exit_code == 2 and "unknown kind 'blakout'" in result.stderr


def test_validate_shipped_files_and_a_broken_one(tmp_path: Path) -> None:
    ok = run("validate", "--strict")
    assert ok.exit_code == 0, ok.stderr
    bad = tmp_path / "bad.yaml"
    bad.write_text(
        "name: x\ntimezone: Europe/Berlin\nperiods:\n"
        "  - name: p\n    kind: blackout\n    start: '02-30'\n    end: '03-01'\n",
        encoding="utf-8",
    )
    result = run("validate", str(bad))
    assert result.exit_code == 2
    assert result.stderr.strip().endswith(
        "bad.yaml:6:12: periods[0].start: invalid date '02-30': February has no day 30"
    )


def test_validate_warns_of_a_rule_whose_time_conditions_never_hold(tmp_path: Path) -> None:
    text = (ROOT / "policies" / "production.yaml").read_text(encoding="utf-8").replace("../calendars/",
                                                                                      f"{ROOT}/calendars/")
    never = "  - name: never\n    effect: deny\n    message: never\n    when:\n"
    never += "      in_period: {kind: preparation}\n      not_in_period: {kind: preparation}\n"
    policy = tmp_path / "policy.yaml"
    policy.write_text(text + never, encoding="utf-8")
    result = run("validate", str(policy))
    assert result.exit_code == 0 and "1 warning(s)" in result.stdout
    assert "rules.never: its time conditions never hold in the expanded years: the rule can never match" in (
        result.stderr
    )
    assert run("validate", "--strict", str(policy)).exit_code == 2


ALL_COMMANDS = [
    "check", "explain", "slots", "windows", "validate", "migrate", "rollback", "info", "lint", "new", "run",
    "override request", "override approve", "override reject", "override revoke", "override list",
    "override show", "audit", "audit list", "audit verify", "override", "config", "baseline", "repair", "clean", "health", "health check",
    "export", "serve",
]  # fmt: skip


@pytest.mark.parametrize("command", ALL_COMMANDS)
def test_help_has_examples(command: str) -> None:
    result = run(*command.split(), "--help")
    assert result.exit_code == 0 and "Example" in result.output


def test_every_command_is_listed() -> None:
    from seasongate.cli import main as group

    listed = set(group.list_commands(None))  # type: ignore[arg-type]
    assert listed == {c.split()[0] for c in ALL_COMMANDS}
    assert all(group.get_command(None, name) is not None for name in listed)  # type: ignore[arg-type]


def test_installed_command_exit_codes() -> None:
    """The real console script, as a pipeline runs it."""
    base = [sys.executable, "-m", "seasongate", "check", "--env", "production", "-t", "DE", "--no-store", "-m", "V226"]
    denied = subprocess.run([*base, "--at", OKTOBERFEST], capture_output=True, text=True, cwd=ROOT, check=False)
    allowed = subprocess.run(
        [*base, "--at", QUIET_SATURDAY_NIGHT], capture_output=True, text=True, cwd=ROOT, check=False
    )
    broken = subprocess.run([*base, "--at", "x"], capture_output=True, text=True, cwd=ROOT, check=False)
    assert (denied.returncode, allowed.returncode, broken.returncode) == (1, 0, 2)
    assert "Traceback" not in broken.stderr
