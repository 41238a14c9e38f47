"""Override rules: the pure ones, and the same rules through the api on both stores."""

from __future__ import annotations

from dataclasses import replace
from datetime import timedelta

import pytest

from seasongate._errors import InputError, OverrideError, SeasongateError
from seasongate._overrides import (
    ACTIVE,
    CONSUMED,
    EXPIRED,
    PENDING,
    REJECTED,
    REVOKED,
    SCHEDULED,
    Approval,
    Closure,
    OverrideRecord,
    Requirements,
    Scope,
    approval_roles,
    check_consume,
    check_reject,
    check_revoke,
    combine_specs,
    format_versions,
    new_override,
    parse_versions,
)
from seasongate._policy import GrantApproval, OverrideSpec, Policy
from seasongate._versions import Version
from seasongate.api import check
from seasongate.api._overrides import (
    override_approve,
    override_list,
    override_reject,
    override_request,
    override_revoke,
    override_show,
)
from tests import store_support
from tests.store_support import (
    CI_USER,
    OKTOBERFEST,
    OUTSIDER,
    QUIET,
    Actors,
)

# The fixtures of tests/store_support.py, visible to pytest in this module.
actors = store_support.actors
pg_roles = store_support.pg_roles
production_policy = store_support.production_policy
store_url = store_support.store_url

ANNA, JONAS, LEA = "anna.huber", "jonas.meier", "lea.keller"
RM = ("release_manager",)
H = 3600
T0 = 1_790_323_200  # 2026-09-25T08:00Z


# -- pure rules ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("V226", "V226"),
        (" v226 ", "V226"),
        ("V226..V230", "V226..V230"),
        ("V2.1..V2.10", "V2.1..V2.10"),
        ("any", "any"),
        ("ANY", "any"),
        ("V226..V226", "V226"),
    ],
)
def test_versions_round_trip(text: str, expected: str) -> None:
    assert format_versions(parse_versions(text)) == expected


@pytest.mark.parametrize("text", ["", "V", "V230..V226", "V226..", "..V230", "V226...V230", "x"])
def test_bad_versions_are_input_errors(text: str) -> None:
    with pytest.raises(InputError):
        parse_versions(text)


def test_combining_specs_takes_most_approvals_shortest_validity_and_every_role() -> None:
    got = combine_specs(
        {
            "seasonal-blackout": OverrideSpec(2, "release_manager", 72 * H),
            "business-hours": OverrideSpec(1, "release_manager", 12 * H),
            "dba-only": OverrideSpec(1, "dba", 24 * H),
        }
    )
    assert got == Requirements(
        rules=("business-hours", "dba-only", "seasonal-blackout"),
        approvals=2,
        roles=("dba", "release_manager"),
        max_validity=12 * H,
    )


def test_a_rule_without_spec_cannot_be_lifted() -> None:
    with pytest.raises(OverrideError, match="no-testdata-in-production cannot be overridden"):
        combine_specs({"no-testdata-in-production": None, "x": OverrideSpec(1, "release_manager", H)})
    with pytest.raises(OverrideError, match="at least one rule"):
        combine_specs({})


def _record(**changes: object) -> OverrideRecord:
    base = new_override(
        override_id="ovr-1",
        scope=Scope("production", "DE", parse_versions("V226")),
        requirements=Requirements(("seasonal-blackout",), 2, ("release_manager",), 72 * H),
        valid_from=T0,
        valid_until=T0 + 4 * H,
        at=T0,
        requester=ANNA,
        reason="hotfix",
        ticket="INC-1",
    )
    return replace(base, **changes)  # type: ignore[arg-type]


def _roster(role: str) -> tuple[str, ...]:
    return (ANNA, JONAS, LEA) if role == "release_manager" else ()


