"""The SQL sessions' snapshot filesystem on a real S3 server: what it reads is the object.

Its reads go through a tail cache shared by every open of an object and a read-ahead
block (``continuum.blobs.storage._snapshot``); whatever the order and size of the reads
DuckDB makes, each must return exactly the object's bytes at that range.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Iterator

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from continuum.blobs.storage import fsspec_filesystem, open_store

SIZE = 1_300_000  # past one read-ahead block and one minimum tail


@pytest.fixture(scope="module")
def stored(s3_endpoint: str) -> Iterator[tuple[str, bytes]]:
    """One object of random bytes in a bucket of its own (a module's worth of reads)."""
    import uuid

    from tests.conftest import s3_client

    bucket = f"ct-snap-{uuid.uuid4().hex[:12]}"
    s3_client().create_bucket(Bucket=bucket)
    body = os.urandom(SIZE)
    open_store(f"s3://{bucket}/p").put_bytes("part.parquet", body)
    try:
        yield f"{bucket}/p/part.parquet", body
    finally:
        s3_client().delete_object(Bucket=bucket, Key="p/part.parquet")
        s3_client().delete_bucket(Bucket=bucket)


reads = st.lists(
    st.tuples(st.integers(0, SIZE + 10), st.integers(0, 700_000)), min_size=1, max_size=6
)


@settings(max_examples=25)  # each read may be a GET: keep the suite's budget
@given(opens=st.lists(reads, min_size=1, max_size=3))
def test_every_read_returns_the_objects_bytes(stored: tuple[str, bytes], opens) -> None:
    path, body = stored
    fs = fsspec_filesystem(f"s3://{path}", snapshot=True)
    fs.prime(path.rsplit("/", 1)[0])
    for session_reads in opens:  # several opens share what the filesystem read
        with fs.open(path, "rb") as f:
            for start, length in session_reads:
                f.seek(min(start, SIZE))
                assert f.read(length) == body[min(start, SIZE) : start + length]


def test_a_footer_read_again_costs_no_request(
    stored: tuple[str, bytes], caplog: pytest.LogCaptureFixture
) -> None:
    """What every query's planning does: open each part and read its footer."""
    path, body = stored
    fs = fsspec_filesystem(f"s3://{path}", snapshot=True)
    fs.prime(path.rsplit("/", 1)[0])
    caplog.set_level(logging.DEBUG, logger="s3fs")

    def footer() -> bytes:
        with fs.open(path, "rb") as f:
            f.seek(SIZE - 8)
            size = int.from_bytes(f.read(4), "little") % 50_000 + 100
            f.seek(SIZE - 8 - size)
            return f.read(size + 8)

    first = footer()
    gets = [r for r in caplog.records if "get_object" in r.getMessage()]
    caplog.clear()
    assert footer() == first == body[-len(first) :]
    assert gets and not [r for r in caplog.records if "get_object" in r.getMessage()]


def test_a_new_snapshot_reads_the_object_again(stored: tuple[str, bytes]) -> None:
    """What was read lives in one filesystem: a new session never sees another's bytes."""
    path, body = stored
    one = fsspec_filesystem(f"s3://{path}", snapshot=True)
    two = fsspec_filesystem(f"s3://{path}", snapshot=True)
    assert one is not two and one._ranges is not two._ranges
    with one.open(path, "rb") as f:
        f.seek(SIZE - 100)
        assert f.read() == body[-100:]
