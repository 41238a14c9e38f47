"""One redaction for every database or store URL the program prints.

A password can sit in three places of a libpq connection string: ``user:secret@host`` in a
URL, ``?password=secret`` in a URL's query, and ``password=secret`` in a key/value string.
Messages from libpq may quote the string back, so :func:`redact` removes the secret from
any text, and :func:`display_dsn` gives the string itself with every password masked.
"""

from __future__ import annotations

import contextlib
import re
from urllib.parse import parse_qsl, unquote, urlencode, urlsplit, urlunsplit

MASK = "***"

# The scheme is optional: ``user:secret@host/db`` with the scheme forgotten is still a secret.
_URL_PASSWORD = re.compile(r"^(?:[a-z][a-z0-9+.-]*://)?[^:/@?#\s]*:([^@/?#\s]*)@", re.IGNORECASE)
_KV_PASSWORD = re.compile(r"\bpassword\s*=\s*('(?:[^'\\]|\\.)*'|[^\s&#]+)", re.IGNORECASE)


def secrets_of(dsn: str) -> list[str]:
    """Every password spelled in ``dsn`` (raw and percent-decoded), longest first."""
    found: set[str] = set()
    for match in (_URL_PASSWORD.match(dsn.strip()), *_KV_PASSWORD.finditer(dsn)):
        if match and match.group(1):
            raw = match.group(1)
            found.update({raw, raw.strip("'")})
            with contextlib.suppress(UnicodeDecodeError):  # not valid percent-encoding: raw only
                found.add(unquote(raw, errors="strict"))
    return sorted((s for s in found if s), key=len, reverse=True)


def redact(text: str, dsn: str | None) -> str:
    """``text`` with every password of ``dsn`` replaced by ``***``."""
    if not dsn:
        return text
    for secret in secrets_of(dsn):
        text = text.replace(secret, MASK)
    return text


def display_dsn(dsn: str) -> str:
    """``dsn`` itself with every password masked, for messages and listings."""
    if not secrets_of(dsn):
        return dsn
    try:
        parts = urlsplit(dsn)
    except ValueError:
        return redact(dsn, dsn)
    if not parts.scheme or "://" not in dsn:
        return redact(_KV_PASSWORD.sub(f"password={MASK}", dsn), dsn)
    netloc = parts.netloc
    if parts.password is not None:
        userinfo, _, hostinfo = netloc.rpartition("@")
        user = userinfo.partition(":")[0]
        netloc = f"{user}:{MASK}@{hostinfo}"
    query = parts.query
    if query and "password" in query.lower():
        pairs = parse_qsl(query, keep_blank_values=True)
        query = urlencode([(k, MASK if k.lower() == "password" else v) for k, v in pairs], safe="*/")
    shown = urlunsplit(parts._replace(netloc=netloc, query=query))
    return redact(shown, dsn)


def database_label(dsn: str) -> str | None:
    """``host/dbname`` of a connection string, to name the target database in the audit trail
    (never a password); None when it names no database or cannot be parsed."""
    try:
        from psycopg.conninfo import conninfo_to_dict

        info = conninfo_to_dict(dsn)
    except Exception:  # a DSN psycopg cannot parse fails later, when connecting, with a better message
        return None
    name = info.get("dbname")
    host = info.get("host")
    return f"{host or 'localhost'}/{name}" if name else None


__all__ = ["MASK", "database_label", "display_dsn", "redact", "secrets_of"]
