"""Units in lens files: recorded from the world, read back, checked, absent in older files."""

from __future__ import annotations

import dataclasses
import shutil
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from continuum import layout
from continuum.errors import LensCorruptError
from continuum.lens import FieldLens, LensStore
from continuum.lens.format import ChunkFile, read_chunk_header, write_chunk
from continuum.lens.plot import render_map
from continuum.world.units import MAX_UNITS_CHARS, units_problem
from tests.blobs.craft import rewrite

NAME = layout.lens_chunk_name(10, 20)


def forged(src: Path, dst: Path, mutate) -> Path:
    """A copy of chunk ``src`` whose header ``mutate`` changed (checksum recomputed)."""
    dst.write_bytes(rewrite(src.read_bytes(), lambda header: mutate(header["meta"])))
    return dst


def test_chunks_record_the_worlds_units(lens_run):
    with ChunkFile(lens_run / NAME) as chunk:
        assert chunk.units("atmosphere.temperature") == "K"
        assert chunk.units("surface.elevation") == "m"
        assert chunk.units("plates.velocity") == "1"
        assert chunk.time_units == "yr"
        assert {s: chunk.signal_units(s) for s in chunk.header.signals} == {
            "core.dipole": "1",
            "core.temp": "K",
            "impacts.flux": "K",
            "mantle.temp": "K",
        }
    assert read_chunk_header(lens_run / NAME).identity.field_units["surface.elevation"] == "m"


def test_the_store_gives_units_per_field_and_in_its_summary(lens_run):
    with LensStore(lens_run) as store:
        assert {f: store.units(f) for f in store.fields} == {
            "atmosphere.temperature": "K",
            "plates.velocity": "1",
            "surface.elevation": "m",
        }
        assert store.time_units == "yr"
        summary = store.summary()
        assert summary["units"]["atmosphere.temperature"] == "K"
        assert summary["time_units"] == "yr"
        assert store.identity.field_units == summary["units"]  # what compact writes
        recon = store.at("surface.elevation", 12)
        assert (recon.units, recon.time_units) == ("m", "yr")


def test_an_older_file_without_units_still_loads(lens_run, tmp_path):
    def drop(meta):
        for config in meta["field_configs"].values():
            config.pop("units", None)
        meta.pop("signal_units", None)
        meta.pop("time_units", None)

    run = tmp_path / lens_run.name
    run.mkdir()
    old = forged(lens_run / NAME, run / NAME, drop)
    with ChunkFile(old) as chunk:
        assert chunk.units("atmosphere.temperature") is None and chunk.time_units is None
        assert chunk.header.identity.signal_units == {}
        chunk.verify()
    with LensStore(run) as store:
        assert store.units("atmosphere.temperature") is None
        assert store.summary()["units"] == {} and store.summary()["time_units"] is None
        assert store.at("atmosphere.temperature", 12).units is None


def test_a_chunk_written_without_units_has_no_units_keys(tmp_path, lens_run):
    with ChunkFile(lens_run / NAME) as chunk:
        data = chunk.read_all()
        ident = chunk.header.identity
    bare = dataclasses.replace(ident, field_units={}, signal_units={}, time_units=None)
    info = write_chunk(tmp_path / NAME, data, bare)
    meta = info.header.meta
    assert "signal_units" not in meta and "time_units" not in meta
    assert not any("units" in c for c in meta["field_configs"].values())


@pytest.mark.parametrize(
    ("mutate", "fragment"),
    [
        (lambda m: m["field_configs"]["surface.elevation"].update(units="m\x1b[2J"), "printable"),
        (lambda m: m["field_configs"]["surface.elevation"].update(units=""), "units"),
        (lambda m: m["field_configs"]["surface.elevation"].update(units="x" * 33), "units"),
        (lambda m: m["field_configs"]["surface.elevation"].update(units=7), "units"),
        (lambda m: m.update(time_units=" yr"), "$.time_units"),
        (lambda m: m.update(signal_units={"no.such": "K"}), "a signal the file does not hold"),
        (lambda m: m.update(signal_units={"core.temp": "K\n"}), "printable"),
    ],
)
def test_forged_units_are_refused_in_one_line(lens_run, tmp_path, mutate, fragment):
    path = forged(lens_run / NAME, tmp_path / NAME, mutate)
    with pytest.raises(LensCorruptError) as info:
        ChunkFile(path)
    message = str(info.value)
    assert str(path) in message and fragment in message
    assert "\n" not in message and "\x1b" not in message


def test_compact_keeps_the_units(lens_run, tmp_path):
    run = tmp_path / lens_run.name
    shutil.copytree(lens_run, run)
    with LensStore(run) as store:
        info = store.compact()
    with ChunkFile(info.path) as full:
        assert full.units("atmosphere.temperature") == "K" and full.time_units == "yr"


def test_a_plot_labels_the_colour_bar_and_sim_time_with_units(lens_run, tmp_path):
    matplotlib = pytest.importorskip("matplotlib")
    with LensStore(lens_run) as store:
        recon = store.at("atmosphere.temperature", 12)
        points = store.at("plates.velocity", 12)
    png = render_map(recon, tmp_path / "map.png", width=180)
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and png.stat().st_size > 1000
    with matplotlib.rc_context({"svg.fonttype": "none"}):  # text kept as text, to read back
        svg = render_map(recon, tmp_path / "map.svg", width=180).read_text()
        arrows = render_map(points, tmp_path / "plates.svg", width=180).read_text()
    assert "atmosphere.temperature (K)" in svg
    assert f"sim time {recon.sim_time:g} yr" in svg
    assert "|plates.velocity| (1)" in arrows


def test_frames_held_in_memory_keep_the_units(lens_run, tmp_path):
    with LensStore(lens_run) as store:
        lens = store.load(["surface.elevation"])
    assert (
        lens.at("surface.elevation", 12).units,
        lens.latest("surface.elevation").time_units,
    ) == (
        "m",
        "yr",
    )
    snapshot = FieldLens.load_snapshot(lens.save_snapshot(tmp_path / "s.lens").path)
    assert snapshot.at("surface.elevation", 12).units == "m"


ACCEPTED = st.text(min_size=1, max_size=MAX_UNITS_CHARS).filter(lambda t: units_problem(t) is None)


@settings(max_examples=40, deadline=None)
@given(field_units=ACCEPTED, time_units=ACCEPTED)
def test_any_unit_the_world_accepts_round_trips_through_a_header(
    lens_run, tmp_path_factory, field_units, time_units
):
    with ChunkFile(lens_run / NAME) as chunk:
        data, ident = chunk.read_all(), chunk.header.identity
    units = dataclasses.replace(
        ident, field_units={"surface.elevation": field_units}, time_units=time_units
    )
    path = tmp_path_factory.mktemp("units") / NAME
    write_chunk(path, data, units)
    with ChunkFile(path) as chunk:
        assert chunk.units("surface.elevation") == field_units
        assert chunk.units("atmosphere.temperature") is None
        assert chunk.time_units == time_units
