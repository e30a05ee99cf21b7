"""Lens frames -> the columns of one Parquet file, as numpy arrays DuckDB scans in place.

Rows are (tick, sim_time, sample, face, i, j, lat, lon, value) — ``vx, vy, vz`` instead of
``value`` for vector fields. ``layout="time"`` orders them by tick then sample (a time slice
is a few contiguous row groups); ``layout="sample"`` by sample then tick (a point history
is one row group). Positions: the cell centre for cell fields (face/i/j from the cell
index ``f*N*N + i*N + j``), the stored per-frame point and its containing cell for point
fields, none for global fields. lat/lon are degrees, ``asin(z)`` and ``atan2(y, x)``.

Columns are built with ``np.repeat``/``np.tile`` (memcpy speed) and handed to DuckDB as a
dict of arrays, which its replacement scan reads without copying: measured against
building rows in SQL from a (tick, sample, value) scan, the encoder, not the columns,
is the cost (``scripts/bench_sql.py``).
"""

from __future__ import annotations

import numpy as np

from continuum.lens.reconstruct import CELLS, GLOBAL, FieldConfig
from continuum.topology import CubedSphere

#: Column order and DuckDB types of every field file (a NULL literal fills what is absent).
SCHEMA = {
    "tick": "BIGINT",
    "sim_time": "DOUBLE",
    "sample": "INTEGER",
    "face": "TINYINT",
    "i": "SMALLINT",
    "j": "SMALLINT",
    "lat": "DOUBLE",
    "lon": "DOUBLE",
    "value": "DOUBLE",
    "vx": "DOUBLE",
    "vy": "DOUBLE",
    "vz": "DOUBLE",
}


def _latlon(points: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    unit = points / np.linalg.norm(points, axis=-1, keepdims=True)
    lat = np.degrees(np.arcsin(np.clip(unit[..., 2], -1.0, 1.0)))
    return lat, np.degrees(np.arctan2(unit[..., 1], unit[..., 0]))


def _cell_columns(topology: CubedSphere, cells: np.ndarray) -> dict[str, np.ndarray]:
    n = topology.resolution
    lat, lon = _latlon(topology.centres[cells])
    return {
        "face": (cells // (n * n)).astype(np.int8),
        "i": (cells // n % n).astype(np.int16),
        "j": (cells % n).astype(np.int16),
        "lat": lat,
        "lon": lon,
    }


def field_columns(
    config: FieldConfig,
    ticks: np.ndarray,
    times: np.ndarray,
    values: np.ndarray,
    positions: np.ndarray | None,
    topology: CubedSphere | None,
    layout: str = "time",
) -> dict[str, np.ndarray]:
    """The columns of one field's frames; ``values`` is (F, m) or (F, m, 3)."""
    frames, m = len(ticks), config.samples
    by_time = layout == "time"
    spread = (lambda a: np.repeat(a, m)) if by_time else (lambda a: np.tile(a, m))
    per_sample = (lambda a: np.tile(a, frames)) if by_time else (lambda a: np.repeat(a, frames))
    cols = {"tick": spread(ticks), "sim_time": spread(times)}
    cols["sample"] = per_sample(np.arange(m, dtype=np.int32))
    if config.positions == CELLS and topology is not None:
        cols.update({k: per_sample(v) for k, v in _cell_columns(topology, np.arange(m)).items()})
    elif config.positions != GLOBAL and positions is not None:
        pts = positions if by_time else positions.swapaxes(0, 1)
        pts = np.ascontiguousarray(pts).reshape(-1, 3)
        if topology is not None:
            cols.update(_cell_columns(topology, topology.cell_of(pts)))
        else:
            cols["lat"], cols["lon"] = _latlon(pts)
    ordered = values if by_time else values.swapaxes(0, 1)
    if config.kind == "vec3":
        flat = np.ascontiguousarray(ordered).reshape(-1, 3)
        cols.update(vx=flat[:, 0].copy(), vy=flat[:, 1].copy(), vz=flat[:, 2].copy())
    else:
        cols["value"] = np.ascontiguousarray(ordered).reshape(-1)
    return cols


def select_list(cols: dict[str, np.ndarray], source: str) -> str:
    """``SELECT`` items giving every file the full :data:`SCHEMA` (absent columns NULL)."""
    items = [
        f"{source}.{name}::{kind} AS {name}" if name in cols else f"NULL::{kind} AS {name}"
        for name, kind in SCHEMA.items()
    ]
    return ", ".join(items)
