"""Live status: ``/api/live`` and the event stream, with a run the catalog says is running."""

from __future__ import annotations

import json
import os

from continuum.catalog import Catalog
from tests.serve.conftest import Served, client_for
from tests.serve.test_runs import one_line_error


def _events(text: str) -> list[tuple[str, dict]]:
    out = []
    for block in text.strip().split("\n\n"):
        lines = dict(line.split(": ", 1) for line in block.splitlines() if not line.startswith(":"))
        if lines:
            out.append((lines["event"], json.loads(lines["data"])))
    return out


def test_a_running_run_is_live_from_the_catalog_alone(served: Served):
    with Catalog(served.url) as cat:
        run = cat.runs.register(world="terra", ir_hash="ab", seed=3, pid=os.getpid())
        cat.runs.heartbeat(run.run_id, last_tick=42)
    try:
        live = served.client.get("/api/live").json()["runs"]
        (mine,) = [r for r in live if r["run_id"] == run.run_id]
        assert mine["tick"] == 42 and mine["reachable"] is False
        assert 0 <= mine["heartbeat_age_s"] < 60
        row = served.client.get("/api/runs?status=running").json()["runs"][0]
        assert row["run_id"] == run.run_id
        assert row["live"]["tick"] == 42 and row["live"]["reachable"] is False
        with client_for(served.url, live_interval=0.1) as c:
            response = c.get("/api/events?limit=2")
        assert response.headers["content-type"].startswith("text/event-stream")
        events = _events(response.text)
        assert events[0] == ("run", {"run_id": run.run_id, "status": "running"})
        assert [e for e, _ in events].count("live") == 2
        assert any(r["run_id"] == run.run_id for r in events[1][1]["runs"])
    finally:
        with Catalog(served.url) as cat:
            cat.runs.finish(run.run_id, status="stopped", last_tick=42)
    assert all(r["run_id"] != run.run_id for r in served.client.get("/api/live").json()["runs"])


def test_bad_event_limit_is_400(served: Served):
    one_line_error(served.client.get("/api/events?limit=0"), 400, "limit")
