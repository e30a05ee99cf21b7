"""``s3://bucket/prefix`` as a :class:`~continuum.blobs.storage.Store`, through s3fs.

Endpoint, credentials and region are botocore's own resolution, nothing of ours:
``AWS_ENDPOINT_URL`` (or ``AWS_ENDPOINT_URL_S3``), ``AWS_ACCESS_KEY_ID`` /
``AWS_SECRET_ACCESS_KEY`` / ``AWS_SESSION_TOKEN``, ``AWS_PROFILE``,
``AWS_DEFAULT_REGION`` and ``~/.aws/config`` / ``~/.aws/credentials``. A filesystem
object is made once per process and per value of those variables, so a changed
environment (a test, a forked worker) never reuses another's credentials.

Every s3fs / botocore / aiohttp exception becomes a :class:`continuum.errors.StorageError`
in one place (:func:`_translated`): unreachable endpoint, missing bucket, denied or
missing credentials, missing key — each one line saying what to check.

A write is one ``PutObject`` (``CreateMultipartUpload`` ... ``Complete`` past
``2 * part_bytes``; S3 shows a multipart object only once it is complete, and s3fs
aborts the upload on failure) whose ETag must be the one computed from the bytes sent:
the server's CRC32 of what it stored, in the PUT's own answer (botocore sends a CRC32
with every PUT by default and the server checks it; ours is computed beside the upload,
so no extra round trip and little extra time), else the ETag: the MD5 (or, for a
multipart upload, read by a ``HeadObject`` with the size, the MD5 of the part MD5s with
``-N``). A store whose ETags are not MD5s (SSE-KMS) gets a read-back compared byte for
byte.
"""

from __future__ import annotations

import base64
import contextlib
import hashlib
import os
import re
import threading
import zlib
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from continuum import layout
from continuum.blobs.storage._base import BytesLike, Upload
from continuum.errors import (
    BucketMissingError,
    LayoutError,
    ObjectNotFoundError,
    StorageDeniedError,
    StorageError,
    StorageIntegrityError,
    StorageUnreachableError,
)

try:
    import botocore.exceptions as _botocore
    import s3fs
except ImportError as exc:  # pragma: no cover - the [s3] extra is missing
    raise StorageError(
        "s3:// locations need s3fs: pip install 'continuum[s3]' (or pip install s3fs)"
    ) from exc

#: parts of a multipart upload (objects of 2x this or more); S3's minimum part is 5 MiB
PART_BYTES = 50 * 2**20
CONNECT_TIMEOUT = 5.0  # seconds: a wrong endpoint fails in seconds, not minutes
READ_TIMEOUT = 60.0
_ATTEMPTS = 3  # botocore's "standard" retries (throttling, 5xx, dropped connections)

_ENV = (
    "AWS_ENDPOINT_URL",
    "AWS_ENDPOINT_URL_S3",
    "AWS_ACCESS_KEY_ID",
    "AWS_SECRET_ACCESS_KEY",
    "AWS_SESSION_TOKEN",
    "AWS_PROFILE",
    "AWS_DEFAULT_REGION",
    "AWS_REGION",
    "AWS_CONFIG_FILE",
    "AWS_SHARED_CREDENTIALS_FILE",
    "HOME",
)
_MD5_ETAG = re.compile(r"^[0-9a-f]{32}(-[0-9]+)?$")
_lock = threading.Lock()
_filesystems: dict[tuple[object, ...], Any] = {}


_hashers: list[ThreadPoolExecutor] = []


def _hasher() -> ThreadPoolExecutor:
    """One thread that checksums a body while it uploads."""
    with _lock:
        if not _hashers:
            _hashers.append(ThreadPoolExecutor(1, thread_name_prefix="continuum-s3-checksum"))
        return _hashers[0]


def _filesystem() -> Any:
    """The process's s3fs filesystem for the current AWS environment."""
    key = (os.getpid(), *(os.environ.get(name) for name in _ENV))
    with _lock:
        fs = _filesystems.get(key)
        if fs is None:
            fs = s3fs.S3FileSystem(
                skip_instance_cache=True,
                use_listings_cache=False,  # other processes write the same prefixes
                config_kwargs={
                    "connect_timeout": CONNECT_TIMEOUT,
                    "read_timeout": READ_TIMEOUT,
                    "retries": {"max_attempts": _ATTEMPTS, "mode": "standard"},
                },
            )
            fs.retries = _ATTEMPTS  # s3fs's own retry loop on top of botocore's
            _filesystems[key] = fs
        return fs


