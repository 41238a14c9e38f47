"""A small PostgreSQL lexer: split a script into statements, blank out noise.

It knows what can hide a semicolon: ``--`` and nested ``/* */`` comments, ``'...'`` strings
(``''`` doubled quotes, ``E'...'`` backslash escapes), ``"..."`` identifiers and ``$tag$...$tag$``
dollar quotes, and SQL-standard function bodies (``BEGIN ATOMIC ... END``, with ``CASE ... END``
inside). It does not know psql meta-commands (``\\i``).
"""

from __future__ import annotations

import re
from dataclasses import dataclass

_DOLLAR_TAG = re.compile(r"\$(?:[^\W\d]\w*)?\$")
_WS = re.compile(r"\s+")
_SPECIAL = re.compile(r"[-/'\"$;]")  # what may start a comment, a string, a quote or end a statement
_SIGNIFICANT = re.compile(r"[^\s;]")
_ATOMIC = re.compile(r"atomic", re.IGNORECASE)  # only then can a ``;`` sit inside a BEGIN ATOMIC body


@dataclass(frozen=True, slots=True)
class Statement:
    """One statement of a script.

    ``text`` is the original text (comments kept, no trailing semicolon), to execute.
    ``code`` has comments removed, string literals and dollar-quoted bodies emptied and
    whitespace collapsed: what lint rules match against. ``line`` is the 1-based line of its
    first significant character, ``offset`` its position; ``start`` is where ``text`` begins
    in the script (a leading comment belongs to the text).
    """

    text: str
    code: str
    line: int
    offset: int
    start: int = 0


def split_statements(sql: str) -> list[Statement]:
    """Split ``sql`` into statements at top-level semicolons; empty statements are dropped."""
    out: list[Statement] = []
    n = len(sql)
    i = 0
    start = 0
    first_sig = -1  # offset of the first significant character of the current statement
    code: list[str] = []

    def flush(end: int) -> None:
        nonlocal first_sig
        raw = sql[start:end]
        text = raw.strip()
        cleaned = _WS.sub(" ", "".join(code)).strip()
        if cleaned:
            at = first_sig if first_sig >= 0 else start
            begins = start + len(raw) - len(raw.lstrip())
            out.append(Statement(text, cleaned, sql.count("\n", 0, at) + 1, at, begins))
        code.clear()
        first_sig = -1

    while i < n:
        # Plain text up to the next character that may start something: taken as one chunk.
        special = _SPECIAL.search(sql, i)
        stop = n if special is None else special.start()
        if stop > i:
            if first_sig < 0:
                sig = _SIGNIFICANT.search(sql, i, stop)
                if sig is not None:
                    first_sig = sig.start()
            code.append(sql[i:stop])
            i = stop
            if i >= n:
                break
        ch = sql[i]
        if ch == "-" and sql.startswith("--", i):
            end = sql.find("\n", i)
            i = n if end < 0 else end
            code.append(" ")
            continue
        if ch == "/" and sql.startswith("/*", i):
            i = _skip_block_comment(sql, i)
            code.append(" ")
            continue
        if first_sig < 0 and not ch.isspace() and ch != ";":
            first_sig = i
        if ch == "'":
            escapes = i > 0 and sql[i - 1] in "eE" and (i < 2 or not _is_ident(sql[i - 2]))
            i = _skip_quoted(sql, i, "'", escapes=escapes)
            code.append("''")
            continue
        if ch == '"':
            end = _skip_quoted(sql, i, '"')
            code.append(sql[i:end])
            i = end
            continue
        if ch == "$" and (i == 0 or not _is_ident(sql[i - 1])):
            match = _DOLLAR_TAG.match(sql, i)
            if match:
                tag = match.group(0)
                close = sql.find(tag, match.end())
                i = n if close < 0 else close + len(tag)
                code.append(" $$ $$ ")
                continue
        if ch == ";" and _ATOMIC.search(sql, start, i) and _inside_atomic_body("".join(code)):
            code.append(ch)
            i += 1
            continue
        if ch == ";":
            flush(i)
            i += 1
            start = i
            continue
        code.append(ch)
        i += 1
    flush(n)
    return out


_NOISE = re.compile(r"(?:\s|;|--[^\n]*)*")  # what never makes a statement: blanks, ``;``, line comments


def has_statement(sql: str) -> bool:
    """Whether :func:`split_statements` finds at least one statement in ``sql``, without
    splitting it: anything outside comments that is not blank or ``;`` starts one."""
    i, n = 0, len(sql)
    while True:
        match = _NOISE.match(sql, i)
        i = match.end() if match else i
        if i >= n:
            return False
        if not sql.startswith("/*", i):
            return True
        i = _skip_block_comment(sql, i)


_WORD = re.compile(r"[a-z_][a-z0-9_]*")


def _inside_atomic_body(code: str) -> bool:
    """Whether the statement so far has an open ``BEGIN ATOMIC`` body (a ``;`` there does not
    end the statement, as in psql)."""
    lowered = code.lower()
    if "atomic" not in lowered:
        return False
    words = _WORD.findall(lowered)
    depth = 0
    for prev, word in zip(["", *words], words, strict=False):
        opens = (word == "atomic" and prev == "begin") or (depth > 0 and word == "case")
        if opens:
            depth += 1
        elif depth and word == "end":
            depth -= 1
    return depth > 0


def _is_ident(ch: str) -> bool:
    return ch.isalnum() or ch == "_"


def _skip_block_comment(sql: str, i: int) -> int:
    depth = 0
    n = len(sql)
    while i < n:
        if sql.startswith("/*", i):
            depth += 1
            i += 2
        elif sql.startswith("*/", i):
            depth -= 1
            i += 2
            if depth == 0:
                return i
        else:
            i += 1
    return n


def _skip_quoted(sql: str, i: int, quote: str, *, escapes: bool = False) -> int:
    """Where the text quoted by ``quote`` at ``i`` ends: a doubled quote stays inside; with
    ``escapes`` (``E'...'``) a backslash escapes the next character."""
    n = len(sql)
    i += 1
    while i < n:
        ch = sql[i]
        if escapes and ch == "\\":
            i += 2
            continue
        if ch == quote:
            if i + 1 < n and sql[i + 1] == quote:
                i += 2
                continue
            return i + 1
        i += 1
    return n


def normalize_ident(name: str) -> str:
    """``public."Orders"`` -> ``Orders``; ``Public.Orders`` -> ``orders`` (schema dropped)."""
    parts = _split_qualified(name.strip())
    last = parts[-1] if parts else name
    if last.startswith('"') and last.endswith('"') and len(last) >= 2:
        return last[1:-1].replace('""', '"')
    return last.lower()


def _split_qualified(name: str) -> list[str]:
    parts: list[str] = []
    cur = ""
    quoted = False
    for ch in name:
        if ch == '"':
            quoted = not quoted
            cur += ch
        elif ch == "." and not quoted:
            parts.append(cur)
            cur = ""
        else:
            cur += ch
    parts.append(cur)
    return [p.strip() for p in parts if p.strip()]


def line_of(sql: str, offset: int) -> int:
    """The 1-based line number of character ``offset`` in ``sql``."""
    return sql.count("\n", 0, max(0, min(offset, len(sql)))) + 1
