"""Property tests: the fast interval code against brute-force oracles that scan minute by
minute, over small random ranges of the shipped calendars and policy."""

from __future__ import annotations

import copy
from datetime import UTC, datetime
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from seasongate._calendar import Selector, build_index, load_calendar
from seasongate._policy import GrantApproval, OverrideGrant, Policy, Request, Rule, load_policy
from seasongate._time import from_ts, to_ts
from seasongate._versions import Version
from seasongate.api import slots
from tests.conftest import CALENDARS, POLICIES

DE = load_calendar(CALENDARS / "de-by.yaml")
INDEX = build_index(DE, 2026, 2027)
POLICY = load_policy(POLICIES / "production.yaml")
MINUTE = 60

# Days where things happen: DST nights, season edges, holidays, an ordinary week.
INTERESTING = [
    "2026-03-28T12:00Z", "2026-04-14T12:00Z", "2026-06-24T12:00Z", "2026-08-14T12:00Z",
    "2026-09-18T12:00Z", "2026-10-02T12:00Z", "2026-10-24T12:00Z", "2026-11-13T12:00Z",
    "2026-11-30T12:00Z", "2027-01-06T12:00Z", "2027-03-27T12:00Z",
]  # fmt: skip
instants = st.builds(
    lambda base, offset: to_ts(datetime.fromisoformat(base)) + offset * MINUTE,
    st.sampled_from(INTERESTING),
    st.integers(-36 * 60, 36 * 60),
)


@settings(max_examples=60, deadline=None)
@given(instants, st.integers(1, 6 * 60))
def test_active_periods_match_a_linear_scan(start: int, minutes: int) -> None:
    """Minute by minute over a random range of up to six hours."""
    for t in range(start, start + minutes * MINUTE, MINUTE):
        expected = {p for p in INDEX.periods if p.start <= t < p.end}
        assert set(INDEX.active_at(t)) == expected
        selector = Selector.of(kind="blackout")
        later = [p for p in INDEX.periods if p.start > t and selector.matches(p)]
        nxt = INDEX.next_start(selector, t)
        assert (nxt.start if nxt else None) == (min(p.start for p in later) if later else None)


def _rule_times_hold(rule: Rule, m: int) -> bool:
    """Whether minute ``m`` is in the rule's time set, computed from scratch."""
    active = INDEX.active_at(m)
    for cond in rule.periods:
        hit = any(cond.selector.matches(p) for p in active)
        if hit == cond.negate:
            return False
    if rule.clock is not None:
        local = from_ts(m, DE.tz)
        start, end = rule.clock.start, rule.clock.end
        assert start is not None and end is not None
        in_time = start <= local.time() < end if start < end else (local.time() >= start or local.time() < end)
        day = local.weekday() if start < end or local.time() >= start else (local.weekday() - 1) % 7
        if not (in_time and day in rule.clock.days):
            return False
    if rule.finish_before is not None:
        fb = rule.finish_before
        if not any(fb.selector.matches(p) and p.start - fb.margin <= m < p.start for p in INDEX.periods):
            return False
    return True


def _static_holds(rule: Rule, request: Request, attributes: dict[str, object]) -> bool:
    """Whether the rule's static conditions hold, read from the rule's fields and the
    request's attributes (``None``: unknown, which holds for a deny rule, fails an allow)."""
    unknown = rule.effect == "deny"
    version = attributes["version"]
    checks = [
        (rule.environments, request.environment),
        (rule.territories, request.territory),
        (rule.classes, attributes["class"]),
        (rule.risks, attributes["risk"]),
        (rule.operations, request.operation),
    ]
    for allowed_values, value in checks:
        if allowed_values is None:
            continue  # the rule does not ask
        if value is None:
            if not unknown:
                return False  # an allow rule never matches what the request leaves unknown
        elif value not in allowed_values:
            return False
    if rule.versions is not None:
        if version is None:
            return unknown
        assert isinstance(version, Version)
        low, high = rule.versions
        if version.parts < low.parts or (high is not None and version.parts > high.parts):
            return False
    return True


def _attributes(policy: Policy, request: Request) -> dict[str, object]:
    """Class, risk and version as the policy file states them, classified by hand: the class
    ranges compared on version tuples, the default risk and class taken from the file."""
    cls: str | None = request.migration_class
    if request.version is not None:
        for migration_class in policy.migration_classes:
            above = request.version.parts >= migration_class.low.parts
            below = migration_class.high is None or request.version.parts[0] <= migration_class.high.parts[0]
            if above and below:
                cls = migration_class.name
                break
    return {"class": cls or policy.default_class, "risk": request.risk or policy.default_risk, "version": request.version}


