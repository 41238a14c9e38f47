"""The project's configuration file: ``seasongate.toml`` or ``[tool.seasongate]`` in pyproject.toml.

What is otherwise repeated on every command::

    # seasongate.toml (at the project root)
    policy = "policies/production.yaml"
    store = "sqlite:///.seasongate/seasongate.db"   # or store_env = "SEASONGATE_STORE_URL"
    dsn_env = "CRM_DATABASE_URL"                      # the NAME of the variable, never the URL
    migrations = "migrations"
    table = "flyway_schema_history"
    lock_timeout = "5s"
    statement_timeout = "30m"

    [placeholders]
    territory = "DE"

Precedence, highest first: the command line, the environment (``SEASONGATE_DSN``,
``SEASONGATE_STORE``, ``SEASONGATE_MIGRATIONS``), the file, the built-in default. A literal DSN
or a URL with a password in the file is refused: files end up in version control. Unknown keys
and wrong types are errors with ``file:line:column``. Nothing here reads the clock; reading is
cheap (``tomllib``) and happens only when a file is there.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from seasongate._dsn import secrets_of
from seasongate._errors import ConfigError, InputError
from seasongate._fileio import UnreadableFile, read_regular_file
from seasongate._time import parse_duration
from seasongate._versions import Version

CONFIG_FILE = "seasongate.toml"
PYPROJECT = "pyproject.toml"
_LIMIT = 1024 * 1024
_ENV_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
_MAX_DURATION = 7 * 86400


@dataclass(frozen=True, slots=True)
class Key:
    """One setting: its kind, default, the environment variable that can set it, and help."""

    kind: str  # str | path | duration | bool | version | env | url | list
    default: Any
    env: str | None
    help: str


KEYS: dict[str, Key] = {
    "policy": Key("path", None, None, "policy file (default: the one in policies/ covering --env)"),
    "store": Key("url", None, "SEASONGATE_STORE", "override/audit store URL (no password in it)"),
    "store_env": Key("env", None, None, "name of the environment variable holding the store URL"),
    "dsn_env": Key("env", None, None, "name of the environment variable holding the database URL"),
    "migrations": Key("path", "migrations", "SEASONGATE_MIGRATIONS", "migrations folder"),
    "table": Key("str", "seasongate_schema_history", None, "history table (flyway_schema_history: Flyway's)"),
    "schemas": Key("list", None, None, "schemas `clean` empties (default: public)"),
    "lock_wait": Key("duration", "60s", None, "how long to wait for another run's migration lock"),
    "lock_timeout": Key("duration", "5s", None, "lock_timeout of each statement"),
    "statement_timeout": Key("duration", "30m", None, "statement_timeout of each statement"),
    "baseline_version": Key("version", "V1", None, "version `baseline` and --baseline-on-migrate record"),
    "baseline_description": Key("str", "<< Flyway Baseline >>", None, "description of the baseline row"),
    "baseline_on_migrate": Key(
        "bool", default=False, env=None, help="baseline a database without history on first migrate"
    ),
    "placeholder_replacement": Key("bool", default=True, env=None, help="replace ${...} placeholders in scripts"),
    "placeholder_prefix": Key("str", "${", None, "placeholder prefix"),
    "placeholder_suffix": Key("str", "}", None, "placeholder suffix"),
}
_TABLES = ("placeholders",)
_REFUSED = {
    "dsn": 'a database URL is never written into the configuration file: set dsn_env = "NAME" '
    "and put the URL into that environment variable",
    "password": "a password is never written into the configuration file: put it in the URL held "
    "by the environment variable named by dsn_env",
    "url": 'use dsn_env = "NAME" (the environment variable holding the database URL)',
}


@dataclass(frozen=True, slots=True)
class ProjectConfig:
    """A configuration file, read and checked. ``values`` holds the keys the file sets
    (normalized: durations as text, versions as :class:`Version`), ``lines`` their lines."""

    path: Path
    shown: str  # the path as shown in messages, with [tool.seasongate] for pyproject.toml
    values: Mapping[str, Any] = field(default_factory=dict)
    placeholders: Mapping[str, str] = field(default_factory=dict)
    lines: Mapping[str, int] = field(default_factory=dict)

    def where(self, key: str) -> str:
        """``seasongate.toml:4`` for a key the file sets."""
        return f"{self.path.name}:{self.lines.get(key, 1)}"


@dataclass(frozen=True, slots=True)
class Setting:
    """One effective setting and where its value came from (``default``, ``seasongate.toml:4``,
    ``env SEASONGATE_DSN``, ``command line``)."""

    name: str
    value: Any
    source: str
    help: str = ""


def find_config(directory: Path) -> ProjectConfig | None:
    """Read the configuration of the project at ``directory``: ``seasongate.toml``, else
    ``[tool.seasongate]`` of ``pyproject.toml``, else None. Both at once is an error."""
    own = directory / CONFIG_FILE
    pyproject = directory / PYPROJECT
    config = load_config(own) if own.exists() else None
    if pyproject.is_file():
        data = _read(pyproject)
        if b"tool.seasongate" in data or b'tool."seasongate"' in data:
            from_pyproject = _parse(pyproject, data, ("tool", "seasongate"))
            if from_pyproject is not None:
                if config is not None:
                    raise ConfigError(
                        f"both {CONFIG_FILE} and [tool.seasongate] in {PYPROJECT} configure seasongate; keep one",
                        path=str(pyproject),
                        line=from_pyproject.lines.get("", 1),
                        column=1,
                    )
                return from_pyproject
    return config


def load_config(path: Path) -> ProjectConfig:
    """Read ``seasongate.toml`` (or any file in its format)."""
    parsed = _parse(path, _read(path), ())
    assert parsed is not None
    return parsed


def _read(path: Path) -> bytes:
    try:
        return read_regular_file(path, limit=_LIMIT)
    except UnreadableFile as exc:
        raise ConfigError(str(exc), path=str(path)) from exc


def _parse(path: Path, data: bytes, prefix: tuple[str, ...]) -> ProjectConfig | None:
    import tomllib

    shown = str(path)
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise ConfigError(f"not UTF-8 text ({exc.reason} at byte {exc.start})", path=shown) from exc
    try:
        doc = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        line, column = _toml_error_position(str(exc))
        message = re.sub(r"\s*\(at line \d+, column \d+\)$", "", str(exc))
        raise ConfigError(f"not valid TOML: {message}", path=shown, line=line, column=column) from exc
    positions = key_positions(text)
    table: Any = doc
    for part in prefix:
        if not isinstance(table, dict) or part not in table:
            return None
        table = table[part]
    if not isinstance(table, dict):
        line, col = positions.get(prefix, (1, 1))
        raise ConfigError("expected a table of settings", path=shown, line=line, column=col, field=".".join(prefix))
    values: dict[str, Any] = {}
    lines: dict[str, int] = {"": positions.get(prefix, (1, 1))[0]}
    placeholders: dict[str, str] = {}

    def fail(key: tuple[str, ...], message: str) -> ConfigError:
        line, col = positions.get(prefix + key, positions.get(prefix, (1, 1)))
        return ConfigError(message, path=shown, line=line, column=col, field=".".join(key))

    for key, value in table.items():
        if key in _REFUSED:
            raise fail((key,), _REFUSED[key])
        if key in _TABLES:
            if not isinstance(value, dict):
                raise fail((key,), 'expected a table of name = "value" pairs')
            for name, item in value.items():
                if not isinstance(item, str):
                    raise fail((key, name), f'a placeholder value is a string (write {name} = "{item}")')
                placeholders[name] = item
            lines[key] = positions.get((*prefix, key), (1, 1))[0]
            continue
        spec = KEYS.get(key)
        if spec is None:
            known = ", ".join(sorted([*KEYS, *_TABLES]))
            raise fail((key,), f"unknown key (known: {known})")
        try:
            values[key] = _value(key, spec, value)
        except InputError as exc:
            raise fail((key,), str(exc)) from exc
        lines[key] = positions.get((*prefix, key), (1, 1))[0]
    if "store" in values and "store_env" in values:
        raise fail(("store_env",), "set either store or store_env, not both")
    display = f"{shown} [tool.seasongate]" if prefix else shown
    return ProjectConfig(path, display, values, placeholders, lines)


def _value(key: str, spec: Key, value: Any) -> Any:
    kind = spec.kind
    if kind == "bool":
        if not isinstance(value, bool):
            raise InputError(f"expected true or false, not {value!r}")
        return value
    if kind == "list":
        if not isinstance(value, list) or not value or not all(isinstance(v, str) and v for v in value):
            raise InputError('expected a list of names, e.g. ["public", "crm"]')
        return tuple(value)
    if not isinstance(value, str):
        hint = f' (write {key} = "{value}s" or another unit)' if kind == "duration" and isinstance(value, int) else ""
        raise InputError(f"expected a string, not {type(value).__name__} {value!r}{hint}")
    if kind == "duration":
        raw = value.strip()
        if raw.isdigit():
            raise InputError(f"a duration needs a unit: {raw}s, {raw}m or {raw}h")
        seconds = parse_duration(raw)
        if seconds <= 0 or seconds > _MAX_DURATION:
            raise InputError(f"invalid duration {value!r}: longer than zero and at most 7d")
        return raw
    if kind == "version":
        return Version.parse(value)
    if kind == "env":
        if not _ENV_NAME.match(value):
            raise InputError(f"{value!r} is not an environment variable name (write the NAME, e.g. CRM_DATABASE_URL)")
        return value
    if kind == "url" and secrets_of(value):
        raise InputError(f'the URL holds a password; set {key}_env = "NAME" and put the URL into that variable')
    if not value.strip():
        raise InputError("must not be empty")
    return value


def _toml_error_position(message: str) -> tuple[int, int]:
    match = re.search(r"at line (\d+), column (\d+)", message)
    return (int(match.group(1)), int(match.group(2))) if match else (1, 1)


# --- where keys are -------------------------------------------------------------------------------

_HEADER = re.compile(r"^\s*\[\s*(?P<name>[^\[\]]+?)\s*\]\s*(?:#.*)?$")
_BARE = r"[A-Za-z0-9_-]+"
_QUOTED = r'"(?:[^"\\]|\\.)*"' + r"|'[^']*'"
_KEY = re.compile(rf"(?P<key>(?:{_BARE}|{_QUOTED})(?:\s*\.\s*(?:{_BARE}|{_QUOTED}))*)\s*=")


def _split_key(text: str) -> tuple[str, ...]:
    parts = re.findall(rf"{_BARE}|{_QUOTED}", text)
    return tuple(p[1:-1] if p[:1] in "\"'" else p for p in parts)


def key_positions(text: str) -> dict[tuple[str, ...], tuple[int, int]]:
    """Where each key (as a dotted path) is set: ``{("tool", "seasongate", "table"): (12, 1)}``.

    A line scanner, enough for configuration files: table headers, ``key = value`` lines,
    dotted keys and one-line inline tables; lines inside multi-line strings are skipped.
    """
    out: dict[tuple[str, ...], tuple[int, int]] = {}
    table: tuple[str, ...] = ()
    in_string: str | None = None
    for number, line in enumerate(text.splitlines(), start=1):
        if in_string is not None:
            if line.count(in_string) % 2 == 1:
                in_string = None
            continue
        header = _HEADER.match(line)
        if header and not line.lstrip().startswith("[["):
            table = _split_key(header.group("name"))
            out.setdefault(table, (number, line.index("[") + 1))
            continue
        match = _KEY.match(line.lstrip())
        if not match:
            continue
        indent = len(line) - len(line.lstrip())
        key = table + _split_key(match.group("key"))
        out.setdefault(key, (number, indent + 1))
        rest = line[indent + match.end() :]
        for quote in ('"""', "'''"):
            if rest.count(quote) % 2 == 1:
                in_string = quote
        brace = rest.find("{")
        if brace >= 0:
            offset = indent + match.end() + brace + 1
            for inner in _KEY.finditer(line, offset):
                out.setdefault(key + _split_key(inner.group("key")), (number, inner.start() + 1))
    return out