def endpoint() -> str:
    """The endpoint botocore will use, for messages."""
    return (
        os.environ.get("AWS_ENDPOINT_URL_S3")
        or os.environ.get("AWS_ENDPOINT_URL")
        or "the AWS S3 endpoint (no AWS_ENDPOINT_URL set)"
    )


_UNREACHABLE: tuple[type[BaseException], ...] = (
    _botocore.EndpointConnectionError,
    _botocore.ConnectTimeoutError,
    _botocore.ConnectionClosedError,
    _botocore.ReadTimeoutError,
    TimeoutError,
    ConnectionError,
)
with contextlib.suppress(ImportError):
    import aiohttp

    _UNREACHABLE += (aiohttp.ClientConnectionError,)
with contextlib.suppress(ImportError):
    from fsspec.exceptions import FSTimeoutError

    _UNREACHABLE += (FSTimeoutError,)


def _reason(exc: BaseException) -> str:
    text = " ".join(str(exc).split()) or type(exc).__name__
    return text[:300]


@contextlib.contextmanager
def _translated(action: str, where: str, bucket: str) -> Iterator[None]:
    """The one translation of s3fs / botocore / aiohttp failures into ``StorageError``."""
    try:
        yield
    except (StorageError, LayoutError):
        raise
    except (_botocore.NoCredentialsError, _botocore.PartialCredentialsError) as exc:
        raise StorageDeniedError(
            f"cannot {action} {where}: no AWS credentials found ({_reason(exc)}); set "
            "AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY, or AWS_PROFILE with ~/.aws/credentials"
        ) from exc
    except PermissionError as exc:
        raise StorageDeniedError(
            f"cannot {action} {where}: access denied ({_reason(exc)}); check the credentials "
            "(AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY, AWS_PROFILE) and the bucket's policy"
        ) from exc
    except _UNREACHABLE as exc:
        raise StorageUnreachableError(
            f"cannot {action} {where}: no answer from {endpoint()} ({_reason(exc)}); "
            "check AWS_ENDPOINT_URL and that the server is up"
        ) from exc
    except FileNotFoundError as exc:
        if "bucket" in str(exc).lower():
            raise BucketMissingError(
                f"cannot {action} {where}: bucket {bucket!r} does not exist at {endpoint()}; "
                "create it or fix the URL"
            ) from exc
        raise ObjectNotFoundError(f"{where}: no such object") from exc
    except (_botocore.BotoCoreError, OSError, ValueError) as exc:
        raise StorageError(f"cannot {action} {where}: {_reason(exc)}") from exc


