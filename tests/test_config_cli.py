"""``seasongate config`` and the defaults the configuration file gives every command."""

from __future__ import annotations

import json
from pathlib import Path

import click
import pytest
from click.testing import CliRunner, Result

from seasongate.cli import main

CONFIG = """policy = "policies/production.yaml"
dsn_env = "CRM_DATABASE_URL"
table = "flyway_schema_history"
lock_timeout = "3s"

[placeholders]
territory = "DE"
"""


def run(*args: str, env: dict[str, str] | None = None) -> Result:
    return CliRunner().invoke(main, list(args), env=env or {}, catch_exceptions=False)


@pytest.fixture
def project(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.chdir(tmp_path)
    for name in ("SEASONGATE_DSN", "SEASONGATE_STORE", "SEASONGATE_MIGRATIONS", "CRM_DATABASE_URL"):
        monkeypatch.delenv(name, raising=False)
    (tmp_path / "seasongate.toml").write_text(CONFIG, encoding="utf-8")
    return tmp_path


def test_config_shows_each_setting_and_its_source_with_the_password_masked(project: Path) -> None:
    result = run("config", "--lock-wait", "2m", env={"CRM_DATABASE_URL": "postgresql://crm:s3cret@db/crm"})
    assert result.exit_code == 0, result.output
    lines = {line.split()[0]: line for line in result.output.splitlines()[1:] if line.startswith("  ")}
    assert "s3cret" not in result.output
    assert (
        "postgresql://crm:***@db/crm" in lines["dsn"]
        and "env CRM_DATABASE_URL (dsn_env, seasongate.toml:2)" in lines["dsn"]
    )
    assert lines["table"].split()[1:] == ["flyway_schema_history", "seasongate.toml:3"]
    assert lines["lock_wait"].split()[1:] == ["2m", "command", "line"]
    assert lines["statement_timeout"].split()[1:] == ["30m", "default"]
    assert "territory = DE  (seasongate.toml [placeholders])" in result.output


def test_config_json(project: Path) -> None:
    result = run(
        "config", "--format", "json", "--placeholder", "territory=CH", env={"CRM_DATABASE_URL": "postgresql:///crm"}
    )
    data = json.loads(result.output)
    assert data["file"].endswith("seasongate.toml")
    assert data["settings"]["lock_timeout"] == {"value": "3s", "source": "seasongate.toml:4"}
    assert data["placeholders"]["territory"] == {"value": "CH", "source": "command line"}


def test_a_broken_file_is_exit_2_with_its_location(project: Path) -> None:
    (project / "seasongate.toml").write_text('table = "x"\nlock_timout = "3s"\n', encoding="utf-8")
    result = CliRunner().invoke(main, ["config"], env={})
    assert result.exit_code == 2
    assert "seasongate.toml:2:1: lock_timout: unknown key" in result.output


def test_commands_take_their_defaults_from_the_file_and_the_command_line_wins(
    project: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    seen: dict[str, object] = {}

    @click.command(name="probe")
    @click.option("--table", default="seasongate_schema_history")
    @click.option("--lock-timeout", default="5s")
    @click.option("--dsn", envvar="SEASONGATE_DSN")
    @click.pass_context
    def probe(ctx: click.Context, table: str, lock_timeout: str, dsn: str | None) -> None:
        seen.update(table=table, lock_timeout=lock_timeout, dsn=dsn, placeholders=ctx.obj.get("placeholders"))

    import seasongate.cli as cli

    monkeypatch.setitem(cli._COMMAND_MODULES, "probe", __name__)
    monkeypatch.setattr(f"{__name__}.probe", probe, raising=False)
    run("probe", env={"CRM_DATABASE_URL": "postgresql:///crm"})
    assert seen == {"table": "flyway_schema_history", "lock_timeout": "3s", "dsn": "postgresql:///crm",
                    "placeholders": {"territory": "DE"}}  # fmt: skip
    run("probe", "--table", "other", env={"CRM_DATABASE_URL": "x", "SEASONGATE_DSN": "postgresql:///env"})
    assert seen["table"] == "other" and seen["dsn"] == "postgresql:///env"


def test_no_file_no_defaults(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    result = run("config", "--format", "json")
    data = json.loads(result.output)
    assert data["file"] is None and data["settings"]["table"]["source"] == "default"
