"""The shape of a policy file, as pydantic models (imported only when a file is parsed)."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

from seasongate._vocabulary import PERIOD_KINDS, Operation, Risk


class _Strict(BaseModel):
    # defer_build: a model's validator is built when a file is first validated, from the
    # top-level model down (one validator), not once per class at import (one each).
    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True, defer_build=True)


def _as_list(value: object) -> object:
    return [value] if isinstance(value, (str, int)) and not isinstance(value, bool) else value


class TerritoryModel(_Strict):
    """``DE: {calendar: ../calendars/de-by.yaml}``"""

    calendar: str


class RangeModel(_Strict):
    """A version range: ``{from: V1, to: V7999}`` (``to`` open-ended when left out)."""

    first: str | int = Field(alias="from")
    last: str | int | None = Field(default=None, alias="to")


class PeriodSelectorModel(_Strict):
    """Which periods: by kind, name or tag (each one value or a list)."""

    kind: list[str] = []
    name: list[str] = []
    tag: list[str] = []

    _lists = field_validator("kind", "name", "tag", mode="before")(_as_list)

    @field_validator("kind")
    @classmethod
    def _known_kinds(cls, value: list[str]) -> list[str]:
        for kind in value:
            if kind not in PERIOD_KINDS:
                raise ValueError(f"unknown period kind {kind!r} (known: {', '.join(PERIOD_KINDS)})")
        return value


class FinishBeforeModel(PeriodSelectorModel):
    """``finish_before: {kind: blackout, margin: 30m}``"""

    margin: str | int = "0m"


class TimeOfDayModel(_Strict):
    """``time: {from: "06:00", to: "20:00"}`` in the territory's local time."""

    first: str = Field(alias="from")
    last: str = Field(alias="to")


class WhenModel(_Strict):
    """The conditions of a rule; all of them must hold."""

    environments: list[str] | None = None
    territories: list[str] | None = None
    classes: list[str] | None = None
    versions: RangeModel | None = None
    risk: list[Risk] | None = None
    operations: list[Operation] | None = None
    in_period: PeriodSelectorModel | None = None
    not_in_period: PeriodSelectorModel | None = None
    days: list[str] | None = None
    time: TimeOfDayModel | None = None
    finish_before: FinishBeforeModel | None = None

    _lists = field_validator("environments", "territories", "classes", "risk", "operations", "days", mode="before")(
        _as_list
    )

    @field_validator("environments", "territories", "classes", "risk", "operations", "days", mode="after")
    @classmethod
    def _not_empty(cls, value: list[str] | None) -> list[str] | None:
        # An empty list matches nothing: a deny rule with `risk: []` would never deny. Fail
        # closed: leaving the key out means "any"; an empty list is a mistake.
        if value is not None and not value:
            raise ValueError("an empty list matches nothing; leave the key out to mean any")
        return value


class OverrideModel(_Strict):
    """What an emergency override of this rule needs."""

    approvals: int = Field(ge=1, le=10)
    role: str = "release_manager"
    max_validity: str | int = "24h"


class RuleModel(_Strict):
    """One rule."""

    name: str = Field(min_length=1)
    effect: Literal["allow", "deny"]
    message: str = ""
    # A default made by a factory: an instance made here would build the validators at import.
    when: WhenModel = Field(default_factory=WhenModel)
    override: OverrideModel | Literal[False] | None = None


class DefaultsModel(_Strict):
    """Risk and duration of a migration that declares neither, and the class of a request
    that names no migration. Without a default risk (or class) a request that states none
    has it unknown, and unknown counts against the run."""

    risk: Risk | None = None
    duration: str | int = "15m"
    migration_class: str | None = Field(default=None, alias="class")


class PolicyModel(_Strict):
    """A policy file."""

    name: str | None = None
    description: str = ""
    environments: list[str] = Field(min_length=1)
    protected: list[str] = []  # environments where `seasongate clean` is refused outright
    territories: dict[str, TerritoryModel] = Field(min_length=1)
    default: Literal["allow", "deny"] = "deny"
    classes: dict[str, RangeModel] = {}
    defaults: DefaultsModel = Field(default_factory=DefaultsModel)
    horizon_days: int = Field(default=366, ge=7, le=3660)
    release_managers: list[str] = []
    roles: dict[str, list[str]] = {}
    rules: list[RuleModel] = []
