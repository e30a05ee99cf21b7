"""By-sample copies: the same answers as the chunks, used only while current, built in
the background of a capture and never through a link."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from continuum import layout
from continuum.errors import LensError
from continuum.lens import LensStore
from continuum.lens import by_sample as by_sample_module
from continuum.lens.by_sample import BySampleFile
from continuum.lens.compaction import compact_history
from continuum.lens.format import ChunkFile, write_chunk
from continuum.lens.region import Region, runs

from .helpers import run, run_dir

FIELD = "atmosphere.temperature"
VECTOR = "plates.velocity"


def copies_of(path: Path) -> list[str]:
    return sorted(p.name for p in path.iterdir() if layout.parse_lens_by_sample_name(p.name))


def without_copies(path: Path, tmp_path: Path) -> Path:
    """A copy of run dir ``path`` holding only its chunks (and manifest)."""
    target = tmp_path / "plain" / path.name
    target.mkdir(parents=True)
    for p in path.iterdir():
        if not layout.parse_lens_by_sample_name(p.name):
            (target / p.name).write_bytes(p.read_bytes())
    return target


@pytest.fixture(autouse=True)
def short_spans(monkeypatch):
    """Spans of 20 frames, so a tiny run has several copies (the real span is 4,096)."""
    monkeypatch.setattr(by_sample_module, "MAX_SEGMENT_FRAMES", 20)


@pytest.fixture(scope="module")
def spans(tmp_path_factory) -> Path:
    """A run whose copies span several files: 60 frames in chunks of 10, spans of 20."""
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(by_sample_module, "MAX_SEGMENT_FRAMES", 20)
        root = tmp_path_factory.mktemp("spans")
        return run_dir(run(steps=59, lens_dir=root, lens_chunk_size=10))


def test_a_capture_writes_copies_spanning_its_chunks(spans):
    assert copies_of(spans) == [
        "lens_by_sample_0000000000-0000000020.lens",
        "lens_by_sample_0000000020-0000000040.lens",
        "lens_by_sample_0000000040-0000000060.lens",
    ]
    with BySampleFile(spans / copies_of(spans)[0]) as copy:
        assert copy.sources == [
            (n, ChunkFile(spans / n).header.checksum)
            for n in (
                "lens_snapshot_0000000000-0000000010.lens",
                "lens_snapshot_0000000010-0000000020.lens",
            )
        ]
        assert VECTOR not in copy.fields or copy.config(VECTOR).positions != "points"


@pytest.mark.parametrize("field", [FIELD, VECTOR])
def test_histories_through_copies_equal_the_chunks(spans, tmp_path, field):
    plain = without_copies(spans, tmp_path)
    with LensStore(spans) as fast, LensStore(plain) as slow:
        assert len(fast.by_sample) == 3 and slow.by_sample == []
        for cell in (0, 17, fast.topology.n_cells - 1):
            pos = fast.topology.centres[cell]
            for window in ((None, None), (5, 44), (21, 21)):
                a = fast.history(field, pos, start=window[0], stop=window[1])
                b = slow.history(field, pos, start=window[0], stop=window[1])
                assert a.ticks.tobytes() == b.ticks.tobytes()
                assert a.values.tobytes() == b.values.tobytes()
                assert a.sim_times.tobytes() == b.sim_times.tobytes()


@pytest.mark.parametrize(
    "region",
    [
        None,
        Region(face=2),
        Region(face=(1, 3), i=(2, 5)),
        Region(lat=(10, 20)),
        Region(lat=(-30, 30), lon=(-45, 90)),
        Region(j=7),
    ],
)
def test_region_means_equal_numpy_over_the_frames(spans, tmp_path, region):
    plain = without_copies(spans, tmp_path)
    with LensStore(spans) as fast, LensStore(plain) as slow:
        topo = fast.topology
        cells = (region or Region()).cells(topo)
        lens = slow.load([FIELD])
        ticks = lens.field_ticks(FIELD)
        want = np.array([lens.at(FIELD, int(t)).values[cells].mean(axis=0) for t in ticks])
        for store in (fast, slow):
            got = store.reduce(FIELD, "mean", region)
            assert got.ticks.tobytes() == ticks.tobytes()
            np.testing.assert_allclose(got.values, want, rtol=1e-12, atol=1e-9)
        total = fast.reduce(FIELD, "sum", region, start=10, stop=30)
        np.testing.assert_allclose(total.values, want[(ticks >= 10) & (ticks <= 30)] * len(cells))


def test_a_region_is_cells_by_position(spans):
    with LensStore(spans) as store:
        topo = store.topology
        n = topo.resolution
        face2 = Region(face=2).cells(topo)
        assert runs(face2) == [(2 * n * n, 3 * n * n)]
        lat = np.degrees(topo.lat)
        band = Region(lat=(10, 20)).cells(topo)
        np.testing.assert_array_equal(band, np.flatnonzero((lat >= 10) & (lat <= 20)))
        with pytest.raises(LensError, match="holds no cell"):
            store.reduce(FIELD, "mean", Region(lat=(91, 95)))
        for bad in (Region(face="two"), Region(lat=(20, 10)), Region(i=(1, 2, 3))):
            with pytest.raises(LensError, match="range|region bound"):
                store.reduce(FIELD, "mean", bad)
        with pytest.raises(LensError, match="'mean' or 'sum'"):
            store.reduce(FIELD, "median")


def test_a_rewritten_chunk_makes_its_copy_stale(spans, tmp_path):
    """A copy answers only while its sources are unchanged: a chunk rewritten with other
    values is read from the chunk, and the next compaction replaces the copy."""
    run_copy = tmp_path / spans.name
    run_copy.mkdir()
    for p in spans.iterdir():
        (run_copy / p.name).write_bytes(p.read_bytes())
    name = "lens_snapshot_0000000010-0000000020.lens"
    with ChunkFile(run_copy / name) as chunk:
        data, identity = chunk.read_all(), chunk.header.identity
    series = data.fields[FIELD]
    series.values = np.asarray(series.values) + 1000.0
    write_chunk(run_copy / name, data, identity, tick_range=(10, 20))
    with LensStore(run_copy) as store:
        assert len(store.by_sample) == 2  # the copy of [0, 20) is stale
        history = store.history(FIELD, store.topology.centres[3])
        later = history.values[(history.ticks >= 10) & (history.ticks < 20)]
        assert np.all(later > 900)
    done = compact_history(run_copy)
    assert [c.path.name for c in done.written] == ["lens_by_sample_0000000000-0000000020.lens"]
    with LensStore(run_copy) as store:
        assert len(store.by_sample) == 3


def test_compaction_never_follows_a_link(spans, tmp_path):
    run_copy = tmp_path / spans.name
    run_copy.mkdir()
    for p in spans.iterdir():
        if not layout.parse_lens_by_sample_name(p.name):
            (run_copy / p.name).write_bytes(p.read_bytes())
    outside = tmp_path / "precious.lens"
    outside.write_bytes(b"not a lens file")
    link = run_copy / "lens_by_sample_0000000000-0000000020.lens"
    link.symlink_to(outside)
    stale = run_copy / "lens_by_sample_0000000000-0000000010.lens"
    stale.write_bytes((spans / copies_of(spans)[0]).read_bytes())  # a copy no span wants
    with LensStore(run_copy) as store:
        assert store.by_sample == []  # neither the link nor the misnamed copy answers
    compact_history(run_copy)
    # the link's name is the copy's: renamed over (the link, not what it points to)
    assert not link.is_symlink() and outside.read_bytes() == b"not a lens file"
    assert not stale.exists()
    assert copies_of(run_copy) == copies_of(spans)
    with LensStore(run_copy) as store:
        assert len(store.by_sample) == 3


def test_a_damaged_copy_costs_a_warning_not_the_answer(spans, tmp_path, caplog):
    """A copy is derived data: found damaged while read, it is dropped with one warning
    naming it, and the chunks give the answer."""
    run_copy = tmp_path / spans.name
    run_copy.mkdir()
    for p in spans.iterdir():
        (run_copy / p.name).write_bytes(p.read_bytes())
    victim = run_copy / copies_of(spans)[0]
    blob = bytearray(victim.read_bytes())
    blob[-200] ^= 0xFF  # inside the last frames
    victim.write_bytes(bytes(blob))
    plain = without_copies(spans, tmp_path)
    with LensStore(run_copy) as store, LensStore(plain) as truth:
        for cell in range(store.topology.n_cells):
            pos = store.topology.centres[cell]
            got, want = store.history(FIELD, pos), truth.history(FIELD, pos)
            assert got.values.tobytes() == want.values.tobytes()
        mean = store.reduce(FIELD, "mean").values
        np.testing.assert_allclose(mean, truth.reduce(FIELD, "mean").values)
        assert len(store.by_sample) == 2
    damaged = [r for r in caplog.records if victim.name in r.getMessage()]
    assert len(damaged) == 1 and "answering from the chunks" in damaged[0].getMessage()


def test_no_copies_when_asked_not_to(tmp_path):
    summary = run(steps=20, lens_dir=tmp_path, lens_chunk_size=10, lens_by_sample=False)
    assert summary["lens_by_sample_files"] == 0
    assert copies_of(run_dir(summary)) == []


def test_a_resumed_run_regrows_its_last_copy(tmp_path):
    """The last span's copy of a run that continues is replaced by one covering more."""
    ck = tmp_path / "ck"
    first = run(
        steps=15,
        lens_dir=tmp_path,
        lens_chunk_size=10,
        checkpoint_dir=ck,
        checkpoint_stride=5,
        no_catalog=True,
    )
    lens = run_dir(first)
    assert copies_of(lens) == ["lens_by_sample_0000000000-0000000016.lens"]
    run(
        steps=10,
        lens_dir=tmp_path,
        lens_chunk_size=10,
        checkpoint_dir=ck,
        resume=True,
        no_catalog=True,
    )
    assert copies_of(lens) == [  # the copy of [0, 16) went: its span has grown
        "lens_by_sample_0000000000-0000000020.lens",
        "lens_by_sample_0000000020-0000000026.lens",
    ]
    with LensStore(lens) as store:
        assert len(store.by_sample) == 2
        h = store.history(FIELD, store.topology.centres[5])
        assert h.ticks[-1] == 25 and len(h.ticks) == 26
