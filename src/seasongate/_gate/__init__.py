"""The gate around executors: the policy asked before each migration, the store told after.

Each module owns one thing:

====================  =======================================================================
``_guard``            the Python API: :class:`Gate` (``check``, ``guard``, ``wrap``)
``_hook``             the executor's callback (:class:`PolicyHook`): judge a step, audit it
``_audit``            the audit entries of gated work, built in one place
``_migrations``       ``migrate``, ``rollback`` and ``info`` through the PostgreSQL executor
``_command``          ``run -- COMMAND``: the child process, its signals, its outcome
``_flyway``           a migrate run as Flyway's: repeatables, placeholders, callbacks, baseline-on-migrate
``_flyway_commands``  ``baseline``, ``repair`` and ``clean``, gated and audited
====================  =======================================================================

DSN parsing and redaction live in ``seasongate._dsn``.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from seasongate._lazy import lazy_names

if TYPE_CHECKING:
    from seasongate._gate._command import RunOutcome as RunOutcome
    from seasongate._gate._command import run_command as run_command
    from seasongate._gate._flyway_commands import CleanReport as CleanReport
    from seasongate._gate._flyway_commands import RepairReport as RepairReport
    from seasongate._gate._flyway_commands import baseline as baseline
    from seasongate._gate._flyway_commands import clean as clean
    from seasongate._gate._flyway_commands import repair as repair
    from seasongate._gate._guard import Gate as Gate
    from seasongate._gate._guard import GatedExecutor as GatedExecutor
    from seasongate._gate._guard import denial_message as denial_message
    from seasongate._gate._guard import duration_seconds as duration_seconds
    from seasongate._gate._hook import PolicyHook as PolicyHook
    from seasongate._gate._hook import answer_of as answer_of
    from seasongate._gate._migrations import InfoReport as InfoReport
    from seasongate._gate._migrations import InfoRow as InfoRow
    from seasongate._gate._migrations import info as info
    from seasongate._gate._migrations import migrate as migrate
    from seasongate._gate._migrations import rollback as rollback


# name -> the module that defines it, loaded when one of its names is first used (``info``
# never needs ``run``'s child processes or the Flyway commands).
_EXPORTS = {
    **dict.fromkeys(["RunOutcome", "run_command"], "seasongate._gate._command"),
    **dict.fromkeys(
        ["CleanReport", "RepairReport", "baseline", "clean", "repair"], "seasongate._gate._flyway_commands"
    ),
    **dict.fromkeys(["Gate", "GatedExecutor", "denial_message", "duration_seconds"], "seasongate._gate._guard"),
    **dict.fromkeys(["PolicyHook", "answer_of"], "seasongate._gate._hook"),
    **dict.fromkeys(["InfoReport", "InfoRow", "info", "migrate", "rollback"], "seasongate._gate._migrations"),
}

__getattr__ = lazy_names(__name__, _EXPORTS, globals())

__all__ = sorted(_EXPORTS)