def test_status_follows_approvals_time_and_closures() -> None:
    pending = _record()
    assert pending.status(T0) == PENDING
    one = replace(pending, approvals=(Approval(JONAS, T0, "", RM), Approval(JONAS, T0 + 1, "", RM)))
    assert one.approvers == (JONAS,) and one.status(T0) == PENDING  # twice counts once
    own = replace(pending, approvals=(Approval(ANNA, T0, "", RM), Approval(JONAS, T0, "", RM)))
    assert own.status(T0) == PENDING  # the requester's own approval never counts
    other_role = replace(pending, approvals=(Approval(JONAS, T0, "", ("dba",)), Approval(LEA, T0, "", ("dba",))))
    assert other_role.status(T0) == PENDING  # approvals count only under the override's role
    assert other_role.to_grant().approvals == (GrantApproval(JONAS, "dba"), GrantApproval(LEA, "dba"))
    done = replace(pending, approvals=(Approval(JONAS, T0, "", RM), Approval(LEA, T0, "", RM)))
    assert done.status(T0 - 1) == SCHEDULED
    assert done.status(T0) == ACTIVE and done.grants_at(T0)
    assert done.status(T0 + 4 * H) == EXPIRED and not done.grants_at(T0 + 4 * H)
    closed = Closure("x", T0, "n")
    assert replace(done, revoked=closed).status(T0) == REVOKED
    assert replace(pending, rejected=closed).status(T0) == REJECTED
    assert replace(done, consumed=closed).status(T0) == CONSUMED
    grant = done.to_grant()
    assert grant.approvers == (JONAS, LEA) and grant.rules == frozenset({"seasonal-blackout"})
    # The grant carries the role each approval was made under, as stored: nothing fabricated.
    assert grant.approvals == (GrantApproval(JONAS, "release_manager"), GrantApproval(LEA, "release_manager"))
    assert grant.versions == (Version.parse("V226"), Version.parse("V226"))


def test_approval_rules() -> None:
    record = _record()
    with pytest.raises(OverrideError, match=r"anna.huber requested override ovr-1 and cannot"):
        approval_roles(record, ANNA, T0, _roster)
    with pytest.raises(OverrideError, match=r"dev.dora holds none of the roles override ovr-1 needs"):
        approval_roles(record, OUTSIDER, T0, _roster)
    assert approval_roles(record, JONAS, T0, _roster) == RM
    approved = replace(record, approvals=(Approval(JONAS, T0, "", RM),))
    assert approval_roles(approved, JONAS, T0, _roster) == ()
    with pytest.raises(OverrideError, match="is expired and can no longer be approved"):
        approval_roles(record, JONAS, T0 + 4 * H, _roster)
    with pytest.raises(OverrideError, match="is revoked"):
        approval_roles(replace(record, revoked=Closure(ANNA, T0, "x")), JONAS, T0, _roster)
    with pytest.raises(OverrideError, match=r"it cannot be approved at 2026-09-25T07:00:00.00:00, before that"):
        approval_roles(replace(record, created_at=T0), JONAS, T0 - H, _roster)


def test_an_approver_approves_under_the_roles_they_hold() -> None:
    record = replace(_record(), roles=("dba", "release_manager"))

    def roster(role: str) -> tuple[str, ...]:
        return {"dba": (JONAS, LEA), "release_manager": (LEA,)}[role]

    assert approval_roles(record, JONAS, T0, roster) == ("dba",)
    assert approval_roles(record, LEA, T0, roster) == ("dba", "release_manager")


def test_reject_revoke_and_consume_rules() -> None:
    record = _record()
    with pytest.raises(OverrideError, match="cannot reject it"):
        check_reject(record, ANNA, T0, _roster)
    with pytest.raises(OverrideError, match="holds none of the roles"):
        check_reject(record, OUTSIDER, T0, _roster)
    check_reject(record, JONAS, T0, _roster)
    active = replace(record, approvals=(Approval(JONAS, T0, "", RM), Approval(LEA, T0, "", RM)))
    with pytest.raises(OverrideError, match=r"already approved .active.; revoke it instead"):
        check_reject(active, JONAS, T0, _roster)
    check_revoke(active, ANNA, T0, _roster)  # the requester withdraws
    check_revoke(active, LEA, T0, _roster)
    with pytest.raises(OverrideError, match="only its requester, a holder of release_manager or a release manager"):
        check_revoke(active, OUTSIDER, T0, _roster)
    # A release manager can always revoke, even an override whose role they do not hold.
    check_revoke(replace(active, roles=("dba",)), LEA, T0, _roster)
    assert check_consume(active, T0) is False  # not single use: nothing to record
    single = replace(active, single_use=True)
    assert check_consume(single, T0) is True
    with pytest.raises(OverrideError, match="is consumed and can no longer be used"):
        check_consume(replace(single, consumed=Closure("ci", T0, "run")), T0)
    # Recorded after the gate allowed the run: a window closed or a revocation since does not
    # undo the use.
    assert check_consume(single, T0 + 5 * H) is True
    assert check_consume(replace(single, revoked=Closure(ANNA, T0, "x")), T0 + H) is True
    for never, when in ((replace(record, single_use=True), T0),
                        (replace(single, rejected=Closure(JONAS, T0, "x")), T0),
                        (single, T0 - 1)):  # fmt: skip
        with pytest.raises(OverrideError, match="cannot be used"):
            check_consume(never, when)


