"""``catalog rm`` through the Python API: refusals, then everything of the run goes."""

from __future__ import annotations

import pytest

from continuum import maintenance
from continuum.catalog import RetentionRules
from continuum.errors import CatalogError
from tests.conftest import make_run


def test_rm_refuses_live_and_branched_runs_then_removes_everything(catalog, tmp_path):
    run, d = make_run(catalog, tmp_path, [1, 2, 3])
    live = catalog.runs.register(world="terra", ir_hash="ab", seed=1)  # this process: alive
    with pytest.raises(CatalogError, match="is running"):
        maintenance.remove_run(catalog, live.run_id)
    child = catalog.runs.register(
        world="terra", ir_hash="ab", seed=1, parent_run_id=run.run_id, parent_checkpoint_tick=2
    )
    with pytest.raises(CatalogError, match="1 branch"):
        maintenance.remove_run(catalog, run.run_id)
    catalog.policies.set("run", run.run_id, RetentionRules(keep_last=1))
    (d / "manifest.json").write_text("{}")
    report = maintenance.remove_run(catalog, run.run_id, force=True)
    assert report.deleted == 3 and not d.exists()
    assert catalog.runs.get(child.run_id).parent_run_id is None
    assert catalog.policies.get("run", run.run_id) is None
    assert catalog.audit.list(run.run_id, limit=1)[0].action == "run-deleted"
