"""``open_dataset(run_id | path)``: a run id becomes its lens dir through the catalog.

A path (a lens run dir, a lens root, a ``.lens`` file) is the lens's own
(:func:`continuum.lens.open_dataset`). A string that is no existing path but a run id is
looked up in the catalog (``catalog`` URL, else ``$CONTINUUM_CATALOG``, else the default
file — never created by the lookup: with no catalog there is no run to find). xarray
makes every path of ``open_mfdataset`` absolute, so a missing path whose last part is a
run id is looked up the same way: ``xr.open_mfdataset(["RUN_A", "RUN_B"],
engine="continuum", ...)`` opens both runs.
"""

from __future__ import annotations

import os
from collections.abc import Iterable
from pathlib import Path
from typing import TYPE_CHECKING, Any

from continuum import layout
from continuum.errors import LensError

if TYPE_CHECKING:
    import xarray as xr


def lens_dir_of(source: Path | str, catalog: str | None = None) -> Path:
    """The lens path ``source`` names: itself if it exists, else the lens dir the catalog
    records for the run id it is (or ends in). An ``s3://`` location is read through a
    local view of its names (:func:`continuum.lens.remote.remote_view`)."""
    if layout.is_object_url(source):
        from continuum.lens.remote import remote_path

        return remote_path(str(source))
    path = Path(source)
    if path.exists():
        return path
    run_id = path.name
    bare = str(source) == run_id or path == Path.cwd() / run_id  # xarray's abspath of one
    if not (bare and layout.is_run_id(run_id)):
        raise LensError(
            f"{source} does not exist (expected a run id, a lens run dir, a lens root or a "
            ".lens file)"
        )
    return _catalog_lens_dir(run_id, catalog)


def _catalog_lens_dir(run_id: str, url: str | None) -> Path:
    from continuum.catalog import Catalog, default_catalog_path
    from continuum.errors import RunNotFoundError

    if (
        url is None
        and not os.environ.get("CONTINUUM_CATALOG")
        and not default_catalog_path().is_file()
    ):
        raise LensError(f"no catalog to find run {run_id} in; pass its lens dir instead")
    try:
        with Catalog(url) as cat:
            lens_dir = cat.runs.get(run_id).lens_dir
    except RunNotFoundError:
        raise LensError(
            f"run {run_id} is not in the catalog (continuum catalog list shows the runs); "
            "pass its lens dir instead"
        ) from None
    if lens_dir is None:
        raise LensError(f"run {run_id} captured no lens data (it ran without --lens-dir)")
    if layout.is_object_url(lens_dir):
        from continuum.lens.remote import remote_path

        return remote_path(lens_dir)
    return Path(lens_dir)


def open_dataset(
    source: Path | str,
    *,
    catalog: str | None = None,
    run: str | None = None,
    fields: Iterable[str] | None = None,
    chunks: Any = None,
) -> xr.Dataset:
    """The lens run ``source`` names (a run id or a lens path) as a lazily read Dataset
    (:func:`continuum.lens.open_dataset`: no value is read until indexed; ``chunks={}``
    for dask chunks aligned with the chunk windows and tiles)."""
    from continuum.lens import open_dataset as open_lens

    return open_lens(lens_dir_of(source, catalog), run=run, fields=fields, chunks=chunks)