@pytest.mark.parametrize(
    ("changes", "error", "message"),
    [
        ({"reason": "  "}, InputError, "the reason must not be empty"),
        ({"ticket": ""}, InputError, "the ticket must not be empty"),
        ({"reason": "a\x00b"}, InputError, "NUL"),
        ({"reason": "x" * 2001}, InputError, "at most 2000"),
        ({"valid_until": T0 - 1}, InputError, "not after"),
        ({"valid_from": T0 + 5 * H}, InputError, "before it starts"),
        ({"valid_until": T0 + 73 * H}, OverrideError, "at most 3d; 3d1h requested"),
    ],
)
def test_new_override_refuses(changes: dict[str, object], error: type[Exception], message: str) -> None:
    args: dict[str, object] = {
        "override_id": "ovr-1",
        "scope": Scope("production", "DE", None),
        "requirements": Requirements(("seasonal-blackout",), 2, ("release_manager",), 72 * H),
        "valid_from": T0,
        "valid_until": T0 + 4 * H,
        "at": T0,
        "requester": ANNA,
        "reason": "hotfix",
        "ticket": "INC-1",
    }
    args.update(changes)
    with pytest.raises(error, match=message):
        new_override(**args)  # type: ignore[arg-type]


# -- through the api, on both stores --------------------------------------------------------


def _request(actors: Actors, policy: Policy, user: str = ANNA, **kw: object) -> OverrideRecord:
    args: dict[str, object] = {
        "at": OKTOBERFEST,
        "environment": "production",
        "territory": "DE",
        "versions": "V226",
        "reason": "order import broken",
        "ticket": "INC-4711",
        "duration": "4h",
    }
    args.update(kw)
    with actors.open(user) as store:
        return override_request(policy, store=store, **args)  # type: ignore[arg-type]


def _approve(actors: Actors, policy: Policy, user: str, oid: str, **kw: object) -> bool:
    with actors.open(user) as store:
        at = kw.pop("at", OKTOBERFEST)
        return override_approve(policy, oid, at=at, store=store, **kw).counted  # type: ignore[arg-type]


def test_request_lifts_the_rules_that_deny_by_default(actors: Actors, production_policy: Policy) -> None:
    record = _request(actors, production_policy)
    # At 10:00 on a Friday in the Oktoberfest both the blackout and business hours deny.
    assert record.rules == ("business-hours", "seasonal-blackout")
    assert record.approvals_required == 2 and record.roles == ("release_manager",)
    assert record.max_validity == 12 * H  # the stricter of 72h and 12h
    assert record.requester == ANNA and record.status(int(OKTOBERFEST.timestamp())) == PENDING
    assert record.valid_until - record.valid_from == 4 * H


