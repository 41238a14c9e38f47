"""Before a watched run: a rollback must be possible and fit the rollback SLO."""

from __future__ import annotations

from dataclasses import replace

from seasongate._health import RollbackFacts, load_health, rollback_refusals
from tests.conftest import ROOT


def test_a_run_that_could_not_be_undone_is_refused_naming_the_migration() -> None:
    spec = load_health(ROOT / "health" / "crm.yaml")  # on_degraded: rollback, slo.rollback: 5m
    fine = RollbackFacts("V226", has_undo=True, transactional=True, reversible=False, undo_seconds=40)
    assert rollback_refusals(spec, [fine]) == []
    refused = rollback_refusals(
        spec,
        [
            replace(fine, version="V227", has_undo=False),
            replace(fine, version="V228", transactional=False),
            replace(fine, version="V229", transactional=False, reversible=True),
            replace(fine, version="V230", undo_seconds=301),
        ],
    )
    assert [r.split(" ")[0] for r in refused] == ["V227", "V228", "V230's"]
    assert "no undo script" in refused[0] and "transaction=false" in refused[1] and "5m1s" in refused[2]
    assert rollback_refusals(replace(spec, on_degraded="notify"), [replace(fine, has_undo=False)]) == []
