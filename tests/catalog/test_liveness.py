"""A run that dies without a word shows up as crashed; a live one never does."""

from __future__ import annotations

import signal
import subprocess
import sys
from datetime import UTC, datetime, timedelta

from continuum.catalog import Catalog

OLD = datetime.now(UTC) - timedelta(hours=1)


def dead_pid() -> int:
    child = subprocess.Popen([sys.executable, "-c", "pass"])
    child.wait()
    return child.pid


def status(cat, run_id):
    return cat.runs.get(run_id).status


def elsewhere(catalog, **kw):
    """A run on another host: only its heartbeat can tell whether it lives."""
    return catalog.runs.register(world="w", ir_hash="ab", seed=1, host="elsewhere", pid=1, **kw)


def test_stale_heartbeat_is_crashed_on_list(catalog):
    old = elsewhere(catalog, started_at=OLD)
    fresh = elsewhere(catalog)
    listed = {r.run_id: r.status for r in catalog.search.list().runs}
    assert listed == {old.run_id: "crashed", fresh.run_id: "running"}
    crashed = catalog.runs.get(old.run_id)
    assert crashed.ended_at == crashed.heartbeat_at == OLD
    assert [s.status for s in catalog.search.show(old.run_id).segments] == ["crashed"]
    (entry,) = catalog.audit.list(old.run_id)
    assert entry.action == "run-crashed" and "no heartbeat since" in entry.detail


def test_finished_runs_are_never_reaped(catalog):
    run = elsewhere(catalog, started_at=OLD)
    catalog.runs.finish(run.run_id, status="completed", last_tick=10)
    assert catalog.liveness.mark_stale_crashed(timedelta(0)) == []
    assert status(catalog, run.run_id) == "completed"


def test_local_process_gone_is_crashed_at_once(catalog):
    run = catalog.runs.register(world="w", ir_hash="ab", seed=1, pid=dead_pid())
    assert catalog.liveness.mark_crashed_if_stale(run.run_id)
    assert status(catalog, run.run_id) == "crashed"
    assert "is gone" in catalog.audit.list(run.run_id)[0].detail


def test_pid_is_only_judged_on_its_own_host(catalog):
    run = catalog.runs.register(world="w", ir_hash="ab", seed=1, pid=dead_pid(), host="elsewhere")
    assert not catalog.liveness.mark_crashed_if_stale(run.run_id)
    assert status(catalog, run.run_id) == "running"


def test_live_local_process_is_not_judged_by_its_heartbeat(catalog):
    run = catalog.runs.register(world="w", ir_hash="ab", seed=1, started_at=OLD)  # this process
    assert not catalog.liveness.mark_crashed_if_stale(run.run_id, timedelta(0))
    assert status(catalog, run.run_id) == "running"


def test_pid_check_can_be_turned_off(catalog_url):
    with Catalog(catalog_url, check_local_pids=False) as cat:
        run = cat.runs.register(world="w", ir_hash="ab", seed=1, pid=dead_pid())
        assert cat.liveness.mark_stale_crashed() == []
        assert cat.liveness.mark_stale_crashed(timedelta(0)) == [run.run_id]


def test_heartbeat_revives_a_run_marked_crashed_by_mistake(catalog):
    run = elsewhere(catalog, started_at=OLD)
    assert catalog.liveness.mark_stale_crashed() == [run.run_id]
    catalog.runs.heartbeat(run.run_id, last_tick=50)
    revived = catalog.runs.get(run.run_id)
    assert (revived.status, revived.ended_at, revived.last_tick) == ("running", None, 50)
    assert [s.status for s in catalog.search.show(run.run_id).segments] == ["running"]


SLEEPER = """
import sys, time
from continuum.catalog import Catalog
run = Catalog(sys.argv[1]).runs.register(world="w", ir_hash="ab", seed=1)
print(run.run_id, flush=True)
time.sleep(60)
"""


def test_sigkilled_run_shows_crashed(catalog, catalog_url):
    child = subprocess.Popen(
        [sys.executable, "-c", SLEEPER, catalog_url], stdout=subprocess.PIPE, text=True
    )
    try:
        run_id = child.stdout.readline().strip()
        assert status(catalog, run_id) == "running"
        assert [r.status for r in catalog.search.list().runs] == ["running"]
    finally:
        child.send_signal(signal.SIGKILL)
        child.wait()
        child.stdout.close()
    assert [r.status for r in catalog.search.list().runs] == ["crashed"]
