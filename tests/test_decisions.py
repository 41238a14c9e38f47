"""Decision cases as data (tests/cases/*.yaml), plus overrides at the policy level."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path
from typing import Any

import pytest
import yaml

from seasongate._policy import Decision, GrantApproval, OverrideGrant, Policy, Request, load_policy
from seasongate._time import iso, to_ts
from seasongate._versions import Version
from seasongate.api import build_request
from tests.conftest import ROOT, shipped_policy

CASES = sorted((Path(__file__).parent / "cases").glob("*.yaml"))


def _policy(path: str) -> Policy:
    policy: Policy = shipped_policy(Path(path).stem)
    return policy


def _load_cases() -> list[Any]:
    params = []
    for file in CASES:
        data = yaml.safe_load(file.read_text(encoding="utf-8"))
        for case in data["cases"]:
            params.append(pytest.param(data["policy"], case, id=f"{file.stem}:{case['id']}"))
    return params


def _when(decision: Decision, ts: int | None) -> str | None:
    return None if ts is None else iso(ts, decision.zone)


@pytest.mark.parametrize(("policy_path", "case"), _load_cases())
def test_decision_case(policy_path: str, case: dict[str, Any]) -> None:
    policy = _policy(policy_path)
    req = case["request"]
    request = build_request(
        environment=req["environment"], territory=req["territory"], migration=req.get("migration"),
        risk=req.get("risk"), duration=req.get("duration"), operation=req.get("operation", "apply"),
        migration_class=req.get("class"),
    )  # fmt: skip
    decision = policy.evaluate(request, datetime.fromisoformat(case["at"]))
    assert decision.verdict == case["verdict"]
    deciding = [r.rule for r in (decision.denying if not decision.allowed else decision.reasons)]
    assert deciding == case["rules"]
    if "periods" in case:
        named = {p.name for r in decision.reasons for p in r.periods}
        assert set(case["periods"]) <= named
    for key in ("next_allowed_at", "allowed_until", "latest_start"):
        if key in case:
            assert _when(decision, getattr(decision, key)) == case[key], key


def _grant(
    rules: set[str],
    start: str,
    end: str,
    versions: tuple[str, str] | None = ("V226", "V230"),
    role: str = "release_manager",
) -> OverrideGrant:
    return OverrideGrant(
        id="ovr-1", environment="production", territory="DE",
        versions=(Version.parse(versions[0]), Version.parse(versions[1])) if versions else None,
        rules=frozenset(rules), valid_from=to_ts(datetime.fromisoformat(start)),
        valid_until=to_ts(datetime.fromisoformat(end)), requester="anna.huber",
        approvals=(GrantApproval("jonas.meier", role), GrantApproval("lea.keller", role)),
        reason="hotfix", ticket="CRM-1",
    )  # fmt: skip


def test_override_lifts_only_the_rules_it_names_while_valid() -> None:
    policy = _policy("policies/production.yaml")
    grant = _grant({"seasonal-blackout"}, "2026-09-25T00:00+02:00", "2026-09-26T00:00+02:00")
    request = Request("production", "DE", Version.parse("V226"))
    night = policy.evaluate(request, datetime.fromisoformat("2026-09-25T22:00+02:00"), [grant])
    assert night.allowed
    assert night.override is grant
    assert [r.lifted_by for r in night.reasons if r.rule == "seasonal-blackout"] == ["ovr-1"]
    # Business hours are not lifted by this override.
    day = policy.evaluate(request, datetime.fromisoformat("2026-09-25T10:00+02:00"), [grant])
    assert not day.allowed and [r.rule for r in day.denying] == ["business-hours"]
    # After the override expires, Oktoberfest denies again.
    later = policy.evaluate(request, datetime.fromisoformat("2026-09-26T22:00+02:00"), [grant])
    assert not later.allowed and later.override is None
    # next_allowed_at of the daytime denial is the evening, inside the override.
    assert iso(day.next_allowed_at or 0, day.zone) == "2026-09-25T20:00:00+02:00"


def test_override_outside_its_scope_or_for_a_fixed_rule_does_nothing() -> None:
    policy = _policy("policies/production.yaml")
    at = datetime.fromisoformat("2026-09-25T22:00+02:00")
    grant = _grant({"seasonal-blackout"}, "2026-09-25T00:00+02:00", "2026-09-26T00:00+02:00")
    other_version = policy.evaluate(Request("production", "DE", Version.parse("V231")), at, [grant])
    assert not other_version.allowed
    other_territory = policy.evaluate(
        Request("production", "CH", Version.parse("V226")), datetime.fromisoformat("2026-05-20T22:00+02:00"), [grant]
    )
    assert not other_territory.allowed
    fixed = _grant({"no-testdata-in-production"}, "2026-11-28T00:00+01:00", "2026-11-29T00:00+01:00", None)
    testdata = policy.evaluate(
        Request("production", "DE", Version.parse("V10000")), datetime.fromisoformat("2026-11-28T23:00+01:00"), [fixed]
    )
    assert not testdata.allowed and testdata.override is None


def test_unknown_environment_territory_and_version_are_errors() -> None:
    from seasongate._errors import InputError

    policy = _policy("policies/production.yaml")
    at = datetime.fromisoformat("2026-11-28T23:00+01:00")
    with pytest.raises(InputError, match=r"unknown environment 'prod'.*production"):
        policy.evaluate(Request("prod", "DE"), at)
    with pytest.raises(InputError, match=r"unknown territory 'AT'.*DE, CH"):
        policy.evaluate(Request("production", "AT"), at)
    with pytest.raises(InputError, match="V0 is in no migration class"):
        policy.evaluate(Request("production", "DE", Version.parse("V0")), at)


def test_latest_start_needs_a_run() -> None:
    policy = _policy("policies/production.yaml")
    anything = Request("production", "DE", migration_class="production")
    plain = policy.evaluate(anything, datetime.fromisoformat("2026-11-30T22:00+01:00"))
    assert plain.allowed and plain.latest_start is None
    assert iso(plain.allowed_until or 0, plain.zone) == "2026-11-30T23:30:00+01:00"
    assert not policy.evaluate(anything, plain.allowed_until or 0).allowed


def test_early_years_of_german_holidays() -> None:
    policy = load_policy(ROOT / "policies" / "production.yaml")
    anything = Request("production", "DE", migration_class="production")
    decision = policy.evaluate(anything, datetime.fromisoformat("1992-01-01T22:00+01:00"))
    assert [r.rule for r in decision.denying] == ["seasonal-blackout", "public-holiday"]  # Neujahr 1992


def test_policy_without_classes_and_holidays_by_name(tmp_path: Path) -> None:
    body = (ROOT / "policies" / "staging.yaml").read_text(encoding="utf-8")
    body = body.split("classes:")[0] + (
        "rules:\n  - name: no-new-year\n    effect: deny\n    when: {in_period: {name: Neujahr}}\n"
    )
    (tmp_path / "policies").mkdir()
    path = tmp_path / "policies" / "p.yaml"
    path.write_text(body.replace("../calendars/", str(ROOT / "calendars") + "/"), encoding="utf-8")
    policy = load_policy(path)
    at = datetime.fromisoformat("2026-11-28T23:00+01:00")
    assert policy.evaluate(Request("ci", "DE", Version.parse("V12345")), at).allowed
    denied = policy.evaluate(Request("ci", "DE", Version.parse("V1")), datetime.fromisoformat("2027-01-01T12:00+01:00"))
    assert [r.rule for r in denied.denying] == ["no-new-year"]


def test_a_grant_weaker_than_the_policy_demands_lifts_nothing() -> None:
    policy = _policy("policies/production.yaml")
    request = Request("production", "DE", Version.parse("V226"))
    at = datetime.fromisoformat("2026-09-25T22:00+02:00")
    strong = _grant({"seasonal-blackout"}, "2026-09-25T00:00+02:00", "2026-09-26T00:00+02:00")
    one_approver = strong.__class__(**{**_fields(strong), "approvals": (GrantApproval("jonas.meier", "release_manager"),)})
    self_approved = strong.__class__(**{**_fields(strong), "approvals": (GrantApproval("anna.huber", "release_manager"), GrantApproval("jonas.meier", "release_manager"))})
    too_long = _grant({"seasonal-blackout"}, "2026-09-25T00:00+02:00", "2026-09-29T00:00+02:00")  # 4 days > 72h
    assert policy.evaluate(request, at, [strong]).allowed
    for weak in (one_approver, self_approved, too_long):
        decision = policy.evaluate(request, at, [weak])
        assert not decision.allowed and decision.override is None


def _fields(grant: OverrideGrant) -> dict[str, Any]:
    from dataclasses import fields

    return {f.name: getattr(grant, f.name) for f in fields(grant)}


def test_a_fractional_start_is_judged_at_both_neighbouring_seconds() -> None:
    policy = _policy("policies/production.yaml")
    request = Request("production", "DE", Version.parse("V226"), duration=15 * 60)
    # A 15-minute run from 05:45:00 ends exactly when business hours begin; half a second
    # later it would run into them.
    assert policy.evaluate(request, datetime.fromisoformat("2026-10-07T05:45:00+02:00")).allowed
    assert not policy.evaluate(request, datetime.fromisoformat("2026-10-07T05:45:00.5+02:00")).allowed


def test_an_approval_under_another_role_does_not_count() -> None:
    policy = _policy("policies/production.yaml")
    request = Request("production", "DE", Version.parse("V226"))
    at = datetime.fromisoformat("2026-09-25T22:00+02:00")
    by_dbas = _grant({"seasonal-blackout"}, "2026-09-25T00:00+02:00", "2026-09-26T00:00+02:00", role="dba")
    by_release_managers = _grant({"seasonal-blackout"}, "2026-09-25T00:00+02:00", "2026-09-26T00:00+02:00")
    assert not policy.evaluate(request, at, [by_dbas]).allowed
    assert policy.evaluate(request, at, [by_release_managers]).allowed
