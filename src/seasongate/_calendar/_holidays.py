"""The bridge to the ``holidays`` package, imported only when holidays are expanded."""

from __future__ import annotations

import importlib
import importlib.util
import sys
from datetime import date
from typing import TYPE_CHECKING, Any

from seasongate._errors import HorizonError

if TYPE_CHECKING:
    from seasongate._calendar._rules import Holidays


def _country_class(country: str) -> Any:
    """The ``holidays`` class of one country (``DE``), importing only that country's module;
    None for a code the package does not know."""
    from seasongate._distversion import import_with_versions

    # The package itself (its registry of lazy entities), without the scan of every installed
    # distribution ``holidays.version`` makes to learn its own version (see _distversion).
    import_with_versions("holidays", ("holidays",))
    from holidays.registry import COUNTRIES

    module = next((module for module, names in COUNTRIES.items() if country in names[1:]), None)
    if module is None:
        return None
    _countries_package()
    return getattr(importlib.import_module(f"holidays.countries.{module}"), country)


def _countries_package() -> None:
    """Make ``holidays.countries`` importable without running its ``__init__``, which imports
    all 250 country modules (~100 ms on every cold check) to re-export their classes. The body
    still runs, in full, the first time anything asks the package for a name it defines."""
    name = "holidays.countries"
    if name in sys.modules:
        return
    spec = importlib.util.find_spec(name)
    if spec is None or spec.loader is None or not spec.submodule_search_locations:
        return  # another layout: the ordinary import works, only slower
    package = importlib.util.module_from_spec(spec)
    loader = spec.loader

    def complete(attribute: str) -> Any:
        del package.__dict__["__getattr__"]
        loader.exec_module(package)
        return getattr(package, attribute)

    package.__dict__["__getattr__"] = complete
    sys.modules[name] = package
    sys.modules["holidays"].__dict__["countries"] = package


def _entity(country: str, subdivision: str | None, categories: tuple[str, ...], years: Any) -> Any:
    cls = _country_class(country)
    if cls is None:
        raise ValueError(f"unknown country {country!r} (e.g. DE, CH, AT; see the holidays package)")
    return cls(subdiv=subdivision, categories=categories, years=years, language="de")


def check_holidays(country: str, subdivision: str | None, categories: tuple[str, ...]) -> None:
    """Raise ``ValueError`` naming what is valid when the country, subdivision or a category
    is unknown to the ``holidays`` package."""
    cls = _country_class(country)
    if cls is None:
        raise ValueError(f"unknown country {country!r} (e.g. DE, CH, AT; see the holidays package)")
    known_subdivisions = (*cls.subdivisions, *getattr(cls, "subdivisions_aliases", {}))
    if subdivision is not None and subdivision not in known_subdivisions:
        known = ", ".join(cls.subdivisions)
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
