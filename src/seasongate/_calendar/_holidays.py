"""The bridge to the ``holidays`` package, imported only when holidays are expanded."""

from __future__ import annotations

from datetime import date
from typing import TYPE_CHECKING, Any

from seasongate._errors import HorizonError

if TYPE_CHECKING:
    from seasongate._calendar._rules import Holidays


def _entity(country: str, subdivision: str | None, categories: tuple[str, ...], years: Any) -> Any:
    import holidays

    return holidays.country_holidays(country, subdiv=subdivision, categories=categories, years=years, language="de")


def check_holidays(country: str, subdivision: str | None, categories: tuple[str, ...]) -> None:
    """Raise ``ValueError`` naming what is valid when the country, subdivision or a category
    is unknown to the ``holidays`` package."""
    import holidays

    supported = holidays.list_supported_countries()
    if country not in supported:
        raise ValueError(f"unknown country {country!r} (e.g. DE, CH, AT; see the holidays package)")
    if subdivision is not None and subdivision not in supported[country]:
        known = ", ".join(supported[country])
        raise ValueError(f"country {country} has no subdivision {subdivision!r} (known: {known})")
    entity = _entity(country, subdivision, ("public",), [])
    for category in categories:
        if category not in entity.supported_categories:
            known = ", ".join(entity.supported_categories)
            raise ValueError(f"country {country} has no holiday category {category!r} (known: {known})")


def holiday_years(shape: Holidays) -> tuple[int, int]:
    """The first and last year the package can answer for this country."""
    entity = _entity(shape.country, shape.subdivision, shape.categories, [])
    return int(type(entity).start_year), int(type(entity).end_year)


def holiday_dates(shape: Holidays, first_year: int, last_year: int) -> list[tuple[date, list[str]]]:
    """Each holiday date in the years with its German name(s); refuses unsupported years
    (the package itself would silently return nothing)."""
    low, high = holiday_years(shape)
    if first_year < low or last_year > high:
        raise HorizonError(
            f"public holidays of {shape.country} are known for {low}-{high} only; asked for {first_year}-{last_year}"
        )
    entity = _entity(shape.country, shape.subdivision, shape.categories, range(first_year, last_year + 1))
    return [(day, entity.get_list(day)) for day in sorted(entity)]
