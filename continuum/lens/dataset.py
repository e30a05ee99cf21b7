"""A lens run as an :class:`xarray.Dataset`, opened without reading a value.

``open_dataset(lens_dir | .lens file)`` builds the dataset's structure from the manifest
and the chunk headers (:mod:`continuum.lens.blocks`: the tick axis, its windows); every
field is a lazy :class:`LensArray` (an xarray ``BackendArray``) whose reads become
:func:`~continuum.lens.blocks.read_block` calls, so indexing decodes only the tiles and
rows the selection needs, through the same reader as :class:`LensStore`. Run ids are not
resolved here (that needs the catalog, above the lens): ``continuum.datasets`` does it.

The dataset (decisions, since the design names only the coordinates):

- dimensions ``tick`` (every captured tick; a lens gap is ticks that are *absent*, listed
  in the ``lens_gaps`` attribute), ``sample`` (the topology's cells, in cell order),
  ``component`` (``x, y, z``) for vector fields; a point-sample field has its own
  ``NAME.point`` dimension (its points are not cells, and their count is its own);
- coordinates ``tick``, ``sim_time`` (lazy: read from the chunks when asked), and per
  cell ``face``, ``i``, ``j``, ``lat``, ``lon`` (degrees, from the topology: no file is
  read); a point field's ``NAME.position`` (tick, point, component) unit vectors (lazy);
- one variable per field, float64, NaN where the field has no frame at a tick of the
  axis; CF attributes ``units`` (the world's), ``long_name`` and ``standard_name`` where
  one fits (:data:`STANDARD_NAMES`);
- dataset attributes: the run's identity, the topology written out so that a reader of a
  netCDF or Zarr copy rebuilds every cell centre from ``(face, i, j)`` alone
  (:func:`topology_attrs`), and the gaps.

By default the arrays are plain lazy arrays (xarray's own default, ``chunks=None``): a
point or a slice costs what the store's own query costs (a dask graph costs ~10-30 ms
a selection, more than the read). With ``chunks={}`` (dask installed) they are dask
arrays chunked along the chunk windows (``tick``) and values tiles (``sample``): every
variable's ``preferred_chunks``, so each dask task reads one chunk's tiles, for
computations larger than memory. Reads of one store are serialised by a lock (dask's
threads share it; each read decodes on the reader's own threads).

This module imports xarray; ``continuum.lens`` loads it only when asked for
``open_dataset`` (the ``[xarray]`` extra).
"""

from __future__ import annotations

import json
import threading
from collections.abc import Iterable
from pathlib import Path
from typing import Any, ClassVar

import numpy as np
import xarray as xr
from xarray.backends import BackendArray, BackendEntrypoint
from xarray.core import indexing

from continuum.errors import LensError
from continuum.lens import blocks
from continuum.lens.manifest import is_lens_run_dir
from continuum.lens.reconstruct import CELLS, GLOBAL, POINTS, FieldConfig
from continuum.lens.store import LensStore, resolve_run_dir
from continuum.topology import CubedSphere

#: CF standard names of fields whose meaning is known (a world declares units, not
#: standard names): a field named here gets the name when its units fit it.
STANDARD_NAMES = {
    "atmosphere.temperature": ("air_temperature", ("K",)),
    "surface.elevation": ("surface_altitude", ("m",)),
}
COMPONENTS = ("x", "y", "z")
#: the cubed sphere written out (:func:`topology_attrs`): each face's frame (n, e1, e2)
FACE_FRAMES = (
    "+X: n=+x e1=+y e2=+z; -X: n=-x e1=-y e2=+z; +Y: n=+y e1=+z e2=+x; "
    "-Y: n=-y e1=-z e2=+x; +Z: n=+z e1=+x e2=+y; -Z: n=-z e1=-x e2=+y"
)
CELL_CENTRE = (
    "alpha = -pi/4 + (i + 0.5) * (pi/2) / N; beta = -pi/4 + (j + 0.5) * (pi/2) / N; "
    "centre = normalize(n + tan(alpha) * e1 + tan(beta) * e2)"
)