def oracle_allowed(
    policy: Policy, request: Request, t: int, duration: int, lifted: frozenset[str] = frozenset()
) -> bool:
    """The policy's semantics evaluated naively: deny wins; a deny rule matches when any
    minute of the run is in its times; an allow rule when every minute is. Static matching
    is computed here from the rule's fields, not by the engine. The deny rules named in
    ``lifted`` are lifted at ``t`` (an override valid at the start)."""
    attributes = _attributes(policy, request)
    minutes = range(t, t + max(duration, 60), MINUTE)
    allowed = policy.default == "allow"
    for rule in policy.rules:
        if not _static_holds(rule, request, attributes) or (rule.effect == "deny" and rule.name in lifted):
            continue
        if rule.effect == "deny" and any(_rule_times_hold(rule, m) for m in minutes):
            return False
        if rule.effect == "allow" and all(_rule_times_hold(rule, m) for m in minutes):
            allowed = True
    return allowed


def _request(risk: str | None, minutes: int, version: str | None, cls: str | None) -> Request:
    return Request("production", "DE", Version.parse(version) if version else None, risk, minutes * MINUTE,
                   migration_class=None if version else cls)  # fmt: skip


requests = st.builds(
    _request,
    st.sampled_from(["low", "medium", "high", None]),
    st.sampled_from([1, 15, 45, 120, 330]),
    st.sampled_from(["V226", "V10000", "V8001", None]),
    st.sampled_from(["production", "feature", None]),
)


@settings(max_examples=80, deadline=None)
@given(requests, instants)
def test_verdict_matches_the_minute_oracle(request: Request, t: int) -> None:
    decision = POLICY.evaluate(request, t)
    assert decision.allowed == oracle_allowed(POLICY, request, t, request.duration or 0)


@settings(max_examples=60, deadline=None)
@given(requests, instants)
def test_next_allowed_at_is_allowed_and_nothing_earlier_is(request: Request, t: int) -> None:
    decision = POLICY.evaluate(request, t)
    if decision.allowed or decision.next_allowed_at is None:
        return
    nxt = decision.next_allowed_at
    assert POLICY.evaluate(request, nxt).allowed
    assert oracle_allowed(POLICY, request, nxt, request.duration or 0)
    # Every minute before it (within three days) is denied.
    for m in range(t, min(nxt, t + 3 * 86400), MINUTE):
        assert not oracle_allowed(POLICY, request, m, request.duration or 0), from_ts(m, UTC)