def test_two_release_managers_make_an_override_that_check_honours(actors: Actors, production_policy: Policy) -> None:
    def decide() -> bool:
        with actors.open(LEA) as store:
            return check(
                environment="production", territory="DE", migration="V226", at=OKTOBERFEST,
                policy=production_policy, store=store,
            ).allowed  # fmt: skip

    assert decide() is False
    oid = _request(actors, production_policy).id
    with pytest.raises(OverrideError, match="cannot approve it"):
        _approve(actors, production_policy, ANNA, oid)
    with pytest.raises(
        OverrideError, match=r"holds none of the roles override .* needs approvals from .release_manager."
    ):
        _approve(actors, production_policy, OUTSIDER, oid)
    assert _approve(actors, production_policy, JONAS, oid, comment="ok") is True
    assert _approve(actors, production_policy, JONAS, oid) is False  # counts once
    with actors.open(LEA) as store:
        assert store.active_grants("production", "DE", OKTOBERFEST) == []
    assert decide() is False
    assert _approve(actors, production_policy, LEA, oid) is True
    with actors.open(LEA) as store:
        grants = store.active_grants("production", "DE", OKTOBERFEST)
        assert [g.id for g in grants] == [oid]
        assert grants[0].approvers == (JONAS, LEA)
        assert store.active_grants("production", "CH", OKTOBERFEST) == []
        assert store.active_grants("production", "DE", OKTOBERFEST + timedelta(hours=4)) == []
    assert decide() is True
    shown = override_show(oid, store=actors.url_for(LEA))
    assert [a.comment for a in shown.approvals] == ["ok", ""]


def test_pending_rejected_revoked_expired_never_count(actors: Actors, production_policy: Policy) -> None:
    at = OKTOBERFEST
    pending = _request(actors, production_policy).id
    rejected = _request(actors, production_policy).id
    revoked = _request(actors, production_policy).id
    expired = _request(actors, production_policy, duration="1h").id
    for oid in (revoked, expired):
        _approve(actors, production_policy, JONAS, oid)
        _approve(actors, production_policy, LEA, oid)
    with actors.open(JONAS) as store:
        override_reject(production_policy, rejected, at=at, reason="no", store=store)
        override_revoke(production_policy, revoked, at=at, reason="fixed", store=store)
        later = at + timedelta(hours=2)
        # Only the short one is granted at first; two hours later it has expired too.
        assert [g.id for g in store.active_grants("production", "DE", at)] == [expired]
        assert store.active_grants("production", "DE", later) == []
    listed = {r.id: r.status(int(later.timestamp())) for r in override_list(
        at=later, store=actors.url_for(JONAS))}  # fmt: skip
    assert listed == {pending: PENDING, rejected: REJECTED, revoked: REVOKED, expired: EXPIRED}
    assert override_list(at=later, active_only=True, store=actors.url_for(JONAS)) == []


def test_single_use_is_consumed_by_its_first_use(actors: Actors, production_policy: Policy) -> None:
    oid = _request(actors, production_policy, single_use=True).id
    reusable = _request(actors, production_policy).id
    for each in (oid, reusable):
        _approve(actors, production_policy, JONAS, each)
        _approve(actors, production_policy, LEA, each)
    with actors.open(CI_USER) as store:
        before = store.audit_count()
        store.consume(reusable, OKTOBERFEST, "migrate V226 run 1")
        assert store.audit_count() == before  # using a reusable override records nothing here
        store.consume(oid, OKTOBERFEST, "migrate V226 run 1")
        assert [g.id for g in store.active_grants("production", "DE", OKTOBERFEST)] == [reusable]
        with pytest.raises(OverrideError, match="is consumed and can no longer be used"):
            store.consume(oid, OKTOBERFEST, "migrate V226 run 2")
        # After its window: SQLite records the use (the gate allowed the run earlier); the
        # database, whose clock is the truth, refuses an override no longer active.
        short = _request(actors, production_policy, single_use=True, duration="1h").id
        _approve(actors, production_policy, JONAS, short)
        _approve(actors, production_policy, LEA, short)
        actors.set_clock(OKTOBERFEST + timedelta(hours=2))
        if actors.backend == "sqlite":
            store.consume(short, OKTOBERFEST + timedelta(hours=2), "migrate V226 run 9")
            assert store.get_override(short).consumed is not None
        else:
            with pytest.raises(OverrideError, match="is expired and cannot be used"):
                store.consume(short, OKTOBERFEST + timedelta(hours=2), "migrate V226 run 9")
            assert store.get_override(short).consumed is None
        actors.set_clock(OKTOBERFEST)
        pending = _request(actors, production_policy, single_use=True).id
        with pytest.raises(OverrideError, match="is pending and cannot be used"):
            store.consume(pending, OKTOBERFEST, "migrate V226 run 3")
        record = store.get_override(oid)
        assert record.consumed is not None
        assert record.consumed.by == CI_USER
        assert record.consumed.note == "migrate V226 run 1"
        consumed = [e for e in store.audit_entries() if e.action == "override.consume"]
        assert [(e.subject, e.actor) for e in consumed] == [(oid, CI_USER)] + (
            [(short, CI_USER)] if actors.backend == "sqlite" else []
        )


