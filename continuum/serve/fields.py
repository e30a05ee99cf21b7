"""A run's fields: the list, a frame as a lat/lon map, one value (hover), one point's history.

Frames and values are asked at *captured* ticks only: a tick the lens did not capture
is a 404 naming the nearest captured ticks (the page keeps its slider on captured
ticks; nothing here interpolates). Positions are latitude/longitude in degrees; a
cell-centred field answers with the cell containing the position (face, i, j and the
flat sample index). A history is the values of one position at every captured tick,
across gaps (the reply lists them), for this run and optionally others (``runs=``).
"""

from __future__ import annotations

import math
from typing import Any
from urllib.parse import quote

import numpy as np
from starlette.requests import Request
from starlette.responses import Response

from continuum.errors import ContinuumError
from continuum.lens import LensStore
from continuum.serve import params
from continuum.serve.errors import ApiError, answers
from continuum.serve.frames import (
    DEFAULT_WIDTH,
    MAX_JSON_WIDTH,
    MAX_WIDTH,
    Frame,
    draw,
    draw_cells,
)
from continuum.serve.responses import JSONResponse
from continuum.serve.rows import finite
from continuum.serve.runs import run_id_of
from continuum.serve.state import Inspector

MAX_HISTORY_RUNS = 100
KINDS = {"scalar": "scalar", "vec3": "vector"}


def _field_of(request: Request, store: LensStore) -> str:
    name = params.check_text("field", request.path_params["name"])
    if name not in store.fields:
        have = ", ".join(store.fields) or "none"
        raise ApiError(404, f"no field {name!r} in this run; captured fields: {have}")
    return name


def ticks_json(ticks: np.ndarray) -> list[int] | dict[str, int]:
    """Evenly spaced ticks as ``{first, last, stride, count}``, others as the list."""
    if len(ticks) >= 2:
        steps = np.diff(ticks)
        if (steps == steps[0]).all():
            return {
                "first": int(ticks[0]),
                "last": int(ticks[-1]),
                "stride": int(steps[0]),
                "count": len(ticks),
            }
    return [int(t) for t in ticks]


def field_json(store: LensStore, name: str) -> dict[str, Any]:
    config = store.config(name)
    topology = store.topology if config.positions == "cells" else None
    return {
        "name": name,
        "units": store.units(name),
        "kind": KINDS[config.kind],
        "positions": config.positions,
        "samples": config.samples,
        "resolution": None if topology is None else topology.resolution,
        "ticks": ticks_json(store.field_ticks(name)),
    }


@answers
def list_fields(request: Request) -> Response:
    inspector: Inspector = request.app.state.inspector
    with inspector.stores.open(run_id_of(request)) as (store, _):
        return JSONResponse({"fields": [field_json(store, n) for n in store.fields]})


def captured(store: LensStore, name: str, tick: int) -> None:
    """A 404 naming the nearest captured ticks unless ``tick`` was captured."""
    ticks = store.field_ticks(name)
    i = int(np.searchsorted(ticks, tick))
    if i < len(ticks) and ticks[i] == tick:
        return
    near = [str(int(ticks[k])) for k in (i - 1, i) if 0 <= k < len(ticks)]
    around = f"; nearest captured: {', '.join(near)}" if near else "; it has no frames"
    raise ApiError(404, f"field {name!r} was not captured at tick {tick}{around}")


def _draw(store: LensStore, name: str, tick: int, width: int, inspector: Inspector) -> Frame:
    topology = store.topology
    if store.config(name).positions == "cells" and topology is not None:
        values = store.frame_values(name, tick)  # no positions built: the map is by cell
        return draw_cells(values, topology, tick, store.units(name), width, inspector.maps)
    return draw(store.at(name, tick), width, inspector.maps)


def _header_number(value: float | None) -> str:
    return "nan" if value is None else repr(value)


@answers
def frame(request: Request) -> Response:
    inspector: Inspector = request.app.state.inspector
    q = request.query_params
    run_id = run_id_of(request)
    tick = params.need_integer(q, "tick")
    width = params.integer(q, "width", DEFAULT_WIDTH, lo=2, hi=MAX_WIDTH)
    assert width is not None
    if width % 2:
        raise ApiError(400, f"width must be even (height = width / 2), got {width}")
    fmt = params.choice(q, "format", ("binary", "json"), "binary")
    if fmt == "json" and width > MAX_JSON_WIDTH:
        raise ApiError(
            400, f"format=json is for widths up to {MAX_JSON_WIDTH}; use the binary frame"
        )
    with inspector.stores.open(run_id) as (store, generation):
        name = _field_of(request, store)
        key = (run_id, name, tick, width, generation)
        drawn = inspector.frames.get(key)
        if drawn is None:
            captured(store, name, tick)
            drawn = _draw(store, name, tick, width, inspector)
            inspector.frames.put(key, drawn)
    if fmt == "json":
        return JSONResponse(drawn.to_json())
    headers = {
        "x-field-min": _header_number(drawn.low),
        "x-field-max": _header_number(drawn.high),
        "x-field-units": quote(drawn.units or "", safe=""),
        "x-field-tick": str(drawn.tick),
        "x-width": str(drawn.width),
        "x-height": str(drawn.height),
        "cache-control": "private, max-age=3600",
    }
    return Response(drawn.pixels, media_type="application/octet-stream", headers=headers)


