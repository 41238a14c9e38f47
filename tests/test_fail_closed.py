"""Ways around the gate (issue 15), each closed at the principle it broke.

Each test is named after the way around it closes. Principle 1: what the gate does not know
counts against the run. Principle 2: a broken input is an error (exit 2), never a fallback.
Principle 4: an override that does not meet the rule's requirements says so.
"""

from __future__ import annotations

import json
from datetime import datetime
from pathlib import Path

import pytest

from seasongate._errors import InputError, Location, SeasongateError
from seasongate._policy import GrantApproval, OverrideGrant, Policy, Request, load_policy
from seasongate._time import from_ts, to_ts
from seasongate._versions import Version
from seasongate.api import RequestSpec, check, slots
from seasongate.cli import _format
from tests.conftest import CALENDARS, POLICIES, ROOT, invoke, shipped_policy

MONDAY_MORNING = "2026-11-30T09:14+01:00"
MONDAY_NIGHT = "2026-11-30T21:14+01:00"
OKTOBERFEST_NIGHT = "2026-09-25T22:00+02:00"


def _production() -> Policy:
    policy: Policy = shipped_policy("production")
    return policy


def _check(*args: str) -> tuple[int, str]:
    result = invoke("check", "--env", "production", "-t", "DE", "--no-store", *args)
    return result.exit_code, result.output


# -- principle 1: a request without a class does not skip class-scoped rules -----------------


@pytest.mark.usefixtures("in_repo")
def test_way_around_a_classless_check_in_business_hours_is_denied_and_says_why() -> None:
    code, out = _check("--duration", "30m", "--at", MONDAY_MORNING)
    assert code == 1
    assert "[deny] business-hours" in out
    assert "class unknown: class-scoped deny rules applied" in out


@pytest.mark.usefixtures("in_repo")
def test_way_around_stating_the_class_judges_it_like_a_migration_of_that_class() -> None:
    code, out = _check("--class", "production", "--duration", "30m", "--at", MONDAY_MORNING)
    assert code == 1 and "[deny] business-hours" in out and "class unknown" not in out
    code, out = _check("--class", "production", "--duration", "30m", "--at", MONDAY_NIGHT)
    assert code == 0, out


@pytest.mark.usefixtures("in_repo")
def test_way_around_a_class_that_disagrees_with_the_migration_is_an_error() -> None:
    code, out = _check("-m", "V10001", "--class", "production", "--at", MONDAY_NIGHT)
    assert code == 2 and "disagrees with V10001, which is in class testdata" in out
    code, out = _check("--class", "nonsense", "--at", MONDAY_NIGHT)
    assert code == 2 and "unknown migration class 'nonsense'" in out


@pytest.mark.usefixtures("in_repo")
def test_way_around_a_classless_json_decision_names_what_it_did_not_know() -> None:
    code, out = _check("--duration", "30m", "--at", MONDAY_MORNING, "--format", "json")
    data = json.loads(out)
    assert code == 1 and data["migration"]["unknown"] == ["class", "version"]
    assert any(n.startswith("class unknown") for n in data["notes"])


def _project(tmp_path: Path, body: str, name: str = "production.yaml") -> Path:
    folder = tmp_path / "policies"
    folder.mkdir(exist_ok=True)
    path = folder / name
    path.write_text(body.replace("../calendars/", f"{CALENDARS}/"), encoding="utf-8")
    return path


def test_way_around_a_default_class_counts_as_stated_and_the_decision_says_assumed(tmp_path: Path) -> None:
    body = (POLICIES / "production.yaml").read_text(encoding="utf-8")
    body = body.replace("defaults: {risk: medium, duration: 15m}", "defaults: {risk: medium, duration: 15m, class: production}")
    policy = load_policy(_project(tmp_path, body))
    at = datetime.fromisoformat(MONDAY_NIGHT)
    decision = policy.evaluate(Request("production", "DE", duration=1800), at)
    assert decision.allowed
    assert decision.notes == ("class production assumed (the policy's default class)",)
    assert decision.migration.assumed == frozenset({"class"})
    assert not policy.evaluate(Request("production", "DE", duration=1800), datetime.fromisoformat(MONDAY_MORNING)).allowed


