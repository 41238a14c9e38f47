"""The Prometheus HTTP API as a source (any compatible server: Thanos, Mimir, VictoriaMetrics).

A health query must answer one series: an aggregate such as the P95 over all instances.
"""

from __future__ import annotations

import math
from typing import Any

from seasongate._errors import SeasongateError
from seasongate._health._http import HttpError, check_url, request_json

MAX_POINTS = 11_000  # Prometheus refuses larger range queries


class SourceError(SeasongateError):
    """A source did not answer usefully (unreachable, an error status, a malformed answer)."""


class QueryRejected(SourceError):
    """The server refused the query itself (a syntax or type error): the health file is wrong."""


Sample = tuple[int, float]


class PrometheusSource:
    """Range queries against ``/api/v1/query_range``; instant ones against ``/api/v1/query``."""

    def __init__(self, url: str, *, timeout: float = 10.0) -> None:
        try:
            self.url = check_url(url)
        except HttpError as exc:
            raise SourceError(f"Prometheus: {exc}") from exc
        self.timeout = timeout

    def range(self, query: str, start: int, end: int, step: int) -> list[Sample]:
        """The samples of the one series ``query`` answers over ``[start, end]`` every ``step``
        seconds (NaN and infinite values, which mean 'no data', are left out)."""
        if end < start:
            return []
        step = max(step, 1, math.ceil((end - start) / MAX_POINTS))
        params = {"query": query, "start": str(start), "end": str(end), "step": str(step)}
        data = self._get("/api/v1/query_range", params)
        return self._one_series(data, query, "values")

    def instant(self, query: str, at: int) -> list[Sample]:
        """The value of ``query`` evaluated at ``at`` (the whole expression, as if every selector
        carried the ``@ at`` modifier); empty when it has none."""
        data = self._get("/api/v1/query", {"query": query, "time": str(at)})
        return self._one_series(data, query, "value")

    def _get(self, path: str, params: dict[str, str]) -> Any:
        try:
            answer = request_json("GET", self.url + path, params=params, timeout=self.timeout)
        except HttpError as exc:
            detail = _error_of(exc.body)
            if exc.status in (400, 422) and detail is not None:
                raise QueryRejected(f"Prometheus rejected the query: {detail}") from exc
            raise SourceError(f"Prometheus: {exc}") from exc
        if not isinstance(answer, dict) or answer.get("status") != "success":
            detail = answer.get("error") if isinstance(answer, dict) else None
            raise SourceError(f"Prometheus answered no success: {detail or answer!r}")
        return answer.get("data")

    @staticmethod
    def _one_series(data: Any, query: str, key: str) -> list[Sample]:
        if not isinstance(data, dict) or not isinstance(data.get("result"), list):
            raise SourceError(f"Prometheus answered an unexpected shape for {query!r}")
        kind = data.get("resultType")
        result = data["result"]
        if kind == "scalar":
            result = [{"metric": {}, "value": result}]
        elif kind not in ("matrix", "vector"):
            raise QueryRejected(f"the query gives a {kind}, not a number per instant")
        if not result:
            return []
        if len(result) > 1:
            labels = ", ".join(str(s.get("metric", {})) for s in result[:3])
            raise QueryRejected(
                f"the query answers {len(result)} series ({labels}…); aggregate it to one, e.g. with max() or sum()"
            )
        points = result[0].get("values") if key == "values" else [result[0].get("value")]
        samples: list[Sample] = []
        for point in points or []:
            try:
                ts, text = point
                value = float(text)
            except (TypeError, ValueError) as exc:
                raise SourceError(f"Prometheus answered a malformed sample {point!r}") from exc
            if math.isfinite(value):
                samples.append((int(float(ts)), value))
        return samples


def _error_of(body: str) -> str | None:
    import json

    try:
        parsed = json.loads(body)
    except ValueError:
        return None
    if isinstance(parsed, dict) and parsed.get("errorType") in ("bad_data", "execution"):
        return str(parsed.get("error"))
    return None
