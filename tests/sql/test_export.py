"""Parquet parts: ordered, self-describing, committed whole (temp, fsync, rename) or not at all."""

from __future__ import annotations

import errno
import os
import subprocess
import sys
from fnmatch import fnmatch
from pathlib import Path

import duckdb
import numpy as np
import pytest

from continuum import layout
from continuum.blobs import atomic, commit_file
from continuum.lens import LensStore
from continuum.sql import export, export_chunk

from .conftest import Runs


def test_time_major_files_are_sorted_by_tick_then_sample(runs: Runs):
    path = runs.part(1, "surface.elevation")
    got = duckdb.execute(f"SELECT tick, sample FROM '{path}'").fetchnumpy()
    order = np.lexsort((got["sample"], got["tick"]))
    assert np.array_equal(order, np.arange(len(order)))


def test_cells_have_face_i_j_and_metadata(runs: Runs):
    """Cell files store no positions; the views derive them exactly from sample."""
    path = runs.part(1, "surface.elevation")
    stored = [r[0] for r in duckdb.execute(f"DESCRIBE SELECT * FROM '{path}'").fetchall()]
    assert not {"face", "i", "j", "lat", "lon"} & set(stored)
    con = runs.session()
    n = 32
    for view in ("fields", "fields_by_sample"):
        row = con.execute(
            f"SELECT DISTINCT sample, face, i, j FROM {view} WHERE run_id = ? "
            "AND field = 'surface.elevation' AND sample = 5000",
            [runs.ids[1]],
        ).fetchall()
        assert row == [(5000, 5000 // (n * n), 5000 // n % n, 5000 % n)]
    with LensStore(runs.lens(1)) as store:
        topo = store.topology
    got = con.execute(
        "SELECT sample, lat, lon FROM fields WHERE run_id = ? AND field = 'surface.elevation' "
        "AND tick = 0 ORDER BY sample",
        [runs.ids[1]],
    ).fetchnumpy()
    np.testing.assert_allclose(got["lat"], np.degrees(topo.lat), rtol=0, atol=1e-11)
    np.testing.assert_allclose(got["lon"], np.degrees(topo.lon), rtol=0, atol=1e-11)
    meta = dict(duckdb.execute(f"SELECT key, value FROM parquet_kv_metadata('{path}')").fetchall())
    assert meta[b"resolution"] == b"32" and meta[b"face_order"] == b"+X,-X,+Y,-Y,+Z,-Z"
    assert b"vector_frame" in meta and meta[b"layout"] == b"time"
    assert meta[b"positions"] == b"cells" and meta[b"derived_columns"] == b"face,i,j,lat,lon"


# --- the atomic commit of every part ---------------------------------------------------------

FAILING_COPY = """
import resource, signal, sys
from pathlib import Path
import duckdb
from continuum.errors import QueryError
from continuum.sql import export_chunk
signal.signal(signal.SIGXFSZ, signal.SIG_IGN)  # writes past the limit fail (EFBIG): a full disk
resource.setrlimit(resource.RLIMIT_FSIZE, (8192, 8192))
try:
    export_chunk(duckdb.connect(), Path(sys.argv[1]), Path(sys.argv[2]), fields=[sys.argv[3]])
except QueryError as exc:
    print("QueryError:", exc)
"""


def first_chunk(runs: Runs) -> Path:
    with LensStore(runs.lens(1)) as store:
        return store.chunks[0].path


def files(root: Path) -> dict[str, bytes]:
    """Every file under ``root``, hidden ones included: relative path -> content."""
    return {str(p.relative_to(root)): p.read_bytes() for p in root.rglob("*") if p.is_file()}


def test_an_export_leaves_only_parts_behind(runs: Runs):
    found = files(runs.exports)
    assert found and all(layout.PART_NAME_RE.match(Path(name).name) for name in found)


def test_parts_are_committed_from_layout_temporaries(
    runs: Runs, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
):
    """COPY writes ``layout.temp_path`` beside the part: hidden from the views, known to gc."""
    seen: list[tuple[Path, Path]] = []

    def spy(tmp: Path, final: Path) -> None:
        assert Path(tmp).is_file() and not Path(final).exists()
        seen.append((Path(tmp), Path(final)))
        commit_file(tmp, final)

    monkeypatch.setattr(export, "commit_file", spy)
    with duckdb.connect() as con:
        done = export_chunk(con, first_chunk(runs), tmp_path)
    assert [final for _, final in seen] == list(done.files)
    for tmp, final in seen:
        assert tmp.parent == final.parent and layout.temp_final_name(tmp.name) == final.name
        assert layout.is_temp_name(tmp.name) and layout.is_part_name(tmp.name)
        assert not fnmatch(tmp.name, "part-*.parquet")  # the views' globs never see it
    assert sorted(files(tmp_path)) == sorted(str(f.relative_to(tmp_path)) for f in done.files)


@pytest.mark.parametrize("exported_before", [False, True])
def test_a_failed_copy_leaves_nothing_half_written(
    runs: Runs, tmp_path: Path, exported_before: bool
):
    """A COPY cut off by the file-size limit: a one-line QueryError; old parts untouched."""
    chunk, field = first_chunk(runs), "surface.elevation"
    if exported_before:
        with duckdb.connect() as con:
            export_chunk(con, chunk, tmp_path, fields=[field])
    before = files(tmp_path)
    args = [sys.executable, "-c", FAILING_COPY, str(chunk), str(tmp_path), field]
    proc = subprocess.run(args, capture_output=True, text=True, timeout=120)
    assert proc.stdout.startswith("QueryError: export to "), proc.stdout + proc.stderr
    assert len(proc.stdout.strip().splitlines()) == 1
    assert files(tmp_path) == before  # no temporary, no torn part, old content intact


def test_a_failed_fsync_keeps_the_old_part(
    runs: Runs, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
):
    chunk = first_chunk(runs)
    with duckdb.connect() as con:
        export_chunk(con, chunk, tmp_path)
    before = files(tmp_path)

    def fail(fd: int) -> None:
        raise OSError(errno.EIO, os.strerror(errno.EIO))

    monkeypatch.setattr(atomic.os, "fsync", fail)
    with duckdb.connect() as con, pytest.raises(OSError):
        export_chunk(con, chunk, tmp_path)
    monkeypatch.undo()
    assert files(tmp_path) == before


def test_a_run_export_records_a_chunk_only_once_its_parts_are_committed(
    runs: Runs, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
):
    """export_run commits parts on committer threads: every recorded chunk's parts are in
    place when it is recorded, and a failed commit fails the export (nothing recorded)."""
    from continuum.catalog import Catalog
    from continuum.sql import export_run

    url = f"sqlite:///{tmp_path / 'cat.db'}"
    with Catalog(url) as cat:
        cat.runs.register(world="terra", ir_hash="ab", seed=1, run_id=runs.ids[1])
        seen: list[bool] = []
        real = cat.exports.record

        def record(run_id: str, **kw):  # at recording time, are this chunk's parts there?
            part = layout.part_name(kw["start_tick"], kw["end_tick"])
            seen.append(bool(list((tmp_path / "ok").rglob(part))))
            return real(run_id, **kw)

        monkeypatch.setattr(cat.exports, "record", record)
        done = export_run(runs.lens(1), tmp_path / "ok", catalog=cat)
        assert len(seen) == len(done) > 1 and all(seen)
        monkeypatch.undo()

        def fail(fd: int) -> None:
            raise OSError(errno.EIO, os.strerror(errno.EIO))

        monkeypatch.setattr(atomic.os, "fsync", fail)
        before = len(cat.exports.list())
        with pytest.raises(OSError):
            export_run(runs.lens(1), tmp_path / "bad", catalog=cat)
        monkeypatch.undo()
        assert len(cat.exports.list()) == before
    assert not [p for p in (tmp_path / "bad").rglob("*") if p.is_file()]  # no part, no temp


def repeating_run(tmp_path: Path, repeat: bool) -> Path:
    """One chunk of a 16x16-per-face field whose frames advance every other tick (or every
    tick): random values, so only a repeat along time can be compressed."""
    from continuum.lens import ChunkData, FieldSeries, LensIdentity, write_chunk
    from continuum.lens.reconstruct import FieldConfig
    from continuum.topology import CubedSphere

    topo = CubedSphere(16)
    frames = np.random.default_rng(3).normal(280, 5, (40, topo.n_cells))
    if repeat:
        frames[1::2] = frames[0::2]
    ticks = np.arange(40, dtype=np.int64)
    config = FieldConfig("scalar", "cells", topo.n_cells)
    run_id = "20260101_000000_0000abcd"
    ident = LensIdentity(run_id, "bench", 0, None, 1, topo.spec())
    data = ChunkData(ticks, ticks * 1.0, {"t": FieldSeries(config, np.arange(40), None, frames)})
    (tmp_path / "lens" / run_id).mkdir(parents=True)
    path = layout.lens_chunk_path(tmp_path / "lens" / run_id, 0, 40)
    write_chunk(path, data, ident, tick_range=(0, 40))
    return path


def test_sample_major_values_repeated_along_time_are_stored_once_compressed(tmp_path: Path):
    """A field advancing every other tick: its sample-major copy is about half the size
    of one advancing every tick (plain doubles, which zstd matches along time, where
    byte-stream-split would scatter them); every value reads back."""
    sizes = {}
    con = duckdb.connect()
    for repeat in (True, False):
        path = repeating_run(tmp_path / str(repeat), repeat)
        done = export_chunk(con, path, tmp_path / str(repeat) / "exp", layouts=("time", "sample"))
        by_time, by_sample = (
            layout.field_partition(tmp_path / str(repeat) / "exp", done.run_id, "t", kind)
            / layout.part_name(*done.tick_range)
            for kind in ("time", "sample")
        )
        sizes[repeat] = by_sample.stat().st_size
        a = con.execute(f"SELECT tick, sample, value FROM '{by_time}' ORDER BY ALL").fetchnumpy()
        b = con.execute(f"SELECT tick, sample, value FROM '{by_sample}' ORDER BY ALL").fetchnumpy()
        for c in ("tick", "sample", "value"):
            assert np.array_equal(a[c], b[c])
    assert sizes[True] < 0.6 * sizes[False]
