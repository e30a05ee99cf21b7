"""Live runs: what a running run's control channel says, and the event stream of it.

A running run that records a control socket (``runs.control_path``) is asked ``status``
(:func:`continuum.control.request`, on a worker thread: it blocks up to its timeout);
one that does not, or cannot be reached, is described from the catalog alone (its last
recorded tick and heartbeat age, ``reachable: false``). ``/api/events`` sends ``event:
live`` (the JSON of ``/api/live``) every ``live_interval`` seconds and ``event: run``
when a run seen live changes status (it ended, crashed or was stopped).
"""

from __future__ import annotations

import asyncio
import json
import socket
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from typing import Any

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import Response, StreamingResponse

from continuum.catalog import Catalog, RunRecord, SearchQuery
from continuum.control import request
from continuum.errors import ControlError
from continuum.serve import params
from continuum.serve.errors import answers
from continuum.serve.responses import JSONResponse
from continuum.serve.rows import finite
from continuum.serve.state import Inspector

#: Seconds to wait for a live run's status in lists (a hung socket must not hold a page).
LIST_TIMEOUT = 0.5
MAX_LIVE = 500


def control_path(run: RunRecord) -> str | None:
    return run.control_path


def heartbeat_age(run: RunRecord) -> float | None:
    if run.heartbeat_at is None:
        return None
    return max(0.0, (datetime.now(UTC) - run.heartbeat_at).total_seconds())


def ask_status(run: RunRecord, timeout: float) -> dict[str, Any] | None:
    """The run's ``status`` reply, or None (no socket recorded, another host, no answer)."""
    if run.control_path is None or (run.host and run.host != socket.gethostname()):
        return None
    try:
        reply = request(run.control_path, "status", timeout=timeout)
    except ControlError:
        return None
    return reply if reply.get("ok") else None


def live_row(run: RunRecord, timeout: float = LIST_TIMEOUT) -> dict[str, Any] | None:
    """``{"tick", "ticks_per_s", "heartbeat_age_s", "reachable"}`` of a running run, else None."""
    if run.status != "running":
        return None
    status = ask_status(run, timeout)
    tick = status.get("tick") if status else None
    rate = status.get("ticks_per_s") if status else None
    return {
        "tick": tick if isinstance(tick, int) else run.last_tick,
        "ticks_per_s": finite(rate) if isinstance(rate, int | float) else None,
        "heartbeat_age_s": heartbeat_age(run),
        "reachable": status is not None,
    }


def live_runs(catalog: Catalog, timeout: float = LIST_TIMEOUT) -> list[dict[str, Any]]:
    """Every running run with its status reply (or what the catalog knows of it)."""
    page = catalog.search.find(SearchQuery(status="running"), limit=MAX_LIVE)
    out = []
    for run in page.runs:
        status = ask_status(run, timeout) or {}
        row = {k: v for k, v in status.items() if k not in ("ok", "run_id")}
        row.setdefault("tick", run.last_tick)
        row.setdefault("status", run.status)
        out.append(
            {
                "run_id": run.run_id,
                "world": run.world,
                **row,
                "heartbeat_age_s": heartbeat_age(run),
                "reachable": bool(status),
            }
        )
    return out


@answers
def live(request: Request) -> Response:
    inspector: Inspector = request.app.state.inspector
    return JSONResponse({"runs": live_runs(inspector.catalog)})


def _event(name: str, data: Any) -> str:
    return f"event: {name}\ndata: {json.dumps(data, allow_nan=False, default=str)}\n\n"


async def _events(request: Request, inspector: Inspector, limit: int | None) -> AsyncIterator[str]:
    seen: dict[str, str] = {}
    sent = 0
    yield ": continuum live events\n\n"
    while limit is None or sent < limit:
        runs = await run_in_threadpool(live_runs, inspector.catalog)
        now = {r["run_id"] for r in runs}
        for run_id in [r for r in seen if r not in now]:
            try:
                record = await run_in_threadpool(inspector.catalog.runs.get, run_id)
                status, last = record.status, record.last_tick
            except Exception:  # removed meanwhile: say so, never end the stream
                status, last = "removed", None
            del seen[run_id]
            yield _event("run", {"run_id": run_id, "status": status, "last_tick": last})
        for r in runs:
            if seen.get(r["run_id"]) is None:
                seen[r["run_id"]] = "running"
                yield _event("run", {"run_id": r["run_id"], "status": "running"})
        yield _event("live", {"runs": runs})
        sent += 1
        if limit is not None and sent >= limit:
            return
        for _ in range(max(1, round(inspector.config.live_interval / 0.1))):
            if inspector.stopping.is_set() or await request.is_disconnected():
                return
            await asyncio.sleep(0.1)


async def events(request: Request) -> Response:
    """Server-sent events; ``?limit=N`` ends the stream after N ``live`` events."""
    inspector: Inspector = request.app.state.inspector
    try:
        limit = params.integer(request.query_params, "limit", lo=1, hi=10**6)
    except Exception as exc:
        from continuum.serve.errors import error_response

        return error_response(exc)
    headers = {"cache-control": "no-cache", "x-accel-buffering": "no"}
    return StreamingResponse(
        _events(request, inspector, limit), media_type="text/event-stream", headers=headers
    )
