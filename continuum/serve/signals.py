"""Global signals: a run's list, and one signal overlaid across up to 100 runs.

Signals are recorded in the lens chunks beside the fields (one small array per chunk),
so a series is read from the run's lens directory. A long series is thinned to at most
``max_points`` points (default 2000) by keeping, per bucket of consecutive points, its
lowest and highest (in tick order), so spikes survive the thinning; the first and last
points are always kept. A vec3 signal is drawn by its magnitude.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from starlette.requests import Request
from starlette.responses import Response

from continuum.catalog import RunRecord
from continuum.errors import ContinuumError
from continuum.printable import message_line
from continuum.serve import params
from continuum.serve.errors import ERROR_LIMIT, ApiError, answers
from continuum.serve.responses import JSONResponse
from continuum.serve.runs import run_id_of
from continuum.serve.state import Inspector

MAX_RUNS = 100
DEFAULT_POINTS = 2000
MAX_POINTS = 20_000


def thin(ticks: np.ndarray, values: np.ndarray, most: int) -> tuple[np.ndarray, np.ndarray]:
    """At most ``most`` points: per bucket its min and max, in tick order (see the module)."""
    n = len(ticks)
    if n <= most:
        return ticks, values
    buckets = max(1, (most - 2) // 2)
    edges = np.linspace(1, n - 1, buckets + 1).astype(np.int64)
    keep = [0]
    for a, b in zip(edges[:-1], edges[1:]):
        if b <= a:
            continue
        part = values[a:b]
        finite = np.where(np.isnan(part), np.inf, part)
        lo = a + int(np.argmin(finite))
        hi = a + int(np.argmax(np.where(np.isnan(part), -np.inf, part)))
        keep += sorted({lo, hi})
    keep.append(n - 1)
    idx = np.unique(np.array(keep, dtype=np.int64))
    return ticks[idx], values[idx]


@answers
def run_signals(request: Request) -> Response:
    inspector: Inspector = request.app.state.inspector
    with inspector.stores.open(run_id_of(request)) as (store, _):
        kinds = store.signals
        found = [
            {
                "name": n,
                "kind": "vector" if k == "vec3" else "scalar",
                "units": store.signal_units(n),
            }
            for n, k in kinds.items()
        ]
    return JSONResponse({"signals": found})


def series(inspector: Inspector, run: RunRecord, name: str, most: int) -> dict[str, Any]:
    try:
        with inspector.stores.open(run.run_id, run) as (store, generation):
            key = (run.run_id, name, generation)
            found = inspector.signals.get(key)
            if found is None:
                ticks, values = store.signal_history(name)
                if values.ndim > 1:
                    values = np.linalg.norm(values, axis=1)
                found = (ticks, values.astype(np.float64), store.signal_units(name))
                inspector.signals[key] = found
    except ContinuumError as exc:  # one run without it does not spoil the overlay
        error = message_line(exc, ERROR_LIMIT)
        return {"run_id": run.run_id, "ticks": [], "values": [], "error": error}
    ticks, values, units = found
    shown_ticks, shown = thin(ticks, values, most)
    return {
        "run_id": run.run_id,
        "units": units,
        "ticks": shown_ticks.tolist(),
        "values": shown.tolist(),
        "points": len(ticks),
    }


@answers
def overlay(request: Request) -> Response:
    inspector: Inspector = request.app.state.inspector
    q = request.query_params
    ids = params.run_ids(q, "runs", limit=MAX_RUNS)
    name = params.text(q, "name")
    if not ids:
        raise ApiError(400, "missing parameter runs (comma-separated run ids, at most 100)")
    if name is None:
        raise ApiError(400, "missing parameter name (a signal, e.g. core.temp)")
    most = params.integer(q, "max_points", DEFAULT_POINTS, lo=2, hi=MAX_POINTS)
    assert most is not None
    records = inspector.catalog.runs.get_many(ids)  # an unknown run: 404
    return JSONResponse(
        {"name": name, "series": [series(inspector, r, name, most) for r in records]}
    )
