"""Lens runs by run id and through xarray's own ``open_dataset``/``open_mfdataset``."""

from __future__ import annotations

import json
import subprocess
import sys

import numpy as np
import pytest

xr = pytest.importorskip("xarray")

import continuum.datasets as datasets  # noqa: E402
from continuum.errors import LensError  # noqa: E402
from continuum.lens import LensStore  # noqa: E402
from tests.lens.helpers import run, run_dir  # noqa: E402

FIELD = "atmosphere.temperature"


def test_a_run_id_opens_through_the_catalog(gappy_lens_run):
    ds = datasets.open_dataset(gappy_lens_run.name, chunks=None)
    assert ds.attrs["run_id"] == gappy_lens_run.name
    with LensStore(gappy_lens_run) as store:
        np.testing.assert_array_equal(ds[FIELD].sel(tick=30).values, store.at(FIELD, 30).values)


def test_the_continuum_engine_opens_run_ids_and_dirs(gappy_lens_run):
    by_dir = xr.open_dataset(gappy_lens_run, engine="continuum")
    by_id = xr.open_dataset(gappy_lens_run.name, engine="continuum", chunks={})
    assert by_id[FIELD].chunks[0] == (10, 10, 5, 10, 1)
    xr.testing.assert_identical(by_dir.load(), by_id.load())


def test_open_mfdataset_over_several_runs(gappy_lens_run, tmp_path):
    other = run_dir(run(steps=40, seed=5, lens_dir=tmp_path, lens_chunk_size=10))
    ds = xr.open_mfdataset(
        [gappy_lens_run.name, other],
        engine="continuum",
        combine="nested",
        concat_dim="run",
        join="inner",  # the ticks both runs hold (the first lacks its gap)
    )
    assert ds[FIELD].dims == ("run", "tick", "sample")
    assert 22 not in ds["tick"].values and ds.sizes["tick"] == 36
    for k, path in enumerate([gappy_lens_run, other]):
        with LensStore(path) as store:
            got = ds[FIELD].isel(run=k).sel(tick=33).values
            np.testing.assert_array_equal(got, store.at(FIELD, 33).values)


def test_unknown_run_ids_and_paths_are_one_line(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    for source, fragment in [
        ("20990101_000000_deadbeef", "is not in the catalog"),
        ("no/such/dir", "does not exist"),
        ("not a run id", "does not exist"),
    ]:
        with pytest.raises(LensError, match=fragment) as caught:
            datasets.open_dataset(source)
        assert "\n" not in str(caught.value)
    with pytest.raises(LensError, match="is not in the catalog"):
        xr.open_dataset("20990101_000000_deadbeef", engine="continuum")


def test_the_public_names_and_what_importing_them_costs():
    assert sorted(datasets.__all__) == sorted(set(datasets.__all__))
    assert all(hasattr(datasets, n) for n in datasets.__all__)
    code = "import sys, json, continuum.datasets; print(json.dumps(sorted(sys.modules)))"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    loaded = {name.split(".")[0] for name in json.loads(out.stdout)}
    assert not loaded & {"xarray", "dask", "sqlalchemy", "numpy"}
