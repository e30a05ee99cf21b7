"""Lens snapshots: lossy observer data (field frames) for analysis and replay.

The lens is the observer boundary: it reads fields, never influences the run.

Owns: the one field-source interface and its records (``source``: :class:`FieldSource`,
:class:`PointValue`, :class:`PointValues`, :class:`FieldHistory`, tick windows), the
in-memory field history (``history``: :class:`FieldLens`) and the on-disk run directory
(``store``: :class:`LensStore`), both field sources answering with the same records;
reconstruction rules (``reconstruct``: containing cell, nearest sample), bracketing and
temporal interpolation, written once for both (``interpolate``), the ``.lens`` chunk
format (``format``: encoding returns the header it computed), a lens run directory's
chunk windows and manifest (``manifest``), capture on ``continuum run`` (``capture``:
the tick observer; ``writer``: the background stages that seal and write chunks), the
point-major copies of the history (``by_sample``: the format; ``compaction``: building
them on a thread of their own), regions as sample runs (``region``), maps of a frame
(``plot``, with the optional ``continuum[plot]`` extra), and the run as a lazily read
xarray Dataset (``blocks``: a field's values at any ticks and samples, reading only the
tiles and rows they need; ``dataset``: :func:`open_dataset` and its ``BackendArray``,
with the optional ``continuum[xarray]`` extra; run ids are resolved above the catalog,
in :mod:`continuum.datasets`), and lens dirs on object storage (``mirror``: capture into
``s3://`` through a staging dir, each chunk put whole; ``remote``: reading one through a
local view of its names whose bytes are fetched by ranged GETs).

Imports: ``continuum.layout`` (every file name and path: chunk names, the full snapshot,
``manifest.json``, run dirs), ``continuum.blobs`` (the container, atomic writes),
``continuum.topology``, ``continuum.runtime`` (only ``FieldFrame``, ``Simulation``,
``State``) and ``continuum.errors``. Inside, the writer never imports the reader
(``store``), and ``source``/``interpolate`` import only ``format`` and ``reconstruct``.

Must not import: the catalog, maintenance, sql, runner, serve or cli packages. Must not
touch: the State (it only calls ``Simulation.observe`` and reads read-only arrays; a run
with the lens on ends bitwise equal to one without), the tick loop's timing (hand-off
only; the loop waits only under ``--lens-on-full wait`` with the memory budget full, and
the wait is measured), the catalog (sealed chunks go to ``on_seal``
callbacks; it never writes catalog rows itself), or geometry of its own: the topology
is :class:`continuum.topology.CubedSphere`, re-exported here as
:data:`CubedSphereTopology`. Importing it loads neither sqlalchemy, duckdb nor click;
scipy is imported only when a point-sample field is reconstructed, xarray only when
:func:`open_dataset` is first looked up.
"""

from typing import TYPE_CHECKING

from continuum import lazy
from continuum.topology import CubedSphere as _CubedSphere

if TYPE_CHECKING:  # what the names are, for type checkers; at run time, loaded on first use
    from continuum.lens.capture import (
        CaptureConfig,
        LensCapture,
        choose_chunk_size,
        covered_end,
        default_memory,
        parse_fields,
    )
    from continuum.lens.compaction import compact_history
    from continuum.lens.dataset import open_dataset
    from continuum.lens.format import (
        FORMAT_VERSION,
        KIND,
        ChunkData,
        ChunkFile,
        ChunkHeader,
        EncodedChunk,
        FieldSeries,
        LensIdentity,
        ValueReads,
        encode_chunk,
        read_chunk_header,
        write_chunk,
    )
    from continuum.lens.gaps import LensGap
    from continuum.lens.history import FieldLens
    from continuum.lens.interpolate import blend, bracket
    from continuum.lens.manifest import LensManifest
    from continuum.lens.reconstruct import (
        CONTAINING,
        NEAREST,
        RULES,
        FieldConfig,
        Reconstruction,
    )
    from continuum.lens.region import Region
    from continuum.lens.source import FieldHistory, FieldSource, PointValue, PointValues
    from continuum.lens.store import ChunkRef, LensStore, resolve_run_dir
    from continuum.lens.writer import (
        ChunkWriter,
        GapCallback,
        OnFull,
        RecordedGap,
        SealCallback,
        SealedChunk,
    )

