"""``seasongate lint``: the rules as data (files -> expected findings), then the command."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from seasongate._executor import lint
from seasongate.cli import main
from tests.conftest import MIGRATIONS, POLICIES

RLS = (
    "ALTER TABLE {t} ENABLE ROW LEVEL SECURITY;\n"
    "CREATE POLICY {t}_territory ON {t} USING (territory = current_setting('app.territory', true));\n"
)
TABLE = "CREATE TABLE {t} (id int PRIMARY KEY, territory text NOT NULL);\n"
UNDO = "-- undo\nSELECT 1;\n"

# Each case: the files of a folder and the (file, code) findings expected, in order.
CASES: list[dict[str, object]] = [
    {
        "id": "clean-folder",
        "files": {"V1__orders.sql": TABLE.format(t="orders") + RLS.format(t="orders"), "U1__orders.sql": UNDO},
        "expect": [],
    },
    {
        "id": "territory-without-rls",
        "files": {"V1__orders.sql": "-- orders\n" + TABLE.format(t="orders"), "U1__orders.sql": UNDO},
        "expect": [("V1__orders.sql", 2, "E006")],
    },
    {
        "id": "rls-enabled-but-no-policy",
        "files": {
            "V1__orders.sql": TABLE.format(t="orders") + "ALTER TABLE orders ENABLE ROW LEVEL SECURITY;\n",
            "U1__orders.sql": UNDO,
        },
        "expect": [("V1__orders.sql", 1, "E006")],
    },
    {
        "id": "rls-added-by-a-later-migration",
        "files": {
            "V1__orders.sql": TABLE.format(t="orders"),
            "U1__orders.sql": UNDO,
            "V2__orders_rls.sql": 'ALTER TABLE public."orders" ENABLE ROW LEVEL SECURITY;\n'
            "CREATE POLICY p ON public.orders USING (true);\n",
            "U2__orders_rls.sql": UNDO,
        },
        "expect": [],
    },
    {
        "id": "territory-added-by-alter-table",
        "files": {
            "V1__c.sql": "CREATE TABLE c (id int);\n",
            "U1__c.sql": UNDO,
            "V2__c_territory.sql": "ALTER TABLE c ADD COLUMN territory text;\n",
            "U2__c_territory.sql": UNDO,
        },
        "expect": [("V2__c_territory.sql", 1, "E006")],
    },
    {
        "id": "territory-in-a-comment-or-constraint-only",
        "files": {
            "V1__c.sql": "-- territory\nCREATE TABLE c (id int, region text,\n  CHECK (region <> 'territory'));\n",
            "U1__c.sql": UNDO,
        },
        "expect": [],
    },
    {
        "id": "index-on-an-earlier-table",
        "files": {
            "V1__c.sql": "CREATE TABLE c (id int);\n",
            "U1__c.sql": UNDO,
            "V2__c_idx.sql": "-- why\n\nCREATE INDEX c_idx ON c (id);\n",
            "U2__c_idx.sql": UNDO,
        },
        "expect": [("V2__c_idx.sql", 3, "E007")],
    },
    {
        "id": "index-on-a-table-of-the-same-migration",
        "files": {"V1__c.sql": "CREATE TABLE c (id int);\nCREATE UNIQUE INDEX ON c (id);\n", "U1__c.sql": UNDO},
        "expect": [],
    },
    {
        "id": "concurrently-in-a-transaction",
        "files": {
            "V1__c.sql": "CREATE TABLE c (id int);\n",
            "U1__c.sql": UNDO,
            "V2__c_idx.sql": "CREATE INDEX CONCURRENTLY c_idx ON c (id);\n",
            "U2__c_idx.sql": UNDO,
        },
        "expect": [("V2__c_idx.sql", 1, "E009")],
    },
    {
        "id": "concurrently-without-a-transaction",
        "files": {
            "V1__c.sql": "CREATE TABLE c (id int);\n",
            "U1__c.sql": UNDO,
            "V2__c_idx.sql": "-- seasongate: transaction=false\n"
            "CREATE INDEX CONCURRENTLY IF NOT EXISTS c_idx ON c (id);\n",
            "U2__c_idx.sql": "-- seasongate: transaction=false\nDROP INDEX CONCURRENTLY c_idx;\n",
        },
        "expect": [],
    },
    {
        "id": "index-text-inside-a-string-or-function",
        "files": {
            "V1__c.sql": "CREATE TABLE c (id int, note text DEFAULT 'CREATE INDEX i ON c');\n"
            "DO $$ BEGIN EXECUTE 'x'; END $$;\n",
            "U1__c.sql": UNDO,
        },
        "expect": [],
    },
    {
        "id": "production-without-undo-and-orphan-undo",
        "files": {"V1__c.sql": "SELECT 1;\n", "U7__gone.sql": UNDO},
        "expect": [("U7__gone.sql", 0, "W001"), ("V1__c.sql", 0, "E005")],
    },
    {
        "id": "testdata-needs-no-undo",
        "files": {"V10000__data.sql": "SELECT 1;\n"},
        "expect": [],
    },
    {
        "id": "version-zero-is-outside-every-class",
        "files": {"V0__x.sql": "SELECT 1;\n"},
        "expect": [("V0__x.sql", 0, "E004")],
    },
    {
        "id": "transaction-control-and-empty-file",
        "files": {"V1__c.sql": "BEGIN;\nSELECT 1;\nCOMMIT;\n", "U1__c.sql": "-- nothing\n"},
        "expect": [("U1__c.sql", 1, "E013"), ("V1__c.sql", 1, "E012"), ("V1__c.sql", 3, "E012")],
    },
    {
        "id": "naming-duplicates-gaps",
        "files": {
            "V1__Orders.sql": "SELECT 1;\n",
            "U1__Orders.sql": UNDO,
            "V3__x.sql": "SELECT 1;\n",
            "V3__y.sql": "SELECT 1;\n",
            "U3__x.sql": UNDO,
            "add_column.sql": "SELECT 1;\n",
        },
        "expect": [
            ("U1__Orders.sql", 0, "E010"),
            ("V1__Orders.sql", 0, "E003"),
            ("V1__Orders.sql", 0, "E010"),
            ("V3__y.sql", 0, "E002"),
            ("add_column.sql", 0, "E001"),
        ],
    },
]


@pytest.mark.parametrize("case", CASES, ids=[str(c["id"]) for c in CASES])
def test_lint_case(case: dict[str, object], tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    files = case["files"]
    assert isinstance(files, dict)
    for name, text in files.items():
        (tmp_path / name).write_text(text, encoding="utf-8")
    monkeypatch.chdir(tmp_path)
    report = lint(Path("."))
    got = [(f.path, f.line, f.code) for f in report.findings]
    assert got == case["expect"]


def test_shipped_migrations_are_clean() -> None:
    report = lint(MIGRATIONS)
    assert report.findings == ()
    assert report.files == 20


def test_cli_prints_path_line_code_message_and_exits_1(tmp_path: Path) -> None:
    (tmp_path / "V1__orders.sql").write_text("-- x\n" + TABLE.format(t="orders"), encoding="utf-8")
    (tmp_path / "U1__orders.sql").write_text(UNDO, encoding="utf-8")
    result = CliRunner().invoke(main, ["lint", str(tmp_path)])
    assert result.exit_code == 1, result.output
    first = result.output.splitlines()[0]
    assert first.startswith(f"{tmp_path}/V1__orders.sql:2: E006: table orders has a territory column")
    assert "1 error(s), 0 warning(s)" in result.output


def test_cli_json_and_warnings_do_not_fail(tmp_path: Path) -> None:
    (tmp_path / "V10000__data.sql").write_text("SELECT 1;\n", encoding="utf-8")
    (tmp_path / "U7__gone.sql").write_text("SELECT 1;\n", encoding="utf-8")
    result = CliRunner().invoke(main, ["lint", str(tmp_path), "--format", "json"])
    assert result.exit_code == 0, result.output
    data = json.loads(result.output)
    assert data["errors"] == 0 and data["warnings"] == 1
    assert data["findings"][0] | {"path": "x"} == {
        "path": "x", "line": 0, "column": 0, "field": None, "code": "W001", "severity": "warning",
        "message": "undo script for V7, which has no migration",
    }  # fmt: skip


def test_cli_transaction_control_is_a_broken_input_exit_2(tmp_path: Path) -> None:
    (tmp_path / "V10000__data.sql").write_text("SELECT 1;\nBEGIN;\nSELECT 'COMMIT;';\n", encoding="utf-8")
    result = CliRunner().invoke(main, ["lint", str(tmp_path), "--format", "json"])
    assert result.exit_code == 2, result.output
    data = json.loads(result.output)
    assert [(f["line"], f["code"], f["severity"]) for f in data["findings"]] == [(2, "E012", "error")]
    assert data["findings"][0]["message"].startswith("BEGIN in a migration that runs in one transaction")


def test_cli_takes_classes_from_the_policy(tmp_path: Path) -> None:
    (tmp_path / "V9500__x.sql").write_text("SELECT 1;\n", encoding="utf-8")
    policy = tmp_path / "narrow.yaml"
    text = (POLICIES / "staging.yaml").read_text(encoding="utf-8")
    text = text.replace("integration: {from: V9000, to: V9999}", "integration: {from: V9000, to: V9099}")
    text = text.replace("../calendars/", str(POLICIES.parent / "calendars") + "/")
    policy.write_text(text, encoding="utf-8")
    default = CliRunner().invoke(main, ["lint", str(tmp_path)])
    narrowed = CliRunner().invoke(main, ["lint", str(tmp_path), "--policy", str(policy)])
    assert default.exit_code == 0, default.output
    assert narrowed.exit_code == 1 and "E004" in narrowed.output