def open_dataset(
    path: Path | str,
    *,
    run: str | None = None,
    fields: Iterable[str] | None = None,
    chunks: Any = None,
) -> xr.Dataset:
    """The lens run at ``path`` (a run's lens dir, a lens root with ``run`` or one run, or
    one ``.lens`` file) as a Dataset; ``fields`` (default all); ``chunks`` as xarray's:
    None (default) plain lazy arrays, ``{}`` dask chunks aligned with the chunk windows
    and values tiles (dask installed). Reads no values."""
    kwargs: dict[str, Any] = {"run": run}
    if fields is not None:
        kwargs["fields"] = list(fields)
    return xr.open_dataset(str(path), engine=LensBackend, chunks=chunks, **kwargs)


def open_store(path: Path | str, run: str | None = None) -> LensStore:
    """The store ``path`` names: a ``.lens`` file alone, or a run dir (:func:`resolve_run_dir`)."""
    target = Path(path)
    if target.is_file():
        return LensStore.of_file(target)
    if not target.exists():
        raise LensError(
            f"{target} does not exist (expected a lens run dir, a lens root or a .lens file)"
        )
    return LensStore(resolve_run_dir(target, run))


class LensBackend(BackendEntrypoint):
    """xarray's door to lens run dirs and ``.lens`` files (run ids: ``continuum.datasets``)."""

    description = "Continuum lens runs (field history) as lazily read datasets"
    open_dataset_parameters: ClassVar[tuple[str, ...] | None] = (
        "filename_or_obj",
        "drop_variables",
        "run",
        "fields",
    )

    def open_dataset(
        self,
        filename_or_obj: Any,
        *,
        drop_variables: Iterable[str] | None = None,
        run: str | None = None,
        fields: Iterable[str] | None = None,
    ) -> xr.Dataset:
        store = open_store(_path_of(filename_or_obj), run)
        try:
            ds = dataset_of(store, fields)
        except BaseException:
            store.close()
            raise
        return ds.drop_vars(list(drop_variables or ()), errors="ignore")

    def guess_can_open(self, filename_or_obj: Any) -> bool:
        try:
            path = Path(_path_of(filename_or_obj))
        except LensError:
            return False
        return (path.is_file() and path.suffix == ".lens") or (
            path.is_dir() and is_lens_run_dir(path)
        )


def _path_of(obj: Any) -> str:
    if isinstance(obj, str | Path):
        return str(obj)
    raise LensError(f"Expected a lens path, got {type(obj).__name__} instead")


# -- the dataset ----------------------------------------------------------------------------


class _Reader:
    """One store shared by a dataset's arrays, its reads serialised."""

    def __init__(self, store: LensStore, ticks: np.ndarray) -> None:
        self.store = store
        self.ticks = ticks
        self.lock = threading.Lock()