def unit_vector(lat: float, lon: float) -> np.ndarray:
    la, lo = math.radians(lat), math.radians(lon)
    return np.array([math.cos(la) * math.cos(lo), math.cos(la) * math.sin(lo), math.sin(la)])


def lat_lon_of(position: np.ndarray) -> tuple[float, float]:
    p = position / np.linalg.norm(position)
    return math.degrees(math.asin(max(-1.0, min(1.0, p[2])))), math.degrees(math.atan2(p[1], p[0]))


def _position(q: Any) -> tuple[float, float]:
    lat = params.number(q, "lat", lo=-90.0, hi=90.0, required=True)
    lon = params.number(q, "lon", lo=-360.0, hi=360.0, required=True)
    assert lat is not None and lon is not None
    return lat, lon


def cell_json(store: LensStore, name: str, position: np.ndarray) -> dict[str, Any]:
    """face, i, j and sample of the cell containing ``position`` (None for other fields)."""
    config = store.config(name)
    topology = store.topology
    if config.positions == "global":
        return {"face": None, "i": None, "j": None, "sample": 0}
    if config.positions != "cells" or topology is None:
        return {"face": None, "i": None, "j": None, "sample": None}
    face, i, j = (int(a) for a in topology.locate(position))
    return {"face": face, "i": i, "j": j, "sample": int(topology.cell_of(position))}


def plain(value: Any) -> Any:
    """A value or vector as JSON numbers (NaN: null)."""
    arr = np.asarray(value, dtype=np.float64)
    if arr.ndim == 0:
        return finite(float(arr))
    return [finite(float(v)) for v in arr]


@answers
def value(request: Request) -> Response:
    inspector: Inspector = request.app.state.inspector
    q = request.query_params
    tick = params.need_integer(q, "tick")
    lat, lon = _position(q)
    position = unit_vector(lat, lon)
    with inspector.stores.open(run_id_of(request)) as (store, _):
        name = _field_of(request, store)
        captured(store, name, tick)
        got = store.query(name, position, tick=tick)
        body = {"tick": tick, "lat": lat, "lon": lon, **cell_json(store, name, position)}
        body |= {"value": plain(got.value), "units": store.units(name), "rule": got.rule}
    return JSONResponse(body)


def _series(store: LensStore, name: str, position: np.ndarray, run_id: str) -> dict[str, Any]:
    history = store.history(name, position, across_gaps=True)
    values = history.values
    shown = values.tolist() if values.ndim == 1 else [plain(v) for v in values]
    if values.ndim == 1 and not np.isfinite(values).all():
        shown = [finite(v) for v in shown]
    return {
        "run_id": run_id,
        "ticks": history.ticks.tolist(),
        "values": shown,
        "rule": history.rule,
        "gaps": [
            {"start_tick": g.start, "end_tick": g.end, "reason": g.cause} for g in history.gaps
        ],
    }


@answers
def history(request: Request) -> Response:
    inspector: Inspector = request.app.state.inspector
    q = request.query_params
    run_id = run_id_of(request)
    others = [r for r in params.run_ids(q, "runs", limit=MAX_HISTORY_RUNS) if r != run_id]
    sample = params.integer(q, "sample")
    with inspector.stores.open(run_id) as (store, _):
        name = _field_of(request, store)
        if sample is not None:
            config, topology = store.config(name), store.topology
            if config.positions != "cells" or topology is None:
                raise ApiError(400, f"sample= needs a cell-centred field; {name!r} is not one")
            if sample >= topology.n_cells:
                raise ApiError(400, f"sample must be below {topology.n_cells}, got {sample}")
            position = np.array(topology.centres[sample])
            lat, lon = lat_lon_of(position)
        else:
            lat, lon = _position(q)
            position = unit_vector(lat, lon)
        cell = cell_json(store, name, position)
        series = [_series(store, name, position, run_id)]
        units = store.units(name)
    for other in others:
        try:
            with inspector.stores.open(other) as (store, _):
                if name not in store.fields:
                    raise ApiError(404, f"run {other} did not capture field {name!r}")
                series.append(_series(store, name, position, other))
        except ContinuumError as exc:  # one run without the field does not spoil the others
            series.append({"run_id": other, "ticks": [], "values": [], "error": str(exc)})
    body = {"sample": cell["sample"], "lat": lat, "lon": lon, "face": cell["face"]}
    body |= {"i": cell["i"], "j": cell["j"], "units": units, "series": series}
    return JSONResponse(body)
