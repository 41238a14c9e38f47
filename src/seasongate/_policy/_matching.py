"""What a request states, and which of a rule's static conditions it meets.

The engine (``_engine``) asks here: the request classified against the policy (class from
the version or ``--class`` or the policy's default; what stays unknown), each rule's static
conditions with their verdicts (an unknown attribute holds for a deny rule and fails an
allow rule), the notes a decision carries about that, and whether an override grant meets
a rule's requirements.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from seasongate._errors import InputError
from seasongate._policy._decision import MigrationInfo, OverrideGrant, OverrideSpec, Request
from seasongate._policy._rules import Rule
from seasongate._time import MAX_RUN, format_duration
from seasongate._versions import Version
from seasongate._vocabulary import OPERATIONS, REPEATABLE_CLASS, RISKS

if TYPE_CHECKING:
    from seasongate._policy._engine import Policy

# What a note says about an attribute the request leaves unknown, by attribute.
UNKNOWN_NOTES = {
    "class": "class unknown: class-scoped deny rules applied, class-scoped allow rules not (state -m or --class)",
    "version": "version unknown: version-scoped deny rules applied, version-scoped allow rules not (state it with -m)",
    "risk": "risk unknown: risk-scoped deny rules applied, risk-scoped allow rules not (state it with --risk)",
}


def classify_request(policy: Policy, request: Request) -> MigrationInfo:
    """The request as ``policy`` classifies it; an unknown environment, territory, class,
    risk or operation, a version in no class and a duration out of range are errors."""
    if request.environment not in policy.environments:
        raise InputError(
            f"unknown environment {request.environment!r} "
            f"(policy {policy.name} covers: {', '.join(policy.environments)})"
        )
    policy.territory(request.territory)
    if request.operation not in OPERATIONS:
        raise InputError(f"unknown operation {request.operation!r} ({' or '.join(OPERATIONS)})")
    unknown: set[str] = set()
    assumed: set[str] = set()
    risk = request.risk or policy.default_risk
    if risk is None:
        unknown.add("risk")
    elif risk not in RISKS:
        raise InputError(f"unknown risk {risk!r} ({', '.join(RISKS)})")
    cls = REPEATABLE_CLASS if request.repeatable else _class_of(policy, request)
    if cls is None and policy.migration_classes:
        if policy.default_class is not None:
            cls = policy.default_class
            assumed.add("class")
        else:
            unknown.add("class")
    if request.version is None and not request.repeatable:  # a repeatable script has none
        unknown.add("version")
    if request.duration is not None:
        if not 0 < request.duration <= MAX_RUN:
            raise InputError(
                f"duration {format_duration(request.duration)} is out of range: "
                f"a run lasts more than 0s and at most {format_duration(MAX_RUN)}"
            )
        duration: int | None = request.duration
    else:
        duration = policy.default_duration if request.version is not None or request.repeatable else None
    return MigrationInfo(
        request.version, cls, risk, duration, request.operation, frozenset(unknown), frozenset(assumed)
    )

def _class_of(policy: Policy, request: Request) -> str | None:
    """The class the request states, by its version or by name (they must agree)."""
    stated = request.migration_class
    if stated is not None and stated not in {c.name for c in policy.migration_classes}:
        known = ", ".join(c.name for c in policy.migration_classes) or "none"
        raise InputError(f"unknown migration class {stated!r} (policy {policy.name} has: {known})")
    if request.version is None or not policy.migration_classes:
        return stated
    cls = policy.classify(request.version)
    if cls is None:
        ranges = ", ".join(f"{c.name} {c.describe()}" for c in policy.migration_classes)
        raise InputError(f"version {request.version} is in no migration class ({ranges})")
    if stated is not None and stated != cls:
        raise InputError(f"--class {stated} disagrees with {request.version}, which is in class {cls}")
    return cls

def static_conditions(rule: Rule, request: Request, info: MigrationInfo) -> tuple[tuple[str, bool], ...]:
    """The rule's static conditions and whether each holds for the request.

    An attribute the request leaves unknown holds for a deny rule and fails an allow
    rule: what the gate does not know counts against the run."""
    unknown_holds = rule.effect == "deny"
    conds: list[tuple[str, bool]] = []
    if rule.environments is not None:
        conds.append((f"environment is {either(rule.environments)}", request.environment in rule.environments))
    if rule.territories is not None:
        conds.append((f"territory is {either(rule.territories)}", request.territory in rule.territories))
    if rule.classes is not None:
        label = f"migration class is {either(rule.classes)}"
        if "class" in info.unknown:
            conds.append((f"{label} (class unknown)", unknown_holds))
        else:
            conds.append((label, info.migration_class in rule.classes))
    if rule.versions is not None:
        low, high = rule.versions
        label = f"version in {low}-{high or ''}"
        if "version" in info.unknown:
            conds.append((f"{label} (version unknown)", unknown_holds))
        elif info.version is None:  # a repeatable script: in no version range
            conds.append((label, False))
        else:
            conds.append((label, in_range(rule, info.version)))
    if rule.risks is not None:
        label = f"risk is {either(rule.risks)}"
        if info.risk is None:
            conds.append((f"{label} (risk unknown)", unknown_holds))
        else:
            conds.append((label, info.risk in rule.risks))
    if rule.operations is not None:
        conds.append((f"operation is {either(rule.operations)}", info.operation in rule.operations))
    return tuple(conds)


def shape_key(request: Request, info: MigrationInfo) -> tuple[object, ...]:
    """Everything :func:`static_conditions` reads of a request, but the version: requests
    alike in these meet the same rules and share their start sets. The last member says
    which version ranges can hold: "unknown" (no version stated), None (a repeatable script:
    none), or ``()`` to be filled with one flag per version-scoped rule (:func:`in_range`).
    A new static condition reads its attribute here too."""
    versions = "unknown" if "version" in info.unknown else None if info.version is None else ()
    return (request.environment, request.territory, info.migration_class, info.risk, info.operation,
            info.duration or 0, versions)  # fmt: skip


def request_notes(policy: Policy, info: MigrationInfo) -> tuple[str, ...]:
    """What the decision assumed or did not know, where some rule depends on it."""
    if not info.unknown and not info.assumed:
        return ()
    scoped = {
        "class": any(r.classes is not None for r in policy.rules),
        "version": bool(policy._version_rules),
        "risk": any(r.risks is not None for r in policy.rules),
    }
    notes = [f"class {info.migration_class} assumed (the policy's default class)"] if info.assumed else []
    notes.extend(UNKNOWN_NOTES[a] for a in ("class", "version", "risk") if a in info.unknown and scoped[a])
    return tuple(notes)


def either(values: frozenset[str]) -> str:
    return "/".join(sorted(values))


def in_range(rule: Rule, version: Version) -> bool:
    assert rule.versions is not None
    low, high = rule.versions
    return low <= version and (high is None or version <= high)


def override_shortfall(grant: OverrideGrant, spec: OverrideSpec | None) -> str | None:
    """Why ``grant`` does not meet what *this* policy demands for lifting a rule (None: it does).

    The store records the requirements the requester's policy file stated; a grant recorded
    against a laxer copy of the policy (fewer approvals, a longer validity) lifts nothing here.
    Approvals count per distinct actor other than the requester, under the rule's role.
    """
    if spec is None:
        return "the rule cannot be overridden"
    approvers = {a.actor for a in grant.approvals if a.role == spec.role} - {grant.requester}
    if len(approvers) < spec.approvals:
        return f"needs {spec.approvals} approval(s) by {spec.role}, has {len(approvers)}"
    validity = grant.valid_until - grant.valid_from
    if validity > spec.max_validity:
        return (
            f"valid for {format_duration(validity)}, the rule allows at most {format_duration(spec.max_validity)}"
        )
    return None
