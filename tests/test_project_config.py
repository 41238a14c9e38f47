"""The configuration file, placeholders and SQL callbacks."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from seasongate._config import (
    effective_settings,
    find_config,
    key_positions,
    load_config,
    parse_placeholder_options,
    placeholder_settings,
)
from seasongate._errors import ConfigError, InputError
from seasongate._executor._callbacks import (
    AFTER_EACH_MIGRATE,
    BEFORE_EACH_MIGRATE,
    BEFORE_MIGRATE,
    find_callbacks,
)
from seasongate._executor._placeholders import Placeholders, builtin_placeholders, for_script
from seasongate._versions import Version

GOOD = """# the CRM's settings
policy = "policies/production.yaml"
dsn_env = "CRM_DATABASE_URL"
migrations = "db/migrations"
table = "flyway_schema_history"
lock_timeout = "3s"
statement_timeout = "20m"
baseline_version = "V225"

[placeholders]
territory = "DE"
schema = "crm"
"""


def write(tmp_path: Path, name: str, text: str) -> Path:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


# -- the file ------------------------------------------------------------------------------------


def test_a_good_file_is_read_with_its_lines(tmp_path: Path) -> None:
    write(tmp_path, "seasongate.toml", GOOD)
    config = find_config(tmp_path)
    assert config is not None
    assert config.values["table"] == "flyway_schema_history"
    assert config.values["baseline_version"] == Version((225,))
    assert config.placeholders == {"territory": "DE", "schema": "crm"}
    assert config.where("table") == "seasongate.toml:5" and config.where("lock_timeout") == "seasongate.toml:6"


def test_no_file_is_none(tmp_path: Path) -> None:
    assert find_config(tmp_path) is None
    write(tmp_path, "pyproject.toml", '[project]\nname = "x"\n')
    assert find_config(tmp_path) is None


def test_pyproject_tool_table(tmp_path: Path) -> None:
    write(tmp_path, "pyproject.toml", '[project]\nname = "x"\n\n[tool.seasongate]\ntable = "flyway_schema_history"\n'
          '\n[tool.seasongate.placeholders]\nterritory = "CH"\n')  # fmt: skip
    config = find_config(tmp_path)
    assert config is not None and config.values == {"table": "flyway_schema_history"}
    assert config.placeholders == {"territory": "CH"} and config.where("table") == "pyproject.toml:5"


def test_both_files_is_an_error(tmp_path: Path) -> None:
    write(tmp_path, "seasongate.toml", 'table = "a"\n')
    write(tmp_path, "pyproject.toml", '[tool.seasongate]\ntable = "b"\n')
    with pytest.raises(ConfigError, match="keep one"):
        find_config(tmp_path)


@pytest.mark.parametrize(
    ("text", "where", "message"),
    [
        ('table = "x"\n  lock_timout = "5s"\n', ":2:3: lock_timout: unknown key", "known: "),
        ('dsn = "postgresql://crm:secret@db/crm"\n', ":1:1: dsn:", "never written into the configuration file"),
        ('store = "postgresql://crm:secret@db/audit"\n', ":1:1: store:", "holds a password"),
        ("lock_timeout = 5\n", ":1:1: lock_timeout:", 'write lock_timeout = "5s"'),
        ('lock_timeout = "5"\n', ":1:1: lock_timeout:", "needs a unit"),
        ('lock_timeout = "0s"\n', ":1:1: lock_timeout:", "longer than zero"),
        ('dsn_env = "postgresql://x"\n', ":1:1: dsn_env:", "not an environment variable name"),
        ("baseline_on_migrate = 1\n", ":1:1: baseline_on_migrate:", "true or false"),
        ("\n[placeholders]\nterritory = 7\n", ":3:1: placeholders.territory:", "is a string"),
        ('[placeholders]\nx = { a = "b" }\n', ":2:1: placeholders.x:", "is a string"),
        ('table = "x"\ntable = "y"\n', ":2:", "not valid TOML"),
        ('store = "sqlite:///a.db"\nstore_env = "S"\n', ":2:1: store_env:", "not both"),
    ],
    ids=[
        "unknown",
        "dsn",
        "store-password",
        "bare-int",
        "bare-text",
        "zero",
        "env-name",
        "bool",
        "placeholder",
        "inline-table",
        "toml",
        "store-twice",
    ],
)
def test_broken_files_are_located_errors(tmp_path: Path, text: str, where: str, message: str) -> None:
    path = write(tmp_path, "seasongate.toml", text)
    with pytest.raises(ConfigError) as info:
        load_config(path)
    rendered = str(info.value)
    assert rendered.startswith(str(path) + where), rendered
    assert message in rendered


def test_pyproject_unknown_key_is_located_in_pyproject(tmp_path: Path) -> None:
    write(tmp_path, "pyproject.toml", '[project]\nname = "x"\n[tool.seasongate]\n\ntabel = "x"\n')
    with pytest.raises(ConfigError, match=r"pyproject.toml:5:1: tabel: unknown key"):
        find_config(tmp_path)


def test_key_positions_handle_inline_tables_and_multiline_strings() -> None:
    text = 'a = """\nb = 1\n"""\n[t]\n  c.d = 2\ne = { f = 1, "g h" = 2 }\n'
    positions = key_positions(text)
    assert positions[("a",)] == (1, 1)
    assert ("b",) not in positions and ("t", "b") not in positions
    assert positions[("t", "c", "d")] == (5, 3)
    assert positions[("t", "e", "f")] == (6, 7) and positions[("t", "e", "g h")] == (6, 14)


# -- precedence ----------------------------------------------------------------------------------


def test_precedence_command_line_env_file_default(tmp_path: Path) -> None:
    write(tmp_path, "seasongate.toml", GOOD)
    config = find_config(tmp_path)
    environ = {"CRM_DATABASE_URL": "postgresql://crm:s3cret@db/crm", "SEASONGATE_MIGRATIONS": "other"}
    settings = {s.name: s for s in effective_settings(config, command_line={"lock_timeout": "9s"}, environ=environ)}
    assert (settings["lock_timeout"].value, settings["lock_timeout"].source) == ("9s", "command line")
    assert (settings["migrations"].value, settings["migrations"].source) == ("other", "env SEASONGATE_MIGRATIONS")
    assert (settings["table"].value, settings["table"].source) == ("flyway_schema_history", "seasongate.toml:5")
    assert (settings["lock_wait"].value, settings["lock_wait"].source) == ("60s", "default")
    assert settings["dsn"].value == environ["CRM_DATABASE_URL"]
    assert settings["dsn"].source == "env CRM_DATABASE_URL (dsn_env, seasongate.toml:3)"
    with_env = effective_settings(config, command_line={}, environ={**environ, "SEASONGATE_DSN": "postgresql:///x"})
    assert next(s for s in with_env if s.name == "dsn").source == "env SEASONGATE_DSN"


def test_dsn_env_naming_an_unset_variable_is_an_error(tmp_path: Path) -> None:
    write(tmp_path, "seasongate.toml", GOOD)
    with pytest.raises(
        ConfigError, match=r"seasongate.toml:3:1: dsn_env: dsn_env names CRM_DATABASE_URL, which is not set"
    ):
        effective_settings(find_config(tmp_path), command_line={}, environ={})


def test_placeholders_merge_with_the_command_line(tmp_path: Path) -> None:
    write(tmp_path, "seasongate.toml", GOOD)
    merged = placeholder_settings(find_config(tmp_path), parse_placeholder_options(["Territory=CH", "x=1=2"]))
    assert [(s.name, s.value, s.source) for s in merged] == [
        ("schema", "crm", "seasongate.toml [placeholders]"),
        ("Territory", "CH", "command line"),
        ("x", "1=2", "command line"),
    ]
    with pytest.raises(InputError, match="NAME=VALUE"):
        parse_placeholder_options(["novalue"])


# -- placeholders --------------------------------------------------------------------------------


def test_placeholders_are_replaced_case_insensitively_everywhere() -> None:
    ph = Placeholders({"Territory": "DE", "empty": ""})
    text = "-- for ${territory}\nSELECT '${TERRITORY}'${empty};"
    assert ph.replace(text, "V1__a.sql") == "-- for DE\nSELECT 'DE';"


def test_a_missing_placeholder_names_file_line_and_column() -> None:
    with pytest.raises(ConfigError) as info:
        Placeholders({"a": "1"}).replace("SELECT 1;\n  SELECT ${a}, ${territory};", "migrations/V226__x.sql")
    assert str(info.value).startswith("migrations/V226__x.sql:2:16: no value for placeholder ${territory}")
    with pytest.raises(ConfigError, match=r"V1__a.sql:1:8: \$\{ without a closing"):
        Placeholders().replace("SELECT ${oops", "V1__a.sql")


def test_other_prefix_or_no_replacement_is_how_a_literal_is_written() -> None:
    text = "SELECT '${not_a_placeholder}', #[t]#;"
    assert (
        Placeholders({"t": "DE"}, prefix="#[", suffix="]#").replace(text, "x") == "SELECT '${not_a_placeholder}', DE;"
    )
    assert Placeholders(enabled=False).replace(text, "x") == text


def test_builtins_as_flyway_names_them() -> None:
    values = builtin_placeholders(schema="public", user="crm", database="crm", table="flyway_schema_history",
                                  timestamp="2026-03-29 01:30:00")  # fmt: skip
    ph = for_script(Placeholders(values), "V226__x.sql")
    text = "${flyway:defaultSchema} ${flyway:user} ${flyway:database} ${flyway:timestamp} ${flyway:filename}"
    assert ph.replace(text, "x") == "public crm crm 2026-03-29 01:30:00 V226__x.sql"
    with pytest.raises(ConfigError, match="built-in placeholder seasongate does not provide"):
        ph.replace("${flyway:workingDirectory}", "x")


# -- callbacks -----------------------------------------------------------------------------------


def test_callbacks_are_found_ordered_and_unsupported_events_refused(tmp_path: Path) -> None:
    names = ["afterEachMigrate.sql", "beforeMigrate__b.sql", "beforeMigrate__a.sql", "beforeEachMigrate.sql",
             "beforeClean.sql", "V1__x.sql", "R__y.sql", "notes.sql"]  # fmt: skip
    for name in names:
        write(tmp_path, name, f"-- {name}\n")
    callbacks, findings = find_callbacks(tmp_path.iterdir(), lambda p: p.read_text())
    assert [c.name for c in callbacks.scripts] == [
        "beforeMigrate__a.sql", "beforeMigrate__b.sql", "beforeEachMigrate.sql", "afterEachMigrate.sql",
    ]  # fmt: skip
    assert [c.name for c in callbacks.for_event(BEFORE_MIGRATE)] == ["beforeMigrate__a.sql", "beforeMigrate__b.sql"]
    assert callbacks.for_event(BEFORE_EACH_MIGRATE)[0].in_migration_transaction
    assert callbacks.for_event(AFTER_EACH_MIGRATE)[0].sql == "-- afterEachMigrate.sql\n"
    assert not callbacks.for_event(BEFORE_MIGRATE)[0].in_migration_transaction
    [finding] = findings
    assert finding.path.endswith("beforeClean.sql") and "does not run" in finding.message


# -- the policy's side: protected environments and the repeatable class --------------------------


def test_protected_must_name_the_policys_environments(tmp_path: Path) -> None:
    from seasongate._policy import load_policy
    from tests.conftest import POLICIES

    text = (POLICIES / "staging.yaml").read_text().replace("protected: [staging]", "protected: [production]")
    path = write(tmp_path, "staging.yaml", text.replace("../calendars", str(POLICIES.parent / "calendars")))
    with pytest.raises(ConfigError, match=r"protected\[0\]: 'production' is not one of this policy's environments"):
        load_policy(path)
    assert load_policy(POLICIES / "staging.yaml").protected == ("staging",)


def test_repeatables_are_judged_as_their_own_class() -> None:
    from seasongate._policy import Request, load_policy
    from tests.conftest import POLICIES

    policy = load_policy(POLICIES / "production.yaml")
    monday = datetime(2026, 1, 12, 10, 0, tzinfo=ZoneInfo("Europe/Berlin"))
    saturday = datetime(2026, 1, 10, 22, 0, tzinfo=ZoneInfo("Europe/Berlin"))
    repeatable = Request("production", "DE", None, "low", 60, "apply", "R__rls_policies", repeatable=True)
    denied = policy.evaluate(repeatable, monday)
    assert not denied.allowed and [r.rule for r in denied.denying] == ["repeatables-business-hours"]
    assert denied.migration.migration_class == "repeatable"
    assert policy.evaluate(repeatable, saturday).allowed
