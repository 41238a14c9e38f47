"""Feeds and exports for the tools people already use: ``check --format dotenv``,
``slots --format ics|csv`` and ``export argocd|gitlab``, each checked against the calendar."""

from __future__ import annotations

import json
from datetime import datetime
from zoneinfo import ZoneInfo

import icalendar
import pytest
import yaml
from click.testing import CliRunner

from seasongate import api
from seasongate._errors import InputError
from seasongate._render import ExportedWindow
from seasongate._time import from_ts, to_ts
from seasongate.cli import main

BERLIN = ZoneInfo("Europe/Berlin")


def sg(*args: str) -> tuple[int, str, str]:
    result = CliRunner().invoke(main, list(args))
    return result.exit_code, result.stdout, result.stderr


def dotenv(text: str) -> dict[str, str]:
    lines = text.split("\n")
    assert lines[-1] == ""  # ends with a newline
    out = {}
    for line in lines[:-1]:
        assert line and not line.startswith("#"), "GitLab's dotenv accepts no blank lines or comments"
        key, _, value = line.partition("=")
        assert key.isascii() and key.replace("_", "").isalnum()
        assert '"' not in value and "'" not in value, "GitLab keeps quotes as part of the value"
        out[key] = value
    assert len(out) <= 20, "GitLab accepts at most 20 variables"
    return out


def test_check_dotenv_when_denied_says_why_and_when_next() -> None:
    code, out, _ = sg("check", "--env", "production", "-t", "DE", "-m", "V226", "--at", "2026-09-25T10:00+02:00",
                      "--no-store", "--format", "dotenv")  # fmt: skip
    assert code == 1
    env = dotenv(out)
    assert env["SEASONGATE_ALLOWED"] == "false"
    assert env["SEASONGATE_VERDICT"] == "deny"
    assert env["SEASONGATE_NEXT_ALLOWED_AT"] == "2026-10-05T00:00:00+02:00"
    assert env["SEASONGATE_DENYING_RULES"] == "seasonal-blackout,business-hours"
    assert env["SEASONGATE_OVERRIDABLE"] == "true"
    assert env["SEASONGATE_ALLOWED_UNTIL"] == ""
    assert env["SEASONGATE_MIGRATION"] == "V226"


def test_check_dotenv_when_allowed_says_until_when() -> None:
    code, out, _ = sg("check", "--env", "production", "-t", "DE", "-m", "V226", "--at", "2026-10-10T23:00+02:00",
                      "--no-store", "--format", "dotenv")  # fmt: skip
    assert code == 0
    env = dotenv(out)
    decision = api.check(environment="production", territory="DE", migration="V226",
                         at=datetime.fromisoformat("2026-10-10T23:00+02:00"), use_store=False)  # fmt: skip
    assert env["SEASONGATE_ALLOWED"] == "true"
    assert env["SEASONGATE_ALLOWED_UNTIL"] == decision.to_dict()["allowed_until"] != ""
    assert env["SEASONGATE_NEXT_ALLOWED_AT"] == ""
    assert env["SEASONGATE_DENYING_RULES"] == ""


SLOTS = ["slots", "--env", "production", "-t", "DE", "-m", "V226", "--duration", "45m", "--risk", "high",
         "--from", "2026-09-25T10:00+02:00", "--days", "60", "--no-store"]  # fmt: skip


def test_slots_csv_lists_the_same_slots_as_json() -> None:
    code, out, _ = sg(*SLOTS, "--format", "csv")
    assert code == 0
    rows = [line.split(",") for line in out.strip().split("\n")]
    assert rows[0] == ["environment", "territory", "migration", "earliest_start", "latest_start", "finish_by",
                       "continues_after_search"]  # fmt: skip
    _, js, _ = sg(*SLOTS, "--format", "json")
    slots = json.loads(js)["slots"]
    assert [(r[3], r[4], r[5]) for r in rows[1:]] == [(s["earliest_start"], s["latest_start"], s["finish_by"]) for s in slots]
    assert rows[1][2] == "V226" and rows[1][3] == "2026-10-10T22:00:00+02:00"


def test_slots_ics_has_one_event_per_slot_and_is_stable() -> None:
    code, first, _ = sg(*SLOTS, "--format", "ics")
    assert code == 0
    _, second, _ = sg(*SLOTS, "--format", "ics")
    assert first == second
    cal = icalendar.Calendar.from_ical(first)
    events = [c for c in cal.walk("VEVENT")]
    _, js, _ = sg(*SLOTS, "--format", "json")
    slots = json.loads(js)["slots"]
    assert len(events) == len(slots) > 0
    for event, slot in zip(events, slots, strict=True):
        assert event.decoded("dtstart") == datetime.fromisoformat(slot["earliest_start"])
        assert event.decoded("dtstart").tzinfo.key == "Europe/Berlin"  # type: ignore[union-attr]
        assert event.decoded("dtend") == datetime.fromisoformat(slot["latest_start"])
        assert slot["finish_by"][:16].replace("T", " ") in str(event["description"])


def blackouts(territory: str, start: str, end: str) -> list[tuple[int, int, str]]:
    result = api.windows(start=datetime.fromisoformat(start).date(), end=datetime.fromisoformat(end).date(),
                         territory=territory, kinds=["blackout"])  # fmt: skip
    return [(p.start, p.end, p.name) for p in result.periods]


def occurrence(cron: str, year: int, tz: ZoneInfo) -> int:
    minute, hour, day, month, rest = cron.split()
    assert rest == "*"
    return to_ts(datetime(year, int(month), int(day), int(hour), int(minute), tzinfo=tz))


