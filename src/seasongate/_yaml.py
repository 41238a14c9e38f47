"""Safe YAML loading that remembers where every value stood.

``load_yaml`` returns the plain data and a map from each value's path (a tuple of keys and
indexes) to its line and column, so that a pydantic validation error at
``rules[2].when.kind`` can be reported as ``policies/prod.yaml:14:5: rules[2].when.kind: ...``.

Safety: only the safe constructors; files over :data:`MAX_BYTES` are refused; aliases are
allowed but the expanded document may not exceed :data:`MAX_NODES` nodes (no alias bombs);
duplicate keys are errors. YAML 1.1 surprises are turned off: ``22:00`` stays a string (not
sexagesimal 1320) and only ``true``/``false`` are booleans (``NO`` stays Norway).

Speed: the data and its marks are built in one pass over libyaml's parse events (the C
parser, ``CSafeLoader``), without composing PyYAML's node tree first; the result, the marks
and the errors are those of composing and converting the tree (tests/test_calendar_scale.py
checks it against PyYAML).
"""

from __future__ import annotations

import copy
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import TYPE_CHECKING, Any

from seasongate._errors import ConfigError, ConfigErrors, Location
from seasongate._fileio import CONFIG_LIMIT

if TYPE_CHECKING:
    from pydantic import ValidationError

MAX_BYTES = CONFIG_LIMIT
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


def load_yaml(path: Path, text: str | None = None, *, scalar_marks: bool = True) -> tuple[Any, Marks]:
    """Load one YAML document from ``path`` (or ``text``), with line marks.

    With ``scalar_marks=False`` only the mappings and sequences are marked (not each scalar,
    nor where each key stands): cheaper for a big file, enough to name where each entry
    starts. A caller that finds a problem reads the file again with every mark to place it.
    """
    import yaml

    if text is None:
        text = read_text(path)
    loader = _loader()(text)
    try:
        return _Builder(loader, path, scalar_marks=scalar_marks).document()
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


_STR = "tag:yaml.org,2002:str"
_MERGE = "tag:yaml.org,2002:merge"
MAX_DEPTH = 256
"""How deeply collections may nest (seasongate's files need five levels)."""


@dataclass(frozen=True, slots=True)
class _Anchored:
    value: Any
    path: tuple[str | int, ...] | None  # where it was defined (None: a mapping key)
    size: int  # nodes, aliases inside expanded
    mark: tuple[int, int]
    tag: str | None  # a scalar's resolved tag


