"""Lens snapshots: lossy observer data (field frames) for analysis and replay.

The lens is the observer boundary: it reads fields, never influences the run.

Owns: the in-memory field history and its queries (``history``: :class:`FieldLens`),
reconstruction rules (``reconstruct``: containing cell, nearest sample), temporal
interpolation (``interpolate``), the ``.lens`` chunk format (``format``), a lens run
directory's names and manifest (``manifest``), reading a run dir (``store``), and
capture on ``continuum run`` (``capture``: the tick observer; ``writer``: the
background stages that seal and write chunks), and maps of a frame (``plot``, with the
optional ``continuum[plot]`` extra).

Must not touch: the State (it only calls ``Simulation.observe`` and reads read-only
arrays; a run with the lens on ends bitwise equal to one without), the tick loop's
timing (hand-off only, frames dropped rather than waiting), the catalog (sealed chunks
go to ``on_seal`` callbacks; it never writes catalog rows itself), or geometry of its
own: the topology is :class:`continuum.topology.CubedSphere`, re-exported here as
:data:`CubedSphereTopology`. Importing it loads neither sqlalchemy, duckdb nor click;
scipy is imported only when a point-sample field is reconstructed.
"""

from continuum.lens.capture import CaptureConfig, LensCapture, covered_end, parse_fields
from continuum.lens.format import (
    FORMAT_VERSION,
    KIND,
    ChunkData,
    ChunkFile,
    ChunkHeader,
    FieldSeries,
    LensIdentity,
    read_chunk_header,
    write_chunk,
)
from continuum.lens.history import FieldHistory, FieldLens
from continuum.lens.interpolate import blend, bracket
from continuum.lens.manifest import FULL_NAME, MANIFEST, LensManifest, chunk_name, parse_chunk_name
from continuum.lens.reconstruct import (
    CONTAINING,
    NEAREST,
    RULES,
    FieldConfig,
    Reconstruction,
)
from continuum.lens.store import ChunkRef, LensStore, PointValue, resolve_run_dir
from continuum.lens.writer import ChunkWriter, SealCallback, SealedChunk
from continuum.topology import CubedSphere

#: The lens's topology is the runtime's: one grid, owned by :mod:`continuum.topology`.
CubedSphereTopology = CubedSphere

__all__ = [
    "CONTAINING",
    "FORMAT_VERSION",
    "FULL_NAME",
    "KIND",
    "MANIFEST",
    "NEAREST",
    "RULES",
    "CaptureConfig",
    "ChunkData",
    "ChunkFile",
    "ChunkHeader",
    "ChunkRef",
    "ChunkWriter",
    "CubedSphereTopology",
    "FieldConfig",
    "FieldHistory",
    "FieldLens",
    "FieldSeries",
    "LensCapture",
    "LensIdentity",
    "LensManifest",
    "LensStore",
    "PointValue",
    "Reconstruction",
    "SealCallback",
    "SealedChunk",
    "blend",
    "bracket",
    "chunk_name",
    "covered_end",
    "parse_chunk_name",
    "parse_fields",
    "read_chunk_header",
    "resolve_run_dir",
    "write_chunk",
]
