"""The watch after a run: a health check every ``watch.interval`` for ``watch.for``.

It stops at the first degraded verdict (so a rollback starts at once); otherwise the last
check's verdict is the answer: healthy, or inconclusive when the data could not tell.
A source that fails during the watch is judged as missing data, never as healthy.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from seasongate._health._check import HealthReport, ProbeLog, Sources, check_health, record_probes
from seasongate._health._judges import Verdict
from seasongate._health._prometheus import SourceError
from seasongate._health._spec import HealthSpec
from seasongate._policy import Policy


@dataclass(frozen=True)
class WatchResult:
    """The watch's verdict, its last report, and how it went."""

    verdict: Verdict
    report: HealthReport | None
    checks: int
    started: int
    ended: int
    source_errors: tuple[str, ...] = ()

    def to_dict(self) -> dict[str, object]:
        """For the JSON report and the audit trail."""
        return {
            "verdict": self.verdict,
            "checks": self.checks,
            "seconds": self.ended - self.started,
            "source_errors": list(self.source_errors),
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
) -> WatchResult:
    """Watch from ``run_ended`` for ``spec.watch_for`` seconds; ``clock`` gives epoch seconds."""
    started = clock()
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
            since=run_ended, baseline_until=run_started, probes=probes, tolerate_source_errors=True,
        )  # fmt: skip
        checks += 1
        errors.extend(i.error for i in report.indicators if i.error)
        if report.verdict == "degraded" or now >= end:
            return WatchResult(report.verdict, report, checks, started, clock(), tuple(dict.fromkeys(errors)))
