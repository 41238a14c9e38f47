"""The migrations folder without a database: names, directives, checksums, numbering, SQL lexing."""

from __future__ import annotations

from pathlib import Path

import pytest

from seasongate._errors import ConfigError, InputError
from seasongate._executor import (
    DEFAULT_CLASSES,
    flyway_checksum,
    read_script,
    scan,
    sha256_of,
    split_statements,
)
from seasongate._executor._new import create_migration, next_version, slugify
from seasongate._policy import MigrationClass
from seasongate._versions import Version
from tests.conftest import MIGRATIONS


def write(folder: Path, files: dict[str, str]) -> Path:
    for name, text in files.items():
        (folder / name).write_text(text, encoding="utf-8", newline="")
    return folder


def codes(folder: Path) -> list[str]:
    return sorted(f.code for f in scan(folder).findings)


# -- checksums --------------------------------------------------------------------------------

# Computed with Flyway's algorithm in Java (BufferedReader.readLine + java.util.zip.CRC32 over
# each line's UTF-8 bytes, BOM dropped, result cast to int).
JAVA_CRC32 = [
    ("\ufeffSELECT 1;\r\n-- Löwe\rSELECT 2;\n\fx\n", 929603823),
    ("CREATE TABLE t (id int);\n", 92137680),
    ("a\r\n\r\nb", -1635563411),
]


@pytest.mark.parametrize(("text", "expected"), JAVA_CRC32, ids=["bom-mixed-eol", "simple", "crlf"])
def test_checksum_matches_flyway(text: str, expected: int) -> None:
    assert flyway_checksum(text) == expected


def test_line_endings_change_neither_checksum() -> None:
    unix = "CREATE TABLE a (id int);\nINSERT INTO a VALUES (1);\n"
    windows = unix.replace("\n", "\r\n")
    old_mac = unix.replace("\n", "\r")
    assert flyway_checksum(unix) == flyway_checksum(windows) == flyway_checksum(old_mac)
    assert sha256_of(unix) == sha256_of(windows) == sha256_of(old_mac)
    assert sha256_of(unix) != sha256_of(unix.replace("1", "2"))
    assert flyway_checksum(unix) != flyway_checksum(unix.replace("1", "2"))


def test_shipped_checksums_are_stable() -> None:
    script, _ = read_script(MIGRATIONS / "V225__communication_core.sql")
    assert script is not None
    assert script.checksum == flyway_checksum(script.path.read_text(encoding="utf-8"))


# -- directives --------------------------------------------------------------------------------


def test_header_directives_are_read(tmp_path: Path) -> None:
    write(
        tmp_path,
        {
            "V3__idx.sql": "-- an index\n-- seasongate: risk=high duration=20m "
            "transaction=false reversible=true lock_timeout=2s\nCREATE INDEX x ON t (a);\n"
        },
    )
    script, findings = read_script(tmp_path / "V3__idx.sql")
    assert findings == []
    assert script is not None
    assert (script.risk, script.duration, script.transactional) == ("high", 1200, False)
    assert script.directives.lock_timeout == 2
    assert script.directives.reversible  # migrate --health may roll it back
    assert script.version == Version((3,)) and script.title == "idx"


@pytest.mark.parametrize(
    ("header", "message"),
    [
        ("-- seasongate: risk=extreme", "invalid risk 'extreme'"),
        ("-- seasongate: colour=blue", "unknown directive 'colour'"),
        ("-- seasongate: duration=soon", "invalid duration"),
        ("-- seasongate: transaction=maybe", "invalid value 'maybe'"),
        ("-- seasongate: transaction=false reversible=yes", "invalid value 'yes'"),
        ("-- seasongate: risk", "needs a value"),
        ("-- seasongate: risk=low risk=high", "given twice"),
    ],
)
def test_bad_directives_are_located_findings(tmp_path: Path, header: str, message: str) -> None:
    write(tmp_path, {"V1__x.sql": f"-- title\n{header}\nSELECT 1;\n"})
    _, findings = read_script(tmp_path / "V1__x.sql")
    assert [(f.code, f.line) for f in findings] == [("E008", 2)]
    assert message in findings[0].message


