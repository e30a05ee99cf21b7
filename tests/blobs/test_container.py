"""The container format on real files: round trips, determinism, and every corruption caught."""

from __future__ import annotations

import struct
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

import continuum.blobs
from continuum.blobs import (
    ContainerReader,
    Stacked,
    encode_container,
    read_header,
    write_container,
)
from continuum.errors import BlobError

KIND = b"TEST"
RNG = np.random.default_rng(1234)


class MyCorrupt(BlobError):
    """Stands in for CheckpointCorruptError / LensCorruptError."""


def smooth(n: int) -> np.ndarray:
    return 280.0 + np.cumsum(RNG.normal(0.0, 0.01, n))


ARRAYS = {
    "scalar_f8": np.array(3.25),
    "scalar_i8": np.array(-7, dtype=np.int64),
    "empty": np.zeros(0),
    "empty_3": np.zeros((0, 3), np.float32),
    "vec3": smooth(3 * 50).reshape(3, 50),
    "bool": RNG.random(37) > 0.5,
    "int8": np.arange(-50, 50, dtype=np.int8),
    "uint16": np.arange(1000, dtype=np.uint16),
    "int64": RNG.integers(-(2**62), 2**62, 64),
    "float16": np.linspace(-1, 1, 33, dtype=np.float16),
    "float32": smooth(99).astype(np.float32),
    "float64": np.array([0.0, -0.0, np.nan, np.inf, -np.inf, 5e-324, 1.7976931348623157e308]),
    "complex64": (smooth(20) + 1j * smooth(20)).astype(np.complex64),
    "complex128": smooth(20) - 2j * smooth(20),
    "big_endian_f8": smooth(40).astype(">f8"),
    "big_endian_i4": np.arange(-20, 20, dtype=">i4"),
    "transposed": smooth(60).reshape(6, 10).T,
    "strided": smooth(100)[::3],
    "fortran": np.asfortranarray(smooth(24).reshape(4, 6)),
    "cube": RNG.integers(0, 9, (2, 3, 4, 5)).astype(np.uint32),
}


def assert_same(got: np.ndarray, want: np.ndarray) -> None:
    assert got.shape == want.shape
    assert got.dtype == want.dtype.newbyteorder("<")
    assert got.dtype.byteorder in "<=|"
    assert got.flags.writeable
    np.testing.assert_array_equal(got, want, strict=False)
    assert got.tobytes() == np.asarray(want, dtype=got.dtype).tobytes()  # -0.0, NaN bits


@pytest.mark.parametrize("block_bytes", [16, 1 << 20])
def test_round_trip(tmp_path: Path, block_bytes: int) -> None:
    path = tmp_path / "x.test"
    meta = {"tick": 1000, "sim_time": 0.1 + 0.2, "name": "terra ☄", "nested": {"a": [1, None]}}
    info = write_container(path, KIND, meta, ARRAYS, block_bytes=block_bytes)
    assert info.disk_bytes == path.stat().st_size
    assert info.raw_bytes == sum(np.asarray(a).nbytes for a in ARRAYS.values())
    header = read_header(path, KIND)
    assert header == info.header
    assert header.meta == meta
    assert header.names == tuple(sorted(ARRAYS))
    assert [e.shuffle for e in header.layout if e.name in ("float64", "int64", "bool")] == [
        False,  # bool: nothing to shuffle
        True,
        False,
    ]
    with ContainerReader(path, KIND, error_cls=MyCorrupt) as reader:
        everything = reader.read_all()
        reader.verify()
        for name, want in ARRAYS.items():
            assert_same(reader.read(name), want)
            assert_same(everything[name], want)


def test_many_frames_and_shuffle_policies(tmp_path: Path) -> None:
    arrays = {"f": smooth(5000), "i": np.arange(5000, dtype=np.int64)}
    for policy in (True, False, lambda name, a: name == "i"):
        path = tmp_path / "p.test"
        write_container(path, KIND, {}, arrays, shuffle=policy, block_bytes=4096)
        header = read_header(path, KIND)
        assert all(len(e.frames) == 10 for e in header.layout)
        want = {"f": policy is True, "i": policy is not False}
        assert {e.name: e.shuffle for e in header.layout} == want
        with ContainerReader(path, KIND, threads=2) as reader:
            for name, got in reader.read_all().items():
                assert_same(got, arrays[name])


