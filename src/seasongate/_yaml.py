"""Safe YAML loading that remembers where every value stood.

``load_yaml`` returns the plain data and a map from each value's path (a tuple of keys and
indexes) to its line and column, so that a pydantic validation error at
``rules[2].when.kind`` can be reported as ``policies/prod.yaml:14:5: rules[2].when.kind: ...``.

Safety: only the safe constructors; files over :data:`MAX_BYTES` are refused; aliases are
allowed but the expanded document may not exceed :data:`MAX_NODES` nodes (no alias bombs);
duplicate keys are errors. YAML 1.1 surprises are turned off: ``22:00`` stays a string (not
sexagesimal 1320) and only ``true``/``false`` are booleans (``NO`` stays Norway).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

from seasongate._errors import ConfigError, ConfigErrors

if TYPE_CHECKING:
    from pydantic import ValidationError

MAX_BYTES = 1024 * 1024
MAX_NODES = 100_000

Marks = dict[tuple[str | int, ...], tuple[int, int]]
KEY = "\0key"  # marks[(KEY, *path)] is where the key of ``path`` stands


def _loader() -> type[Any]:
    import yaml

    return getattr(yaml, "CSafeLoader", yaml.SafeLoader)


def read_text(path: Path) -> str:
    """Read a configuration file: a regular UTF-8 file of at most :data:`MAX_BYTES`."""
    from seasongate._fileio import UnreadableFile, read_regular_file

    try:
        data = read_regular_file(path, limit=MAX_BYTES)
    except UnreadableFile as exc:
        raise ConfigError(str(exc), path=str(path)) from exc
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise ConfigError(f"cannot read file as UTF-8 text: {exc}", path=str(path)) from exc


def load_yaml(path: Path, text: str | None = None) -> tuple[Any, Marks]:
    """Load one YAML document from ``path`` (or ``text``), with line marks."""
    import yaml

    if text is None:
        text = read_text(path)
    loader_cls = _loader()
    loader = loader_cls(text)
    try:
        root = loader.get_single_node()
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        message = " ".join(str(p) for p in (exc.context, exc.problem) if p) or "invalid YAML"
        raise ConfigError(
            f"YAML syntax error: {message}",
            path=str(path),
            line=(mark.line + 1) if mark else 0,
            column=(mark.column + 1) if mark else 0,
        ) from exc
    except yaml.YAMLError as exc:
        raise ConfigError(f"YAML error: {exc}", path=str(path)) from exc
    finally:
        loader.dispose()
    if root is None:
        raise ConfigError("the file is empty", path=str(path), line=1, column=1)
    marks: Marks = {}
    data = _convert(root, (), marks, _Walk(yaml.constructor.SafeConstructor()), path)
    return data, marks


class _Walk:
    """What one conversion shares: the node budget and one safe constructor."""

    __slots__ = ("constructor", "remaining")

    def __init__(self, constructor: Any) -> None:
        self.constructor = constructor
        self.remaining = MAX_NODES


_STR = "tag:yaml.org,2002:str"


def _scalar(node: Any, constructor: Any) -> Any:
    tag = node.tag
    value = node.value
    if tag == _STR:
        return value  # the common case, without the constructor's bookkeeping
    if tag == "tag:yaml.org,2002:bool":
        low = value.lower()
        if low in ("true", "false"):
            return low == "true"
        return value
    if tag in ("tag:yaml.org,2002:int", "tag:yaml.org,2002:float") and ":" in value:
        return value
    return constructor.construct_object(node, deep=True)


def _convert(node: Any, at: tuple[str | int, ...], marks: Marks, budget: _Walk, path: Path) -> Any:
    import yaml

    budget.remaining -= 1
    if budget.remaining < 0:
        raise ConfigError(f"document expands to more than {MAX_NODES} nodes (alias bomb?)", path=str(path))
    marks[at] = (node.start_mark.line + 1, node.start_mark.column + 1)
    if isinstance(node, yaml.MappingNode):
        out: dict[Any, Any] = {}
        for key_node, value_node in node.value:
            if key_node.tag == "tag:yaml.org,2002:merge":
                raise ConfigError(
                    "YAML merge keys (<<) are not supported; write the keys out",
                    path=str(path),
                    line=key_node.start_mark.line + 1,
                    column=key_node.start_mark.column + 1,
                )
            key = _scalar(key_node, budget.constructor) if isinstance(key_node, yaml.ScalarNode) else None
            if key is None or isinstance(key, (list, dict)):
                raise ConfigError(
                    "mapping keys must be plain scalars",
                    path=str(path),
                    line=key_node.start_mark.line + 1,
                    column=key_node.start_mark.column + 1,
                )
            if key in out:
                raise ConfigError(
                    f"duplicate key {key!r}",
                    path=str(path),
                    line=key_node.start_mark.line + 1,
                    column=key_node.start_mark.column + 1,
                    field=format_loc((*at, str(key))),
                )
            child = (*at, key)
            out[key] = _convert(value_node, child, marks, budget, path)
            # Where the key itself stands: an unknown key is reported there.
            marks[(KEY, *child)] = (key_node.start_mark.line + 1, key_node.start_mark.column + 1)
        return out
    if isinstance(node, yaml.SequenceNode):
        return [_convert(item, (*at, i), marks, budget, path) for i, item in enumerate(node.value)]
    try:
        return _scalar(node, budget.constructor)
    except (yaml.YAMLError, ValueError) as exc:
        raise ConfigError(
            f"invalid value {node.value!r}: {exc}",
            path=str(path),
            line=node.start_mark.line + 1,
            column=node.start_mark.column + 1,
            field=format_loc(at),
        ) from exc


def format_loc(loc: Iterable[str | int]) -> str:
    """``('rules', 2, 'when', 'kind') -> 'rules[2].when.kind'``."""
    out = ""
    for part in loc:
        if isinstance(part, int):
            out += f"[{part}]"
        else:
            out += f".{part}" if out else str(part)
    return out


def mark_of(marks: Mapping[tuple[str | int, ...], tuple[int, int]], loc: tuple[Any, ...]) -> tuple[int, int]:
    """The line and column of ``loc``, or of its nearest marked ancestor."""
    probe = tuple(loc)
    while probe:
        if probe in marks:
            return marks[probe]
        probe = probe[:-1]
    return marks.get((), (1, 1))


def errors_from_validation(
    exc: ValidationError, path: Path, marks: Marks, *, prefix: tuple[str | int, ...] = ()
) -> ConfigErrors:
    """Turn a pydantic ``ValidationError`` into located ``path:line:col: field: message``."""
    found: list[tuple[tuple[str | int, ...], str, bool]] = []
    for err in exc.errors(include_url=False):
        loc = (*prefix, *err["loc"])
        # pydantic puts union branch names ("literal[False]", "OverrideModel") into loc;
        # keep only the parts that are keys or indexes of the document.
        real: list[str | int] = []
        branch = False
        for part in loc:
            if isinstance(part, int) or (*real, part) in marks or err["type"] == "extra_forbidden":
                real.append(part)
            else:
                branch = True
        message = err["msg"]
        if err["type"] == "extra_forbidden":
            message = "unknown key"
        for lead in ("Value error, ", "Assertion failed, "):
            if message.startswith(lead):
                message = message[len(lead) :]
        found.append((tuple(real), message, branch))
    problems = []
    for where, message, branch in found:
        # A union reports every branch; when one branch got further into the value, the
        # shallow complaints of the others ("Input should be False") are noise.
        if branch and any(len(other) > len(where) and other[: len(where)] == where for other, _, _ in found):
            continue
        key_mark = marks.get((KEY, *where)) if message == "unknown key" else None
        line, column = key_mark or mark_of(marks, where)
        problems.append(ConfigError(message, path=str(path), line=line, column=column, field=format_loc(where)))
    return ConfigErrors(problems)
