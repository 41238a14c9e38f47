"""``seasongate override ...`` and ``seasongate audit ...`` end to end, on both stores."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import pytest
from click.testing import CliRunner, Result

from seasongate.cli import main
from tests import store_support
from tests.store_support import (
    CI_USER,
    OUTSIDER,
    PRODUCTION,
    Actors,
)

# The fixtures of tests/store_support.py, visible to pytest in this module.
actors = store_support.actors
pg_roles = store_support.pg_roles
production_policy = store_support.production_policy
store_url = store_support.store_url

ANNA, JONAS, LEA = "anna.huber", "jonas.meier", "lea.keller"
AT = "2026-09-25T10:00:00+02:00"  # Oktoberfest, a Friday morning

Run = Callable[..., Result]


@pytest.fixture
def run(actors: Actors) -> Run:
    """``run(user, *args)``: the CLI as ``user`` against the store under test."""

    def invoke(user: str, *args: str, policy: bool = True) -> Result:
        extra = ["--store", actors.url_for(user)]
        if args[0] == "audit":
            policy = False  # the audit trail needs neither a policy nor a time
        else:
            extra += ["--at", AT]
        if policy and args[0] == "override" and args[1] in ("list", "show"):
            policy = False  # they read the store only
        if policy:
            extra += ["--policy", str(PRODUCTION)]
        runner = CliRunner(env=actors.env_for(user))
        return runner.invoke(main, [*args, *extra], catch_exceptions=False)

    return invoke


def _request(run: Run, *more: str) -> Result:
    return run(
        ANNA, "override", "request", "--env", "production", "--territory", "DE",
        "--versions", "V226", "--reason", "order import broken", "--ticket", "INC-4711",
        *more,
    )  # fmt: skip


def _check(run: Run, *more: str) -> Result:
    return run(CI_USER, "check", "--env", "production", "--territory", "DE", "--migration", "V226", *more)


def _audit_count(actors: Actors) -> int:
    with actors.open(ANNA) as store:
        return store.audit_count()


def test_request_two_approvals_then_check_allows(run: Run, actors: Actors) -> None:
    # Denied: blackout and business hours. (Without the store: `check` records its decision
    # at the real time, and with SQLite nothing may be recorded before the last entry.)
    assert _check(run, "--no-store").exit_code == 1
    result = _request(run, "--for", "4h")
    assert result.exit_code == 0, result.output
    oid = result.stdout.strip()
    assert oid.startswith("ovr-") and "\n" not in oid  # stdout is the id alone
    assert "2 from release_manager" not in result.stdout
    assert "approvals 0/2 from release_manager" in result.stderr

    refused = run(ANNA, "override", "approve", oid)
    assert refused.exit_code == 2
    assert refused.stderr.strip().splitlines() == [
        f"seasongate: error: {ANNA} requested override {oid} and cannot approve it"
    ]
    first = run(JONAS, "override", "approve", oid, "--comment", "checked with ops")
    assert first.exit_code == 0 and "[pending]" in first.stdout and "1/2" in first.stdout
    again = run(JONAS, "override", "approve", oid)
    assert again.exit_code == 0 and "already approved by you" in again.stdout
    assert "1/2" in again.stdout
    second = run(LEA, "override", "approve", oid)
    assert second.exit_code == 0 and "[active]" in second.stdout and "2/2" in second.stdout

    allowed = _check(run)
    assert allowed.exit_code == 0, allowed.output
    assert oid in allowed.output

    listed = json.loads(run(LEA, "override", "list", "--active", "--format", "json").stdout)
    assert [o["id"] for o in listed] == [oid]
    assert listed[0]["status"] == "active" and listed[0]["rules"] == [
        "business-hours", "seasonal-blackout",
    ]  # fmt: skip
    table = run(LEA, "override", "list", "--active").stdout.splitlines()
    assert table[0].split()[:3] == ["ID", "STATUS", "ENV"]
    assert table[1].split()[:4] == [oid, "active", "production", "DE"]
    shown = run(LEA, "override", "show", oid).stdout
    assert f"approved:           {JONAS} at 2026-09-25T10:00:00+02:00: checked with ops" in shown
    assert "needs:              2 approval(s) from release_manager (max validity 12h)" in shown

    verify = run(LEA, "audit", "verify")
    assert verify.exit_code == 0 and "audit trail intact" in verify.stdout
    entries = json.loads(run(LEA, "audit", "--format", "json").stdout)
    actions = [e["action"] for e in entries]
    assert actions == ["override.request", "override.approve", "override.approve", "decision"]
    assert entries[-1]["payload"]["allowed"] is True
    assert entries[0]["actor"] == ANNA and entries[1]["payload"]["comment"] == "checked with ops"
    assert entries[1]["payload"]["roles"] == ["release_manager"]


def test_revoked_override_no_longer_allows(run: Run) -> None:
    oid = _request(run, "--until", "2026-09-25T12:00+02:00").stdout.strip()
    run(JONAS, "override", "approve", oid)
    run(LEA, "override", "approve", oid)
    assert _check(run).exit_code == 0
    outsider = run(OUTSIDER, "override", "revoke", oid, "--reason", "mine now")
    assert outsider.exit_code == 2 and "may not revoke" in outsider.stderr
    revoked = run(ANNA, "override", "revoke", oid, "--reason", "fixed by rollback")
    assert revoked.exit_code == 0 and "[revoked]" in revoked.stdout
    assert _check(run).exit_code == 1


def test_reject(run: Run) -> None:
    oid = _request(run, "--for", "2h").stdout.strip()
    result = run(LEA, "override", "reject", oid, "--reason", "use the rollback")
    assert result.exit_code == 0 and "[rejected]" in result.stdout
    shown = json.loads(run(LEA, "override", "show", oid, "--format", "json").stdout)
    assert shown["status"] == "rejected"
    assert shown["rejected"] == {"by": LEA, "at": "2026-09-25T10:00:00+02:00",
                                 "reason": "use the rollback"}  # fmt: skip
    late = run(JONAS, "override", "approve", oid)
    assert late.exit_code == 2 and "is rejected and can no longer be approved" in late.stderr


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["override", "approve", "ovr-nope"], "unknown override id 'ovr-nope'"),
        (["override", "reject", "ovr-nope", "--reason", "x"], "unknown override id"),
        (["override", "revoke", "ovr-nope", "--reason", "x"], "unknown override id"),
        (["override", "show", "ovr-nope"], "unknown override id 'ovr-nope'"),
        (["--for", "4 hours"], "invalid duration '4 hours'"),
        (["--for", "-4h"], "invalid duration"),
        (["--until", "tomorrow"], "invalid time 'tomorrow'"),
        (
            ["--until", "2026-09-25T09:59+02:00"],
            "--until ends at 2026-09-25T09:59:00+02:00, which is not after now (2026-09-25T10:00:00+02:00)",
        ),
        (["--for", "4h", "--from", "2026-09-25T25:00"], "invalid time"),
        (["--for", "4h", "--territory-x"], "No such option"),
        (["--for", "4h", "--rule", "no-testdata-in-production"], "cannot be overridden"),
        (["--for", "4h", "--rule", "nope"], "unknown rule 'nope'"),
        (["--for", "13h"], "may last at most 12h"),
        ([], "either --until TIME or --for DURATION"),
    ],
)
def test_bad_input_is_one_line_exit_2_and_changes_nothing(
    run: Run, actors: Actors, args: list[str], message: str
) -> None:
    before = _audit_count(actors)
    result = run(JONAS, *args) if args and args[0] == "override" else _request(run, *args)
    assert result.exit_code == 2
    assert message in result.stderr
    if "No such option" not in message:
        assert len(result.stderr.strip().splitlines()) == 1
        assert result.stderr.startswith("seasongate: error: ")
    assert _audit_count(actors) == before


@pytest.mark.parametrize(
    ("option", "value", "message"),
    [
        ("--territory", "AT", "unknown territory 'AT'"),
        ("--reason", "   ", "the reason must not be empty"),
        ("--ticket", "", "the ticket must not be empty"),
        ("--versions", "V9..V1", "is after"),
    ],
)
def test_bad_scope_and_text(run: Run, actors: Actors, option: str, value: str, message: str) -> None:
    args = {"--env": "production", "--territory": "DE", "--versions": "V226",
            "--reason": "r", "--ticket": "t"}  # fmt: skip
    args[option] = value
    flat = [item for pair in args.items() for item in pair]
    result = run(ANNA, "override", "request", *flat, "--for", "1h")
    assert result.exit_code == 2 and message in result.stderr, result.output
    assert _audit_count(actors) == 0


def test_unknown_environment(run: Run, actors: Actors, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    args = ["override", "request", "--env", "prod", "--territory", "DE", "--versions", "any",
            "--reason", "r", "--ticket", "t", "--for", "1h"]  # fmt: skip
    explicit = run(ANNA, *args)
    assert explicit.exit_code == 2
    assert "unknown environment 'prod' (policy production knows: production)" in explicit.stderr
    monkeypatch.chdir(tmp_path)  # no policies/ here: the bundled ones are searched
    found = run(ANNA, *args, policy=False)
    assert found.exit_code == 2
    assert "no policy covers environment 'prod'" in found.stderr
    assert _audit_count(actors) == 0


def test_sql_metacharacters_are_stored_verbatim(run: Run, actors: Actors) -> None:
    nasty = "'; DROP TABLE seasongate.audit; --"
    result = run(
        ANNA, "override", "request", "--env", "production", "--territory", "DE",
        "--versions", "any", "--reason", nasty, "--ticket", "INC-1\" OR 1=1", "--for", "1h",
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    shown = json.loads(run(ANNA, "override", "show", result.stdout.strip(), "--format",
                           "json").stdout)  # fmt: skip
    assert shown["reason"] == nasty and shown["ticket"] == 'INC-1" OR 1=1'
    assert run(ANNA, "audit", "verify").exit_code == 0


def test_audit_since_and_list_subcommand(run: Run, actors: Actors) -> None:
    _request(run, "--for", "1h")
    runner = CliRunner(env=actors.env_for(ANNA))
    base = ["--store", actors.url_for(ANNA)]
    later = runner.invoke(main, ["audit", "list", "--since", "2026-09-25T08:00:01Z", *base])
    assert later.exit_code == 0 and later.stdout.strip().splitlines() == ["SEQ  AT  ACTOR  ACTION  SUBJECT  PAYLOAD"]
    same = runner.invoke(main, ["audit", "--since", "2026-09-25T08:00:00Z", *base])
    assert same.exit_code == 0 and "override.request" in same.stdout
    bad = runner.invoke(main, ["audit", "--since", "yesterday", *base])
    assert bad.exit_code == 2 and "invalid time 'yesterday'" in bad.stderr


def test_naive_at_is_refused(actors: Actors) -> None:
    runner = CliRunner(env=actors.env_for(ANNA))
    result = runner.invoke(main, ["override", "list", "--store", actors.url_for(ANNA), "--at", "2026-09-25T10:00"])
    assert result.exit_code == 2 and "has no UTC offset" in result.stderr
