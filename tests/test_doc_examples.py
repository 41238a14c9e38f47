"""Every ``$ seasongate …`` example in the README and docs/ runs and prints what it shows.

A ``console`` block is a session: each ``$ seasongate …`` line (continued with ``\\``) runs
in a throwaway copy of the project, and the lines up to the next ``$`` are its expected
output. ``; echo $?`` and a following ``$ echo $?`` show the exit code; ``| grep WORD``
filters the output; a line ``...`` stands for any lines. A ``yaml`` block whose first line is ``# path/file.yaml`` writes that
file into the copy first, in document order, so the docs' own example files are used.
Commands without ``--at`` or ``--from`` run at a frozen instant (:data:`NOW`).
"""

from __future__ import annotations

import re
import shlex
import shutil
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from click.testing import CliRunner
from freezegun import freeze_time

from seasongate.cli import main

ROOT = Path(__file__).resolve().parent.parent
DOCUMENTS = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]
NOW = "2026-11-30T09:14:00+01:00"  # a Monday morning in business hours

# Examples that cannot run as written, each with the reason. Keep this list short.
EXEMPT = {
    # The override walkthrough needs three different people (OS users) and prints a random id.
    ("docs/overrides.md", 9): "needs three OS users and a random override id",
    ("docs/overrides.md", 14): "needs another OS user",
    ("docs/overrides.md", 15): "needs another OS user",
    ("docs/overrides.md", 16): "depends on the approvals above",
    ("docs/overrides.md", 17): "depends on the approvals above",
    ("docs/overrides.md", 18): "depends on the approvals above",
}


@dataclass
class Example:
    """One ``$ seasongate …`` line of a document and the output it shows."""

    document: str
    line: int
    command: str
    expected: list[str] = field(default_factory=list)
    files: dict[str, str] = field(default_factory=dict)  # example files written before it

    @property
    def id(self) -> str:
        return f"{self.document}:{self.line}"


def _examples(path: Path) -> Iterator[Example]:
    name = str(path.relative_to(ROOT))
    lines = path.read_text(encoding="utf-8").splitlines()
    files: dict[str, str] = {}
    current: Example | None = None
    unnamed: str | None = None  # the last yaml block without a "# path" line
    fence: str | None = None
    indent = ""
    block: list[str] = []
    i = 0
    while i < len(lines):
        raw = lines[i]
        stripped = raw.strip()
        if fence is None:
            if stripped.startswith("```"):
                fence = stripped[3:].strip()
                indent = raw[: len(raw) - len(raw.lstrip())]
                block = []
            i += 1
            continue
        if stripped.startswith("```"):
            if fence == "yaml" and block and re.fullmatch(r"#\s*[\w./-]+\.ya?ml", block[0].strip()):
                files = {**files, block[0].strip().lstrip("#").strip(): "\n".join(block) + "\n"}
            elif fence == "yaml" and block:
                unnamed = "\n".join(block) + "\n"
            if current is not None:
                yield current
                current = None
            fence = None
            i += 1
            continue
        text = raw[len(indent) :] if raw.startswith(indent) else raw.lstrip()
        block.append(text)
        if fence == "console":
            if text.startswith("$ "):
                if current is not None:
                    yield current
                start = i + 1
                command = text[2:]
                while command.rstrip().endswith("\\") and i + 1 < len(lines):
                    i += 1
                    command = command.rstrip()[:-1] + " " + lines[i].strip()
                current = Example(name, start, command, files=dict(files))
                named = re.search(r"\b(calendars|policies)/[\w.-]+\.ya?ml\b", command)
                if unnamed is not None and named and named.group(0) not in files:
                    # "Given this file:" followed by a yaml block, then the command naming it.
                    files = {**files, named.group(0): unnamed}
                    current.files = dict(files)
                    unnamed = None
            elif current is not None:
                current.expected.append(text.rstrip())
        i += 1
    if current is not None:
        yield current


