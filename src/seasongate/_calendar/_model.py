"""The shape of a calendar file, as pydantic models (imported only when a file is parsed).

Structure and types are checked here (unknown keys are errors); meaning (date expressions,
time zones, references) is checked when the file is compiled, with the same line marks.
"""

from __future__ import annotations

from datetime import date
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, field_validator

from seasongate._vocabulary import PERIOD_KINDS


class _Strict(BaseModel):
    # defer_build: a model's validator is built when a file is first validated, from the
    # top-level model down (one validator), not once per class at import (one each).
    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True, defer_build=True)


def _check_kind(value: str) -> str:
    if value not in PERIOD_KINDS:
        raise ValueError(f"unknown period kind {value!r} (known: {', '.join(PERIOD_KINDS)})")
    return value


class YearsModel(_Strict):
    """``years: {from: 1994, until: 2100, skip: [2020, 2021]}``"""

    first: int | None = Field(default=None, alias="from")
    last: int | None = Field(default=None, alias="until")
    skip: list[int] = Field(default_factory=list)


class ExceptionModel(_Strict):
    """Other dates for one year: ``2010: {end: 2010-10-04}``."""

    start: date | None = None
    end: date | None = None


class WindowModel(_Strict):
    """A weekly or daily window: local start time, and an end time or a duration."""

    days: list[str] | None = None
    start: str
    end: str | None = None
    duration: str | int | None = None


class PeriodModel(_Strict):
    """One entry of ``periods:``."""

    name: str = Field(min_length=1)
    kind: str
    tags: list[str] = Field(default_factory=list)
    description: str = ""
    start: Any = None
    end: Any = None
    start_time: str | None = None
    end_time: str | None = None
    weekly: WindowModel | None = None
    daily: WindowModel | None = None
    rrule: str | None = None
    time: str | None = None
    dtstart: str | None = None
    duration: str | int | None = None
    years: YearsModel | None = None
    exceptions: dict[int, ExceptionModel] = Field(default_factory=dict)

    _kind = field_validator("kind")(_check_kind)


class HolidaysModel(_Strict):
    """One entry of ``holidays:``: a country's public holidays as periods."""

    country: str
    subdivision: str | None = None
    categories: list[str] = Field(default_factory=lambda: ["public"])
    kind: str
    tags: list[str] = Field(default_factory=lambda: ["holiday"])
    description: str = ""
    years: YearsModel | None = None

    _kind = field_validator("kind")(_check_kind)


class CalendarModel(_Strict):
    """A calendar file."""

    name: str | None = None
    description: str = ""
    timezone: str | None = None
    territory: str | None = Field(default=None, pattern=r"^[A-Z]{2}$")
    extends: list[str] = Field(default_factory=list)
    holidays: list[HolidaysModel] = Field(default_factory=list)
    periods: list[PeriodModel] = Field(default_factory=list)
