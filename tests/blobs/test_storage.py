"""The storage seam on real stores: a directory and a real S3 server (moto on 127.0.0.1).

The same contract runs on both (``store`` is parametrised), then what only object
storage has: multipart writes checked by ETag, and the failures a user meets — a
wrong endpoint, a missing bucket, missing or refused credentials — each one line.
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
from pathlib import Path

import pytest

from continuum.blobs.storage import LocalStore, Store, is_remote, open_store
from continuum.errors import (
    BucketMissingError,
    LayoutError,
    ObjectNotFoundError,
    StorageDeniedError,
    StorageError,
    StorageUnreachableError,
)
from tests.conftest import s3_keys


@pytest.fixture(params=["local", "s3"])
def store(request: pytest.FixtureRequest, tmp_path: Path) -> Store:
    if request.param == "local":
        return open_store(tmp_path / "root")
    return open_store(request.getfixturevalue("s3_root"))


def test_round_trip(store: Store) -> None:
    key = "RUN/checkpoint_0000000010.ckpt"
    assert not store.exists(key)
    store.put_bytes(key, b"0123456789")
    assert store.exists(key)
    assert store.get_bytes(key) == b"0123456789"
    assert store.get_range(key, 2, 5) == b"234"
    assert store.get_range(key, 8, 100) == b"89"
    assert store.get_range(key, 4, 4) == b""
    assert store.size(key) == 10
    store.put_bytes(key, memoryview(b"new"))  # overwrite, any buffer
    assert store.get_bytes(key) == b"new"
    store.delete(key)
    assert not store.exists(key)
    store.delete(key)  # already gone: fine


def test_list_is_recursive_sorted_and_confined(store: Store) -> None:
    for key in ["r1/b", "r1/a", "r1/sub/c", "r10/x", "r2/y"]:
        store.put_bytes(key, b"x")
    assert store.list("r1") == ["r1/a", "r1/b", "r1/sub/c"]  # not r10's keys
    assert store.list() == ["r1/a", "r1/b", "r1/sub/c", "r10/x", "r2/y"]
    assert store.list("nothing") == []


@pytest.mark.parametrize("key", ["../x", "a/../../x", "a//b", "/abs", "", "a/./b", "a/", "a\0b"])
def test_keys_never_escape_the_root(store: Store, key: str) -> None:
    for call in (
        lambda: store.put_bytes(key, b"x"),
        lambda: store.get_bytes(key),
        lambda: store.get_range(key, 0, 1),
        lambda: store.exists(key),
        lambda: store.size(key),
        lambda: store.delete(key),
        lambda: store.location(key or "."),
    ):
        with pytest.raises(LayoutError):
            call()
    with pytest.raises(LayoutError):
        store.list(key or "..")


def test_missing_key_is_one_clear_error(store: Store) -> None:
    with pytest.raises(ObjectNotFoundError, match="no such") as info:
        store.get_bytes("RUN/nothing")
    assert isinstance(info.value, FileNotFoundError)
    with pytest.raises(ObjectNotFoundError):
        store.size("RUN/nothing")


def test_open_store_chooses_by_scheme(tmp_path: Path, s3_root: str) -> None:
    assert isinstance(open_store(tmp_path), LocalStore)
    remote = open_store(s3_root + "/")
    assert remote.remote and remote.url == s3_root
    assert remote.location("a/b") == f"{s3_root}/a/b"
    assert is_remote(s3_root) and not is_remote(tmp_path) and not is_remote("s3-like/dir")
    for bad in ["s3://", "s3://B_ad/x", "s3://ok-bucket/../x", "s3://ok-bucket/a//b"]:
        with pytest.raises(LayoutError):
            open_store(bad)


def test_objects_land_under_the_prefix_only(s3_root: str, s3_bucket: str) -> None:
    store = open_store(s3_root)
    store.put_bytes("RUN/a", b"1")
    prefix = s3_root.split("/", 3)[3]
    assert s3_keys(s3_bucket) == [f"{prefix}/RUN/a"]


def test_multipart_write_is_checked_by_etag(s3_root: str, s3_bucket: str) -> None:
    from continuum.blobs.storage._s3 import S3Store, expected_etag

    part = 5 * 2**20  # S3's smallest part
    store = S3Store(s3_root, part_bytes=part)
    data = os.urandom(2 * part + 12345)  # three parts
    store.put_bytes("RUN/big", data)
    assert store.get_bytes("RUN/big") == data
    assert store.get_range("RUN/big", part - 3, part + 3) == data[part - 3 : part + 3]
    head = (
        __import__("tests.conftest", fromlist=["s3_client"])
        .s3_client()
        .head_object(Bucket=s3_bucket, Key=s3_root.split("/", 3)[3] + "/RUN/big")
    )
    assert head["ETag"].strip('"') == expected_etag(data, part)
    assert expected_etag(data, part).endswith("-3")


def test_bucket_missing(s3_endpoint: str) -> None:
    store = open_store("s3://ct-no-such-bucket-here/runs")
    with pytest.raises(BucketMissingError, match="ct-no-such-bucket-here.*does not exist"):
        store.check()
    with pytest.raises(BucketMissingError):
        store.put_bytes("RUN/a", b"x")


def _closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def test_unreachable_endpoint(monkeypatch: pytest.MonkeyPatch, s3_endpoint: str) -> None:
    url = f"http://127.0.0.1:{_closed_port()}"
    monkeypatch.setenv("AWS_ENDPOINT_URL", url)
    store = open_store("s3://some-bucket/runs")
    with pytest.raises(StorageUnreachableError, match=f"no answer from {url}.*AWS_ENDPOINT_URL"):
        store.put_bytes("RUN/a", b"x")  # (botocore's retries: ~3 s)


def test_no_credentials(monkeypatch: pytest.MonkeyPatch, s3_root: str) -> None:
    for name in ["AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN", "AWS_PROFILE"]:
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", os.devnull)
    monkeypatch.setenv("AWS_CONFIG_FILE", os.devnull)
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")
    with pytest.raises(StorageDeniedError, match="no AWS credentials found.*AWS_ACCESS_KEY_ID"):
        open_store(s3_root).check()


def test_refused_credentials(monkeypatch: pytest.MonkeyPatch, s3_denying_endpoint: str) -> None:
    monkeypatch.setenv("AWS_ENDPOINT_URL", s3_denying_endpoint)
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "AKIANOTAREALKEY00000")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "not-a-secret")
    store = open_store("s3://some-bucket/runs")
    with pytest.raises(StorageDeniedError, match="access denied.*AWS_ACCESS_KEY_ID"):
        store.check()
    with pytest.raises(StorageDeniedError):
        store.put_bytes("RUN/a", b"x")


def test_errors_are_storage_errors_and_oserrors() -> None:
    for cls in (BucketMissingError, StorageDeniedError, StorageUnreachableError):
        assert issubclass(cls, StorageError) and issubclass(cls, OSError)


def test_import_loads_no_s3_library() -> None:
    code = (
        "import sys, continuum.blobs, continuum.blobs.storage; "
        "bad = [m for m in ('s3fs', 'botocore', 'aiobotocore', 'fsspec') if m in sys.modules]; "
        "print(bad); sys.exit(1 if bad else 0)"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert done.returncode == 0, done.stdout + done.stderr
