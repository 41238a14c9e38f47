"""The expansion cache's codec: tagged JSON that can build only seasongate's own plain data.

A scalar (str, int, float, bool, None) is itself; everything else is a list whose first item
is a tag: ["t", ...] tuple, ["l", ...] list, ["f", ...] frozenset, ["m", k, v, k, v...] dict,
["d", iso] date, ["T", iso] time, ["D", iso] datetime, ["z", key] zone, ["o", class, {field:
value}] a seasongate dataclass, ["x", zone, columns] a calendar index as its int columns
(``CalendarIndex.columns``/``from_columns``: no period is built until a query returns it).

:func:`decode` builds nothing but these: a class named in an entry must be a dataclass defined
in the policy or calendar packages (or the error and version modules), built from its fields.
Anything else raises ``ValueError``/``TypeError``, and the cache ignores the entry.
"""

from __future__ import annotations

import dataclasses
import importlib
import json
import sys
from collections.abc import Callable
from datetime import date, datetime, time
from typing import Any
from zoneinfo import ZoneInfo

# Where the classes an entry may build live.
_BUILDABLE = ("seasongate._policy.", "seasongate._calendar.")
_BUILDABLE_MODULES = ("seasongate._errors", "seasongate._versions")


def encode(value: Any) -> Any:
    """``value`` as tagged JSON; ``TypeError`` for a value the codec does not know."""
    if value is None or isinstance(value, (bool, int, float, str)):
        return value
    if isinstance(value, tuple):
        return ["t", *map(encode, value)]
    if isinstance(value, list):
        return ["l", *map(encode, value)]
    if isinstance(value, (frozenset, set)):
        return ["f", *sorted(map(encode, value), key=lambda v: json.dumps(v, sort_keys=True))]
    if isinstance(value, dict):
        out: list[Any] = ["m"]
        for k, v in value.items():
            out.extend((encode(k), encode(v)))
        return out
    if isinstance(value, datetime):
        return ["D", value.isoformat()]
    if isinstance(value, date):
        return ["d", value.isoformat()]
    if isinstance(value, time):
        return ["T", value.isoformat()]
    if isinstance(value, ZoneInfo):
        return ["z", value.key]
    from seasongate._calendar import CalendarIndex

    if isinstance(value, CalendarIndex):
        return ["x", value.tz.key, value.columns()]
    cls = type(value)
    if dataclasses.is_dataclass(value) and (
        cls.__module__.startswith(_BUILDABLE) or cls.__module__ in _BUILDABLE_MODULES
    ):
        fields = {f.name: encode(getattr(value, f.name)) for f in dataclasses.fields(value) if f.init}
        return ["o", f"{cls.__module__}:{cls.__qualname__}", fields]
    raise TypeError(f"the expansion cache cannot store {cls.__module__}.{cls.__qualname__}")


def decode(value: Any) -> Any:
    """The value tagged JSON describes; ``ValueError``/``TypeError`` for anything else."""
    if not isinstance(value, list):
        if value is None or isinstance(value, (bool, int, float, str)):
            return value
        raise TypeError("not a cache value")
    tag, rest = value[0], value[1:]
    if tag == "t":
        return tuple(map(decode, rest))
    if tag == "l":
        return list(map(decode, rest))
    if tag == "f":
        return frozenset(map(decode, rest))
    if tag == "m":
        return {decode(rest[i]): decode(rest[i + 1]) for i in range(0, len(rest), 2)}
    if tag == "D":
        return datetime.fromisoformat(rest[0])
    if tag == "d":
        return date.fromisoformat(rest[0])
    if tag == "T":
        return time.fromisoformat(rest[0])
    if tag == "z":
        from seasongate._time import zone

        return zone(str(rest[0]))
    if tag == "x":
        from seasongate._calendar import CalendarIndex
        from seasongate._time import zone

        columns = rest[1]
        if not isinstance(columns, dict):
            raise TypeError("an index is its columns")
        return CalendarIndex.from_columns(columns, tz=zone(str(rest[0])))
    if tag == "o":
        cls = _buildable(rest[0])
        fields = rest[1]
        if not isinstance(fields, dict):
            raise TypeError("fields are a mapping")
        return cls(**{str(k): decode(v) for k, v in fields.items()})
    raise ValueError(f"unknown tag {tag!r}")


def _buildable(name: object) -> Callable[..., Any]:
    """A seasongate dataclass named ``module:Class``; nothing else can be built."""
    if not isinstance(name, str) or ":" not in name:
        raise ValueError("a class is named module:Class")
    module_name, _, qualname = name.partition(":")
    if not (module_name.startswith(_BUILDABLE) or module_name in _BUILDABLE_MODULES) or "." in qualname:
        raise ValueError(f"{name} is not a class the cache builds")
    try:
        module = sys.modules.get(module_name) or importlib.import_module(module_name)  # seasongate's own
    except ImportError:
        raise ValueError(f"{name} is not a class the cache builds") from None
    cls = getattr(module, qualname, None)
    if not isinstance(cls, type) or not dataclasses.is_dataclass(cls) or cls.__module__ != module_name:
        raise ValueError(f"{name} is not a class the cache builds")
    return cls