def go_seconds(text: str) -> int:
    hours, _, minutes = text.partition("h")
    return int(hours) * 3600 + (int(minutes.rstrip("m")) * 60 if minutes else 0)


def covered(start: int, end: int, windows: list[tuple[int, int]]) -> bool:
    return any(ws <= start and end <= we for ws, we in windows)


def test_argocd_sync_windows_deny_every_blackout_of_the_next_twelve_months() -> None:
    code, out, err = sg("export", "argocd", "-t", "DE", "--from", "2026-11-30", "--months", "12")
    assert code == 0, err
    spec = yaml.safe_load(out)["syncWindows"]
    assert spec and all(w["kind"] == "deny" and w["timeZone"] == "Europe/Berlin" for w in spec)
    assert all(w["applications"] == ["*"] and w["manualSync"] is False for w in spec)
    lo, hi = to_ts(datetime(2026, 11, 30, tzinfo=BERLIN)), to_ts(datetime(2027, 11, 30, tzinfo=BERLIN))
    windows = []
    for w in spec:
        length = go_seconds(w["duration"])
        # The occurrence of the yearly schedule that falls into the exported months.
        (start,) = [s for y in (2026, 2027) if lo - length < (s := occurrence(w["schedule"], y, BERLIN)) < hi]
        windows.append((start, start + length))
    periods = blackouts("DE", "2026-11-30", "2027-11-30")
    assert periods and all(covered(s, e, windows) for s, e, _ in periods)
    # No window denies more than the blackouts: each starts and ends on a blackout's edge.
    starts, ends = {s for s, _, _ in periods}, {e for _, e, _ in periods}
    assert all(ws in starts and we in ends for ws, we in windows)
    oktoberfest = next(w for w in spec if "oktoberfest" in w["description"])
    assert (oktoberfest["schedule"], oktoberfest["duration"]) == ("0 0 18 9 *", "384h")  # 18 Sep to 4 Oct 2027
    assert "a cron line has no year" in out


def test_gitlab_freeze_periods_cover_the_blackouts_of_ch() -> None:
    code, out, err = sg("export", "gitlab", "-t", "CH", "--from", "2027-01-10", "--months", "12")
    assert code == 0, err
    freezes = json.loads(out)
    assert all(f["cron_timezone"] == "Europe/Zurich" for f in freezes)
    zurich = ZoneInfo("Europe/Zurich")
    windows = []
    for f in freezes:
        start = occurrence(f["freeze_start"], 2027, zurich)
        end_year = 2028 if f["freeze_end"].split()[3] < f["freeze_start"].split()[3] else 2027
        windows.append((start, occurrence(f["freeze_end"], end_year, zurich)))
    periods = blackouts("CH", "2027-01-10", "2028-01-10")
    assert all(covered(s, e, windows) for s, e, _ in periods)
    christmas = next(f for f in freezes if "christmas-peak" in f["description"])
    assert (christmas["freeze_start"], christmas["freeze_end"]) == ("0 0 1 12 *", "0 0 7 1 *")
    assert not any("oktoberfest" in f["description"] for f in freezes)


def test_argocd_options_reach_every_window() -> None:
    code, out, _ = sg("export", "argocd", "-t", "CH", "--from", "2027-01-10", "--months", "3",
                      "--applications", "crm-*,orders", "--namespaces", "prod", "--manual-sync")  # fmt: skip
    assert code == 0
    spec = yaml.safe_load(out)["syncWindows"]
    assert spec and all(w["applications"] == ["crm-*", "orders"] and w["namespaces"] == ["prod"] for w in spec)
    assert all(w["manualSync"] is True for w in spec)


@pytest.mark.parametrize(("months", "message"), [("13", "--months must be 1 to 12"), ("0", "--months must be 1 to 12")])
def test_more_than_a_year_cannot_be_expressed(months: str, message: str) -> None:
    code, out, err = sg("export", "gitlab", "-t", "DE", "--from", "2027-01-01", "--months", months)
    assert code == 2
    assert message in err and "a cron line has no year" in err
    assert out == ""


def test_a_window_across_a_dst_change_says_so_and_keeps_its_elapsed_length() -> None:
    start = to_ts(datetime(2026, 10, 20, tzinfo=BERLIN))
    end = to_ts(datetime(2026, 10, 31, tzinfo=BERLIN))  # after the clocks went back on 25 October
    window = ExportedWindow(start, end, ("inventory",), BERLIN)
    assert window.crosses_dst
    assert window.go_duration == "265h"  # 11 days and the extra hour
    assert window.start_cron == "0 0 20 10 *" and window.end_cron == "0 0 31 10 *"
    assert any("DST" in note for note in window.notes())
    assert from_ts(start + go_seconds(window.go_duration), BERLIN).hour == 0  # Argo CD's end is local midnight


def test_export_without_from_starts_on_today_in_the_territory_not_in_utc() -> None:
    """At half past midnight on 1 July in Berlin it is still 30 June in UTC: the export of
    one month from "today" covers July (Berlin's day), up to 1 August."""
    from freezegun import freeze_time

    with freeze_time("2027-06-30 22:30:00"):  # 2027-07-01 00:30 in Berlin (CEST)
        code, out, err = sg("export", "argocd", "-t", "DE", "--months", "1")
    assert code == 0, err
    assert "touching 2027-07-01 to 2027-08-01" in out
    at = datetime(2027, 6, 30, 22, 30, tzinfo=ZoneInfo("UTC"))
    assert api.export_blackouts(target="argocd", territory="DE", start=at, months=1) == out
    with pytest.raises(InputError, match="no UTC offset"):
        api.export_blackouts(target="argocd", territory="DE", start=datetime(2027, 7, 1), months=1)