@settings(max_examples=25, deadline=None)
@given(st.sampled_from([15, 45, 240]), instants, st.sampled_from(["medium", "high"]))
def test_every_start_inside_a_slot_is_allowed_for_the_whole_run(minutes: int, t: int, risk: str) -> None:
    result = slots(
        environment="production", territory="DE", duration=minutes * MINUTE, start=from_ts(t),
        days=4, limit=50, migration="V226", risk=risk, policy=POLICY, use_store=False,
    )  # fmt: skip
    request = result.request
    for slot in result.slots:
        assert slot.finish_by == slot.latest + minutes * MINUTE
        step = max(MINUTE, (slot.latest - slot.earliest) // 6 // MINUTE * MINUTE)
        for m in [*range(slot.earliest, slot.latest + 1, step), slot.latest]:
            assert oracle_allowed(POLICY, request, m, minutes * MINUTE)
        if slot.earliest > t:
            assert not oracle_allowed(POLICY, request, slot.earliest - MINUTE, minutes * MINUTE)
        if not slot.clipped:
            assert not oracle_allowed(POLICY, request, slot.latest + MINUTE, minutes * MINUTE)
        else:
            assert slot.latest == result.end


@settings(max_examples=40, deadline=None)
@given(requests, instants)
def test_explain_reads_the_verdict_evaluate_computed(request: Request, t: int) -> None:
    """The rules explain calls matching are exactly the decision's reasons, and a matching
    rule holds in the oracle too."""
    decision, checks = POLICY.explain(request, t)
    assert decision == POLICY.evaluate(request, t)
    assert [c.rule.name for c in checks if c.matched] == [r.rule for r in decision.reasons]
    attributes = _attributes(POLICY, request)
    for check in checks:
        assert check.matched == (
            _static_holds(check.rule, request, attributes)
            and check.rule.name in {r.rule for r in decision.reasons}
        )


# The shipped policy with version-scoped rules added: a random version must meet exactly the
# rules its number puts it under, whatever versions the policy object judged before.
VERSION_RULES = """
  - name: frozen-range-on-weekends
    effect: deny
    message: V500-V2000.5 are frozen on weekend days
    when: {versions: {from: V500, to: V2000.5}, days: [sat, sun], time: {from: "08:00", to: "18:00"}}
  - name: retired-range
    effect: deny
    message: V3000-V3100 are retired
    when: {versions: {from: V3000, to: V3100}}
  - name: late-range-anytime
    effect: allow
    message: V7000 and later may run at any time outside a denial
    when: {versions: {from: V7000}, operations: [apply]}
"""


@pytest.fixture(scope="module")
def versioned_policy(tmp_path_factory: pytest.TempPathFactory) -> Policy:
    text = (POLICIES / "production.yaml").read_text(encoding="utf-8")
    text = text.replace("../calendars/", f"{CALENDARS.as_posix()}/") + VERSION_RULES
    path: Path = tmp_path_factory.mktemp("versioned") / "production.yaml"
    path.write_text(text, encoding="utf-8")
    return load_policy(path)


random_versions = st.one_of(
    st.builds(lambda n: f"V{n}", st.integers(1, 12000)),
    st.builds(lambda n, m: f"V{n}.{m}", st.sampled_from([499, 500, 2000, 2001, 3000, 3100, 6999, 7000, 7999]),
              st.integers(0, 9)),
)  # fmt: skip


@settings(max_examples=150, deadline=None)
@given(random_versions, st.sampled_from(["low", "high", None]), st.sampled_from([1, 45, 330]), instants)
def test_a_random_version_gets_the_oracles_verdict(
    versioned_policy: Policy, version: str, risk: str | None, minutes: int, t: int
) -> None:
    """A new version on every call, on one policy object (its caches warm from the versions
    before): the verdict is the oracle's, and the whole decision is what a policy with no
    cache at all decides."""
    request = _request(risk, minutes, version, None)
    decision = versioned_policy.evaluate(request, t)
    assert decision.allowed == oracle_allowed(versioned_policy, request, t, request.duration or 0)
    assert decision.migration.version == request.version
    cold = copy.copy(versioned_policy)  # the compiled policy and its expanded years; no cache
    assert cold.evaluate(request, t) == decision


def test_new_versions_share_the_start_sets_of_their_shape(versioned_policy: Policy) -> None:
    """Structural: the start sets are keyed by what the rules tell apart, not by version. V1 to
    V499 meet the same rules (production class, in none of the version-scoped ranges), so
    judging 499 of them builds one set of start sets; V3050 (a retired range) adds one."""
    cold = copy.copy(versioned_policy)
    t = to_ts(datetime.fromisoformat("2026-06-24T12:00Z"))
    for n in range(1, 500):
        cold.evaluate(_request("medium", 15, f"V{n}", None), t)
    assert len(cold._coverage["DE"].start_sets) == 1
    cold.evaluate(_request("medium", 15, "V3050", None), t)
    assert len(cold._coverage["DE"].start_sets) == 2


OVERRIDABLE = [r.name for r in POLICY.rules if r.effect == "deny" and r.override is not None]


@settings(max_examples=80, deadline=None)
@given(requests, instants, st.sets(st.sampled_from(OVERRIDABLE), min_size=1, max_size=2),
       st.integers(-6 * 60, 6 * 60), st.integers(1, 12 * 60))  # fmt: skip
def test_an_override_lifts_exactly_while_it_is_valid(
    request: Request, t: int, rules: set[str], offset: int, validity: int
) -> None:
    """A fully approved grant (within every rule's limits) lifts the rules it names at the
    starts inside its validity and nowhere else: the oracle with those rules skipped there."""
    valid_from = t + offset * MINUTE
    approvals = (GrantApproval("anna", "release_manager"), GrantApproval("jonas", "release_manager"))
    grant = OverrideGrant("o1", "production", "DE", None, frozenset(rules), valid_from,
                          valid_from + validity * MINUTE, "lea", approvals, "incident", "INC-1")  # fmt: skip
    decision = POLICY.evaluate(request, t, [grant])
    lifted = frozenset(rules) if grant.valid_from <= t < grant.valid_until else frozenset()
    assert decision.allowed == oracle_allowed(POLICY, request, t, request.duration or 0, lifted)
    assert not decision.unapplied_overrides
