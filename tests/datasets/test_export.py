"""netCDF and Zarr exports, read back by the other libraries: h5netcdf, netCDF4, zarr."""

from __future__ import annotations

import json
import re

import numpy as np
import pytest

xr = pytest.importorskip("xarray")
h5netcdf = pytest.importorskip("h5netcdf")
netCDF4 = pytest.importorskip("netCDF4")
zarr = pytest.importorskip("zarr")

from continuum.datasets import export_dataset  # noqa: E402
from continuum.errors import LensError  # noqa: E402
from continuum.lens import LensStore, open_dataset  # noqa: E402

FIELDS = ("atmosphere.temperature", "surface.elevation", "plates.velocity")


@pytest.fixture(params=[None, {}], ids=["lazy", "dask"])
def dataset(request, gappy_lens_run):
    if request.param is not None:
        pytest.importorskip("dask")
    ds = open_dataset(gappy_lens_run, chunks=request.param)
    yield ds
    ds.close()


def expected(gappy_lens_run):
    """Every frame of every field, straight from the store."""
    with LensStore(gappy_lens_run) as store:
        ticks = store.field_ticks(FIELDS[0])
        frames = {name: np.stack([store.at(name, int(t)).values for t in ticks]) for name in FIELDS}
        frames["plates.velocity.position"] = np.stack(
            [store.at("plates.velocity", int(t)).positions for t in ticks]
        )
        return ticks, store.field_times(FIELDS[0]), frames


def test_netcdf_reads_back_equal_with_h5netcdf_and_netcdf4(dataset, gappy_lens_run, tmp_path):
    path = tmp_path / "run.nc"
    done = export_dataset(dataset, path, "netcdf")
    assert done.frames == 36 and done.bytes == path.stat().st_size
    ticks, times, frames = expected(gappy_lens_run)
    back = xr.open_dataset(path, engine="h5netcdf")
    np.testing.assert_array_equal(back["tick"].values, ticks)
    np.testing.assert_array_equal(back["sim_time"].values, times)
    for name, values in frames.items():
        np.testing.assert_array_equal(back[name].values, values)
    assert back["atmosphere.temperature"].attrs["standard_name"] == "air_temperature"
    with netCDF4.Dataset(path) as nc:  # the other netCDF library, no xarray
        np.testing.assert_array_equal(nc.variables["tick"][:], ticks)
        np.testing.assert_array_equal(
            nc.variables["surface.elevation"][:], frames["surface.elevation"]
        )
        assert nc.variables["atmosphere.temperature"].units == "K"
        assert json.loads(nc.lens_gaps) == [[20, 25, "lost"]]
        assert_positions_rebuilt(
            {k: nc.getncattr(k) for k in nc.ncattrs()},
            {k: nc.variables[k][:] for k in ("face", "i", "j", "lat", "lon")},
        )


def test_zarr_reads_back_equal_with_zarr_python(dataset, gappy_lens_run, tmp_path):
    path = tmp_path / "run.zarr"
    export_dataset(dataset, path, "zarr")
    ticks, times, frames = expected(gappy_lens_run)
    group = zarr.open_group(path, mode="r")  # zarr-python alone
    np.testing.assert_array_equal(group["tick"][:], ticks)
    np.testing.assert_array_equal(group["sim_time"][:], times)
    for name, values in frames.items():
        np.testing.assert_array_equal(group[name][:], values)
    assert group["surface.elevation"].attrs["units"] == "m"
    assert_positions_rebuilt(
        dict(group.attrs), {k: group[k][:] for k in ("face", "i", "j", "lat", "lon")}
    )
    back = xr.open_zarr(path)
    np.testing.assert_array_equal(back["plates.velocity"].values, frames["plates.velocity"])
    export_dataset(dataset.sel(tick=slice(30, None)), path, "zarr")  # replaces the store
    assert zarr.open_group(path, mode="r")["tick"].shape == (11,)


def assert_positions_rebuilt(attrs: dict, cells: dict) -> None:
    """The topology attributes alone give every cell centre: rebuilt from (face, i, j)
    with the face frames and formula written in the file, it matches lat/lon."""
    n = int(attrs["topology_resolution"])
    axes = {"x": np.eye(3)[0], "y": np.eye(3)[1], "z": np.eye(3)[2]}
    frames = {}
    for part in attrs["topology_face_frames"].split("; "):
        face, rest = part.split(": ")
        vec = dict(re.findall(r"(\w+)=([+-]\w)", rest))
        frames[face] = [(1 if v[0] == "+" else -1) * axes[v[1]] for v in vec.values()]
    order = attrs["topology_face_order"].split()
    normal, e1, e2 = (np.array([frames[order[f]][k] for f in cells["face"]]) for k in range(3))
    alpha = -np.pi / 4 + (np.asarray(cells["i"]) + 0.5) * (np.pi / 2) / n
    beta = -np.pi / 4 + (np.asarray(cells["j"]) + 0.5) * (np.pi / 2) / n
    p = normal + np.tan(alpha)[:, None] * e1 + np.tan(beta)[:, None] * e2
    p /= np.linalg.norm(p, axis=1, keepdims=True)
    np.testing.assert_allclose(np.degrees(np.arcsin(p[:, 2])), cells["lat"], atol=1e-9)
    np.testing.assert_allclose(np.degrees(np.arctan2(p[:, 1], p[:, 0])), cells["lon"], atol=1e-9)


def test_an_unknown_format_and_a_foreign_directory_are_refused(dataset, tmp_path):
    with pytest.raises(LensError, match="Expected a format"):
        export_dataset(dataset, tmp_path / "x", "hdf4")
    (tmp_path / "mine").mkdir()
    (tmp_path / "mine" / "notes.txt").write_text("keep me")
    with pytest.raises(LensError, match="is not a Zarr store"):
        export_dataset(dataset, tmp_path / "mine", "zarr")
    assert (tmp_path / "mine" / "notes.txt").read_text() == "keep me"
