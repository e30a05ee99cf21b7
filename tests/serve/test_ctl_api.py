"""The actions and live views against a real, paced ``continuum run`` process, on SQLite
and PostgreSQL: its tick advancing in ``/api/live`` and the event stream, ``checkpoint``
making a committed row appear, ``flush`` sealing a partial chunk, ``stop`` ending it
``stopped``, and a SIGKILLed run's socket refused with one line and cleaned up."""

from __future__ import annotations

import signal

import pytest

from continuum.catalog import Catalog
from tests.cli.test_ctl import start, until, wait_live
from tests.runner.test_stop import finish
from tests.serve.conftest import AUTH, client_for
from tests.serve.test_live import _events
from tests.serve.test_runs import one_line_error

pytestmark = pytest.mark.slow  # real processes: a few seconds each


def test_a_live_run_seen_and_driven_through_the_api(catalog_of_module, tmp_path):
    url = catalog_of_module
    ck, lens = tmp_path / "ck", tmp_path / "lens"
    proc = start(
        url, 100_000, "--checkpoint-dir", ck, "--checkpoint-stride", 50_000, "--lens-dir", lens
    )
    try:
        run_id, _ = wait_live(url, proc)
        with client_for(url, live_interval=0.2) as c:
            live = c.get("/api/live").json()["runs"]
            (mine,) = [r for r in live if r["run_id"] == run_id]
            assert mine["reachable"] is True and mine["status"] == "running"
            assert mine["pid"] == proc.pid and mine["end_tick"] == 100_000
            row = c.get("/api/runs?status=running").json()["runs"][0]
            assert row["run_id"] == run_id and row["live"]["reachable"] is True
            detail = c.get(f"/api/runs/{run_id}").json()
            assert detail["live"] is True and detail["live_status"]["reachable"] is True

            first = c.post(f"/api/runs/{run_id}/ctl/status", headers=AUTH).json()
            later = until(
                lambda: (
                    (r := c.post(f"/api/runs/{run_id}/ctl/status", headers=AUTH).json())
                    and r["tick"] > first["tick"]
                    and r
                ),
                "the tick advancing",
            )
            assert later["ticks_per_s"] > 0

            events = _events(c.get("/api/events?limit=3").text)
            ticks = [
                r["tick"]
                for e, d in events
                if e == "live"
                for r in d["runs"]
                if r["run_id"] == run_id
            ]
            assert len(ticks) == 3 and ticks == sorted(ticks) and ticks[-1] > ticks[0]

            made = c.post(f"/api/runs/{run_id}/ctl/checkpoint", headers=AUTH).json()
            assert made["ok"] and made["queued"] is True

            def committed() -> bool:
                body = c.get(f"/api/runs/{run_id}").json()
                return any(
                    k["tick"] == made["tick"] and k["state"] == "committed"
                    for k in body["checkpoints"]
                )

            until(committed, f"a committed checkpoint at tick {made['tick']}")
            flushed = c.post(f"/api/runs/{run_id}/ctl/flush", headers=AUTH).json()
            assert flushed["ok"]
            until(
                lambda: c.get(f"/api/runs/{run_id}").json()["lens"]["windows"],
                "a sealed lens chunk",
            )
            stopping = c.post(f"/api/runs/{run_id}/ctl/stop", headers=AUTH).json()
            assert stopping["ok"] and stopping["stopping"] is True
            finish(proc)
            body = c.get(f"/api/runs/{run_id}").json()
            assert body["status"] == "stopped" and body["live"] is False
            one_line_error(c.post(f"/api/runs/{run_id}/ctl/status", headers=AUTH), 409, "not live")
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.communicate()


def test_a_killed_runs_socket_is_refused_and_cleaned_up(catalog_of_module, tmp_path):
    url = catalog_of_module
    proc = start(url, 100_000)
    try:
        run_id, path = wait_live(url, proc)
        proc.send_signal(signal.SIGKILL)
        proc.communicate()
        assert path.is_socket()
        with client_for(url) as c:
            response = c.post(f"/api/runs/{run_id}/ctl/status", headers=AUTH)
            one_line_error(response, 409, "not live", "left by a process that ended; removed")
            assert not path.exists()
            with Catalog(url) as cat:
                assert cat.runs.get(run_id).control_path is None
            body = c.get(f"/api/runs/{run_id}").json()
            assert body["live"] is False and body["status"] == "crashed"
            again = c.post(f"/api/runs/{run_id}/ctl/status", headers=AUTH)
            one_line_error(again, 409, "not live: it is crashed")
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.communicate()