def _all_examples() -> list[Example]:
    found: list[Example] = []
    for document in DOCUMENTS:
        found.extend(_examples(document))
    return found


EXAMPLES = _all_examples()
RUNNABLE = [e for e in EXAMPLES if e.command.startswith("seasongate ") and (e.document, e.line) not in EXEMPT]


def _project(tmp_path: Path, example: Example) -> Path:
    """The repository's calendars, policies and migrations, plus the example files the
    command uses: those it names, and ``policies/ENV.yaml`` for its ``--env ENV``."""
    project = tmp_path / "project"
    for folder in ("calendars", "policies", "migrations"):
        shutil.copytree(ROOT / folder, project / folder)
    env = re.search(r"--env[ =](\S+)", example.command)
    used = {
        relative: text
        for relative, text in example.files.items()
        if relative in example.command or (env and relative == f"policies/{env.group(1)}.yaml")
    }
    for relative, text in used.items():
        target = project / relative
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(text, encoding="utf-8")
    return project


def _run(example: Example, project: Path, monkeypatch: pytest.MonkeyPatch) -> tuple[list[str], int]:
    command, echo_status = example.command, False
    command = re.sub(r"\s+#.*$", "", command)  # a trailing comment in the docs
    if command.endswith("; echo $?"):
        command, echo_status = command[: -len("; echo $?")], True
    command, _, grep = command.partition(" | grep ")
    args = shlex.split(command)[1:]
    monkeypatch.chdir(project)
    frozen = any(a in args for a in ("--at", "--from")) is False
    runner = CliRunner()
    if frozen:
        with freeze_time(NOW):
            result = runner.invoke(main, args)
    else:
        result = runner.invoke(main, args)
    output = result.output.splitlines()
    if grep:
        output = [line for line in output if grep.strip() in line]
    if echo_status:
        output.append(str(result.exit_code))
    return [line.rstrip() for line in output], result.exit_code


def _matches(output: list[str], expected: list[str]) -> bool:
    """Whether ``output`` is ``expected``, where a line ``...`` stands for any lines."""
    if not expected:
        return not output
    head, rest = expected[0], expected[1:]
    if head.strip() == "...":
        return any(_matches(output[k:], rest) for k in range(len(output) + 1))
    return bool(output) and output[0] == head and _matches(output[1:], rest)


def test_the_examples_are_found() -> None:
    # A parser that finds nothing would make every example "pass".
    assert len(RUNNABLE) >= 30
    assert {e.document for e in RUNNABLE} >= {"README.md", "docs/calendars.md", "docs/policies.md"}
    exempt_found = {(e.document, e.line) for e in EXAMPLES} & set(EXEMPT)
    assert exempt_found == set(EXEMPT), "an exempt example moved: update EXEMPT"


@pytest.fixture(scope="module")
def shared_cache(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One expansion cache for all examples (the cache is keyed by content; this saves time)."""
    return tmp_path_factory.mktemp("doc-cache")


@pytest.mark.parametrize("example", RUNNABLE, ids=[e.id for e in RUNNABLE])
def test_example_prints_what_the_docs_show(
    example: Example, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, shared_cache: Path
) -> None:
    monkeypatch.setenv("SEASONGATE_CACHE_DIR", str(shared_cache))
    project = _project(tmp_path, example)
    expected = list(example.expected)
    # "$ echo $?" after an example belongs to it: its expected line is the exit code.
    followers = [e for e in EXAMPLES if e.document == example.document and e.line > example.line]
    status_line = next((e for e in followers[:1] if e.command == "echo $?"), None)
    output, status = _run(example, project, monkeypatch)
    if status_line is not None:
        assert str(status) == "\n".join(status_line.expected).strip(), example.id
    if not expected:
        assert status != 2, f"{example.id}: {example.command} failed:\n" + "\n".join(output)
        return
    assert _matches(output, expected), f"{example.id}: {example.command}\n" + "\n".join(output)
