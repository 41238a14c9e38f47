"""The watch after a run: a health check every ``watch.interval`` for ``watch.for``.

With ``on_degraded: rollback`` it stops at the first degraded verdict, so the rollback
starts at once. With ``on_degraded: notify`` it keeps watching: each change (degraded, then
recovered) is reported through ``on_change`` as it happens, and after a degradation only
the measurements taken since it was seen are judged, so a recovery can show. A degradation
is never forgotten: the watch's verdict stays degraded (``recovered`` tells the rest).
Otherwise the last check's verdict is the answer: healthy, or inconclusive when the data
could not tell. A source that fails during the watch is judged as missing data.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from seasongate._health._check import HealthReport, ProbeLog, Sources, check_health, record_probes
from seasongate._health._judges import Verdict
from seasongate._health._prometheus import SourceError
from seasongate._health._spec import HealthSpec
from seasongate._policy import Policy
from seasongate._time import iso


@dataclass(frozen=True)
class WatchResult:
    """The watch's verdict, its last report, and how it went."""

    verdict: Verdict
    report: HealthReport | None
    checks: int
    started: int
    ended: int
    source_errors: tuple[str, ...] = ()
    degraded_at: int | None = None
    recovered_at: int | None = None

    def to_dict(self) -> dict[str, object]:
        """For the JSON report and the audit trail."""
        return {
            "verdict": self.verdict,
            "checks": self.checks,
            "seconds": self.ended - self.started,
            "source_errors": list(self.source_errors),
            "degraded_at": None if self.degraded_at is None else iso(self.degraded_at),
            "recovered_at": None if self.recovered_at is None else iso(self.recovered_at),
            "report": self.report.to_dict() if self.report else None,
        }


def watch(
    spec: HealthSpec,
    sources: Sources,
    *,
    policy: Policy,
    environment: str,
    territory: str,
    run_started: int,
    run_ended: int,
    clock: Callable[[], int],
    sleep: Callable[[float], None],
    probes: ProbeLog | None = None,
    on_change: Callable[[str, HealthReport], None] | None = None,
) -> WatchResult:
    """Watch from ``run_ended`` for ``spec.watch_for`` seconds; ``clock`` gives epoch seconds."""
    started = clock()
    since = run_ended
    degraded_at: int | None = None
    recovered_at: int | None = None
    state = "healthy"
    end = run_ended + spec.watch_for
    report: HealthReport | None = None
    errors: list[str] = []
    checks = 0
    next_check = run_ended + spec.watch_interval
    while True:
        now = clock()
        if now < next_check:
            sleep(next_check - now)
            now = clock()
        next_check = now + spec.watch_interval
        if probes is not None:
            try:
                record_probes(spec, sources, probes, environment=environment, territory=territory, at=now, before=False)
            except SourceError as exc:
                errors.append(str(exc))
        report = check_health(
            spec, sources, policy=policy, environment=environment, territory=territory, at=now,
            since=since, baseline_until=run_started, probes=probes, tolerate_source_errors=True,
        )  # fmt: skip
        checks += 1
        errors.extend(i.error for i in report.indicators if i.error)
        if report.verdict == "degraded" and state != "degraded":
            state, since = "degraded", now
            degraded_at = degraded_at or now
            recovered_at = None
            if on_change is not None:
                on_change("degraded", report)
        elif report.verdict == "healthy" and state == "degraded":
            state, recovered_at = "healthy", now
            if on_change is not None:
                on_change("recovered", report)
        elif report.verdict == "degraded":
            since = now  # still degraded: judge what comes next
        stop = degraded_at is not None and spec.on_degraded == "rollback"
        if stop or now >= end:
            verdict: Verdict = "degraded" if degraded_at is not None else report.verdict
            return WatchResult(
                verdict, report, checks, started, clock(), tuple(dict.fromkeys(errors)), degraded_at, recovered_at
            )
