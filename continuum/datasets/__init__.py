"""Lens runs as xarray datasets, by run id, and as netCDF and Zarr files.

Owns what the lens's own dataset (:mod:`continuum.lens.dataset`, which reads lens dirs and
``.lens`` files) cannot do from below the catalog: ``open_dataset(run_id | path)``, a run
id resolved to its lens dir through the catalog (``open``); the xarray backend entry point
``engine="continuum"`` that does the same for ``xr.open_dataset`` and
``xr.open_mfdataset`` (``backend``); and the netCDF and Zarr exports of
``continuum lens export --format netcdf|zarr`` (``export``), written through xarray's
own ``to_netcdf``/``to_zarr``, window by window, committed atomically.

Imports: ``continuum.lens``, ``continuum.catalog`` (a run id's lens dir), ``continuum.blobs``
and ``continuum.layout`` (atomic commits, temporary names), ``continuum.errors``; xarray,
h5netcdf and zarr (the ``[xarray]`` extra) only in the modules that need them.
Must not import: sql, maintenance, runner, serve or cli; it writes no catalog rows (a
netCDF or Zarr file is no Parquet export root: ``lens sql`` does not read it).
"""

from typing import TYPE_CHECKING

from continuum import lazy

if TYPE_CHECKING:  # what the names are, for type checkers; at run time, loaded on first use
    from continuum.datasets.backend import ContinuumBackend
    from continuum.datasets.export import FORMATS, Exported, export_dataset
    from continuum.datasets.open import lens_dir_of, open_dataset

_WHERE = {
    "ContinuumBackend": "continuum.datasets.backend",
    "FORMATS": "continuum.datasets.export",
    "Exported": "continuum.datasets.export",
    "export_dataset": "continuum.datasets.export",
    "lens_dir_of": "continuum.datasets.open",
    "open_dataset": "continuum.datasets.open",
}

__all__ = [
    "FORMATS",
    "ContinuumBackend",
    "Exported",
    "export_dataset",
    "lens_dir_of",
    "open_dataset",
]

__getattr__, __dir__ = lazy.exports(__name__, _WHERE, __all__)
