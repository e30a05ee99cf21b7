"""A lens run as an xarray Dataset: the same values as LensStore, read only when indexed."""

from __future__ import annotations

import json
import subprocess
import sys

import numpy as np
import pytest

xr = pytest.importorskip("xarray")

from continuum.errors import LensError  # noqa: E402
from continuum.lens import LensStore, open_dataset  # noqa: E402
from continuum.lens.dataset import dataset_of  # noqa: E402

CELL_FIELDS = ("atmosphere.temperature", "surface.elevation")
VECTOR = "plates.velocity"
TICKS = [*range(20), *range(25, 41)]  # the gap [20, 25) is absent
CHUNKS = [None, {}]  # plain lazy arrays; dask chunks aligned with the windows


@pytest.fixture
def store(gappy_lens_run):
    with LensStore(gappy_lens_run) as s:
        yield s


def test_opening_reads_no_values_and_indexing_reads_only_what_it_needs(gappy_lens_run):
    with LensStore(gappy_lens_run) as store:
        ds = dataset_of(store)
        repr(ds)  # what a notebook shows: structure, no values
        assert store.reads.tiles == 0
        frame = ds["atmosphere.temperature"].sel(tick=7).values
        assert store.reads.tiles == 1 and frame.shape == (384,)  # one row of its one tile
    with LensStore(gappy_lens_run) as reference:
        reference.at("atmosphere.temperature", 7)
        assert reference.reads.tiles == 1  # the same cost through the store


def test_structure_gaps_are_missing_ticks(gappy_lens_run, store):
    ds = open_dataset(gappy_lens_run, chunks=None)
    assert ds["tick"].values.tolist() == TICKS
    assert json.loads(ds.attrs["lens_gaps"]) == [[20, 25, "lost"]]
    assert ds.attrs["lens_missing_ticks"] == 5
    assert sorted(ds.data_vars) == sorted([*CELL_FIELDS, VECTOR])
    temp = ds["atmosphere.temperature"]
    assert temp.dims == ("tick", "sample")
    assert ds[VECTOR].dims == ("tick", f"{VECTOR}.point", "component")
    assert ds[f"{VECTOR}.position"].dims == ("tick", f"{VECTOR}.point", "component")
    assert temp.attrs["units"] == "K" and temp.attrs["standard_name"] == "air_temperature"
    assert temp.attrs["long_name"] == "atmosphere.temperature"
    assert ds["surface.elevation"].attrs["standard_name"] == "surface_altitude"
    assert ds[VECTOR].attrs["units"] == "1" and "standard_name" not in ds[VECTOR].attrs
    assert ds["sim_time"].attrs["units"] == "yr"
    np.testing.assert_array_equal(ds["sim_time"].values, store.field_times(VECTOR))
    topo = store.topology
    np.testing.assert_array_equal(ds["lat"].values, np.degrees(topo.lat))
    np.testing.assert_array_equal(ds["lon"].values, np.degrees(topo.lon))
    n = topo.resolution
    cells = ds["face"].values.astype(int) * n * n + ds["i"].values * n + ds["j"].values
    np.testing.assert_array_equal(cells, np.arange(topo.n_cells))
    assert ds.attrs["run_id"] == gappy_lens_run.name and ds.attrs["topology_resolution"] == n


@pytest.mark.parametrize("chunks", CHUNKS)
def test_points_slices_and_histories_equal_the_store(gappy_lens_run, store, chunks):
    ds = open_dataset(gappy_lens_run, chunks=chunks)
    centres = store.topology.centres
    for name in CELL_FIELDS:
        for tick in (0, 19, 25, 40):
            frame = store.at(name, tick)
            np.testing.assert_array_equal(ds[name].sel(tick=tick).values, frame.values)
            for j in (0, 200, 383):
                value = store.query(name, centres[j], tick=tick).value
                assert float(ds[name].sel(tick=tick).isel(sample=j).values) == value
        for j in (3, 250):
            history = store.history(name, centres[j], across_gaps=True)
            got = ds[name].isel(sample=j)
            np.testing.assert_array_equal(got["tick"].values, history.ticks)
            np.testing.assert_array_equal(got.values, history.values)
            np.testing.assert_array_equal(got["sim_time"].values, history.sim_times)
        window = ds[name].sel(tick=slice(5, 30)).isel(sample=slice(10, 40)).values
        expected = [store.at(name, t).values[10:40] for t in TICKS if 5 <= t <= 30]
        np.testing.assert_array_equal(window, np.stack(expected))