def test_shuffle_pays_on_smooth_floats(tmp_path: Path) -> None:
    arrays = {"f": smooth(50_000)}
    shuffled = len(encode_container(KIND, {}, arrays))
    plain = len(encode_container(KIND, {}, arrays, shuffle=False))
    assert shuffled < 0.9 * plain


def test_deterministic_bytes(tmp_path: Path) -> None:
    forward = dict(ARRAYS)
    backward = dict(reversed(list(ARRAYS.items())))
    meta = {"b": 1, "a": [2.5, "x"]}
    one = encode_container(KIND, meta, forward, block_bytes=64)
    assert encode_container(KIND, dict(reversed(meta.items())), backward, block_bytes=64) == one
    assert encode_container(KIND, meta, forward, block_bytes=64, threads=2) == one
    write_container(tmp_path / "a.test", KIND, meta, forward, block_bytes=64)
    assert (tmp_path / "a.test").read_bytes() == one


@pytest.mark.parametrize("threads", [0, 2])
def test_stacked_rows_store_what_np_stack_would(tmp_path: Path, threads: int) -> None:
    """A writer hands rows over unstacked; the file is byte for byte the stacked array's,
    whatever the block size, worker count or byte order, and reads back as it."""
    rows = [smooth(1000) for _ in range(7)]
    cases = {
        "f8": (rows, np.stack(rows)),
        "cut": ([r[100:300] for r in rows], np.stack(rows)[:, 100:300]),
        "be": ([r.astype(">f8") for r in rows], np.stack(rows).astype(">f8")),
        "vec": ([r.reshape(-1, 4) for r in rows], np.stack(rows).reshape(7, -1, 4)),
        "i4": (
            [np.arange(9, dtype=np.int32) + k for k in range(3)],
            np.arange(9) + np.arange(3)[:, None],
        ),
    }
    for block in (16, 4096, 1 << 20):
        lazy = {n: Stacked(r) for n, (r, _) in cases.items()}
        eager = {n: np.asarray(a, dtype=r[0].dtype) for n, (r, a) in cases.items()}
        want = encode_container(KIND, {}, eager, block_bytes=block)
        assert encode_container(KIND, {}, lazy, block_bytes=block, threads=threads) == want
    write_container(tmp_path / "s.test", KIND, {}, {n: Stacked(r) for n, (r, _) in cases.items()})
    with ContainerReader(tmp_path / "s.test", KIND, error_cls=MyCorrupt) as reader:
        for name, (rows_, stacked) in cases.items():
            assert_same(reader.read(name), np.asarray(stacked, dtype=rows_[0].dtype))


def test_stacked_rows_must_agree() -> None:
    with pytest.raises(BlobError, match="at least one row"):
        Stacked([])
    with pytest.raises(BlobError, match="rows differ"):
        Stacked([np.zeros(3), np.zeros(4)])
    with pytest.raises(BlobError, match="rows differ"):
        Stacked([np.zeros(3), np.zeros(3, np.float32)])


@pytest.mark.parametrize(
    "value",
    [
        np.array([1, "a"], dtype=object),
        np.array(["abc"]),
        np.array([b"abc"]),
        np.zeros(3, dtype=[("x", "<f8"), ("y", "<i4")]),
        np.zeros(2, dtype="V8"),
        np.array(["2024-01-01"], dtype="datetime64[D]"),
    ],
)
def test_unstorable_dtypes_refused(tmp_path: Path, value: np.ndarray) -> None:
    with pytest.raises(BlobError, match="cannot be stored"):
        write_container(tmp_path / "x.test", KIND, {}, {"bad": value})
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize("meta", [{"x": float("nan")}, {"x": np.int64(3)}, {"x": object()}])
def test_non_json_meta_refused(tmp_path: Path, meta: dict) -> None:
    with pytest.raises(BlobError, match="meta"):
        write_container(tmp_path / "x.test", KIND, meta, {})
    assert list(tmp_path.iterdir()) == []


def test_bad_kind_and_names(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="4 ASCII bytes"):
        write_container(tmp_path / "x.test", b"TOOLONG", {}, {})
    with pytest.raises(BlobError, match="non-empty strings"):
        write_container(tmp_path / "x.test", KIND, {}, {"": np.zeros(1)})