def test_directive_after_the_first_statement_is_an_error(tmp_path: Path) -> None:
    write(tmp_path, {"V1__x.sql": "SELECT 1;\n-- seasongate: transaction=false\nSELECT 2;\n"})
    script, findings = read_script(tmp_path / "V1__x.sql")
    assert [(f.code, f.line) for f in findings] == [("E008", 2)]
    assert script is not None and script.transactional  # ignored, and reported


# -- the folder --------------------------------------------------------------------------------


def test_shipped_folder_has_declared_gaps_and_undo_scripts() -> None:
    folder = scan(MIGRATIONS)
    versions = [str(m.version) for m in folder.migrations]
    assert versions[-2:] == ["V225", "V10000"]
    assert folder.gaps() == [(217, True), (219, True), (220, True)]
    production = [m for m in folder.migrations if m.version.major < 8000]
    assert production and all(m.version in folder.undo for m in production)
    assert folder.findings == ()


def test_v225_is_the_communication_core() -> None:
    sql = (MIGRATIONS / "V225__communication_core.sql").read_text(encoding="utf-8")
    assert "territory        text NOT NULL" in sql
    assert sql.count("DEFAULT '[]'::jsonb") == 2
    assert "USING (territory = current_setting('app.territory', true))" in sql
    assert "(territory, last_message_at DESC)" in sql


def test_undeclared_gap_duplicate_and_bad_names(tmp_path: Path) -> None:
    write(tmp_path, {
        "V1__a.sql": "SELECT 1;",
        "V2.1__b.sql": "SELECT 1;",
        "V2_1__c.sql": "SELECT 1;",   # the same version as V2.1
        "V4__d.sql": "SELECT 1;",     # V3 missing
        "v5_bad.sql": "SELECT 1;",
        "V6__CamelCase.sql": "SELECT 1;",
        "README.md": "not a migration",
    })  # fmt: skip
    findings = scan(tmp_path).findings
    assert sorted(f.code for f in findings) == ["E001", "E002", "E003", "E003", "E010"]
    gap = next(f for f in findings if f.code == "E003")
    assert "V3 is missing after V2.1" in gap.message


def test_declared_gaps_and_ranges(tmp_path: Path) -> None:
    write(tmp_path, {
        "V1__a.sql": "SELECT 1;", "V5__b.sql": "SELECT 1;",
        "numbering.yaml": "ignored_gaps:\n  - V2\n  - V3-V4\n",
    })  # fmt: skip
    assert codes(tmp_path) == []
    assert scan(tmp_path).gaps() == [(2, True), (3, True), (4, True)]


def test_gaps_are_per_class(tmp_path: Path) -> None:
    write(tmp_path, {"V1__a.sql": "SELECT 1;", "V2__b.sql": "SELECT 1;", "V10000__data.sql": "SELECT 1;"})
    assert codes(tmp_path) == []


def test_a_declared_gap_that_exists_is_a_warning(tmp_path: Path) -> None:
    write(tmp_path, {"V1__a.sql": "SELECT 1;", "V2__b.sql": "SELECT 1;", "numbering.yaml": "ignored_gaps: [V2]\n"})
    findings = scan(tmp_path).findings
    assert [(f.code, f.line) for f in findings] == [("W002", 1)]


@pytest.mark.parametrize(
    ("text", "where"),
    [
        ("ignored_gaps: [V2, banana]\n", ":1:"),
        ("ignored: [V2]\n", ":1:1: ignored: unknown key"),
        ("ignored_gaps:\n  - V9-V3\n", ":2:"),
    ],
)
def test_bad_numbering_file_is_a_located_config_error(tmp_path: Path, text: str, where: str) -> None:
    write(tmp_path, {"V1__a.sql": "SELECT 1;", "numbering.yaml": text})
    with pytest.raises(ConfigError) as info:
        scan(tmp_path)
    assert where in str(info.value)


def test_missing_folder_is_an_input_error(tmp_path: Path) -> None:
    with pytest.raises(InputError, match="does not exist"):
        scan(tmp_path / "nope")


def test_class_ranges_include_dotted_versions_of_the_bound() -> None:
    production = DEFAULT_CLASSES[0]
    assert production.contains(Version.parse("V7999.5"))
    assert not production.contains(Version.parse("V8000"))
    assert MigrationClass("t", Version((10000,)), None).contains(Version((123456,)))
    # A dotted bound is exact: one class type, so check, lint and migrate agree (issue 9).
    dotted = MigrationClass("early", Version((1,)), Version.parse("V2.5"))
    assert dotted.contains(Version.parse("V2.5")) and not dotted.contains(Version.parse("V2.9"))


