"""Streamed containers and reading a few rows: the same file a reader knows, decoded only
where asked, and damage caught."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from continuum.blobs import ContainerReader, write_container
from continuum.blobs.stream import ArraySpec, write_streamed
from continuum.errors import BlobError

KIND = b"TEST"


def _arrays() -> dict[str, np.ndarray]:
    rng = np.random.default_rng(3)
    return {
        "a": rng.normal(size=(300, 41)),
        "b": np.arange(7 * 5 * 3, dtype=np.int64).reshape(7, 5, 3),
        "c": rng.normal(size=(1000,)),
    }


def _specs(arrays: dict[str, np.ndarray], rows: int) -> list[ArraySpec]:
    return [ArraySpec(n, a.dtype, a.shape, rows) for n, a in sorted(arrays.items())]


@pytest.mark.parametrize("rows", [1, 7, 64, 5000])
def test_a_streamed_file_reads_back_whole(tmp_path, rows):
    arrays = _arrays()
    calls = []

    def fill(name, a, b):
        calls.append((name, a, b))
        return arrays[name][a:b]

    info = write_streamed(tmp_path / "s", KIND, {"who": "me"}, _specs(arrays, rows), fill)
    assert [c[0] for c in calls] == sorted(c[0] for c in calls)  # the file's order
    with ContainerReader(tmp_path / "s", KIND) as reader:
        reader.verify()
        assert reader.header.meta == {"who": "me"}
        assert info.disk_bytes == (tmp_path / "s").stat().st_size
        for name, want in arrays.items():
            assert reader.read(name).tobytes() == want.tobytes()
        got = reader.read_all()
        assert all(got[n].tobytes() == a.tobytes() for n, a in arrays.items())


@settings(max_examples=40, deadline=None)
@given(st.integers(1, 50), st.integers(0, 300), st.integers(0, 300))
def test_rows_read_alone_equal_the_whole(tmp_path_factory, rows, a, b):
    lo, hi = min(a, b), max(a, b)
    arrays = _arrays()
    path = tmp_path_factory.mktemp("rows") / "f"
    write_container(path, KIND, {}, arrays, frame_rows=lambda name: rows)
    with ContainerReader(path, KIND) as reader:
        assert reader.read_rows("a", lo, hi).tobytes() == arrays["a"][lo:hi].tobytes()
        got = reader.read_rows("c", lo, hi)  # byte frames straddling rows
        assert got.tobytes() == arrays["c"][lo:hi].tobytes()


def test_rows_of_a_damaged_frame_are_refused(tmp_path):
    arrays = {"a": np.random.default_rng(1).normal(size=(100, 64))}
    path = tmp_path / "f"
    write_container(path, KIND, {}, arrays, frame_rows=lambda name: 1)
    with ContainerReader(path, KIND) as reader:
        entry = reader.header.layout[0]
        at = reader.header.payload_offset + entry.frames[0][0] * 50 // 2 + 10
    blob = bytearray(path.read_bytes())
    blob[at] ^= 0x40
    path.write_bytes(bytes(blob))
    with ContainerReader(path, KIND, error_cls=BlobError) as reader:
        bad = 0
        for row in range(100):
            try:
                got = reader.read_rows("a", row, row + 1)
            except BlobError as exc:
                assert str(path) in str(exc) and "corrupt" in str(exc)
                bad += 1
            else:
                assert got.tobytes() == arrays["a"][row : row + 1].tobytes()
        assert bad >= 1


def test_fill_must_give_the_rows_it_was_asked(tmp_path):
    spec = [ArraySpec("a", np.dtype("<f8"), (10, 3), 4)]
    with pytest.raises(BlobError, match="fill gave"):
        write_streamed(tmp_path / "s", KIND, {}, spec, lambda n, a, b: np.zeros((1, 3)))
    assert list(tmp_path.iterdir()) == []  # nothing half-written


def test_streamed_names_must_be_sorted_and_unique(tmp_path):
    specs = [ArraySpec(n, np.dtype("<f8"), (2,), 1) for n in ("b", "a")]
    with pytest.raises(BlobError, match="sorted"):
        write_streamed(tmp_path / "s", KIND, {}, specs, lambda n, a, b: np.zeros(b - a))
