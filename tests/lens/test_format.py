"""The .lens chunk format: bitwise round trips, tiles, and clean errors on bad files."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from continuum.blobs import write_container
from continuum.errors import LensCorruptError, LensError
from continuum.lens import ChunkData, ChunkFile, FieldConfig, FieldSeries, LensIdentity, write_chunk
from continuum.lens.format import KIND, MIN_TILE, read_chunk_header, tile_size
from continuum.topology import CubedSphere

TOPOLOGY = CubedSphere(12)  # 864 cells: several tiles at MIN_TILE = 256 (rows of 2 KiB)
SMALL_ROWS = 2048
IDENTITY = LensIdentity("run-1", "terra", 7, "ab" * 32, 2, TOPOLOGY.spec())


def sample_chunk(frames: int = 600) -> ChunkData:
    rng = np.random.default_rng(0)
    ticks = np.arange(100, 100 + 2 * frames, 2, dtype=np.int64)
    data = ChunkData(ticks, ticks * 1.0e5)
    n = TOPOLOGY.n_cells
    cells = rng.normal(280.0, 5.0, (frames, n))
    cells[1::4] = cells[::4]  # every fourth frame repeats the one before: stored once
    data.fields["cells.scalar"] = FieldSeries(
        FieldConfig("scalar", "cells", n), np.arange(frames), TOPOLOGY.centres, cells
    )
    rows = np.arange(0, frames, 3)  # a field captured on every third frame only
    pos = rng.normal(size=(len(rows), 12, 3))
    data.fields["plates.v"] = FieldSeries(
        FieldConfig("vec3", "points", 12), rows, pos, rng.normal(size=(len(rows), 12, 3))
    )
    data.fields["g.scalar"] = FieldSeries(
        FieldConfig("scalar", "global", 1), np.arange(frames), None, rng.normal(size=(frames, 1))
    )
    signal = rng.normal(size=(frames, 3))
    signal[frames // 2] = np.nan  # not recorded on that frame
    data.signals = {"core.dipole": signal, "core.temp": rng.normal(size=(frames, 1))}
    return data


@pytest.fixture(scope="module")
def chunk_file(tmp_path_factory) -> tuple[Path, ChunkData]:
    path = tmp_path_factory.mktemp("fmt") / "c.lens"
    data = sample_chunk()
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr("continuum.lens.format.TARGET_ROW_BYTES", SMALL_ROWS)
        write_chunk(path, data, IDENTITY, tick_range=(100, 1400))
    return path, data


def test_round_trip_is_bitwise(chunk_file):
    path, data = chunk_file
    with ChunkFile(path) as chunk:
        back = chunk.read_all()
        header = chunk.header
    assert back.ticks.tobytes() == data.ticks.tobytes()
    assert back.sim_times.tobytes() == data.sim_times.tobytes()
    for name, series in data.fields.items():
        got = back.fields[name]
        assert got.config == series.config
        np.testing.assert_array_equal(got.rows, series.rows)
        assert got.values.tobytes() == series.values.tobytes()
        if series.config.positions == "points":
            assert got.positions.tobytes() == series.positions.tobytes()
    assert back.fields["cells.scalar"].positions.tobytes() == TOPOLOGY.centres.tobytes()
    for name, values in data.signals.items():
        assert back.signals[name].tobytes() == values.tobytes()
    assert header.tick_range == (100, 1400)
    assert header.identity == IDENTITY
    assert header.tiles["cells.scalar"] == MIN_TILE


def test_header_says_what_the_file_holds(chunk_file):
    header = read_chunk_header(chunk_file[0])
    assert (header.frames, header.first_tick, header.last_tick) == (600, 100, 1298)
    assert sorted(header.fields) == ["cells.scalar", "g.scalar", "plates.v"]
    assert header.field_frames["plates.v"] == 200
    assert header.signals == {"core.dipole": "vec3", "core.temp": "scalar"}
    assert header.disk_bytes == chunk_file[0].stat().st_size


def test_one_position_reads_one_tile(chunk_file, monkeypatch):
    path, data = chunk_file
    with ChunkFile(path) as chunk:
        seen = []
        real = chunk._reader.read
        monkeypatch.setattr(chunk._reader, "read", lambda name: seen.append(name) or real(name))
        got = chunk.values("cells.scalar", np.array([700, 3]))
    values = [name for name in seen if "/values/" in name]
    assert values == ["field/cells.scalar/values/000000", "field/cells.scalar/values/000002"]
    np.testing.assert_array_equal(got, data.fields["cells.scalar"].values[:, [700, 3]])


def test_values_near_one_another_decode_their_row_once(chunk_file, monkeypatch):
    """A hover or a probe asks value after value at one tick: the tile row is decoded
    once, the values are the written ones, and the kept rows stay within their budget."""
    path, data = chunk_file
    written = data.fields["cells.scalar"].values
    with ChunkFile(path) as chunk:
        got = [float(chunk.value("cells.scalar", 8, s)) for s in range(0, 256, 17)]
        assert chunk.reads.tiles == 1  # one row of tile 0, decoded once
        assert got == [float(written[8, s]) for s in range(0, 256, 17)]
        one = chunk.value("cells.scalar", 8, 3)
        one[...] = -1.0  # the caller's copy: the kept row is not changed through it
        assert float(chunk.value("cells.scalar", 8, 3)) == float(written[8, 3])

        monkeypatch.setattr("continuum.lens.format.ROW_CACHE_BYTES", 3 * MIN_TILE * 8)
        for i in range(40):  # more rows than the budget holds: the oldest go
            assert float(chunk.value("cells.scalar", i, 700)) == float(written[i, 700])
        assert len(chunk._row_cache) <= 3
        before = chunk.reads.tiles
        chunk.value("cells.scalar", 0, 700)  # long gone from the kept rows: decoded again
        assert chunk.reads.tiles == before + 1


def test_tile_size_targets_a_row_of_64_kib():
    cells = FieldConfig("scalar", "cells", 6 * 256 * 256)
    assert tile_size(cells) == 8192
    assert tile_size(FieldConfig("vec3", "cells", 6 * 256 * 256)) == 2048
    assert tile_size(FieldConfig("vec3", "points", 12)) == 12


def test_a_frame_decodes_one_row_of_each_tile(chunk_file):
    path, data = chunk_file
    with ChunkFile(path) as chunk:
        layout = {e.name: e for e in chunk._reader.header.layout}
        tile = layout["field/cells.scalar/values/000000"]
        assert len(tile.frames) == tile.shape[0]  # one zstd frame per stored row
        for i in (0, 1, 5, 599):
            got = chunk.frame("cells.scalar", i)
            assert got.tobytes() == data.fields["cells.scalar"].values[i].tobytes()
        assert chunk.frame("plates.v", 3).tobytes() == data.fields["plates.v"].values[3].tobytes()


def test_a_repeated_frame_is_stored_once(chunk_file):
    path, data = chunk_file
    header = read_chunk_header(path)
    assert header.field_frames["cells.scalar"] == 600
    assert header.field_stored["cells.scalar"] == 450  # 150 repeats
    assert header.field_stored["plates.v"] == 200  # random: nothing repeats
    with ChunkFile(path) as chunk:
        assert (
            chunk.values("cells.scalar").tobytes() == data.fields["cells.scalar"].values.tobytes()
        )
        part = chunk.values("cells.scalar", np.array([5, 700]))
        np.testing.assert_array_equal(part, data.fields["cells.scalar"].values[:, [5, 700]])


def test_a_version_1_file_still_reads(tmp_path):
    """Files written before version 2 (no ``stored``, 1 MiB byte frames) read the same."""
    from continuum.lens.format import _container_parts

    data = sample_chunk(40)
    meta, arrays = _container_parts(data, IDENTITY, None)
    meta["format_version"] = 1
    for name, config in meta["field_configs"].items():
        config.pop("stored")
        arrays.pop(f"field/{name}/stored")
        if name == "cells.scalar":
            tiles = [k for k in arrays if k.startswith("field/cells.scalar/values/")]
            for k in tiles:  # version 1 stored every frame
                arrays[k] = data.fields[name].values[:, int(k[-6:]) * config["tile"] :][
                    :, : config["tile"]
                ]
    write_container(tmp_path / "v1.lens", KIND, meta, arrays, level=1)
    with ChunkFile(tmp_path / "v1.lens") as chunk:
        assert chunk.header.format_version == 1
        got = chunk.read_all()
        assert got.fields["cells.scalar"].values.tobytes() == (
            data.fields["cells.scalar"].values.tobytes()
        )
        assert chunk.frame("cells.scalar", 7).tobytes() == (
            data.fields["cells.scalar"].values[7].tobytes()
        )


def test_identical_ticks_or_ranges_are_refused(tmp_path):
    data = sample_chunk(4)
    data.ticks[2] = data.ticks[1]
    with pytest.raises(LensError, match="increasing"):
        write_chunk(tmp_path / "x.lens", data, IDENTITY)
    with pytest.raises(LensError, match="outside"):
        write_chunk(tmp_path / "x.lens", sample_chunk(4), IDENTITY, tick_range=(0, 101))


def read_everything(path: Path) -> None:
    with ChunkFile(path) as chunk:
        chunk.read_all()


@pytest.fixture(scope="module")
def small_file(tmp_path_factory) -> bytes:
    path = tmp_path_factory.mktemp("small") / "s.lens"
    write_chunk(path, sample_chunk(40), IDENTITY)
    return path.read_bytes()


def test_flipped_bits_anywhere_are_clean_errors(small_file, tmp_path):
    path = tmp_path / "flip.lens"
    offsets = sorted({*np.linspace(0, len(small_file) - 1, 150).astype(int), 0, 8, 12, 16})
    for offset in offsets:
        blob = bytearray(small_file)
        blob[offset] ^= 0x40
        path.write_bytes(bytes(blob))
        with pytest.raises(LensCorruptError, match="flip.lens"):
            read_everything(path)


def test_truncated_files_are_clean_errors(small_file, tmp_path):
    path = tmp_path / "cut.lens"
    for size in sorted({*np.linspace(0, len(small_file) - 1, 120).astype(int), 1, 7, 16}):
        path.write_bytes(small_file[:size])
        with pytest.raises(LensCorruptError, match="cut.lens"):
            read_everything(path)
    path.write_bytes(small_file + b"x")
    with pytest.raises(LensCorruptError, match="unexpected bytes"):
        read_everything(path)


def test_foreign_files_are_clean_errors(tmp_path):
    ckpt = tmp_path / "a.lens"
    write_container(ckpt, b"CKPT", {}, {"x": np.zeros(3)})
    with pytest.raises(LensCorruptError, match="not a LENS file"):
        read_everything(ckpt)
    junk = tmp_path / "b.lens"
    junk.write_bytes(b"PK\x03\x04 a zip file, not a lens file")
    with pytest.raises(LensCorruptError, match="not a Continuum"):
        read_everything(junk)
    with pytest.raises(LensError, match="cannot read"):
        read_everything(tmp_path / "missing.lens")


def test_newer_format_asks_for_an_upgrade(tmp_path):
    path = tmp_path / "new.lens"
    write_container(path, KIND, {"format": "continuum.lens", "format_version": 3}, {})
    with pytest.raises(LensError, match="upgrade Continuum"):
        read_everything(path)


@pytest.mark.parametrize(
    "change",
    [
        {"field_configs": {"f": {"kind": "tensor", "positions": "cells"}}},
        {"tick_range": [5]},
        {"frames": 3},
        {"topology": {"kind": "icosahedron"}},
        {"signals": {"s": "matrix"}},
        {"format": "other"},
    ],
)
def test_malformed_headers_are_corrupt_errors(tmp_path, change):
    good = tmp_path / "good.lens"
    write_chunk(good, sample_chunk(4), IDENTITY)
    with ChunkFile(good) as chunk:
        meta = dict(chunk._reader.header.meta)
        arrays = chunk._reader.read_all()
    bad = tmp_path / "bad.lens"
    write_container(bad, KIND, {**meta, **change}, arrays)
    with pytest.raises(LensCorruptError, match="bad.lens"):
        read_everything(bad)
