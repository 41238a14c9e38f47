"""``numbering.yaml``: the whole versions a migrations folder leaves unused on purpose.

    # Versions deliberately left unused; lint and migrate accept these gaps.
    ignored_gaps:
      - V217          # loyalty points: abandoned after review
      - V219-V220     # ranges are inclusive

A *gap* is a whole number missing between two migrations of the same class (V1-V7999
production, V8000-V8999 feature, ...): V216 then V218 is a gap at V217 unless declared.
Dotted versions (V2.1) count for their leading number and never create gaps.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

from seasongate._errors import ConfigError
from seasongate._executor._findings import display_path

NUMBERING_FILE = "numbering.yaml"


@dataclass(frozen=True, slots=True)
class Numbering:
    """The numbering configuration: which whole versions are deliberately unused."""

    ignored_gaps: frozenset[int] = frozenset()
    path: Path | None = None
    lines: Mapping[int, int] = field(default_factory=dict)  # gap -> line in the file


_GAP_RE = re.compile(r"^\s*[Vv]?(\d+)\s*(?:-\s*[Vv]?(\d+))?\s*$")


def load_numbering(directory: Path) -> Numbering:
    """Read ``numbering.yaml`` of a migrations folder (absent: no declared gaps)."""
    path = directory / NUMBERING_FILE
    if not path.is_file():
        return Numbering()
    from seasongate._yaml import format_loc, load_yaml  # only when there is a file to read

    shown = display_path(path)
    data, marks = load_yaml(path)
    if not isinstance(data, dict):
        raise ConfigError("expected a mapping with the key ignored_gaps", path=shown, line=1, column=1)
    for key in data:
        if key != "ignored_gaps":
            line, _ = marks.get((key,), (1, 1))
            raise ConfigError("unknown key (known: ignored_gaps)", path=shown, line=line, column=1, field=str(key))
    items = data.get("ignored_gaps") or []
    if not isinstance(items, list):
        line, col = marks.get(("ignored_gaps",), (1, 1))
        raise ConfigError(
            "expected a list such as [V217, V219-V220]", path=shown, line=line, column=col, field="ignored_gaps"
        )
    gaps: dict[int, int] = {}
    for index, item in enumerate(items):
        line, col = marks.get(("ignored_gaps", index), (1, 1))
        match = _GAP_RE.match(str(item)) if isinstance(item, (str, int)) else None
        if not match or isinstance(item, bool):
            message = f"invalid gap {item!r}: use a whole version such as V217 or a range V219-V220"
            raise ConfigError(message, path=shown, line=line, column=col, field=format_loc(("ignored_gaps", index)))
        low = int(match.group(1))
        high = int(match.group(2) or low)
        if high < low or high - low > 100_000:
            message = f"invalid gap range {item!r}"
            raise ConfigError(message, path=shown, line=line, column=col, field=format_loc(("ignored_gaps", index)))
        for number in range(low, high + 1):
            gaps.setdefault(number, line)
    return Numbering(frozenset(gaps), path, gaps)