class _Builder:
    """Builds the data and its marks from libyaml's events in one pass (no node tree).

    It does what composing nodes and converting them did, with the same results and
    errors: aliases are expanded (each use a fresh copy, counted against the node budget),
    a collection's tag is ignored, a scalar is resolved by the loader's implicit resolvers.
    """

    def __init__(self, loader: Any, path: Path, *, scalar_marks: bool = True) -> None:
        import yaml

        self.scalar_marks = scalar_marks

        self.events = yaml.events
        self.get = loader.get_event
        self.resolvers = loader.yaml_implicit_resolvers
        self.constructor = yaml.constructor.SafeConstructor()
        self.path = path
        self.marks: Marks = {}
        self.remaining = MAX_NODES
        self.anchors: dict[str, _Anchored | None] = {}  # None: still being read
        self.tags: dict[str, str] = {}  # plain scalar -> resolved tag

    def document(self) -> tuple[Any, Marks]:
        import yaml

        get = self.get
        get()  # stream start
        start = get()
        if isinstance(start, self.events.StreamEndEvent):
            raise ConfigError("the file is empty", path=str(self.path), line=1, column=1)
        data = self.node(get(), (), 0)
        get()  # document end
        after = get()
        if not isinstance(after, self.events.StreamEndEvent):
            raise yaml.composer.ComposerError(
                "expected a single document in the stream", start.start_mark,
                "but found another document", after.start_mark,
            )  # fmt: skip
        return data, self.marks

    def _count(self, nodes: int) -> None:
        self.remaining -= nodes
        if self.remaining < 0:
            raise ConfigError(f"document expands to more than {MAX_NODES} nodes (alias bomb?)", path=str(self.path))

    def _define(self, event: Any) -> None:
        import yaml

        anchor = event.anchor
        if anchor in self.anchors:
            raise yaml.composer.ComposerError(
                "found duplicate anchor; first occurrence", None, "second occurrence", event.start_mark
            )
        self.anchors[anchor] = None

    def _alias(self, event: Any) -> _Anchored:
        import yaml

        if event.anchor not in self.anchors:
            raise yaml.composer.ComposerError(None, None, "found undefined alias", event.start_mark)
        anchored = self.anchors[event.anchor]
        if anchored is None:  # an alias inside its own anchor: expands without end
            self._count(MAX_NODES + 1)
        assert anchored is not None
        return anchored

    def node(self, event: Any, at: tuple[str | int, ...], depth: int) -> Any:
        """The value whose first event is ``event``, standing at ``at``."""
        kind = type(event)
        events = self.events
        if kind is events.AliasEvent:
            return self._expand(self._alias(event), at)
        if event.anchor is not None:
            self._define(event)
        before = self.remaining
        self.remaining -= 1  # self._count(1), inline: once a node
        if self.remaining < 0:
            self._count(0)
        mark = event.start_mark
        if kind is not events.ScalarEvent or self.scalar_marks:
            self.marks[at] = (mark.line + 1, mark.column + 1)
        tag = None
        if kind is events.ScalarEvent:
            tag = self._tag(event)
            value = self._scalar(event, tag, at)
        elif depth >= MAX_DEPTH:
            raise ConfigError(
                f"collections nest deeper than {MAX_DEPTH} levels", path=str(self.path),
                line=mark.line + 1, column=mark.column + 1, field=format_loc(at),
            )  # fmt: skip
        elif kind is events.MappingStartEvent:
            value = self._mapping(at, depth)
        else:
            value = self._sequence(at, depth)
        if event.anchor is not None:
            where = (mark.line + 1, mark.column + 1)
            self.anchors[event.anchor] = _Anchored(value, at, before - self.remaining, where, tag)
        return value

    def _sequence(self, at: tuple[str | int, ...], depth: int) -> list[Any]:
        out: list[Any] = []
        end = self.events.SequenceEndEvent
        event = self.get()
        while type(event) is not end:
            out.append(self.node(event, (*at, len(out)), depth + 1))
            event = self.get()
        return out

    def _mapping(self, at: tuple[str | int, ...], depth: int) -> dict[Any, Any]:
        events = self.events
        scalar, end = events.ScalarEvent, events.MappingEndEvent
        get, marks, tags, path = self.get, self.marks, self.tags, str(self.path)
        scalar_marks = self.scalar_marks
        out: dict[Any, Any] = {}
        event = get()
        while type(event) is not end:
            # The common case inline: a plain string key, a scalar value without anchor or tag.
            key: Any
            tag: str | None
            if type(event) is scalar and event.anchor is None and event.tag is None and event.implicit[0]:
                key = event.value
                tag = tags.get(key) or self._tag(event)
                if tag != _STR:
                    key = None if tag == _MERGE else self._scalar(event, tag, at)
                key_mark = event.start_mark
                where = None  # (line, column), worked out only when asked for
            else:
                key, tag, where = self._key(event, at)
            if tag == _MERGE or key is None or isinstance(key, (list, dict)) or key in out:
                line, column = where or (key_mark.line + 1, key_mark.column + 1)
                if tag == _MERGE:
                    raise ConfigError("YAML merge keys (<<) are not supported; write the keys out",
                                      path=path, line=line, column=column)  # fmt: skip
                if key is None or isinstance(key, (list, dict)):
                    raise ConfigError("mapping keys must be plain scalars", path=path, line=line, column=column)
                raise ConfigError(f"duplicate key {key!r}", path=path, line=line, column=column,
                                  field=format_loc((*at, str(key))))  # fmt: skip
            event = get()
            if type(event) is scalar and event.anchor is None:
                self.remaining -= 1
                if self.remaining < 0:
                    self._count(0)
                value = event.value
                if event.tag is None and event.implicit[0]:
                    tag = tags.get(value) or self._tag(event)
                else:
                    tag = self._tag(event)
                if scalar_marks:
                    mark = event.start_mark
                    marks[(*at, key)] = (mark.line + 1, mark.column + 1)
                out[key] = value if tag == _STR else self._scalar(event, tag, (*at, key))
            else:
                out[key] = self.node(event, (*at, key), depth + 1)
            if scalar_marks:  # where the key itself stands: an unknown key is reported there
                marks[(KEY, *at, key)] = where or (key_mark.line + 1, key_mark.column + 1)
            event = get()
        return out

    def _key(self, event: Any, at: tuple[str | int, ...]) -> tuple[Any, str | None, tuple[int, int]]:
        """A mapping key's value, resolved tag and mark (keys are not counted as nodes)."""
        kind = type(event)
        if kind is self.events.AliasEvent:
            anchored = self._alias(event)
            return anchored.value, anchored.tag, anchored.mark
        mark = (event.start_mark.line + 1, event.start_mark.column + 1)
        if kind is not self.events.ScalarEvent:
            return None, None, mark  # refused by the caller
        if event.anchor is not None:
            self._define(event)
        tag = self._tag(event)
        value = None if tag == _MERGE else self._scalar(event, tag, at)
        if event.anchor is not None:
            self.anchors[event.anchor] = _Anchored(value, None, 1, mark, tag)
        return value, tag, mark

    def _tag(self, event: Any) -> str:
        """A scalar's tag: explicit, else resolved as PyYAML's resolver does (no path resolvers)."""
        tag = event.tag
        if tag is not None and tag != "!":
            return str(tag)
        if not event.implicit[0]:
            return _STR
        value = event.value
        found = self.tags.get(value)
        if found is None:
            found = _STR
            for candidate, pattern in (*self.resolvers.get(value[:1], ()), *self.resolvers.get(None, ())):
                if pattern.match(value):
                    found = candidate
                    break
            self.tags[value] = found
        return found

    def _scalar(self, event: Any, tag: str, at: tuple[str | int, ...]) -> Any:
        value = event.value
        if tag == _STR:
            return value  # the common case, without the constructor's bookkeeping
        if tag == "tag:yaml.org,2002:bool":
            low = value.lower()
            if low in ("true", "false"):
                return low == "true"
            return value
        if tag in ("tag:yaml.org,2002:int", "tag:yaml.org,2002:float") and ":" in value:
            return value
        if tag == "tag:yaml.org,2002:timestamp" and len(value) == 10:
            try:
                return date.fromisoformat(value)  # YYYY-MM-DD; anything else as PyYAML reads it
            except ValueError:
                pass
        import yaml

        node = yaml.ScalarNode(tag, value, event.start_mark, event.end_mark, event.style)
        try:
            return self.constructor.construct_object(node, deep=True)
        except (yaml.YAMLError, ValueError) as exc:
            raise ConfigError(
                f"invalid value {value!r}: {exc}",
                path=str(self.path),
                line=event.start_mark.line + 1,
                column=event.start_mark.column + 1,
                field=format_loc(at),
            ) from exc

    def _expand(self, anchored: _Anchored, at: tuple[str | int, ...]) -> Any:
        """A fresh copy of an anchored value for an alias at ``at``, with its marks."""
        self._count(anchored.size)
        if anchored.path is None or not isinstance(anchored.value, (dict, list)):
            self.marks[at] = anchored.mark
            return anchored.value
        self._copy_marks(anchored.value, anchored.path, at)
        return copy.deepcopy(anchored.value)

    def _copy_marks(self, value: Any, source: tuple[str | int, ...], target: tuple[str | int, ...]) -> None:
        marks = self.marks
        if source in marks:  # a scalar has none without scalar_marks
            marks[target] = marks[source]
        if isinstance(value, dict):
            for key, item in value.items():
                if (KEY, *source, key) in marks:
                    marks[(KEY, *target, key)] = marks[(KEY, *source, key)]
                self._copy_marks(item, (*source, key), (*target, key))
        elif isinstance(value, list):
            for i, item in enumerate(value):
                self._copy_marks(item, (*source, i), (*target, i))


class LocatedProblems:
    """Gathers the located problems of one file, so that one pass reports all of them."""

    def __init__(self, path: str, marks: Marks) -> None:
        self.path = path
        self.marks = marks
        self.problems: list[ConfigError] = []

    def add(self, loc: tuple[str | int, ...], message: str) -> None:
        """A problem at ``loc`` (or its nearest marked ancestor)."""
        line, column = mark_of(self.marks, loc)
        self.problems.append(ConfigError(message, path=self.path, line=line, column=column, field=format_loc(loc)))

    def source(self, loc: tuple[str | int, ...]) -> Location:
        """Where ``loc`` stands, as a location."""
        line, column = self.marks.get(loc) or mark_of(self.marks, loc)
        return Location(self.path, line, column)


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