def expected_etag(data: BytesLike, part_bytes: int) -> str:
    """The ETag S3 gives ``data`` written by :meth:`S3Store.put_bytes` (single or multipart)."""
    view = memoryview(data)
    if len(view) < 2 * part_bytes:
        return hashlib.md5(view, usedforsecurity=False).hexdigest()
    digests = b"".join(
        hashlib.md5(view[i : i + part_bytes], usedforsecurity=False).digest()
        for i in range(0, len(view), part_bytes)
    )
    count = -(-len(view) // part_bytes)
    return f"{hashlib.md5(digests, usedforsecurity=False).hexdigest()}-{count}"


class S3Store:
    """Blobs as objects under ``s3://bucket/prefix``."""

    remote = True

    def __init__(self, url: str, *, part_bytes: int = PART_BYTES) -> None:
        self.scheme, self.bucket, self.prefix = layout.split_object_url(url)
        self.url = layout.object_url(self.scheme, self.bucket, self.prefix)
        self.part_bytes = part_bytes
        self._fs = _filesystem()

    # --- keys ----------------------------------------------------------------------------

    def _full_key(self, key: str) -> str:
        layout.check_key(key)
        return f"{self.prefix}/{key}" if self.prefix else key

    def _path(self, key: str) -> str:
        return f"{self.bucket}/{self._full_key(key)}"

    def location(self, key: str = "") -> str:
        if not key:
            return self.url
        return layout.object_url(self.scheme, self.bucket, self._full_key(key))

    def _do(self, action: str, key: str) -> contextlib.AbstractContextManager[None]:
        return _translated(action, self.location(key), self.bucket)

    # --- the Store protocol --------------------------------------------------------------

    def put_bytes(self, key: str, data: BytesLike) -> None:
        body = data if isinstance(data, bytes) else bytes(data)
        path = self._path(key)
        crc = _hasher().submit(zlib.crc32, body)  # beside the upload (zlib drops the GIL)
        with self._do("write", key):
            out = self._fs.pipe_file(path, body, chunksize=self.part_bytes)
            stored = out.get("ChecksumCRC32") if isinstance(out, dict) else None
            if stored is not None:  # a single PUT: the server's CRC32 of what it stored
                if base64.b64decode(stored) == crc.result().to_bytes(4, "big"):
                    return
                raise StorageIntegrityError(
                    f"{self.location(key)} does not hold the bytes just written (CRC32); "
                    "the object store corrupted it: retry, or check the store"
                )
            info = self._fs.info(path)  # multipart, or no CRC32 in the answer: ask the object
        self._verify(key, body, info)

    def _verify(self, key: str, body: bytes, info: dict[str, Any]) -> None:
        where = self.location(key)
        if info.get("size") != len(body):
            raise StorageIntegrityError(
                f"{where} holds {info.get('size')} bytes after writing {len(body)}; "
                "the object store lost data: retry, or check the store"
            )
        etag = str(info.get("ETag", "")).strip('"')
        if _MD5_ETAG.match(etag):
            if etag == expected_etag(body, self.part_bytes):
                return
        elif self.get_bytes(key) == body:  # not an MD5 (SSE-KMS...): compare a read-back
            return
        raise StorageIntegrityError(
            f"{where} does not hold the bytes just written (ETag {etag[:40]}); "
            "the object store corrupted it: retry, or check the store"
        )

    def get_bytes(self, key: str) -> bytes:
        with self._do("read", key):
            data: bytes = self._fs.cat_file(self._path(key))
        return data

    def get_range(self, key: str, start: int, end: int) -> bytes:
        if end <= start:
            return b""
        with self._do("read", key):
            data: bytes = self._fs.cat_file(self._path(key), start=start, end=end)
        return data

    def exists(self, key: str) -> bool:
        with self._do("look up", key):
            return bool(self._fs.isfile(self._path(key)))

    def size(self, key: str) -> int:
        with self._do("look up", key):
            return int(self._fs.info(self._path(key))["size"])

    def list(self, prefix: str = "") -> list[str]:
        base = self._full_key(prefix) if prefix else self.prefix
        root = f"{self.prefix}/" if self.prefix else ""
        with self._do("list", prefix):
            found = self._fs.find(f"{self.bucket}/{base}" if base else self.bucket)
        keys = []
        for path in found:
            full = path.split("/", 1)[1] if "/" in path else ""
            if full.startswith(root) and layout.key_within(base, full):
                keys.append(full[len(root) :])
        return sorted(keys)

    def delete(self, key: str) -> None:
        with self._do("delete", key), contextlib.suppress(FileNotFoundError):
            self._fs.rm_file(self._path(key))

    def uploads(self, prefix: str = "") -> tuple[Upload, ...]:
        base = self._full_key(prefix) if prefix else self.prefix
        root = f"{self.prefix}/" if self.prefix else ""
        found: list[Upload] = []
        marker: dict[str, str] = {}
        with self._do("list the uploads of", prefix):
            while True:
                page = self._fs.call_s3(
                    "list_multipart_uploads", Bucket=self.bucket, Prefix=base, **marker
                )
                for up in page.get("Uploads", []):
                    key = str(up["Key"])
                    if key.startswith(root) and layout.key_within(base, key):
                        found.append(Upload(key[len(root) :], up["UploadId"], up["Initiated"]))
                if not page.get("IsTruncated"):
                    break
                marker = {
                    "KeyMarker": page["NextKeyMarker"],
                    "UploadIdMarker": page["NextUploadIdMarker"],
                }
        return tuple(sorted(found, key=lambda u: u.initiated))

    def abort(self, upload: Upload) -> None:
        key = self._full_key(upload.key)
        with self._do("abort the upload of", upload.key), contextlib.suppress(FileNotFoundError):
            self._fs.call_s3(
                "abort_multipart_upload", Bucket=self.bucket, Key=key, UploadId=upload.upload_id
            )

    def check(self) -> None:
        with self._do("list", ""):
            self._fs.call_s3("list_objects_v2", Bucket=self.bucket, Prefix=self.prefix, MaxKeys=1)
