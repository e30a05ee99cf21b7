"""What a reader believes: ceilings, bounded reads of small files, typed JSON decoding.

Nothing a file declares is allocated before it is checked against the file's real
size and a ceiling (issue 12, class 5). The rules, applied by every reader:

- **Small files** (run and lens manifests): opened without blocking (a FIFO cannot hang
  the reader), refused unless ``fstat`` says regular file (a directory, a FIFO or
  ``/dev/zero`` is one line) and at most :data:`MAX_MANIFEST_BYTES`; then read with a
  bounded read (a file that grows while read is refused, not followed).
- **Container headers**: at most :data:`MAX_HEADER_BYTES` and never beyond the file.
- **Decompressed sizes**: each zstd frame decodes to at most :data:`MAX_FRAME_BYTES`
  (writers cut 1 MiB frames) and to at most :data:`ZSTD_MAX_RATIO` times its compressed
  size. That ratio is zstd's own hard limit (a block holds at most 128 KiB and takes at
  least 4 bytes, so no real frame exceeds it; 1 MiB of zeros is 54 bytes, ratio 19,418),
  so the rule refuses only forged sizes, never a file zstd wrote, and it bounds what a
  file can declare by its real size. Every array's declared size is ``prod(shape) *
  itemsize`` and the container's total must stay under :func:`max_raw_bytes`: half the
  machine's physical memory, or ``CONTINUUM_MAX_BLOB_BYTES``. A header declaring a
  100 GiB array therefore fails on both counts, before anything is allocated.
- **Verification** (``ContainerReader.verify``) streams frame by frame through one
  reused buffer: its memory is bounded by one frame (:data:`MAX_FRAME_BYTES` raw plus
  its compressed bytes), whatever the file declares — a 216 KB file of 3 GB of zeros
  verifies in a few MB.
- **JSON** is decoded by msgspec into typed Structs (``msgspec.Meta`` constraints), so a
  wrong type, a negative count or a bad identifier is one line naming the file and the
  field (``$.layout[3].shape``). msgspec has no NaN/Infinity literals and refuses numbers
  out of range, and a typed field refuses nesting at once; untyped parts (``Any``)
  nested too deeply raise ``RecursionError`` inside msgspec (it guards its own
  recursion), which becomes the same one line.
"""

from __future__ import annotations

import os
import stat
from typing import TypeVar

import msgspec

from continuum.errors import BlobError, ContinuumError
from continuum.layout import StrPath

MAX_MANIFEST_BYTES = 16 << 20
MAX_HEADER_BYTES = 16 << 20
MAX_FRAME_BYTES = 64 << 20
ZSTD_MAX_RATIO = 32768
MAX_RAW_ENV = "CONTINUUM_MAX_BLOB_BYTES"
_MIN_DEFAULT_RAW = 1 << 30

T = TypeVar("T")


def max_raw_bytes() -> int:
    """The most decompressed bytes one container may declare (see the module docstring)."""
    text = os.environ.get(MAX_RAW_ENV, "").strip()
    if text:
        try:
            value = int(text)
        except ValueError:
            value = -1
        if value <= 0:
            raise BlobError(f"{MAX_RAW_ENV} must be a positive number of bytes")
        return value
    try:
        physical = os.sysconf("SC_PHYS_PAGES") * os.sysconf("SC_PAGE_SIZE")
    except (ValueError, OSError, AttributeError):
        physical = 0
    return max(physical // 2, _MIN_DEFAULT_RAW)


def _file_kind(mode: int) -> str:
    if stat.S_ISDIR(mode):
        return "a directory"
    if stat.S_ISFIFO(mode):
        return "a FIFO"
    if stat.S_ISCHR(mode) or stat.S_ISBLK(mode):
        return "a device"
    if stat.S_ISSOCK(mode):
        return "a socket"
    return "not a regular file"


def open_regular(path: StrPath, what: str, error_cls: type[ContinuumError] = BlobError) -> int:
    """A read-only descriptor of ``path``, refused unless it is a regular file.

    Opened with ``O_NONBLOCK`` so a FIFO planted in a file's place cannot block the
    open; the flag means nothing for regular files. ``OSError`` (missing, no
    permission) propagates: a missing file is not a corrupt one.
    """
    fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK | getattr(os, "O_CLOEXEC", 0))
    try:
        mode = os.fstat(fd).st_mode
        if not stat.S_ISREG(mode):
            raise error_cls(f"{os.fspath(path)}: {_file_kind(mode)}, not a {what} file")
        os.set_blocking(fd, True)
    except BaseException:
        os.close(fd)
        raise
    return fd


def read_small_file(
    path: StrPath,
    what: str,
    error_cls: type[ContinuumError] = BlobError,
    limit: int = MAX_MANIFEST_BYTES,
) -> bytes:
    """The bytes of a regular file of at most ``limit`` bytes, read with a bounded read."""
    fd = open_regular(path, what, error_cls)
    with os.fdopen(fd, "rb", buffering=0) as f:
        size = os.fstat(fd).st_size
        if size > limit:
            raise error_cls(f"{os.fspath(path)}: {size} bytes, more than a {what} may be ({limit})")
        # allocate by the real size (a read of n bytes reserves n), then follow growth in
        # small steps only as far as the ceiling
        chunks, got, step = [], 0, size + 1
        while got <= limit:
            chunk = f.read(min(step, limit + 1 - got))
            if not chunk:
                break
            chunks.append(chunk)
            got, step = got + len(chunk), 1 << 16
        if got > limit:
            raise error_cls(f"{os.fspath(path)}: grew past {limit} bytes while being read")
        return b"".join(chunks)


def _printable(text: str) -> str:
    return "".join(c if c.isprintable() else repr(c)[1:-1] for c in text)


def decode_json(
    data: bytes,
    decoder: msgspec.json.Decoder[T],
    where: str,
    what: str,
    error_cls: type[ContinuumError] = BlobError,
) -> T:
    """``decoder.decode(data)``; any defect is one ``error_cls`` line naming file and field.

    msgspec's messages name the field (``- at `$.state.tick```) and the expectation;
    the only one that quotes a value (an enum) is avoided by using patterns instead.
    """
    try:
        return decoder.decode(data)
    except msgspec.ValidationError as exc:
        raise error_cls(f"{where}: malformed {what}: {_printable(str(exc))}") from None
    except msgspec.DecodeError as exc:
        raise error_cls(f"{where}: {what} is not valid JSON ({_printable(str(exc))})") from None
    except RecursionError:
        raise error_cls(f"{where}: malformed {what}: nested too deeply") from None


def read_json_file(
    path: StrPath,
    decoder: msgspec.json.Decoder[T],
    what: str,
    error_cls: type[ContinuumError] = BlobError,
    limit: int = MAX_MANIFEST_BYTES,
) -> T:
    """A small JSON file decoded by ``decoder``: :func:`read_small_file`, :func:`decode_json`."""
    data = read_small_file(path, what, error_cls, limit)
    return decode_json(data, decoder, os.fspath(path), what, error_cls)