class LensArray(BackendArray):
    """One lazy array of a lens dataset: a field's values, a point field's positions, or
    the sim times; indexed by xarray (outer indexing), read by :mod:`.blocks`."""

    def __init__(self, reader: _Reader, what: str, name: str, shape: tuple[int, ...]) -> None:
        self.reader, self.what, self.name = reader, what, name
        self.shape = shape
        self.dtype = np.dtype(np.float64)

    def __getitem__(self, key: indexing.ExplicitIndexer) -> np.ndarray:
        return indexing.explicit_indexing_adapter(
            key, self.shape, indexing.IndexingSupport.OUTER, self._raw
        )

    def _raw(self, key: tuple[Any, ...]) -> np.ndarray:
        picks = [np.arange(n)[k] for n, k in zip(self.shape, key)]
        dropped = tuple(0 if np.ndim(p) == 0 else slice(None) for p in picks)
        picks = [np.atleast_1d(p) for p in picks]
        ticks, tick_back = np.unique(picks[0], return_inverse=True)
        at = self.reader.ticks[ticks]
        with self.reader.lock:
            if self.what == "sim_time":
                return blocks.read_times(self.reader.store, at)[tick_back][dropped]
            samples = (
                picks[1] if len(self.shape) > 1 and self.what != "global" else np.zeros(1, np.int64)
            )
            uniq, back = np.unique(samples.astype(np.int64), return_inverse=True)
            if self.what == "position":
                got = blocks.read_positions(self.reader.store, self.name, at, uniq)
            else:
                got = blocks.read_block(self.reader.store, self.name, at, uniq)
        if not _identity(tick_back):
            got = got[tick_back]
        if not _identity(back):
            got = got[:, back]
        if self.what == "global":
            got = got[:, 0]
            rest = picks[1:]
        else:
            rest = picks[2:]
        if rest:  # the component axis
            got = got[..., rest[0]]
        return got[dropped]


def _identity(order: np.ndarray) -> bool:
    """Whether ``order`` is 0, 1, ..., n - 1 (indexing by it would only copy)."""
    return bool(
        len(order) == 0
        or (order[0] == 0 and order[-1] == len(order) - 1 and np.all(np.diff(order) == 1))
    )


def dataset_of(store: LensStore, fields: Iterable[str] | None = None) -> xr.Dataset:
    """The dataset of ``store``: structure and coordinates now, values lazily."""
    names = store.fields if fields is None else list(fields)
    for name in names:
        store._check_field(name)
    ticks = blocks.run_ticks(store)
    reader = _Reader(store, ticks)
    windows = blocks.tick_windows(store, ticks)
    n = len(ticks)
    coords: dict[str, xr.Variable] = {
        "tick": xr.Variable(
            "tick", ticks, {"long_name": "simulation tick (captured frames; gaps absent)"}
        ),
        "sim_time": _lazy(
            ("tick",), LensArray(reader, "sim_time", "", (n,)), _time_attrs(store), windows
        ),
    }
    variables: dict[str, xr.Variable] = {}
    topology = store.topology
    for name in names:
        config = store.config(name)
        tail = ("component",) if config.kind == "vec3" else ()
        attrs = _field_attrs(store, name, config)
        tile = _tile(store, name)
        if config.positions == GLOBAL:
            shape = (n, 3) if tail else (n,)
            array = LensArray(reader, "global", name, shape)
            variables[name] = _lazy(("tick", *tail), array, attrs, windows)
            continue
        dim = "sample" if config.positions == CELLS else f"{name}.point"
        shape = (n, config.samples, *((3,) if tail else ()))
        array = LensArray(reader, "values", name, shape)
        variables[name] = _lazy(("tick", dim, *tail), array, attrs, windows, tile)
        if config.positions == POINTS:
            where = LensArray(reader, "position", name, (n, config.samples, 3))
            coords[f"{name}.position"] = _lazy(
                ("tick", dim, "component"),
                where,
                {
                    "long_name": f"positions of the samples of {name} (unit vectors)",
                    "units": "1",
                    "components": " ".join(COMPONENTS),
                },
                windows,
                tile,
            )
        elif topology is not None and "face" not in coords:
            coords.update(_cell_coords(topology))
    ds = xr.Dataset(variables, coords=coords, attrs=_dataset_attrs(store))
    ds.set_close(store.close)
    return ds


def _lazy(
    dims: tuple[str, ...],
    array: LensArray,
    attrs: dict[str, Any],
    windows: tuple[int, ...],
    tile: int | None = None,
) -> xr.Variable:
    """A variable over ``array``, its preferred chunks the chunk windows and tiles."""
    preferred: dict[str, Any] = {"tick": windows or 1}
    if tile is not None and len(dims) > 1:
        preferred[dims[1]] = tile
    encoding = {"preferred_chunks": preferred, "dtype": np.dtype(np.float64)}
    return xr.Variable(dims, indexing.LazilyIndexedArray(array), attrs, encoding)


