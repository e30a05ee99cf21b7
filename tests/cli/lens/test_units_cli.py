"""Units in ``continuum lens load|query|history|plot``: the world's, as data and as text."""

from __future__ import annotations

import csv
import io
import subprocess
import sys
from pathlib import Path

import pytest

from tests.cli.conftest import ok, ok_json
from tests.lens.helpers import run

STEPS, STRIDE = 12, 2


@pytest.fixture(scope="module")
def lens_root(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("units") / "lens"
    run(steps=STEPS, lens_dir=root, lens_stride=STRIDE, lens_chunk_size=8)
    return root


def test_load_lists_each_field_with_its_unit(lens_root):
    info = ok_json("lens", "load", lens_root, "--json")
    assert info["units"] == {
        "atmosphere.temperature": "K",
        "plates.velocity": "1",
        "surface.elevation": "m",
    }
    assert info["signal_units"]["core.temp"] == "K" and info["time_units"] == "yr"
    first = sorted(Path(info["path"]).glob("lens_snapshot_*.lens"))[0]
    one = ok_json("lens", "load", first, "--json")
    assert one["fields"]["surface.elevation"]["units"] == "m"
    assert one["signal_units"]["mantle.temp"] == "K" and one["time_units"] == "yr"


def test_query_shows_the_unit(lens_root):
    where = ["--position", "1,0,0", "--lens-dir", lens_root]
    out = ok_json("lens", "query", "atmosphere.temperature", "--tick", 4, *where, "--json")
    assert (out["units"], out["time_units"]) == ("K", "yr")
    text = ok("lens", "query", "atmosphere.temperature", "--tick", 4, *where)
    assert text.startswith(f"{out['value']} K  (containing; tick 4)")


def test_history_shows_the_unit_in_csv_and_json(lens_root):
    where = ["--position", "0,1,0", "--lens-dir", lens_root]
    text = ok("lens", "history", "surface.elevation", "--from", 2, "--to", 6, *where)
    rows = list(csv.reader(io.StringIO(text)))
    assert rows[0] == ["tick", "sim_time", "value", "units", "time_units"]
    assert [r[3:] for r in rows[1:]] == [["m", "yr"]] * 3
    vec = list(csv.reader(io.StringIO(ok("lens", "history", "plates.velocity", *where))))
    assert vec[0] == ["tick", "sim_time", "x", "y", "z", "units", "time_units"]
    assert vec[1][5:] == ["1", "yr"]
    out = ok_json("lens", "history", "surface.elevation", "--format", "json", *where)
    assert (out["units"], out["time_units"]) == ("m", "yr")


def test_plot_writes_a_png_labelled_with_units(lens_root, tmp_path):
    pytest.importorskip("matplotlib")
    png = tmp_path / "map.png"
    args = ["lens", "plot", "atmosphere.temperature", "--tick", 4, "--output", png]
    done = subprocess.run(
        [sys.executable, "-m", "continuum", *map(str, args), "--lens-dir", str(lens_root)],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
