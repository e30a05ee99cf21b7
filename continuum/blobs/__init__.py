"""Bytes on disk: atomic commits, the checksummed array container, the storage seam.

Owns: the atomic commit protocol (temp file, fsync, rename, fsync directory;
``commit_file`` for files another library wrote, e.g. DuckDB's Parquet parts;
symlink swaps; the JSON run manifest), the container layout shared by ``.ckpt`` and
``.lens`` files, zstd compression with byte shuffling, and checksums. File names
(temporaries, ``manifest.json``) are :mod:`continuum.layout`'s, never spelled here.

Must not touch: simulation State, checkpoint or lens semantics (callers give
a 4-byte kind tag, a JSON ``meta`` dict and named numpy arrays, and map
``BlobError`` to their own subclass through ``error_cls``), nor the catalog.
It imports only numpy, zstandard, xxhash, msgspec, the standard library,
``continuum.errors`` and ``continuum.layout`` — and s3fs, lazily, in
``continuum.blobs.storage._s3`` when an ``s3://`` root is opened (:mod:`continuum.blobs.storage`).
"""

from continuum.blobs._frames import usable_cpus
from continuum.blobs.atomic import (
    atomic_write,
    atomic_writer,
    commit_file,
    fsync_dir,
    fsync_file,
    make_dirs,
    replace_symlink,
)
from continuum.blobs.container import (
    DEFAULT_READ_THREADS,
    ArrayEntry,
    ContainerHeader,
    ContainerInfo,
    ContainerReader,
    ShufflePolicy,
    Stacked,
    encode_container,
    encode_container_with_header,
    header_bytes_needed,
    read_header,
    write_container,
)
from continuum.blobs.limits import (
    MAX_MANIFEST_BYTES,
    decode_json,
    max_raw_bytes,
    open_regular,
    read_json_file,
    read_small_file,
)
from continuum.blobs.manifest import JsonManifest, now_iso

__all__ = [
    "DEFAULT_READ_THREADS",
    "MAX_MANIFEST_BYTES",
    "ArrayEntry",
    "ContainerHeader",
    "ContainerInfo",
    "ContainerReader",
    "JsonManifest",
    "ShufflePolicy",
    "Stacked",
    "atomic_write",
    "atomic_writer",
    "commit_file",
    "decode_json",
    "encode_container",
    "encode_container_with_header",
    "fsync_dir",
    "fsync_file",
    "header_bytes_needed",
    "make_dirs",
    "max_raw_bytes",
    "now_iso",
    "open_regular",
    "read_header",
    "read_json_file",
    "read_small_file",
    "replace_symlink",
    "usable_cpus",
    "write_container",
]
