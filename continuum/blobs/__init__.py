"""Bytes on disk: atomic commits and the checksummed array container.

Owns: the atomic commit protocol (temp file, fsync, rename, fsync directory;
symlink swaps; the JSON run manifest), the container layout shared by ``.ckpt`` and ``.lens`` files,
zstd compression with byte shuffling, and checksums.

Must not touch: simulation State, checkpoint or lens semantics (callers give
a 4-byte kind tag, a JSON ``meta`` dict and named numpy arrays, and map
``BlobError`` to their own subclass through ``error_cls``), nor the catalog.
It imports only numpy, zstandard, xxhash, the standard library and
``continuum.errors``.
"""

from continuum.blobs.atomic import (
    TEMP_NAME_RE,
    atomic_write,
    atomic_writer,
    fsync_dir,
    is_temp_name,
    replace_symlink,
)
from continuum.blobs.container import (
    DEFAULT_READ_THREADS,
    ArrayEntry,
    ContainerHeader,
    ContainerInfo,
    ContainerReader,
    ShufflePolicy,
    encode_container,
    encode_container_with_header,
    read_header,
    write_container,
)
from continuum.blobs.manifest import MANIFEST, JsonManifest, now_iso

__all__ = [
    "DEFAULT_READ_THREADS",
    "MANIFEST",
    "TEMP_NAME_RE",
    "ArrayEntry",
    "ContainerHeader",
    "ContainerInfo",
    "ContainerReader",
    "JsonManifest",
    "ShufflePolicy",
    "atomic_write",
    "atomic_writer",
    "encode_container",
    "encode_container_with_header",
    "fsync_dir",
    "is_temp_name",
    "now_iso",
    "read_header",
    "replace_symlink",
    "write_container",
]