def test_way_around_unknown_risk_meets_risk_scoped_deny_rules(tmp_path: Path) -> None:
    body = (POLICIES / "production.yaml").read_text(encoding="utf-8").replace("risk: medium, ", "")
    policy = load_policy(_project(tmp_path, body))
    request = Request("production", "DE", Version.parse("V226"), duration=1800)
    decision = policy.evaluate(request, datetime.fromisoformat("2026-11-24T22:30+01:00"))
    assert not decision.allowed and [r.rule for r in decision.denying] == ["high-risk-in-windows-only"]
    assert any(n.startswith("risk unknown") for n in decision.notes)
    stated = policy.evaluate(Request("production", "DE", Version.parse("V226"), "low", 1800), decision.at)
    assert stated.allowed


def test_way_around_slots_without_a_migration_offers_no_weekday_daytime_slot() -> None:
    start = datetime.fromisoformat("2026-11-23T00:00+01:00")
    classless = slots(RequestSpec("production", "DE", duration="45m"), start=start, days=7, policy=_production(),
                      use_store=False)  # fmt: skip
    assert classless.slots == ()
    assert any(n.startswith("class unknown") for n in classless.notes)
    stated = slots(RequestSpec("production", "DE", migration_class="production", duration="45m"), start=start,
                   days=7, limit=50, policy=_production(), use_store=False)  # fmt: skip
    assert stated.slots
    tz = _production().zone("DE")
    for slot in stated.slots:
        for ts in range(slot.earliest, slot.finish_by, 900):
            local = from_ts(ts, tz)
            assert local.weekday() >= 5 or not 6 <= local.hour < 20, local


@pytest.mark.usefixtures("in_repo")
def test_way_around_an_undo_script_is_never_judged_as_applying_its_version() -> None:
    code, out = _check("-m", "migrations/U225__communication_core.sql", "--at", OKTOBERFEST_NIGHT, "--format", "json")
    data = json.loads(out)
    assert code == 0 and data["migration"]["operation"] == "rollback"
    assert [r["rule"] for r in data["reasons"]] == ["rollbacks-anytime"]


@pytest.mark.parametrize("header", ["risk=hihg duration=2h", "riks=high", "risk=high duration=5x", "duration=0s"])
def test_way_around_a_broken_header_never_falls_back_to_the_defaults(tmp_path: Path, header: str) -> None:
    migration = tmp_path / "V226__big_rewrite.sql"
    migration.write_text(f"-- seasongate: {header}\nSELECT 1;\n", encoding="utf-8")
    with pytest.raises(SeasongateError, match=r"V226__big_rewrite.sql:1:\d+"):
        RequestSpec("production", "DE", str(migration)).resolve()


# -- durations ------------------------------------------------------------------------------


@pytest.mark.usefixtures("in_repo")
@pytest.mark.parametrize(("duration", "message"), [("0", "needs a unit"), ("0m", "must be longer than zero"),
                                                   ("30", "needs a unit"), ("8d", "at most 7d")])  # fmt: skip
def test_way_around_a_run_of_no_length_or_unbounded_length_is_an_error(duration: str, message: str) -> None:
    result = invoke("check", "--env", "production", "-t", "DE", "--no-store", "-m", "V226",
                    "--duration", duration, "--at", "2026-10-07T05:59:59+02:00")  # fmt: skip
    assert result.exit_code == 2
    assert message in result.output


def test_way_around_a_zero_duration_request_through_the_api_is_refused() -> None:
    with pytest.raises(InputError, match="out of range"):
        _production().evaluate(Request("production", "DE", Version.parse("V226"), duration=0), 1_800_000_000)


# -- principle 2: policy discovery never falls back ------------------------------------------


def _in(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, *args: str) -> tuple[int, str]:
    monkeypatch.chdir(tmp_path)
    result = invoke(*args)
    return result.exit_code, result.output


