"""Every password form a libpq string can carry is masked by the one redaction helper."""

from __future__ import annotations

import pytest

from seasongate._dsn import display_dsn, redact


@pytest.mark.parametrize(
    ("dsn", "shown"),
    [
        ("postgresql://u:S3CRET%ZZ@h/db", "postgresql://u:***@h/db"),
        ("postgresql://u@h/db?password=S3CRET&sslmode=require", "postgresql://u@h/db?password=***&sslmode=require"),
        ("postgresql://u:p%40ss@h:5432/db", "postgresql://u:***@h:5432/db"),
        ("host=h password='a b' user=u", "host=h password=*** user=u"),
        ("sqlite:///x.db", "sqlite:///x.db"),
        ("postgresql://u@h/db", "postgresql://u@h/db"),
    ],
)
def test_display_masks_every_password_form(dsn: str, shown: str) -> None:
    assert display_dsn(dsn) == shown


@pytest.mark.parametrize(
    ("dsn", "secret"),
    [
        ("postgresql://u:S3CRET%25ZZ@h/db", "S3CRET%ZZ"),
        ("postgresql://u@h/db?password=hunter2", "hunter2"),
        ("postgresql://u:p%40ss@h/db", "p@ss"),
        ("dbname=x password=kv-secret", "kv-secret"),
        ("u:S3CRET@host/db", "S3CRET"),  # the scheme forgotten
        ("postgresql://u:S3CRET@[::1:5432/crm", "S3CRET"),  # a broken IPv6 host
        ("postgresql://u:S3CRET%@/crm?host=/x", "S3CRET%"),  # a broken percent-encoding, quoted back raw
    ],
)
def test_redact_removes_the_secret_from_any_message(dsn: str, secret: str) -> None:
    message = f'connection to server failed: FATAL: password authentication failed ("{secret}") for {dsn}'
    assert secret not in redact(message, dsn)
    assert "***" in redact(message, dsn)
