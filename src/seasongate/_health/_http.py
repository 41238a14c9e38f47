"""JSON over HTTP with the standard library, and the one map from transport failures to
:class:`HttpError`.

``urllib`` rather than a third-party client: the health watch makes a handful of small
GET/POST requests per interval, needs timeouts and honest errors, and nothing else; the
standard library keeps ``seasongate`` free of another runtime dependency.
"""

from __future__ import annotations

import json
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Mapping
from typing import Any

from seasongate._dsn import display_dsn
from seasongate._errors import SeasongateError

MAX_RESPONSE = 32 * 1024 * 1024


class HttpError(SeasongateError):
    """An HTTP request failed: no answer (``status`` None) or an error status."""

    def __init__(self, message: str, *, status: int | None = None, body: str = "") -> None:
        self.status = status
        self.body = body
        super().__init__(message)


def request_json(
    method: str,
    url: str,
    *,
    params: Mapping[str, str] | None = None,
    body: Any = None,
    timeout: float = 10.0,
) -> Any:
    """Send a request (``body`` as JSON) and return the decoded JSON answer (None when empty)."""
    full = url + ("?" + urllib.parse.urlencode(params) if params else "")
    data = json.dumps(body).encode() if body is not None else None
    headers = {"Accept": "application/json", "User-Agent": "seasongate-health"}
    if data is not None:
        headers["Content-Type"] = "application/json"
    request = urllib.request.Request(full, data=data, method=method, headers=headers)
    shown = display_dsn(url)
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:
            raw = response.read(MAX_RESPONSE + 1)
    except urllib.error.HTTPError as exc:
        text = exc.read(4096).decode("utf-8", "replace")
        raise HttpError(f"{method} {shown}: HTTP {exc.code}: {_short(text)}", status=exc.code, body=text) from exc
    except (urllib.error.URLError, TimeoutError, ConnectionError, OSError) as exc:
        reason = getattr(exc, "reason", exc)
        raise HttpError(f"{method} {shown}: no answer: {reason}") from exc
    if len(raw) > MAX_RESPONSE:
        raise HttpError(f"{method} {shown}: answer larger than {MAX_RESPONSE} bytes")
    if not raw.strip():
        return None
    try:
        return json.loads(raw)
    except ValueError as exc:
        raise HttpError(f"{method} {shown}: the answer is not JSON: {_short(raw.decode('utf-8', 'replace'))}") from exc


def check_url(url: str) -> str:
    """``url`` if it is an http(s) URL with a host; otherwise a :class:`HttpError`."""
    parts = urllib.parse.urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise HttpError(f"not an http(s) URL: {display_dsn(url)!r}")
    return url.rstrip("/")


def _short(text: str) -> str:
    text = " ".join(text.split())
    return text if len(text) <= 300 else text[:300] + "…"
