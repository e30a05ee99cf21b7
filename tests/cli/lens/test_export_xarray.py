"""``continuum lens export --format netcdf|zarr --output PATH``."""

from __future__ import annotations

import numpy as np
import pytest

xr = pytest.importorskip("xarray")
pytest.importorskip("h5netcdf")
pytest.importorskip("zarr")

from continuum.lens import LensStore  # noqa: E402
from tests.cli.conftest import assert_one_line_error, invoke, ok_json  # noqa: E402


@pytest.mark.parametrize("fmt, name", [("netcdf", "run.nc"), ("zarr", "run.zarr")])
def test_export_writes_the_selected_frames_and_fields(gappy_lens_run, tmp_path, fmt, name):
    out = tmp_path / "sub" / name  # its directory is made, as for Parquet
    args = ("lens", "export", gappy_lens_run, "--format", fmt, "--output", out)
    info = ok_json(*args, "--fields", "surface.elevation", "--from", 15, "--to", 30, "--json")
    assert info["format"] == fmt and info["fields"] == "surface.elevation"
    assert info["frames"] == 11  # 15..19, 25..30: the gap is not exported as rows
    back = xr.open_zarr(out) if fmt == "zarr" else xr.open_dataset(out, engine="h5netcdf")
    assert list(back.data_vars) == ["surface.elevation"]
    assert back["tick"].values.tolist() == [15, 16, 17, 18, 19, 25, 26, 27, 28, 29, 30]
    with LensStore(gappy_lens_run) as store:
        expected = store.at("surface.elevation", 27).values
    np.testing.assert_array_equal(back["surface.elevation"].sel(tick=27).values, expected)


def test_a_run_id_is_found_in_the_catalog(gappy_lens_run, tmp_path):
    out = tmp_path / "by-id.nc"
    info = ok_json(
        "lens", "export", "--run", gappy_lens_run.name, "--format", "netcdf", "--output", out,
        "--json",
    )  # fmt: skip
    assert info["run_id"] == gappy_lens_run.name and out.is_file()


def test_parquet_stays_the_default(gappy_lens_run, tmp_path):
    parts = tmp_path / "parts"  # not recorded: the session's catalog lists no export outside
    info = ok_json("lens", "export", gappy_lens_run, "--output", parts, "--no-catalog", "--json")
    assert "format" not in info and info["rows"] > 0
    assert list((tmp_path / "parts").rglob("*.parquet"))


def test_bad_requests_are_one_line(gappy_lens_run, tmp_path):
    base = ("lens", "export", gappy_lens_run)
    (tmp_path / "a_dir").mkdir()
    (tmp_path / "a_file").write_text("x")
    (tmp_path / "foreign").mkdir()
    (tmp_path / "foreign" / "keep.txt").write_text("x")
    cases = [
        (("--format", "netcdf"), "--format netcdf writes one path: pass --output"),
        (("--format", "zarr", "--output", tmp_path / "a_file"), "is not a directory"),
        (("--format", "zarr", "--output", tmp_path / "foreign"), "is not a Zarr store"),
        (("--format", "netcdf", "--output", tmp_path / "a_dir"), "is a directory"),
        (("--format", "netcdf", "--output", tmp_path / "x.nc", "--from", 21, "--to", 24),
         "no captured tick in [21, 24]"),
        (("--format", "netcdf", "--output", tmp_path / "x.nc", "--fields", "bogus"),
         "no field 'bogus'"),
    ]  # fmt: skip
    for extra, fragment in cases:
        assert_one_line_error(invoke(*base, *extra), fragment)
    assert not (tmp_path / "x.nc").exists()
    assert_one_line_error(
        invoke("lens", "export", tmp_path / "a_file", "--format", "netcdf", "--output", "y.nc"),
        "not a Continuum LENS file",
    )
    result = invoke(*base, "--format", "zarr", "--output", tmp_path / "z", "--layout", "cell")
    assert result.exit_code == 2 and "--layout cell is a Parquet layout" in result.stderr
