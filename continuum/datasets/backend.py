"""The xarray backend ``engine="continuum"`` (entry point in ``pyproject.toml``).

The lens's backend (:class:`continuum.lens.dataset.LensBackend`) with run ids: a path
that does not exist but is (or ends in) a run id is looked up in the catalog
(:func:`continuum.datasets.open.lens_dir_of`; ``catalog=URL`` picks one). So
``xr.open_dataset(RUN_ID, engine="continuum", chunks={})`` and ``xr.open_mfdataset``
over several runs work; ``chunks={}`` gives dask chunks aligned with the chunk windows
and values tiles.
"""

from __future__ import annotations

import os
from collections.abc import Iterable
from typing import Any

import xarray as xr

from continuum.datasets.open import lens_dir_of
from continuum.lens.dataset import LensBackend


class ContinuumBackend(LensBackend):
    """Lens runs by run id, lens dir or ``.lens`` file."""

    description = "Continuum lens runs (by run id, lens dir or .lens file) as lazy datasets"
    open_dataset_parameters = ("filename_or_obj", "drop_variables", "run", "fields", "catalog")

    def open_dataset(
        self,
        filename_or_obj: Any,
        *,
        drop_variables: Iterable[str] | None = None,
        run: str | None = None,
        fields: Iterable[str] | None = None,
        catalog: str | None = None,
    ) -> xr.Dataset:
        path = filename_or_obj
        if isinstance(path, str | os.PathLike):
            path = str(lens_dir_of(os.fspath(path), catalog))
        return super().open_dataset(path, drop_variables=drop_variables, run=run, fields=fields)
