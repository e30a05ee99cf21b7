"""``/api/runs/{id}``: one run with everything its page shows.

The run row plus params, segments, checkpoints (by tick, with their state), lineage
(parent, branches, ancestors up to the root), the retention policy in force and what a
prune would remove now (the dry run of :func:`continuum.maintenance.prune`, which
deletes nothing), and the lens: its directory, fields, chunk windows and gaps (the
catalog's rows; the fields are read from the lens directory when it is there).
"""

from __future__ import annotations

from typing import Any

from starlette.requests import Request
from starlette.responses import Response

from continuum.catalog import Catalog, PruneReport, RunDetail
from continuum.errors import ContinuumError, RunNotFoundError
from continuum.maintenance import prune
from continuum.serve.errors import answers
from continuum.serve.live import control_path, live_row
from continuum.serve.responses import JSONResponse
from continuum.serve.rows import checkpoint_row, iso, run_row
from continuum.serve.runs import run_id_of
from continuum.serve.state import Inspector

MAX_ANCESTORS = 100


def ancestors(catalog: Catalog, detail: RunDetail) -> list[dict[str, Any]]:
    """The chain of parents, nearest first, each with the tick its child branched at."""
    out: list[dict[str, Any]] = []
    parent, tick = detail.run.parent_run_id, detail.run.parent_checkpoint_tick
    seen = {detail.run.run_id}
    while parent is not None and parent not in seen and len(out) < MAX_ANCESTORS:
        seen.add(parent)
        out.append({"run_id": parent, "tick": tick})
        try:
            run = catalog.runs.get(parent)
        except RunNotFoundError:  # removed with catalog rm: the chain ends here
            break
        parent, tick = run.parent_run_id, run.parent_checkpoint_tick
    return out


def plan_json(report: PruneReport) -> dict[str, Any]:
    """What a prune would delete: checkpoint ticks, lens chunk windows, bytes."""
    ticks: list[int] = []
    windows: list[list[int]] = []
    freed = 0
    for kind, plan in report.plans:
        freed += plan.bytes_freed
        if kind == "checkpoint":
            ticks += sorted(i.tick for i in plan.delete)
        else:
            windows += [list(w) for w, _, _ in plan.deleted_windows()]
    return {
        "would_prune": ticks,
        "would_prune_lens": windows,
        "bytes_freed": freed,
        "plans": report.to_dict()["runs"],
    }


def retention(catalog: Catalog, run_id: str) -> dict[str, Any]:
    policy = catalog.policies.effective(run_id)
    plan = plan_json(prune(catalog, [run_id], dry_run=True))
    return {"policy": None if policy is None else policy.to_dict(), **plan}


def _lens_fields(inspector: Inspector, run_id: str, detail: RunDetail) -> list[str]:
    try:
        with inspector.stores.open(run_id) as (store, _):
            return store.fields
    except ContinuumError:  # no lens dir, or gone: the catalog rows still say what was held
        return sorted({f for c in detail.lens_chunks for f in c.fields})


def lens(inspector: Inspector, detail: RunDetail) -> dict[str, Any]:
    run_id = detail.run.run_id
    gaps = inspector.catalog.lens_gaps.list(run_id)
    return {
        "dir": detail.run.lens_dir,
        "fields": _lens_fields(inspector, run_id, detail) if detail.run.lens_dir else [],
        "windows": [
            {
                "start_tick": c.start_tick,
                "end_tick": c.end_tick,
                "frames": c.frames,
                "state": c.state,
                "fields": list(c.fields),
                "bytes": c.bytes,
            }
            for c in detail.lens_chunks
        ],  # fmt: skip
        "gaps": [
            {"start_tick": g.start_tick, "end_tick": g.end_tick, "reason": g.cause} for g in gaps
        ],
    }


def segment_json(s: Any) -> dict[str, Any]:
    return {
        "ordinal": s.ordinal,
        "start_tick": s.start_tick,
        "end_tick": s.end_tick,
        "status": s.status,
        "resumed_from_tick": s.resumed_from_tick,
        "host": s.host,
        "pid": s.pid,
        "started_at": iso(s.started_at),
        "ended_at": iso(s.ended_at),
    }


@answers
def run_detail(request: Request) -> Response:
    inspector: Inspector = request.app.state.inspector
    catalog = inspector.catalog
    detail = catalog.search.show(run_id_of(request))
    run = detail.run
    parent = None
    if run.parent_run_id is not None:
        parent = {"run_id": run.parent_run_id, "tick": run.parent_checkpoint_tick}
    live_status = live_row(run)
    body = {
        **run_row(run, live_status),
        "params": run.params,
        "host": run.host,
        "pid": run.pid,
        "steps": run.steps,
        "checkpoint_dir": run.checkpoint_dir,
        "dropped_checkpoints": run.dropped_checkpoints,
        "scenario_hash": run.scenario_hash,
        "heartbeat_at": iso(run.heartbeat_at),
        "segments": [segment_json(s) for s in detail.segments],
        "checkpoints": [checkpoint_row(c) for c in detail.checkpoints],
        "lineage": {
            "parent": parent,
            "children": [
                {"run_id": c.run_id, "tick": c.parent_checkpoint_tick} for c in detail.children
            ],
            "ancestors": ancestors(catalog, detail),
        },
        "retention": retention(catalog, run.run_id),
        "lens": lens(inspector, detail),
        "control_path": control_path(run),
        "live": run.status == "running" and control_path(run) is not None,
        "live_status": live_status,  # the run row's ``live``: tick, rate, heartbeat age
    }
    return JSONResponse(body)