# -- the SQL lexer -----------------------------------------------------------------------------


def test_split_statements_respects_quotes_comments_and_dollar_bodies() -> None:
    sql = (
        "-- header; with a semicolon\n"
        "CREATE TABLE a (t text DEFAULT 'x;y');\n"
        "/* block; /* nested; */ still */ INSERT INTO a VALUES (E'it\\'s;');\n"
        "DO $body$ BEGIN PERFORM 1; END $body$;\n"
        'SELECT "we;ird" FROM a'
    )
    statements = split_statements(sql)
    assert [s.line for s in statements] == [2, 3, 4, 5]
    assert statements[0].code == "CREATE TABLE a (t text DEFAULT '')"
    assert statements[1].code.startswith("INSERT INTO a VALUES")
    assert "PERFORM" not in statements[2].code
    assert statements[3].text == 'SELECT "we;ird" FROM a'


def test_split_statements_of_comments_only_is_empty() -> None:
    assert split_statements("-- nothing\n/* here */\n;\n") == []


# -- new ---------------------------------------------------------------------------------------


def test_slugify_transliterates_umlauts() -> None:
    assert slugify("Kühlkette: Größe prüfen!") == "kuehlkette_groesse_pruefen"
    with pytest.raises(InputError):
        slugify("!!!")


def test_new_picks_the_next_free_version_of_the_class(tmp_path: Path) -> None:
    write(
        tmp_path,
        {
            "V224__a.sql": "SELECT 1;",
            "V225__b.sql": "SELECT 1;",
            "V10000__data.sql": "SELECT 1;",
            "numbering.yaml": "ignored_gaps: [V226]\n",
        },
    )
    created = create_migration(tmp_path, "Add customer credit hold", risk="high", duration=1200)
    assert created.path.name == "V227__add_customer_credit_hold.sql"
    assert created.undo_path is not None and created.undo_path.name.startswith("U227__")
    script, findings = read_script(created.path)
    # The new file has only its header: refused until the change is written into it.
    assert [f.code for f in findings] == ["E013"] and script is not None
    assert (script.risk, script.duration) == ("high", 1200)
    feature = create_migration(tmp_path, "try it", migration_class="feature", undo=False)
    assert feature.path.name == "V8000__try_it.sql" and feature.undo_path is None
    assert next_version(tmp_path, DEFAULT_CLASSES[3]) == Version((10001,))


def test_new_refuses_an_unknown_class(tmp_path: Path) -> None:
    with pytest.raises(InputError, match="unknown migration class 'hotfix'"):
        create_migration(tmp_path, "x", migration_class="hotfix")
    assert list(tmp_path.iterdir()) == []


def test_split_statements_keeps_a_begin_atomic_body_whole() -> None:
    sql = (
        "CREATE TABLE t (id int);\n"
        "CREATE FUNCTION sf() RETURNS int LANGUAGE sql\n"
        "BEGIN ATOMIC SELECT 1; SELECT CASE WHEN true THEN 2 END; END;\n"
        "SELECT 3;\n"
    )
    texts = [s.text for s in split_statements(sql)]
    assert texts == [
        "CREATE TABLE t (id int)",
        "CREATE FUNCTION sf() RETURNS int LANGUAGE sql\nBEGIN ATOMIC SELECT 1; SELECT CASE WHEN true THEN 2 END; END",
        "SELECT 3",
    ]


@pytest.mark.parametrize(
    "dsn",
    ["postgresql://u:S3CRET%ZZ@/a?host=/nowhere", "host=/nowhere dbname=a user=u password=S3CRET%ZZ"],
)
def test_connection_errors_never_show_the_password(dsn: str) -> None:
    from seasongate._executor._postgres import redact

    assert redact('invalid percent-encoded token: "S3CRET%ZZ"', dsn) == 'invalid percent-encoded token: "***"'


# -- scripts refused before anything runs --------------------------------------------------------