def test_unknown_array_name_lists_names(tmp_path: Path) -> None:
    path = tmp_path / "x.test"
    write_container(path, KIND, {}, {"alpha": np.zeros(2), "beta": np.ones(2)})
    reader = ContainerReader(path, KIND, error_cls=MyCorrupt)
    with reader, pytest.raises(MyCorrupt, match=r"no array named 'gamma'.*alpha, beta") as info:
        reader.read("gamma")
    assert str(path) in str(info.value)


def test_read_touches_only_its_own_range(tmp_path: Path) -> None:
    path = tmp_path / "x.test"
    write_container(path, KIND, {}, {"a": smooth(1000), "b": smooth(1000)})
    entry = read_header(path, KIND).layout[0]
    data = bytearray(path.read_bytes())
    data[read_header(path, KIND).payload_offset + entry.offset + 5] ^= 0xFF
    path.write_bytes(bytes(data))
    header = read_header(path, KIND)  # no payload is read or decompressed
    with ContainerReader(path, KIND) as reader:
        assert reader.read("b").shape == (1000,)
        with pytest.raises(BlobError, match="array 'a': checksum mismatch"):
            reader.read("a")
        with pytest.raises(BlobError, match="checksum mismatch"):
            reader.read_all()
    assert header.payload_offset < 4096


