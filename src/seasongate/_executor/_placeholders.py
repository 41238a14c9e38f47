"""Placeholders in migration scripts and callbacks, with Flyway's syntax.

``${name}`` is replaced by the value of placeholder ``name`` everywhere in a script (comments
and string literals included, as Flyway does: replacement happens before the SQL is parsed).
Names are case-insensitive. Flyway has no escape sequence, and neither has seasongate, so that
a script means the same under both: to write a literal ``${``, change the prefix or suffix
(``placeholder_prefix``/``placeholder_suffix``) or turn replacement off
(``placeholder_replacement = false``), exactly the settings Flyway offers.

Built-in placeholders, as Flyway names them: ``${flyway:defaultSchema}``, ``${flyway:user}``,
``${flyway:database}``, ``${flyway:timestamp}`` (``yyyy-MM-dd HH:mm:ss``, the database server's
time when the run started: the server's clock is the truth),
``${flyway:filename}`` and ``${flyway:table}``; plus ``${seasongate:environment}`` and
``${seasongate:territory}``.

A placeholder without a value, or a prefix without its suffix, is an error naming the file,
the line and the column: nothing runs.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

from seasongate._errors import ConfigError

DEFAULT_PREFIX = "${"
DEFAULT_SUFFIX = "}"


@dataclass(frozen=True, slots=True)
class Placeholders:
    """Placeholder values (names compared case-insensitively) and the syntax to find them."""

    values: Mapping[str, str] = field(default_factory=dict)
    prefix: str = DEFAULT_PREFIX
    suffix: str = DEFAULT_SUFFIX
    enabled: bool = True

    def __post_init__(self) -> None:
        if self.enabled and (not self.prefix or not self.suffix):
            raise ConfigError("placeholder prefix and suffix must not be empty", field="placeholders")
        lowered = {str(k).lower(): str(v) for k, v in self.values.items()}
        object.__setattr__(self, "values", lowered)

    def with_values(self, extra: Mapping[str, str]) -> Placeholders:
        """These placeholders plus ``extra`` (which wins)."""
        return Placeholders(
            {**self.values, **{k.lower(): v for k, v in extra.items()}}, self.prefix, self.suffix, self.enabled
        )

    def replace(self, text: str, path: str) -> str:
        """``text`` with every placeholder replaced; ``path`` names the file in errors."""
        if not self.enabled or self.prefix not in text:
            return text
        out: list[str] = []
        pos = 0
        while True:
            start = text.find(self.prefix, pos)
            if start < 0:
                out.append(text[pos:])
                return "".join(out)
            out.append(text[pos:start])
            name_at = start + len(self.prefix)
            end = text.find(self.suffix, name_at)
            line = text.count("\n", 0, start) + 1
            column = start - (text.rfind("\n", 0, start) + 1) + 1
            if end < 0:
                raise ConfigError(
                    f"{self.prefix} without a closing {self.suffix!r}: an unterminated placeholder "
                    "(to write it literally, change placeholder_prefix or set placeholder_replacement = false)",
                    path=path,
                    line=line,
                    column=column,
                )
            name = text[name_at:end]
            value = self.values.get(name.lower())
            if value is None:
                shown = f"{self.prefix}{name}{self.suffix}"
                hint = (
                    "a built-in placeholder seasongate does not provide"
                    if ":" in name
                    else f"define it in [placeholders] of the configuration file or with --placeholder {name}=VALUE"
                )
                raise ConfigError(f"no value for placeholder {shown}: {hint}", path=path, line=line, column=column)
            out.append(value)
            pos = end + len(self.suffix)


def builtin_placeholders(
    *,
    schema: str,
    user: str,
    database: str,
    table: str,
    timestamp: str,
    environment: str = "",
    territory: str = "",
) -> dict[str, str]:
    """Flyway's built-in placeholders (without ``flyway:filename``, which is per script)."""
    return {
        "flyway:defaultschema": schema,
        "flyway:user": user,
        "flyway:database": database,
        "flyway:table": table,
        "flyway:timestamp": timestamp,
        "seasongate:environment": environment,
        "seasongate:territory": territory,
    }


def for_script(placeholders: Placeholders, filename: str) -> Placeholders:
    """The placeholders of one script: ``${flyway:filename}`` is its file name."""
    return placeholders.with_values({"flyway:filename": filename})
