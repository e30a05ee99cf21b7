"""Lens run dirs on a real S3 server: capture in process, ranged reads, damage detected."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from continuum.blobs.storage import open_store
from continuum.errors import LensCorruptError
from continuum.lens import LensStore
from continuum.lens import remote as lens_remote
from continuum.lens.remote import is_view, remote_object, remote_view, shown
from tests.conftest import s3_client, s3_keys

from .helpers import CHUNK, STEPS, STRIDE, assert_same_frames, run


@pytest.fixture
def s3_run(s3_root: str) -> tuple[str, dict]:
    """The ``lens_run`` fixture's run, captured into ``s3_root/lens`` without a catalog."""
    summary = run(
        steps=STEPS,
        lens_dir=f"{s3_root}/lens",
        lens_stride=STRIDE,
        lens_chunk_size=CHUNK,
        no_catalog=True,
    )
    return f"{s3_root}/lens", summary


class Counting:
    """Bytes fetched by ranged reads of the store under test (a real S3Store)."""

    def __init__(self, monkeypatch: pytest.MonkeyPatch) -> None:
        self.fetched: list[tuple[str, int]] = []
        real = lens_remote.RemoteObject

        outer = self

        class Spy:
            def __init__(self, store: object) -> None:
                self.store = store

            def __getattr__(self, name: str) -> object:
                return getattr(self.store, name)

            def get_range(self, key: str, start: int, end: int) -> bytes:
                data: bytes = self.store.get_range(key, start, end)  # type: ignore[attr-defined]
                outer.fetched.append((key, len(data)))
                return data

        def spied(store: object, key: str, size: int) -> object:
            return real(Spy(store), key, size)  # type: ignore[arg-type]

        monkeypatch.setattr(lens_remote, "RemoteObject", spied)


def test_capture_into_s3_reads_back_the_frames_bit_for_bit(s3_run, expected):
    root, summary = s3_run
    run_id = summary["run_id"]
    assert summary["lens_dir"] == f"{root}/{run_id}"
    bucket, prefix = root[len("s3://") :].split("/", 1)
    names = [k.rsplit("/", 1)[1] for k in s3_keys(bucket, f"{prefix}/{run_id}/")]
    assert "manifest.json" in names and sum(n.startswith("lens_snapshot_") for n in names) == 4
    view = remote_view(f"{root}/{run_id}")
    assert view.name == run_id and is_view(view) and shown(view) == f"{root}/{run_id}"
    with LensStore(view) as store:
        assert_same_frames(store.load(), expected)
        assert not store.missing and not store.unreadable


def test_a_point_history_fetches_only_its_tiles(s3_run, monkeypatch):
    root, summary = s3_run
    counting = Counting(monkeypatch)
    view = remote_view(f"{root}/{summary['run_id']}")
    chunks = sorted(p for p in view.iterdir() if p.suffix == ".lens")  # and the by-sample copy
    sizes = sum(p.stat().st_size for p in chunks)
    assert all(remote_object(p) is not None for p in chunks)
    assert sum(p.stat().st_blocks for p in chunks) == 0  # placeholders hold no data
    with LensStore(view) as store:
        history = store.history("atmosphere.temperature", np.array([0.0, 0.0, 1.0]))
    assert len(history.ticks) == len(range(0, STEPS + 1, STRIDE))
    fetched = sum(n for _key, n in counting.fetched)
    # one field of three: its tiles (here one per field: 384 cells) and the headers
    assert 0 < fetched < sizes / 2, (fetched, sizes)


def test_a_damaged_object_is_reported_not_read(s3_run):
    root, summary = s3_run
    run_id = summary["run_id"]
    store = open_store(root)
    key = f"{run_id}/lens_snapshot_0000000010-0000000020.lens"
    blob = bytearray(store.get_bytes(key))
    blob[-100] ^= 0xFF  # in the payload: the header still reads
    s3_client().put_object(Bucket=store.bucket, Key=f"{store.prefix}/{key}", Body=bytes(blob))  # type: ignore[attr-defined]
    with (
        LensStore(remote_view(f"{root}/{run_id}")) as lens,
        pytest.raises(LensCorruptError, match=r"s3://.*lens_snapshot_0000000010"),
    ):
        lens.load()


def test_an_empty_prefix_is_one_line(s3_root: str, tmp_path: Path):
    from continuum.errors import LensError

    with pytest.raises(LensError, match="holds no lens data"):
        remote_view(f"{s3_root}/nothing")