def test_header_is_cheap_on_a_large_file(tmp_path: Path) -> None:
    path = tmp_path / "big.test"
    arrays = {f"m{k}": smooth(250_000) for k in range(8)}  # 16 MB raw
    write_container(path, KIND, {"tick": 1}, arrays)
    header = read_header(path, KIND)
    assert header.payload_offset < 8192
    times = []
    for _ in range(50):
        start = time.perf_counter()
        read_header(path, KIND)
        times.append(time.perf_counter() - start)
    assert sorted(times)[len(times) // 2] < 0.005


def test_wrong_kind(tmp_path: Path) -> None:
    path = tmp_path / "x.lens"
    write_container(path, b"LENS", {}, {})
    with pytest.raises(MyCorrupt, match=r"x\.lens: not a CKPT file: it is a Continuum LENS"):
        read_header(path, b"CKPT", MyCorrupt)


@pytest.mark.parametrize("content", [b"", b"CNT", b"hello world, not a container at all"])
def test_not_a_container(tmp_path: Path, content: bytes) -> None:
    path = tmp_path / "x.test"
    path.write_bytes(content)
    with pytest.raises(MyCorrupt, match=str(path)):
        read_header(path, KIND, MyCorrupt)
    with pytest.raises(MyCorrupt):
        ContainerReader(path, KIND, error_cls=MyCorrupt)


def test_future_version(tmp_path: Path) -> None:
    path = tmp_path / "x.test"
    data = bytearray(encode_container(KIND, {}, {"a": np.zeros(3)}))
    struct.pack_into("<I", data, 8, 2)
    path.write_bytes(bytes(data))
    newer = r"newer Continuum \(format v2, this build reads up to v1\); upgrade"
    with pytest.raises(MyCorrupt, match=newer):
        read_header(path, KIND, MyCorrupt)


def test_trailing_bytes_and_truncation_messages(tmp_path: Path) -> None:
    path = tmp_path / "x.test"
    data = encode_container(KIND, {}, {"a": smooth(5000)})
    path.write_bytes(data + b"\0")
    with pytest.raises(BlobError, match="1 unexpected bytes after the end"):
        read_header(path, KIND)
    path.write_bytes(data[:-100])
    with pytest.raises(BlobError, match=r"truncated: expected \d+ payload bytes, found \d+"):
        read_header(path, KIND)


def load_everything(path: Path) -> dict[str, np.ndarray]:
    read_header(path, KIND, MyCorrupt)
    with ContainerReader(path, KIND, error_cls=MyCorrupt, threads=0) as reader:
        arrays = reader.read_all()
        reader.verify()
        return arrays


def assert_corruption_caught(data: bytes, offsets: list[int], directory: Path) -> None:
    """Every truncation fails in read_header; every flipped byte or bit fails somewhere.

    Only ``MyCorrupt`` may escape: any other exception type fails the test, and
    so does a load that succeeds (it would have returned different data).
    """
    cut, flip = directory / "cut.test", directory / "flip.test"
    for offset in offsets:
        cut.write_bytes(data[:offset])
        with pytest.raises(MyCorrupt):
            read_header(cut, KIND, MyCorrupt)
        for mask in (0xFF, 1 << (offset % 8)):
            flipped = bytearray(data)
            flipped[offset] ^= mask
            flip.write_bytes(bytes(flipped))
            with pytest.raises(MyCorrupt):
                load_everything(flip)


def test_every_corruption_of_a_small_file_is_caught(tmp_path: Path) -> None:
    arrays = {"t": np.array(5, np.int64), "f": smooth(12), "b": np.array([True, False])}
    data = encode_container(KIND, {"tick": 5}, arrays, block_bytes=32)
    assert len(data) < 1500
    assert_corruption_caught(data, list(range(len(data))), tmp_path)


def test_sampled_corruption_of_a_larger_file_is_caught(tmp_path: Path) -> None:
    arrays = {"cur": smooth(40_000), "prev": smooth(40_000), "n": np.arange(500)}
    data = encode_container(KIND, {"tick": 5}, arrays, block_bytes=1 << 16)
    header_end = struct.unpack_from("<I", data, 12)[0] + 24
    sampled = np.random.default_rng(9).choice(len(data), 200, replace=False).tolist()
    footer = range(len(data) - 40, len(data))
    offsets = sorted({*sampled, *range(0, header_end, 37), *footer})
    assert_corruption_caught(data, offsets, tmp_path)


def test_custom_error_class_everywhere(tmp_path: Path) -> None:
    path = tmp_path / "x.test"
    data = bytearray(encode_container(KIND, {}, {"a": smooth(100)}))
    data[-40] ^= 1  # inside the payload: only a full read notices
    path.write_bytes(bytes(data))
    read_header(path, KIND, MyCorrupt)
    with ContainerReader(path, KIND, error_cls=MyCorrupt) as reader:
        for call in (reader.read_all, reader.verify, lambda: reader.read("a")):
            with pytest.raises(MyCorrupt, match=str(path)):
                call()


def test_public_api_is_complete() -> None:
    exported = continuum.blobs.__all__  # its order is ruff's business (RUF022)
    assert len(set(exported)) == len(exported)
    public = {
        name
        for name, value in vars(continuum.blobs).items()
        if not name.startswith("_") and not isinstance(value, type(continuum))
    }
    assert public == set(exported)


def test_import_stays_light() -> None:
    code = (
        "import sys, continuum.blobs; "
        "print(' '.join(sorted(m for m in sys.modules if m.split('.')[0] in "
        "('continuum', 'sqlalchemy', 'duckdb', 'click', 'alembic'))))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    allowed = ("continuum", "continuum.errors", "continuum.layout")  # blobs > layout, errors
    loaded = out.stdout.split()
    assert all(m in allowed or m.startswith("continuum.blobs") for m in loaded), loaded


def test_header_larger_than_the_first_read(tmp_path: Path) -> None:
    path = tmp_path / "x.test"
    meta = {"notes": "n" * 20_000}
    arrays = {f"a{k:03d}": np.full(3, k) for k in range(300)}
    write_container(path, KIND, meta, arrays)
    header = read_header(path, KIND)
    assert header.payload_offset > 8192 and header.meta == meta
    with ContainerReader(path, KIND) as reader:
        assert reader.read("a299").tolist() == [299] * 3
    path.write_bytes(path.read_bytes()[:9000])
    with pytest.raises(BlobError, match="truncated"):
        read_header(path, KIND)


def test_a_blob_in_memory_reads_as_its_file(tmp_path: Path) -> None:
    """``ContainerReader(data=)`` (a blob fetched from object storage) decodes the bytes
    where they are, with every check a file gets."""
    from continuum.blobs import ContainerReader, encode_container

    arrays = {"a": smooth(300_000), "b": np.arange(1000, dtype=np.int64)}
    blob = encode_container(b"TEST", {"x": 1}, arrays)
    with ContainerReader("s3://b/k", b"TEST", data=blob) as reader:
        got = reader.read_all()
        assert reader.read("b").tolist() == arrays["b"].tolist()
        reader.verify()
    assert all(np.array_equal(got[k], v) for k, v in arrays.items())
    flipped = bytearray(blob)
    flipped[len(blob) // 2] ^= 1
    with pytest.raises(BlobError, match="s3://b/k: .*checksum"):
        ContainerReader("s3://b/k", b"TEST", data=bytes(flipped)).read_all()
    with pytest.raises(BlobError, match="s3://b/k: truncated"):
        ContainerReader("s3://b/k", b"TEST", data=blob[:-100])