@pytest.mark.parametrize(
    ("body", "lines"),
    [
        ("BEGIN;\nSELECT 1;\nCOMMIT;\n", [1, 3]),
        ("SELECT 1;\nrollback;\n", [2]),
        ("SELECT 1;\nEND;\n", [2]),
        ("START TRANSACTION;\nSELECT 1;\n", [1]),
        ("SELECT 1;\nABORT;\n", [2]),
        ("SAVEPOINT s;\nSELECT 1;\nROLLBACK TO SAVEPOINT s;\nROLLBACK TO s;\n", []),
        ("SELECT 'COMMIT;';\n-- COMMIT;\n/* ROLLBACK; */ SELECT $$BEGIN$$;\n", []),
        ("CREATE FUNCTION f() RETURNS int LANGUAGE sql\nBEGIN ATOMIC SELECT 1; END;\n", []),
        ("DO $$ BEGIN COMMIT; END $$;\n", []),
    ],
)
def test_transaction_control_statements_are_found_and_nothing_else(tmp_path: Path, body: str, lines: list[int]) -> None:
    write(tmp_path, {"V1__x.sql": body})
    _, findings = read_script(tmp_path / "V1__x.sql")
    assert [f.line for f in findings if f.code == "E012"] == lines
    write(tmp_path, {"V1__x.sql": "-- seasongate: transaction=false\n" + body})
    _, declared = read_script(tmp_path / "V1__x.sql")
    assert [f.code for f in declared] == []  # the author declared it: not refused


def test_empty_and_non_regular_scripts_block_the_folder(tmp_path: Path) -> None:
    import os

    write(tmp_path, {"V1__a.sql": "SELECT 1;", "V2__empty.sql": "-- later\n\n/* nothing */\n"})
    os.mkfifo(tmp_path / "V3__pipe.sql")
    (tmp_path / "V4__zero.sql").symlink_to("/dev/zero")
    (tmp_path / "V5__latin1.sql").write_bytes("SELECT 'Gr\xfc\xdfe';".encode("latin-1"))
    folder = scan(tmp_path)
    found = sorted((Path(f.path).name, f.code) for f in folder.blocking)
    assert found == [
        ("V2__empty.sql", "E013"),
        ("V3__pipe.sql", "E014"),
        ("V4__zero.sql", "E014"),
        ("V5__latin1.sql", "E014"),
    ]
    assert [str(m.version) for m in folder.migrations] == ["V1", "V2"]


def test_has_statement_agrees_with_split_statements() -> None:
    # The E013 check asks has_statement (no split); it must say what the splitter says.
    import random

    from seasongate._executor._sql import has_statement, split_statements

    pieces = ["a", " ", "\n", ";", "-", "--", "/*", "*/", "'", "''", '"', "$", "$$", "$x$", "\t", "\u00a0", "/", "*"]
    rng = random.Random(11)
    cases = ["", ";;", "-- x\n;", "/* /* */ */", "/* /* */", "/**/ x", "--x", "$$", "''"]
    cases += ["".join(rng.choice(pieces) for _ in range(rng.randint(0, 12))) for _ in range(5000)]
    for text in cases:
        assert has_statement(text) == bool(split_statements(text)), repr(text)


def test_repeatables_and_callbacks_come_from_the_scan_without_listing_again(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import os

    from seasongate._executor import scan
    from seasongate._gate._flyway import load_extras

    (tmp_path / "V1__a.sql").write_text("SELECT 1;\n", encoding="utf-8")
    (tmp_path / "sub").mkdir()
    (tmp_path / "sub" / "R__view.sql").write_text("SELECT 2;\n", encoding="utf-8")
    (tmp_path / "beforeMigrate.sql").write_text("SELECT 3;\n", encoding="utf-8")
    (tmp_path / ".hidden").mkdir()
    (tmp_path / ".hidden" / "R__skipped.sql").write_text("SELECT 4;\n", encoding="utf-8")
    folder = scan(tmp_path)

    def listing(*args: object, **kwargs: object) -> None:
        raise AssertionError("the migrations folder was listed a second time")

    monkeypatch.setattr(os, "scandir", listing)
    monkeypatch.setattr(Path, "rglob", listing)
    extras = load_extras(folder)
    assert [r.path.name for r in extras.repeatables] == ["R__view.sql"]
    assert [c.path.name for c in extras.callbacks.scripts] == ["beforeMigrate.sql"]


def test_the_lock_check_is_one_plain_statement() -> None:
    # It runs inside every migration's transaction; a DO block would be planned afresh each time.
    from seasongate._executor._pglock import check_sql

    sql = check_sql("public", "seasongate_schema_history")
    assert sql.startswith("SELECT ") and "DO $" not in sql and ";" not in sql
