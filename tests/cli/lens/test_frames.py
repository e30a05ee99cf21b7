"""``continuum lens`` and ``continuum run --lens-*``: outputs, and one-line errors."""

from __future__ import annotations

import csv
import io
import sys
from pathlib import Path

import numpy as np
import pytest

from tests.cli.conftest import assert_one_line_error, invoke, ok, ok_json, run_json
from tests.lens.helpers import reference, run, run_dir

STEPS, STRIDE = 30, 2


@pytest.fixture(scope="module")
def lens_root(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("cli") / "lens"
    run(steps=STEPS, lens_dir=root, lens_stride=STRIDE, lens_chunk_size=8)
    return root


@pytest.fixture(scope="module")
def expected():
    return reference(STEPS, stride=STRIDE)


def test_load_a_run_dir_and_a_file(lens_root):
    info = ok_json("lens", "load", lens_root, "--json")
    assert info["frames"] == STEPS // STRIDE + 1 and info["tick_range"] == [0, 31]
    assert info["fields"] == ["atmosphere.temperature", "plates.velocity", "surface.elevation"]
    first = sorted(Path(info["path"]).glob("lens_snapshot_*.lens"))[0]
    text = ok("lens", "load", first, "--verify")
    assert "tick_range  [0, 8)" in text and "verified: 1 lens file(s) intact" in text


def test_query_prints_the_value(lens_root, expected):
    where = ["--position", "1,0,0", "--lens-dir", lens_root]
    out = ok_json("lens", "query", "surface.elevation", "--tick", 12, *where, "--json")
    assert out["value"] == expected.query("surface.elevation", [1, 0, 0], tick=12).value
    assert out["rule"] == "containing" and out["ticks"] == [12, 12]
    where = ["--position", "0,0,1", "--lens-dir", lens_root]
    text = ok("lens", "query", "plates.velocity", "--time", "1.3e7", *where)
    assert "nearest; between ticks 12 and 14, w=0.5" in text


def test_history_csv_and_json(lens_root, expected):
    where = ["--position", "0,1,0", "--lens-dir", lens_root]
    text = ok("lens", "history", "atmosphere.temperature", "--from", 4, "--to", 10, *where)
    rows = list(csv.reader(io.StringIO(text)))
    assert rows[0] == ["tick", "sim_time", "value", "units", "time_units"]
    assert [int(r[0]) for r in rows[1:]] == [4, 6, 8, 10]
    want = expected.history("atmosphere.temperature", [0, 1, 0], start=4, stop=10).values
    np.testing.assert_array_equal([float(r[2]) for r in rows[1:]], want)
    out = ok_json("lens", "history", "plates.velocity", "--format", "json", *where)
    assert out["ticks"] == list(range(0, STEPS + 1, STRIDE)) and len(out["values"][0]) == 3


@pytest.mark.parametrize(
    ("args", "fragments"),
    [
        (["query", "nope", "--tick", "2"], ["no field 'nope'", "atmosphere.temperature"]),
        (["query", "surface.elevation", "--tick", "99"], ["tick 99 is outside", "ticks 0..30"]),
        (["history", "nope"], ["captured fields:"]),
        (["history", "surface.elevation", "--from", "50"], ["no frames in [50, None]"]),
        (["query", "surface.elevation"], ["exactly one of --tick"]),
        (["plot", "surface.elevation", "--tick", "3", "--output", "x.png"], ["no frame at tick 3"]),
    ],
)
def test_bad_input_is_one_line(lens_root, args, fragments):
    position = [] if "plot" in args else ["--position", "1,0,0"]
    assert_one_line_error(invoke("lens", *args, *position, "--lens-dir", lens_root), *fragments)


def test_bad_positions_and_dirs_are_one_line(lens_root, tmp_path):
    for bad in ("1,0", "a,b,c", "0,0,0", "nan,0,1"):
        where = ["--position", bad, "--lens-dir", lens_root]
        result = invoke("lens", "query", "surface.elevation", "--tick", 2, *where)
        assert_one_line_error(result, "--position x,y,z")
    assert_one_line_error(invoke("lens", "load", tmp_path / "nowhere"), "does not exist")
    bad_file = tmp_path / "bad.lens"
    bad_file.write_bytes(b"CNTMLENS" + b"\0" * 40)
    assert_one_line_error(invoke("lens", "load", bad_file), "bad.lens")


def test_plot_writes_a_png(lens_root, tmp_path):
    pytest.importorskip("matplotlib")
    for field in ("atmosphere.temperature", "plates.velocity"):
        output = tmp_path / f"{field}.png"
        where = ["--output", output, "--lens-dir", lens_root, "--width", 360]
        ok("lens", "plot", field, "--tick", 10, *where)
        assert output.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_plot_without_matplotlib_says_how_to_install(lens_root, tmp_path, monkeypatch):
    monkeypatch.setitem(sys.modules, "matplotlib", None)
    monkeypatch.setitem(sys.modules, "matplotlib.figure", None)
    where = ["--output", tmp_path / "m.png", "--lens-dir", lens_root]
    result = invoke("lens", "plot", "surface.elevation", "--tick", 10, *where)
    assert_one_line_error(result, "pip install 'continuum[plot]'")


def test_compact_writes_the_full_file(lens_root, tmp_path):
    import shutil

    root = tmp_path / "lens"
    shutil.copytree(lens_root, root)
    text = ok("lens", "compact", "--lens-dir", root)
    (run_path,) = root.iterdir()
    assert (run_path / "lens_snapshot_full.lens").is_file()
    assert f"{STEPS // STRIDE + 1} frames" in text


def test_run_with_lens_options(tmp_path):
    lens = ["--lens-dir", tmp_path, "--lens-stride", 4, "--lens-fields", "surface.elevation"]
    summary = run_json("--steps", 12, *lens)
    assert summary["lens_frames"] == 4
    load = ok_json("lens", "load", run_dir(summary), "--json")
    assert load["fields"] == ["surface.elevation"]


def test_run_with_an_unknown_lens_field_is_one_line(tmp_path):
    lens = ["--lens-dir", tmp_path, "--lens-fields", "nope"]
    result = invoke("run", "terra", "--scenario", "tiny", "--steps", 2, *lens)
    assert_one_line_error(result, "unknown lens field(s) nope", "surface.elevation")