def _tile(store: LensStore, name: str) -> int:
    """The values tile of ``name`` (the first chunk holding it: one header read)."""
    for ref in store.chunks:
        if name in ref.fields:
            return int(store._file(ref).header.tiles[name])
    return 1


def _field_attrs(store: LensStore, name: str, config: FieldConfig) -> dict[str, Any]:
    attrs: dict[str, Any] = {"long_name": name}
    units = store.units(name)
    if units:
        attrs["units"] = units
    known = STANDARD_NAMES.get(name)
    if known is not None and units in known[1]:
        attrs["standard_name"] = known[0]
    attrs["lens_kind"] = config.kind
    if config.kind == "vec3":
        attrs["components"] = " ".join(COMPONENTS)
    attrs["lens_positions"] = config.positions
    return attrs


def _time_attrs(store: LensStore) -> dict[str, Any]:
    attrs: dict[str, Any] = {"long_name": "simulation time"}
    if store.time_units:
        attrs["units"] = store.time_units
    return attrs


def _cell_coords(topology: CubedSphere) -> dict[str, xr.Variable]:
    """face, i, j, lat, lon of every cell (degrees), computed from the topology."""
    n = topology.resolution
    cells = np.arange(topology.n_cells)
    return {
        "face": xr.Variable(
            "sample",
            (cells // (n * n)).astype(np.int8),
            {"long_name": "cube face (0..5: +X -X +Y -Y +Z -Z)"},
        ),
        "i": xr.Variable("sample", (cells // n % n).astype(np.int16), {"long_name": "cell row"}),
        "j": xr.Variable("sample", (cells % n).astype(np.int16), {"long_name": "cell column"}),
        "lat": xr.Variable(
            "sample",
            np.degrees(topology.lat),
            {"standard_name": "latitude", "units": "degrees_north", "long_name": "latitude"},
        ),
        "lon": xr.Variable(
            "sample",
            np.degrees(topology.lon),
            {"standard_name": "longitude", "units": "degrees_east", "long_name": "longitude"},
        ),
    }


def topology_attrs(spec: dict[str, Any] | None) -> dict[str, Any]:
    """The topology as attributes a reader without Continuum can use (netCDF attributes
    are strings and numbers): kind, resolution, projection, face order, each face's frame
    and the formula of a cell centre."""
    if not spec:
        return {}
    return {
        "topology": json.dumps(spec, sort_keys=True),
        "topology_kind": str(spec.get("kind", "")),
        "topology_resolution": int(spec.get("resolution", 0)),
        "topology_projection": str(spec.get("projection", "equiangular_gnomonic")),
        "topology_face_order": " ".join(
            spec.get("face_order", ("+X", "-X", "+Y", "-Y", "+Z", "-Z"))
        ),
        "topology_cell_order": str(spec.get("cell_order", "face,i,j")),
        "topology_sample": "sample = face * N * N + i * N + j",
        "topology_face_frames": FACE_FRAMES,
        "topology_cell_centre": CELL_CENTRE,
    }


def _dataset_attrs(store: LensStore) -> dict[str, Any]:
    ident = store._identity()
    attrs: dict[str, Any] = {
        "Conventions": "CF-1.10",
        "title": f"lens field history of run {ident.run_id}",
        "source": "continuum lens",
        "run_id": ident.run_id,
        "world": ident.world,
    }
    for key in ("seed", "ir_hash", "stride"):
        value = getattr(ident, key)
        if value is not None:
            attrs[key] = value
    attrs.update(topology_attrs(ident.topology))
    gaps = store.gaps
    attrs["lens_gaps"] = json.dumps([[g.start, g.end, g.cause] for g in gaps])
    attrs["lens_missing_ticks"] = sum(g.ticks for g in gaps)
    return attrs