#: each public name -> the module defining it: importing the package loads none of them,
#: so a command that needs one submodule pays for that one (``lens sql`` starts without
#: the capture, the writer and the formats)
_WHERE = {
    "CaptureConfig": "continuum.lens.capture",
    "LensCapture": "continuum.lens.capture",
    "choose_chunk_size": "continuum.lens.capture",
    "covered_end": "continuum.lens.capture",
    "default_memory": "continuum.lens.capture",
    "parse_fields": "continuum.lens.capture",
    "compact_history": "continuum.lens.compaction",
    "open_dataset": "continuum.lens.dataset",
    "FORMAT_VERSION": "continuum.lens.format",
    "KIND": "continuum.lens.format",
    "ChunkData": "continuum.lens.format",
    "ChunkFile": "continuum.lens.format",
    "ChunkHeader": "continuum.lens.format",
    "EncodedChunk": "continuum.lens.format",
    "FieldSeries": "continuum.lens.format",
    "LensIdentity": "continuum.lens.format",
    "ValueReads": "continuum.lens.format",
    "encode_chunk": "continuum.lens.format",
    "read_chunk_header": "continuum.lens.format",
    "write_chunk": "continuum.lens.format",
    "LensGap": "continuum.lens.gaps",
    "FieldLens": "continuum.lens.history",
    "blend": "continuum.lens.interpolate",
    "bracket": "continuum.lens.interpolate",
    "LensManifest": "continuum.lens.manifest",
    "CONTAINING": "continuum.lens.reconstruct",
    "NEAREST": "continuum.lens.reconstruct",
    "RULES": "continuum.lens.reconstruct",
    "FieldConfig": "continuum.lens.reconstruct",
    "Reconstruction": "continuum.lens.reconstruct",
    "Region": "continuum.lens.region",
    "FieldHistory": "continuum.lens.source",
    "FieldSource": "continuum.lens.source",
    "PointValue": "continuum.lens.source",
    "PointValues": "continuum.lens.source",
    "ChunkRef": "continuum.lens.store",
    "LensStore": "continuum.lens.store",
    "resolve_run_dir": "continuum.lens.store",
    "ChunkWriter": "continuum.lens.writer",
    "GapCallback": "continuum.lens.writer",
    "OnFull": "continuum.lens.writer",
    "RecordedGap": "continuum.lens.writer",
    "SealCallback": "continuum.lens.writer",
    "SealedChunk": "continuum.lens.writer",
}


#: The lens's topology is the runtime's: one grid, owned by :mod:`continuum.topology`.
CubedSphereTopology = _CubedSphere  # the old name

__all__ = [
    "CONTAINING",
    "FORMAT_VERSION",
    "KIND",
    "NEAREST",
    "RULES",
    "CaptureConfig",
    "ChunkData",
    "ChunkFile",
    "ChunkHeader",
    "ChunkRef",
    "ChunkWriter",
    "CubedSphereTopology",
    "EncodedChunk",
    "FieldConfig",
    "FieldHistory",
    "FieldLens",
    "FieldSeries",
    "FieldSource",
    "GapCallback",
    "LensCapture",
    "LensGap",
    "LensIdentity",
    "LensManifest",
    "LensStore",
    "OnFull",
    "PointValue",
    "PointValues",
    "Reconstruction",
    "RecordedGap",
    "Region",
    "SealCallback",
    "SealedChunk",
    "ValueReads",
    "blend",
    "bracket",
    "choose_chunk_size",
    "compact_history",
    "covered_end",
    "default_memory",
    "encode_chunk",
    "open_dataset",
    "parse_fields",
    "read_chunk_header",
    "resolve_run_dir",
    "write_chunk",
]

__getattr__, __dir__ = lazy.exports(__name__, _WHERE, __all__)