@pytest.mark.parametrize("chunks", CHUNKS)
def test_a_vector_field_at_moving_points_equals_the_store(gappy_lens_run, store, chunks):
    ds = open_dataset(gappy_lens_run, chunks=chunks)
    values = ds[VECTOR].values
    positions = ds[f"{VECTOR}.position"].values
    for n, tick in enumerate(TICKS):
        frame = store.at(VECTOR, tick)
        np.testing.assert_array_equal(values[n], frame.values)
        np.testing.assert_array_equal(positions[n], frame.positions)
    np.testing.assert_array_equal(
        ds[VECTOR].isel(component=2).sel(tick=33).values, store.at(VECTOR, 33).values[:, 2]
    )


def test_dask_chunks_follow_the_chunk_windows_and_tiles(gappy_lens_run):
    pytest.importorskip("dask")
    assert open_dataset(gappy_lens_run)["atmosphere.temperature"].chunks is None  # default
    ds = open_dataset(gappy_lens_run, chunks={})
    # windows [0, 10), [10, 20), [20, 30) holds 25..29 (the gap before), [30, 40), [40, 50)
    assert ds["atmosphere.temperature"].chunks == ((10, 10, 5, 10, 1), (384,))
    assert ds[VECTOR].chunks == ((10, 10, 5, 10, 1), (12,), (3,))


def test_one_lens_file_is_its_own_dataset(gappy_lens_run, store):
    path = gappy_lens_run / "lens_snapshot_0000000030-0000000040.lens"
    ds = open_dataset(path, chunks=None)
    assert ds["tick"].values.tolist() == list(range(30, 40))
    np.testing.assert_array_equal(
        ds["surface.elevation"].sel(tick=31).values, store.at("surface.elevation", 31).values
    )


def test_a_field_subset_and_an_unknown_field(gappy_lens_run):
    ds = open_dataset(gappy_lens_run, fields=["surface.elevation"], chunks=None)
    assert list(ds.data_vars) == ["surface.elevation"]
    with pytest.raises(LensError, match="no field 'bogus'"):
        open_dataset(gappy_lens_run, fields=["bogus"])


def test_bad_paths_and_foreign_files_are_one_line(tmp_path):
    foreign = tmp_path / "notes.lens"
    foreign.write_text("not a lens file")
    empty = tmp_path / "empty"
    empty.mkdir()
    for target, fragment in [
        (tmp_path / "missing", "does not exist"),
        (foreign, "not a Continuum LENS file"),
        (empty, "holds no lens data"),
    ]:
        with pytest.raises(LensError, match=fragment) as caught:
            open_dataset(target)
        assert "\n" not in str(caught.value)


def test_importing_the_lens_loads_no_xarray():
    code = "import sys, json, continuum.lens; print(json.dumps(sorted(sys.modules)))"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    loaded = {name.split(".")[0] for name in json.loads(out.stdout)}
    assert not loaded & {"xarray", "dask", "h5netcdf", "zarr", "pandas"}


def test_global_fields_and_a_field_missing_from_some_frames(tmp_path):
    """A global scalar is (tick,), a global vector (tick, component); a field a frame does
    not hold is NaN there, and the ticks past the last frame of the chunk's range are a gap."""
    from continuum import layout
    from continuum.lens import FieldLens, write_chunk

    from .gap_dirs import RUN_ID, TOPOLOGY, identity

    run_dir = tmp_path / RUN_ID
    run_dir.mkdir()
    frames = FieldLens(TOPOLOGY, max_frames=None)
    for t in range(6):
        fields: dict = {"core.temp": float(t), "t.temp": [float(t)] * TOPOLOGY.n_cells}
        if t % 2 == 0:
            fields["core.dipole"] = [float(t), 0.0, 1.0]
        frames.record_many(t, fields, sim_time=10.0 * t)
    path = layout.lens_chunk_path(run_dir, 0, 10)
    write_chunk(path, frames.to_chunk(), identity(1), tick_range=(0, 10))
    ds = open_dataset(run_dir)
    assert ds["tick"].values.tolist() == [0, 1, 2, 3, 4, 5]
    assert json.loads(ds.attrs["lens_gaps"]) == [[6, 10, "missing"]]
    assert ds["core.temp"].dims == ("tick",)
    assert ds["core.temp"].values.tolist() == [0.0, 1.0, 2.0, 3.0, 4.0, 5.0]
    assert ds["core.dipole"].dims == ("tick", "component")
    dipole = ds["core.dipole"].values
    assert np.isnan(dipole[1::2]).all()
    assert ds["core.dipole"].isel(component=0).values[::2].tolist() == [0.0, 2.0, 4.0]
    with LensStore(run_dir) as store:
        np.testing.assert_array_equal(dipole[4], store.at("core.dipole", 4).values[0])
        np.testing.assert_array_equal(ds["t.temp"].sel(tick=3).values, store.at("t.temp", 3).values)
    assert ds["sim_time"].values.tolist() == [0.0, 10.0, 20.0, 30.0, 40.0, 50.0]