# --- effective settings -----------------------------------------------------------------------------


def effective_settings(
    config: ProjectConfig | None,
    *,
    command_line: Mapping[str, Any],
    environ: Mapping[str, str],
) -> list[Setting]:
    """Every setting with its effective value and source; ``dsn`` and ``store`` are resolved
    from the variables the file names. Values are raw: redact a DSN before showing it."""
    out: list[Setting] = []
    file_values = dict(config.values) if config else {}

    def pick(name: str, default: Any, env: str | None, help: str) -> Setting:
        if command_line.get(name) is not None:
            return Setting(name, command_line[name], "command line", help)
        if env and environ.get(env):
            return Setting(name, environ[env], f"env {env}", help)
        if config is not None and name in file_values:
            return Setting(name, file_values[name], config.where(name), help)
        return Setting(name, default, "default", help)

    def named_variable(setting: Setting, key: str) -> Setting:
        """``dsn_env``/``store_env``: the setting from the variable the file names, when
        nothing else gave it; a variable that is not set is an error at the key."""
        if setting.source != "default" or config is None or key not in file_values:
            return setting
        var = file_values[key]
        value = environ.get(var)
        if not value:
            raise ConfigError(
                f"{key} names {var}, which is not set in the environment",
                path=str(config.path), line=config.lines.get(key, 1), column=1, field=key,
            )  # fmt: skip
        return Setting(setting.name, value, f"env {var} ({key}, {config.where(key)})", setting.help)

    out.append(named_variable(pick("dsn", None, "SEASONGATE_DSN", "target database URL"), "dsn_env"))
    for name, spec in KEYS.items():
        if name in ("dsn_env", "store_env"):
            continue
        setting = pick(name, spec.default, spec.env, spec.help)
        if name == "store":
            setting = named_variable(setting, "store_env")
        out.append(setting)
    return out


def placeholder_settings(config: ProjectConfig | None, command_line: Mapping[str, str]) -> list[Setting]:
    """Each placeholder with its value and source (the command line wins per name)."""
    merged: dict[str, Setting] = {}
    if config is not None:
        for name, value in config.placeholders.items():
            merged[name.lower()] = Setting(name, value, f"{config.path.name} [placeholders]")
    for name, value in command_line.items():
        merged[name.lower()] = Setting(name, value, "command line")
    return [merged[k] for k in sorted(merged)]


def parse_placeholder_options(items: tuple[str, ...] | list[str]) -> dict[str, str]:
    """``--placeholder name=value`` options as a mapping; a malformed one is an error."""
    out: dict[str, str] = {}
    for item in items:
        name, sep, value = item.partition("=")
        if not sep or not name.strip():
            raise InputError(f"--placeholder {item!r}: write NAME=VALUE, e.g. --placeholder territory=DE")
        out[name.strip()] = value
    return out


__all__ = [
    "CONFIG_FILE",
    "KEYS",
    "ProjectConfig",
    "Setting",
    "effective_settings",
    "find_config",
    "key_positions",
    "load_config",
    "parse_placeholder_options",
    "placeholder_settings",
]