CHECK = ("check", "--env", "production", "-t", "DE", "--no-store", "-m", "V226", "--at", OKTOBERFEST_NIGHT)


def test_way_around_a_broken_project_policy_never_falls_back_to_the_bundled_one(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    _project(tmp_path, "name: p\nenvironments: production\nterritories: {}\n", "p.yaml")
    code, out = _in(tmp_path, monkeypatch, *CHECK)
    assert code == 2
    assert "policies/p.yaml:2:15: environments:" in out
    assert "bundled" not in out


def test_way_around_a_yml_policy_is_found_not_ignored(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    _project(tmp_path, (POLICIES / "production.yaml").read_text(encoding="utf-8"), "production.yml")
    code, out = _in(tmp_path, monkeypatch, *CHECK, "--format", "json")
    assert code == 1
    assert json.loads(out)["policy"]["path"] == "policies/production.yml"


def test_way_around_a_stale_second_policy_for_the_same_environment_is_an_error(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    body = (POLICIES / "production.yaml").read_text(encoding="utf-8")
    _project(tmp_path, body)
    stale = body.split("  - name: seasonal-blackout")[0] + "  - name: production-changes\n    effect: allow\n"
    _project(tmp_path, stale, "production.bak.yaml")
    code, out = _in(tmp_path, monkeypatch, *CHECK)
    assert code == 2
    assert "policies/production.bak.yaml" in out and "policies/production.yaml" in out
    code, out = _in(tmp_path, monkeypatch, "validate")
    assert code == 2


def test_way_around_an_empty_policies_folder_is_an_error(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    (tmp_path / "policies").mkdir()
    code, out = _in(tmp_path, monkeypatch, *CHECK)
    assert code == 2 and "no policy files" in out


# -- values out of range --------------------------------------------------------------------


@pytest.mark.usefixtures("in_repo")
def test_way_around_an_instant_past_the_calendars_is_exit_2() -> None:
    for at in ("9999-12-31T23:59Z", "9999-12-31T23:59-05:00", "0001-01-01T00:00"):
        code, out = _check("-m", "V226", "--at", at)
        assert code == 2, (at, out)
        assert "Traceback" not in out


@pytest.mark.usefixtures("in_repo")
def test_way_around_a_version_of_5000_digits_is_exit_2() -> None:
    code, out = _check("-m", "V" + "9" * 5000, "--at", OKTOBERFEST_NIGHT)
    assert code == 2 and "at most 18 digits" in out and len(out) < 400


# -- principle 4: an override that does not meet the rule says so -----------------------------


def _grant(*approvals: GrantApproval) -> OverrideGrant:
    return OverrideGrant(
        id="ovr-short", environment="production", territory="DE",
        versions=(Version.parse("V226"), Version.parse("V226")), rules=frozenset({"seasonal-blackout"}),
        valid_from=to_ts(datetime.fromisoformat("2026-09-25T00:00+02:00")),
        valid_until=to_ts(datetime.fromisoformat("2026-09-26T00:00+02:00")),
        requester="anna.huber", approvals=approvals, reason="hotfix", ticket="CRM-7",
    )  # fmt: skip


def test_way_around_an_override_with_too_few_approvals_is_reported_not_ignored() -> None:
    request = Request("production", "DE", Version.parse("V226"))
    grant = _grant(GrantApproval("jonas.meier", "release_manager"))
    decision = _production().evaluate(request, datetime.fromisoformat(OKTOBERFEST_NIGHT), [grant])
    assert not decision.allowed
    (unapplied,) = decision.unapplied_overrides
    assert (unapplied.id, unapplied.rule) == ("ovr-short", "seasonal-blackout")
    assert unapplied.why == "needs 2 approval(s) by release_manager, has 1"
    assert decision.to_dict()["unapplied_overrides"] == [
        {"id": "ovr-short", "rule": "seasonal-blackout", "reason": unapplied.why, "ticket": "CRM-7"}
    ]
    assert "override ovr-short [CRM-7] not applied to seasonal-blackout: needs 2" in _format.decision_text(decision)
    assert "::warning title=seasongate: override ovr-short not applied::" in _format.decision_github(decision)


def test_way_around_approvals_under_another_role_are_named_in_the_reason() -> None:
    request = Request("production", "DE", Version.parse("V226"))
    grant = _grant(GrantApproval("jonas.meier", "dba"), GrantApproval("lea.keller", "dba"))
    decision = _production().evaluate(request, datetime.fromisoformat(OKTOBERFEST_NIGHT), [grant])
    assert [u.why for u in decision.unapplied_overrides] == ["needs 2 approval(s) by release_manager, has 0"]


# -- --format github --------------------------------------------------------------------------


@pytest.mark.usefixtures("in_repo")
def test_github_errors_become_error_annotations_with_their_location(tmp_path: Path) -> None:
    bad = tmp_path / "p.yaml"
    bad.write_text("environments: [production]\nterritories: {DE: {calendar: nowhere.yaml}}\n", encoding="utf-8")
    code, out = _check("-m", "V226", "--policy", str(bad), "--at", OKTOBERFEST_NIGHT, "--format", "github")
    assert code == 2
    assert out.startswith("::error file=") and ",line=2,col=" in out
    code, out = _check("-m", "V226", "--duration", "0", "--format", "github")
    assert code == 2 and out.startswith("::error title=seasongate: error::")


@pytest.mark.usefixtures("in_repo")
def test_github_annotations_of_a_migration_file_carry_file() -> None:
    migration = "migrations/V225__communication_core.sql"
    code, out = _check("-m", migration, "--at", OKTOBERFEST_NIGHT, "--format", "github")
    assert code == 1
    assert all(line.startswith(f"::error file={migration},") or line.startswith("::notice")
               for line in out.splitlines() if line.startswith("::"))  # fmt: skip


def test_github_an_allow_by_override_is_a_warning_naming_id_and_ticket() -> None:
    request = Request("production", "DE", Version.parse("V226"))
    grant = _grant(GrantApproval("jonas.meier", "release_manager"), GrantApproval("lea.keller", "release_manager"))
    decision = _production().evaluate(request, datetime.fromisoformat(OKTOBERFEST_NIGHT), [grant])
    assert decision.allowed and decision.override is grant
    out = _format.decision_github(decision, "migrations/V226__x.sql")
    assert out.startswith("::warning file=migrations/V226__x.sql,title=seasongate: allowed by override ovr-short::")
    assert "[CRM-7]" in out


# -- locations are values ---------------------------------------------------------------------


def test_rule_source_is_a_location() -> None:
    rule = _production().rule("business-hours")
    assert isinstance(rule.source, Location)
    assert rule.source.path.endswith("policies/production.yaml") and rule.source.line > 1
    decision = check(RequestSpec("production", "DE", "V226"), at=datetime.fromisoformat(OKTOBERFEST_NIGHT),
                     policy=_production(), use_store=False)  # fmt: skip
    assert decision.to_dict()["reasons"][0]["source"] == f"{rule.source.path}:{_production().rules[2].source.line}"
    assert ROOT.is_dir()


@pytest.mark.parametrize("key", ["risk", "operations", "classes", "territories", "environments", "days"])
def test_way_around_an_empty_list_never_switches_a_deny_rule_off(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, key: str
) -> None:
    # `when: {operations: []}` matched nothing, so business-hours never denied (found in QA).
    body = (POLICIES / "production.yaml").read_text(encoding="utf-8")
    rule = "    when:\n      operations: [apply]\n      classes: [production]\n      days: [mon-fri]\n"
    assert rule in body
    rest = "" if key == "operations" else "      operations: [apply]\n"
    _project(tmp_path, body.replace(rule, f"    when:\n      {key}: []\n{rest}", 1))
    code, out = _in(tmp_path, monkeypatch, *CHECK)
    assert code == 2
    assert f"when.{key}: an empty list matches nothing" in out
