"""Lens frames -> the columns of one Parquet file, as numpy arrays DuckDB scans in place.

Rows are (tick, sample, value) — ``vx, vy, vz`` instead of ``value`` for vector fields. A
file holds only its field's columns (:func:`file_schema`, listed in its ``columns``
metadata): NULL-filled vector columns in a scalar file cost ~25 % of its export
(measured), and the views put NULL in what a file lacks. ``layout="time"`` orders them
by tick then sample (a time slice is a few contiguous row groups); ``layout="sample"`` by
sample then tick (a point history is one row group).

``sim_time`` is *not stored per row*: it is one value per frame, kept once per chunk in a
small ``ticks`` file (:func:`ticks_columns`) that the views join on (run_id, tick). Per
row it cost a quarter of a cell field's export (measured with ``scripts/bench_sql.py``:
DuckDB's writer spends as long on a constant DOUBLE column as on the values), and the
views' join is dropped by DuckDB's optimizer for every query that does not read it.

Positions (face, i, j, lat, lon — degrees, ``asin(z)`` and ``atan2(y, x)``):

- cell fields: *not stored*. They are a function of ``sample`` and the resolution, so
  the views compute them (:func:`continuum.sql.schema.cell_position_sql`, exact for
  face/i/j, within an ulp or two of numpy for lat/lon) and the file's key-value metadata says so
  (``positions = cells``, ``resolution``, ``derived_columns``). Measured with
  ``scripts/bench_sql.py``: DuckDB's Parquet writer encodes ~25-30 M double rows/s per
  column per core, so the five per-row position columns cost more than half of an
  export; a join with a per-resolution table instead would put a hash join under every
  scan (DuckDB does not eliminate that join: it is not on a unique key);
- point fields: the stored per-frame point and its containing cell, per row;
- global fields: none (NULL).

Columns are handed to DuckDB as a dict of arrays, which its replacement scan reads
without copying. The repeated ``tick`` and ``sample`` columns are filled into buffers a
:class:`Scratch` keeps between chunks: a fresh 100 MB array per chunk costs more in page
faults (the kernel zeroing every new page: ~20 % of an export's CPU, measured with
``perf``) than the copy itself.
"""

from __future__ import annotations

import numpy as np

from continuum.lens.reconstruct import CELLS, GLOBAL, FieldConfig
from continuum.sql.schema import POSITIONS, SCHEMA, VECTOR
from continuum.topology import CubedSphere


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


class Scratch:
    """Reusable buffers for the repeated columns of one exporting thread.

    ``tick`` is refilled per chunk; ``sample`` depends only on (frames, samples, layout),
    which repeat chunk after chunk, so it is kept as is. One per thread (the buffers are
    handed to DuckDB while it reads them); memory held: about one chunk's tick and sample
    columns (~150 MB for 500 frames of 64x64 per face), released with the object.
    """

    def __init__(self) -> None:
        self._tick = np.empty(0, np.int64)
        self._sample: dict[tuple[int, int, bool], np.ndarray] = {}

    def tick(self, ticks: np.ndarray, m: int, by_time: bool) -> np.ndarray:
        """``np.repeat(ticks, m)`` (time-major) or ``np.tile(ticks, m)``, into the buffer."""
        n = len(ticks) * m
        if self._tick.size < n:
            self._tick = np.empty(n, np.int64)
        out = self._tick[:n]
        if by_time:
            out.reshape(len(ticks), m)[:] = ticks[:, None]
        else:
            out.reshape(m, len(ticks))[:] = ticks[None, :]
        return out

    def sample(self, frames: int, m: int, by_time: bool) -> np.ndarray:
        key = (frames, m, by_time)
        if key not in self._sample:
            ids = np.arange(m, dtype=np.int32)
            self._sample = {  # one shape at a time: chunks of a run share it
                key: np.tile(ids, frames) if by_time else np.repeat(ids, frames)
            }
        return self._sample[key]


def field_columns(
    config: FieldConfig,
    ticks: np.ndarray,
    values: np.ndarray,
    positions: np.ndarray | None,
    topology: CubedSphere | None,
    layout: str = "time",
    scratch: Scratch | None = None,
) -> dict[str, np.ndarray]:
    """The columns of one field's frames; ``values`` is (F, m) or (F, m, 3)."""
    frames, m = len(ticks), config.samples
    by_time = layout == "time"
    scratch = scratch or Scratch()
    cols = {
        "tick": scratch.tick(np.asarray(ticks, np.int64), m, by_time),
        "sample": scratch.sample(frames, m, by_time),
    }
    if config.positions == CELLS:
        pass  # derived from sample by the views (cell_position_sql)
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


def ticks_columns(ticks: np.ndarray, times: np.ndarray) -> dict[str, np.ndarray]:
    """The columns of a chunk's ``ticks`` file: one row per frame, (tick, sim_time)."""
    return {"tick": np.asarray(ticks, np.int64), "sim_time": np.asarray(times, np.float64)}


def file_schema(config: FieldConfig) -> dict[str, str]:
    """The columns one field's files hold, in :data:`SCHEMA` order.

    tick, sample; the positions only for point fields (cell fields leave them to the
    views, global fields have none); ``value`` or ``vx, vy, vz``. No ``sim_time``: the
    chunk's ``ticks`` file holds it once per frame.
    """
    keep = {"tick", "sample", *(VECTOR if config.kind == "vec3" else ("value",))}
    if config.positions not in (CELLS, GLOBAL):
        keep.update(POSITIONS)
    return {k: v for k, v in SCHEMA.items() if k in keep}


def select_list(cols: dict[str, np.ndarray], source: str, schema: dict[str, str]) -> str:
    """``SELECT`` items giving a file every column of ``schema`` (absent columns NULL)."""
    items = [
        f"{source}.{name}::{kind} AS {name}" if name in cols else f"NULL::{kind} AS {name}"
        for name, kind in schema.items()
    ]
    return ", ".join(items)