def test_reject_and_revoke_rules_through_the_store(actors: Actors, production_policy: Policy) -> None:
    oid = _request(actors, production_policy).id
    with actors.open(ANNA) as store, pytest.raises(OverrideError, match="cannot reject it"):
        override_reject(production_policy, oid, at=OKTOBERFEST, reason="x", store=store)
    with actors.open(OUTSIDER) as store, pytest.raises(OverrideError, match="may not revoke"):
        override_revoke(production_policy, oid, at=OKTOBERFEST, reason="x", store=store)
    _approve(actors, production_policy, JONAS, oid)
    _approve(actors, production_policy, LEA, oid)
    with actors.open(JONAS) as store, pytest.raises(OverrideError, match="revoke it instead"):
        override_reject(production_policy, oid, at=OKTOBERFEST, reason="x", store=store)
    with actors.open(ANNA) as store:
        record = override_revoke(production_policy, oid, at=OKTOBERFEST, reason="fixed otherwise", store=store)
    assert record.revoked is not None and record.revoked.by == ANNA
    with actors.open(JONAS) as store, pytest.raises(OverrideError, match="is revoked"):
        override_approve(production_policy, oid, at=OKTOBERFEST, store=store)


def test_only_overridable_rules_and_only_within_the_maximum(actors: Actors, production_policy: Policy) -> None:
    with pytest.raises(OverrideError, match="no-testdata-in-production cannot be overridden"):
        _request(actors, production_policy, rules=["no-testdata-in-production"])
    with pytest.raises(OverrideError, match="at most 12h; 13h requested"):
        _request(actors, production_policy, duration="13h")
    # On Saturday only the blackout denies: up to its 72h.
    saturday = OKTOBERFEST + timedelta(days=1)
    record = _request(actors, production_policy, at=saturday, duration="72h")
    assert record.rules == ("seasonal-blackout",) and record.max_validity == 72 * H
    # Test data in production: the blackout could be lifted, the test-data rule never, so an
    # override would not help and is refused, naming the rule.
    with pytest.raises(OverrideError, match="denied by no-testdata-in-production, which cannot be overridden"):
        _request(actors, production_policy, versions="V10000")
    with pytest.raises(OverrideError, match="denied by no-testdata-in-production"):
        _request(actors, production_policy, versions="V10000", rules=["seasonal-blackout"])
    with actors.open(ANNA) as store:
        assert store.audit_count() == 1


def test_nothing_to_override_is_an_input_error(actors: Actors, production_policy: Policy) -> None:
    with pytest.raises(InputError, match="nothing to override"):
        _request(actors, production_policy, at=QUIET)
    with pytest.raises(OverrideError, match="denied by no-testdata-in-production, which cannot be overridden"):
        _request(actors, production_policy, at=QUIET, versions="V10000")
    # Named rules may be lifted ahead of time.
    ahead = _request(actors, production_policy, at=QUIET, rules=["seasonal-blackout"])
    assert ahead.rules == ("seasonal-blackout",)


def test_version_ranges_and_any_cover_what_they_say(actors: Actors, production_policy: Policy) -> None:
    ranged = _request(actors, production_policy, versions="V226..V230").id
    anything = _request(actors, production_policy, versions="any", duration="2h").id
    for oid in (ranged, anything):
        _approve(actors, production_policy, JONAS, oid)
        _approve(actors, production_policy, LEA, oid)
    with actors.open(LEA) as store:
        grants = {g.id: g for g in store.active_grants("production", "DE", OKTOBERFEST)}
    assert grants[ranged].versions == (Version.parse("V226"), Version.parse("V230"))
    assert grants[anything].versions is None
    later = OKTOBERFEST + timedelta(hours=1)

    def decide(version: str) -> tuple[bool, set[str]]:
        decision = check(
            environment="production", territory="DE", migration=version, at=later,
            policy=production_policy, store=actors.url_for(LEA),
        )  # fmt: skip
        return decision.allowed, {r.rule for r in decision.denying}

    assert decide("V228") == (True, set())
    # "any" was requested for what denies a versionless request, whose class is unknown and
    # so meets the class-scoped business-hours rule too (issue 15, principle 1).
    assert grants[anything].rules == frozenset({"seasonal-blackout", "business-hours", "repeatables-business-hours"})
    assert decide("V231") == (True, set())


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"duration": "4 hours"}, "invalid duration"),
        ({"duration": None, "valid_until": "2026-09-25T25:00"}, "invalid time"),
        (
            {"duration": None, "valid_until": "2026-09-25T09:00+02:00"},
            "--until ends at 2026-09-25T09:00:00.02:00, which is not after now",
        ),
        ({"duration": None}, "either --until TIME or --for DURATION"),
        ({"valid_until": "2026-09-25T12:00+02:00"}, "either --until TIME or --for DURATION"),
        ({"territory": "AT"}, "unknown territory 'AT'"),
        ({"environment": "prod"}, "unknown environment 'prod'"),
        ({"reason": " "}, "the reason must not be empty"),
        ({"ticket": ""}, "the ticket must not be empty"),
        ({"versions": "V230..V226"}, "is after"),
        ({"rules": ["seasonal-blakout"]}, "unknown rule 'seasonal-blakout'"),
        ({"valid_from": "soon"}, "invalid time 'soon'"),
    ],
)
def test_bad_requests_change_nothing(
    actors: Actors, production_policy: Policy, changes: dict[str, object], message: str
) -> None:
    with actors.open(ANNA) as store:
        before = store.audit_count()
    with pytest.raises(SeasongateError, match=message):
        _request(actors, production_policy, **changes)
    with actors.open(ANNA) as store:
        assert store.audit_count() == before
        assert store.list_overrides() == []


def test_naive_times_are_read_in_the_territory_zone(actors: Actors, production_policy: Policy) -> None:
    record = _request(
        actors, production_policy, duration=None, valid_from="2026-09-25T10:00",
        valid_until="2026-09-25T14:00",
    )  # fmt: skip
    assert record.valid_from == int(OKTOBERFEST.timestamp())
    assert record.valid_until - record.valid_from == 4 * H


def test_sql_metacharacters_are_stored_verbatim(actors: Actors, production_policy: Policy) -> None:
    nasty = "x'); DROP TABLE seasongate.audit; -- \"; DELETE FROM overrides; ⚠ ü"
    oid = _request(actors, production_policy, reason=nasty, ticket="INC-1' OR '1'='1").id
    with actors.open(JONAS) as store:
        override_approve(production_policy, oid, at=OKTOBERFEST, comment=nasty, store=store)
        record = store.get_override(oid)
        assert record.reason == nasty and record.ticket == "INC-1' OR '1'='1"
        assert record.approvals[0].comment == nasty
        assert store.audit_entries()[0].payload["reason"] == nasty
        assert store.verify_audit().ok


@pytest.mark.parametrize("verb", ["approve", "reject", "revoke", "show"])
def test_unknown_override_id(actors: Actors, production_policy: Policy, verb: str) -> None:
    with actors.open(JONAS) as store:
        with pytest.raises(InputError, match="unknown override id 'ovr-nope'"):
            if verb == "approve":
                override_approve(production_policy, "ovr-nope", at=OKTOBERFEST, store=store)
            elif verb == "reject":
                override_reject(production_policy, "ovr-nope", at=OKTOBERFEST, reason="x",
                                store=store)  # fmt: skip
            elif verb == "revoke":
                override_revoke(production_policy, "ovr-nope", at=OKTOBERFEST, reason="x",
                                store=store)  # fmt: skip
            else:
                override_show("ovr-nope", store=store)
        assert store.audit_count() == 0
