"""``.lens`` chunk files: columnar frames <-> a ``LENS`` blob container.

A chunk is a ``continuum.blobs`` container of kind ``b"LENS"`` (magic, version, a
checksummed JSON header readable without decompressing anything, zstd frames, a payload
checksum); every structural or checksum failure is a :class:`LensCorruptError` naming
the file. Header ``meta`` (format version 1)::

    format "continuum.lens", format_version 1, run_id, world, seed, ir_hash, stride,
    created_at, tick_range [start, end) (the ticks this file is authoritative for),
    frames, first_tick, last_tick, first_sim_time, last_sim_time,
    fields (sorted names), field_configs {name: {kind scalar|vec3,
    positions cells|points|global, samples, frames, tile[, units]}},
    signals {name: scalar|vec3}, topology (CubedSphere.spec() or null),
    [signal_units {name: units}], [time_units]

``units`` (of a field), ``signal_units`` and ``time_units`` (the unit of ``sim_time``) are
the world's labels (:mod:`continuum.world.units`), added to version 1 without a bump:
they are optional, absent from older files (read as "no unit"), and older readers ignore
keys they do not know. Read, each is checked like every other claim of the header (the
world's rule: 1-32 printable characters; a signal's unit names a signal the file holds).

Arrays, stored columnar so that one field, one tick range or one position loads without
decompressing the rest (``ContainerReader.read`` reads one array's frames only)::

    ticks                       (F,) int64, strictly increasing, inside tick_range
    sim_times                   (F,) float64
    field/NAME/rows             (F_f,) int64: which of the F frames hold the field
    field/NAME/positions        (F_f, m, 3) for point samples (they move every frame)
    field/NAME/stored           (F_f,) int64 (v2): which stored row holds each frame's
                                values: 0, then +0 (the frame repeats the one before,
                                bit for bit) or +1; D_f = its last + 1 rows are stored
    field/NAME/values/KKKKKK    (D_f, t) or (D_f, t, 3): samples [K*t, K*t + t) of every
                                stored frame, t = the field's ``tile``; one zstd frame
                                per row (v2), so one tick decodes alone
    signal/NAME                 (F, 1) or (F, 3) global signal values (NaN: not recorded)

Positions of cell-centred fields are not stored: the positions rule ``cells`` and the
header's topology spec name them exactly (``CubedSphere.from_spec(topology).centres``, in
cell order), and at 256x256 per face they are 9.4 MB per chunk that compress 1.1x —
a fifth of the bytes of a 10-frame chunk, for no information.

Why tiles of samples, one zstd frame per row (format version 2): a time slice decodes
one row of each tile — the frame asked for, not its window (at 256x256 per face, 3 MB
instead of 300 MB for a 100-frame window) — and the history of one position decodes one
tile per chunk. The tile is a power of two near :data:`TARGET_ROW_BYTES` per row (64 KiB:
a slice is a few dozen frames decoded on every core; smaller frames compress worse and
cost more calls), at least 256 samples. A point's long history is served faster still by
the run's by-sample files (:mod:`continuum.lens.by_sample`).

Why ``stored``: rows cut into their own zstd frames no longer share a compression window,
so a frame that repeats the one before (a field of a stratum that runs every other tick,
a field at rest) would cost its full size again — measured on terra ``large``, rows
framed alone took 2.0x the bytes of version 1's multi-row frames, all of it repeats. A
repeat is detected bit for bit when the chunk is encoded and stored once; reading maps it
back, so every reader sees every frame. Version 1 files (1 MiB byte frames, no
``stored``) are read as before: a slice of one decodes its window.
"""

from __future__ import annotations

import math
from collections import OrderedDict
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated, Any

import msgspec
import numpy as np
from msgspec import Meta

from continuum import layout
from continuum.blobs import (
    ContainerHeader,
    ContainerInfo,
    ContainerReader,
    ShufflePolicy,
    Stacked,
    decode_json,
    encode_container_with_header,
    max_raw_bytes,
    write_container,
)
from continuum.errors import LensCorruptError, LensError
from continuum.lens.reconstruct import CELLS, GLOBAL, POINTS, FieldConfig, topology_from_spec
from continuum.lens.remote import open_remote, remote_object
from continuum.topology import CubedSphere
from continuum.world.ir import WorldIR
from continuum.world.units import MAX_UNITS_CHARS, check_units

KIND = b"LENS"
FORMAT = "continuum.lens"
FORMAT_VERSION = 2
#: zstd level: measured on terra fields, level 1 gives the ratio of level 3 (2.69 vs 2.70
#: with shuffle) at 1.4x the speed, and the writer must keep up with a tick loop.
DEFAULT_LEVEL = 1
TARGET_ROW_BYTES = 64 << 10
MIN_TILE = 256


@dataclass(frozen=True)
class LensIdentity:
    """Who wrote a chunk: copied into every header (and the run's manifest)."""

    run_id: str = ""
    world: str = ""
    seed: int | None = None
    ir_hash: str | None = None
    stride: int | None = None
    topology: dict[str, Any] | None = None
    #: the world's units of its fields and global signals (only those declaring one), and
    #: of sim time; a header records those of what the chunk holds
    field_units: dict[str, str] = field(default_factory=dict)
    signal_units: dict[str, str] = field(default_factory=dict)
    time_units: str | None = None


def world_units(ir: WorldIR) -> dict[str, Any]:
    """The :class:`LensIdentity` units of a world: its fields', its global signals' (the
    ones a lens records) and its time's, as keyword arguments."""
    return {
        "field_units": {f.name: f.units for f in ir.fields if f.units},
        "signal_units": {s.name: s.units for s in ir.signals if s.units},
        "time_units": ir.time_units,
    }


@dataclass
class FieldSeries:
    """One field's frames of a chunk, columnar."""

    config: FieldConfig
    rows: np.ndarray  # (F_f,) int64 indices into the chunk's ticks
    positions: np.ndarray | None  # (m, 3) cells; (F_f, m, 3) points; None global
    #: (F_f, m) or (F_f, m, 3); or, for writing only, the list of F_f per-frame arrays, so
    #: each values tile is stacked straight from the frames (one copy fewer per chunk)
    values: np.ndarray | list[np.ndarray]


@dataclass
class ChunkData:
    """All frames of one chunk in memory (what a file holds, decoded)."""

    ticks: np.ndarray  # (F,) int64
    sim_times: np.ndarray  # (F,) float64
    fields: dict[str, FieldSeries] = field(default_factory=dict)
    signals: dict[str, np.ndarray] = field(default_factory=dict)  # (F, 1) | (F, 3)


@dataclass(frozen=True)
class ChunkHeader:
    """A chunk's header, parsed once; everything ``lens load`` prints without decoding."""

    path: Path
    identity: LensIdentity
    created_at: str
    tick_range: tuple[int, int]
    frames: int
    first_tick: int | None
    last_tick: int | None
    first_sim_time: float | None
    last_sim_time: float | None
    fields: dict[str, FieldConfig]
    field_frames: dict[str, int]
    tiles: dict[str, int]
    #: distinct frames stored per field (version 2); = field_frames in version 1
    field_stored: dict[str, int]
    format_version: int
    signals: dict[str, str]
    disk_bytes: int
    raw_bytes: int
    checksum: str

    @property
    def frame_span(self) -> tuple[int, int]:
        """The half-open ticks its frames cover, ``[first frame, last frame + 1)`` (what a
        catalog row records for the chunk), or ``tick_range`` when it holds no frame."""
        if self.frames and self.first_tick is not None and self.last_tick is not None:
            return int(self.first_tick), int(self.last_tick) + 1
        return int(self.tick_range[0]), int(self.tick_range[1])


def tile_size(config: FieldConfig) -> int:
    """Samples per values array: a power of two near TARGET_ROW_BYTES a row, >= MIN_TILE."""
    per_sample = 8 * (3 if config.kind == "vec3" else 1)
    tile = 1 << max((TARGET_ROW_BYTES // per_sample).bit_length() - 1, 0)
    return min(max(tile, MIN_TILE), config.samples)


def _row_frames(name: str) -> int | None:
    """One zstd frame per row of a values tile (one tick decodes alone)."""
    return 1 if "/values/" in name else None


def stored_rows(values: np.ndarray | list[np.ndarray]) -> np.ndarray:
    """(F,) the stored row of each frame: a frame equal bit for bit to the one before
    shares its row (NaN payloads included: compared as bytes, not as floats)."""
    out = np.zeros(len(values), np.int64)
    for i in range(1, len(values)):
        same = np.array_equal(_bits(values[i]), _bits(values[i - 1]))
        out[i] = out[i - 1] + (0 if same else 1)
    return out


def _bits(a: np.ndarray) -> np.ndarray:
    return np.ascontiguousarray(a).reshape(-1).view(np.uint8)


def values_name(name: str, k: int) -> str:
    return f"field/{name}/values/{k:06d}"


def write_chunk(
    path: Path,
    data: ChunkData,
    identity: LensIdentity,
    *,
    tick_range: tuple[int, int] | None = None,
    level: int = DEFAULT_LEVEL,
    shuffle: ShufflePolicy = "auto",
) -> ContainerInfo:
    """Atomically write ``data`` as a ``.lens`` file; ``tick_range`` defaults to its ticks."""
    meta, arrays = _container_parts(data, identity, tick_range)
    return write_container(
        path, KIND, meta, arrays, level=level, shuffle=shuffle, frame_rows=_row_frames
    )


@dataclass(frozen=True)
class EncodedChunk:
    """A chunk's bytes, as the parts to write in order, and the header a reader will parse
    from them (nothing re-read)."""

    parts: list[bytes]
    header: ChunkHeader

    @property
    def nbytes(self) -> int:
        return sum(len(p) for p in self.parts)


def encode_chunk(
    path: Path,
    data: ChunkData,
    identity: LensIdentity,
    *,
    tick_range: tuple[int, int] | None = None,
    level: int = DEFAULT_LEVEL,
    shuffle: ShufflePolicy = "auto",
    threads: int = 0,
) -> EncodedChunk:
    """What :func:`write_chunk` would write to ``path``, so compression and I/O run apart
    (``threads``: zstd frames compressed on that many threads; the bytes do not change)."""
    meta, arrays = _container_parts(data, identity, tick_range)
    parts, container = encode_container_with_header(
        KIND, meta, arrays, level=level, shuffle=shuffle, threads=threads, frame_rows=_row_frames
    )
    return EncodedChunk(parts, parse_header(path, container))


def header_of(info: ContainerInfo) -> ChunkHeader:
    """The lens header of a file :func:`write_chunk` has just written, without reading it."""
    return parse_header(info.path, info.header)


def _container_parts(
    data: ChunkData, identity: LensIdentity, tick_range: tuple[int, int] | None
) -> tuple[dict[str, Any], dict[str, np.ndarray | Stacked]]:
    ticks = np.asarray(data.ticks, dtype=np.int64)
    if ticks.size and np.any(np.diff(ticks) <= 0):
        raise LensError("Expected strictly increasing chunk ticks")
    if tick_range is None:
        tick_range = (int(ticks[0]), int(ticks[-1]) + 1) if ticks.size else (0, 0)
    if ticks.size and not tick_range[0] <= ticks[0] <= ticks[-1] < tick_range[1]:
        raise LensError(f"chunk ticks {ticks[0]}..{ticks[-1]} fall outside {tick_range}")
    arrays: dict[str, np.ndarray | Stacked] = {"ticks": ticks, "sim_times": data.sim_times}
    tiles, stored = {}, {}
    for name, series in sorted(data.fields.items()):
        tiles[name] = tile_size(series.config)
        field_arrays, stored[name] = _field_arrays(name, series, tiles[name])
        arrays.update(field_arrays)
    for name, values in data.signals.items():
        arrays[f"signal/{name}"] = values
    return _meta(data, identity, tick_range, tiles, stored), arrays


def _field_arrays(
    name: str, series: FieldSeries, tile: int
) -> tuple[dict[str, np.ndarray | Stacked], int]:
    """The arrays of one field, and how many distinct frames they store."""
    stored = stored_rows(series.values)
    keep = np.flatnonzero(np.r_[True, np.diff(stored) > 0]) if len(stored) else stored
    out: dict[str, np.ndarray | Stacked] = {
        f"field/{name}/rows": np.asarray(series.rows, dtype=np.int64),
        f"field/{name}/stored": stored,
    }
    if series.config.positions == POINTS:
        if series.positions is None:
            raise LensError(f"point-sample field {name!r} without positions")
        out[f"field/{name}/positions"] = series.positions
    for k in range(math.ceil(series.config.samples / tile)):
        cut = slice(k * tile, (k + 1) * tile)
        if isinstance(series.values, list):
            shape = (0, *series.config.sample_shape)
            stacked = [series.values[i][cut] for i in keep]
            # stacked block by block as it is compressed: never a stacked copy of a window
            out[values_name(name, k)] = Stacked(stacked) if stacked else np.empty(shape)[:, cut]
        else:
            out[values_name(name, k)] = series.values[keep, cut]
    return out, len(keep)


def _meta(
    data: ChunkData,
    identity: LensIdentity,
    tick_range: tuple[int, int],
    tiles: dict[str, int],
    stored: dict[str, int],
) -> dict[str, Any]:
    ticks, times = data.ticks, data.sim_times
    units = identity.field_units
    configs = {
        name: {
            **s.config.to_json(),
            "frames": len(s.rows),
            "stored": stored[name],
            "tile": tiles[name],
            **({"units": units[name]} if units.get(name) else {}),
        }
        for name, s in sorted(data.fields.items())
    }
    signal_units = {n: u for n, u in sorted(identity.signal_units.items()) if n in data.signals}
    return {
        "format": FORMAT,
        "format_version": FORMAT_VERSION,
        "run_id": identity.run_id,
        "world": identity.world,
        "seed": identity.seed,
        "ir_hash": identity.ir_hash,
        "stride": identity.stride,
        "topology": identity.topology,
        "created_at": datetime.now(UTC).isoformat(timespec="milliseconds"),
        "tick_range": [int(tick_range[0]), int(tick_range[1])],
        "frames": len(ticks),
        "first_tick": int(ticks[0]) if len(ticks) else None,
        "last_tick": int(ticks[-1]) if len(ticks) else None,
        "first_sim_time": float(times[0]) if len(times) else None,
        "last_sim_time": float(times[-1]) if len(times) else None,
        "fields": sorted(data.fields),
        "field_configs": configs,
        "signals": {n: ("vec3" if v.shape[1] == 3 else "scalar") for n, v in data.signals.items()},
        **({"signal_units": signal_units} if signal_units else {}),
        **({"time_units": identity.time_units} if identity.time_units else {}),
    }


# -- reading ------------------------------------------------------------------------------


_Count = Annotated[int, Meta(ge=0, le=1 << 62)]
#: frames in one chunk file; the writer seals a chunk per ``--lens-chunk-size`` ticks, so
#: this is far above any real chunk, and it bounds the (F,) index arrays to 64 MiB
MAX_CHUNK_FRAMES = 1 << 23
_Frames = Annotated[int, Meta(ge=0, le=MAX_CHUNK_FRAMES)]
_Stride = Annotated[int, Meta(ge=1, le=1 << 62)]
_Text = Annotated[str, Meta(max_length=1024, pattern=r"^[^\x00-\x1f\x7f-\x9f]*$")]
_Name = Annotated[str, Meta(max_length=200, pattern=layout.DOTTED_NAME_RE.pattern)]
_RunId = Annotated[str, Meta(pattern=f"({layout.RUN_ID_RE.pattern})|(^$)")]
_Float = Annotated[float, Meta(ge=-1.7976931348623157e308, le=1.7976931348623157e308)]
_Kind = Annotated[str, Meta(pattern="^(scalar|vec3)$")]
#: bounded here, checked by the world's rule (``check_units``) in ``_parse_meta``
_Units = Annotated[str, Meta(min_length=1, max_length=MAX_UNITS_CHARS)]


class _FieldDoc(msgspec.Struct):
    kind: _Kind
    positions: Annotated[str, Meta(pattern=f"^({CELLS}|{POINTS}|{GLOBAL})$")]
    samples: Annotated[int, Meta(ge=1, le=1 << 62)]
    frames: _Frames
    tile: Annotated[int, Meta(ge=1, le=1 << 62)]
    units: _Units | None = None
    stored: _Frames | None = None  # version 2; version 1 stores every frame


class _TopologyDoc(msgspec.Struct):
    kind: Annotated[str, Meta(pattern="^cubed_sphere$")]
    resolution: Annotated[int, Meta(ge=1, le=1 << 20)]


class _LensMetaDoc(msgspec.Struct):
    format: Annotated[str, Meta(pattern="^continuum[.]lens$")]
    format_version: Annotated[int, Meta(ge=1, le=FORMAT_VERSION)]
    tick_range: tuple[_Count, _Count]
    frames: _Frames
    field_configs: dict[_Name, _FieldDoc]
    signals: dict[_Name, _Kind]
    fields: list[_Name] = []
    run_id: _RunId = ""
    world: _Text = ""
    seed: _Count | None = None
    ir_hash: _Text | None = None
    stride: _Stride | None = None
    topology: dict[str, Any] | None = None
    created_at: _Text = ""
    first_tick: _Count | None = None
    last_tick: _Count | None = None
    first_sim_time: _Float | None = None
    last_sim_time: _Float | None = None
    signal_units: dict[_Name, _Units] = {}
    time_units: _Units | None = None


_META_DECODER = msgspec.json.Decoder(_LensMetaDoc)
_TOPOLOGY_DECODER = msgspec.json.Decoder(_TopologyDoc)


def parse_header(path: Path, header: ContainerHeader) -> ChunkHeader:
    """The typed lens header of a container, or LensCorruptError naming what is wrong."""
    meta = header.meta
    version = meta.get("format_version")
    if meta.get("format") == FORMAT and type(version) is int and version > FORMAT_VERSION:
        raise LensError(
            f"{path}: written by a newer Continuum (lens format v{version}, this build "
            f"reads up to v{FORMAT_VERSION}); upgrade Continuum to read it"
        )
    doc = decode_json(header.meta_json, _META_DECODER, str(path), "lens header", LensCorruptError)
    try:
        return _parse_meta(path, doc, header)
    except (LensError, ValueError) as exc:
        raise LensCorruptError(f"{path}: malformed lens header: {exc}") from None


def check_topology_spec(
    spec: Any, path: Path, what: str, error_cls: type[LensError] = LensCorruptError
) -> int:
    """The cell count of a topology spec read from a file, refused (one line) if its
    resolution would build tables over the size ceiling: a forged resolution must not
    make a reader allocate gigabytes of cell centres."""
    doc = decode_json(msgspec.json.encode(spec), _TOPOLOGY_DECODER, str(path), what, error_cls)
    cells = 6 * doc.resolution**2
    if cells * 3 * 8 > max_raw_bytes():
        raise error_cls(f"{path}: {what}: $.resolution {doc.resolution} is over the size ceiling")
    return cells


def _check_topology(path: Path, doc: _LensMetaDoc) -> None:
    """A topology spec that names a resolution whose tables fit under the ceiling (a
    forged resolution must not build gigabytes of cell centres)."""
    if doc.topology is None:
        if any(c.positions == CELLS for c in doc.field_configs.values()):
            raise LensError("cell-centred fields without a topology spec")
        return
    cells = check_topology_spec(doc.topology, path, "lens header topology", LensCorruptError)
    CubedSphere.from_spec(doc.topology)  # a WorldError (a ValueError) if malformed
    for name, c in doc.field_configs.items():
        if c.positions == CELLS and c.samples != cells:
            raise LensError(f"$.field_configs[{name!r}].samples does not match the topology")


def _units(what: str, value: str | None) -> str | None:
    """A unit the header claims, checked by the world's rule (absent: None)."""
    if value is None:
        return None
    try:
        return check_units(value)
    except ValueError as exc:
        raise LensError(f"{what}: {exc}") from None


def _parse_units(doc: _LensMetaDoc) -> tuple[dict[str, str], dict[str, str], str | None]:
    """(field units, signal units, time units) of a header, each checked."""
    fields = {}
    for name, raw in sorted(doc.field_configs.items()):
        if (units := _units(f"$.field_configs[{name!r}].units", raw.units)) is not None:
            fields[name] = units
    signals = {}
    for name, value in sorted(doc.signal_units.items()):
        if name not in doc.signals:
            raise LensError(f"$.signal_units names {name!r}, a signal the file does not hold")
        if (units := _units(f"$.signal_units[{name!r}]", value)) is not None:
            signals[name] = units
    return fields, signals, _units("$.time_units", doc.time_units)


def _stored_count(name: str, raw: _FieldDoc, version: int) -> int:
    """Distinct frames a field stores: version 2 says (at most its frames, at least one
    if it has any), version 1 stores every frame."""
    if version < 2:
        if raw.stored is not None:
            raise LensError(f"$.field_configs[{name!r}].stored in a version 1 file")
        return raw.frames
    if raw.stored is None or raw.stored > raw.frames or (raw.frames and not raw.stored):
        raise LensError(f"$.field_configs[{name!r}].stored: {raw.stored} for {raw.frames} frames")
    return raw.stored


def _parse_meta(path: Path, doc: _LensMetaDoc, header: ContainerHeader) -> ChunkHeader:
    fields, frames, tiles, stored = {}, {}, {}, {}
    for name in sorted(doc.field_configs):
        raw = doc.field_configs[name]
        fields[name] = FieldConfig(raw.kind, raw.positions, raw.samples)
        frames[name], tiles[name] = raw.frames, raw.tile
        stored[name] = _stored_count(name, raw, doc.format_version)
    _check_topology(path, doc)
    field_units, signal_units, time_units = _parse_units(doc)
    lo, hi = doc.tick_range
    if lo > hi:
        raise LensError("$.tick_range: start after end")
    identity = LensIdentity(
        run_id=doc.run_id,
        world=doc.world,
        seed=doc.seed,
        ir_hash=doc.ir_hash,
        stride=doc.stride,
        topology=dict(doc.topology) if doc.topology is not None else None,
        field_units=field_units,
        signal_units=signal_units,
        time_units=time_units,
    )
    return ChunkHeader(
        path=path,
        identity=identity,
        created_at=doc.created_at,
        tick_range=(lo, hi),
        frames=doc.frames,
        first_tick=doc.first_tick,
        last_tick=doc.last_tick,
        first_sim_time=doc.first_sim_time,
        last_sim_time=doc.last_sim_time,
        fields=fields,
        field_frames=frames,
        tiles=tiles,
        field_stored=stored,
        format_version=doc.format_version,
        signals=dict(doc.signals),
        disk_bytes=header.file_size,
        raw_bytes=header.raw_bytes,
        checksum=header.payload_checksum,
    )


def expected_layout(h: ChunkHeader) -> dict[str, tuple[str, tuple[int, ...]]]:
    """Every array a chunk with header ``h`` must hold: name -> (dtype kind, shape)."""
    out: dict[str, tuple[str, tuple[int, ...]]] = {
        "ticks": ("i", (h.frames,)),
        "sim_times": ("f", (h.frames,)),
    }
    for name, config in h.fields.items():
        f, tile, m = h.field_frames[name], h.tiles[name], config.samples
        out[f"field/{name}/rows"] = ("i", (f,))
        if h.format_version >= 2:
            out[f"field/{name}/stored"] = ("i", (f,))
        if config.positions == POINTS:
            out[f"field/{name}/positions"] = ("f", (f, m, 3))
        tail = (3,) if config.kind == "vec3" else ()
        for k in range(math.ceil(m / tile)):
            width = min(tile, m - k * tile)
            out[values_name(name, k)] = ("f", (h.field_stored[name], width, *tail))
    for name, kind in h.signals.items():
        out[f"signal/{name}"] = ("f", (h.frames, 3 if kind == "vec3" else 1))
    return out


def open_lens_container(path: Path | str, threads: int) -> ContainerReader:
    """A ``LENS`` container open for reading (a chunk or a by-sample copy): content
    problems are LensCorruptError, a file that cannot be opened one LensError line.
    A placeholder of a remote lens dir's view is read by ranged GETs
    (:mod:`continuum.lens.remote`)."""
    obj = remote_object(path)
    if obj is not None:
        return open_remote(obj, KIND, LensCorruptError, threads)
    try:
        return ContainerReader(path, KIND, error_cls=LensCorruptError, threads=threads)
    except OSError as exc:
        raise LensError(f"{path}: cannot read lens file: {exc.strerror or exc}") from None


@dataclass
class ValueReads:
    """Values arrays decoded (a whole tile, or rows of one, counts one): the reader seam's
    counter, so a caller can prove what it read (``open_dataset`` reads none) and a store
    can share one between its files."""

    tiles: int = 0


#: bytes of decoded tile rows a :class:`ChunkFile` keeps for single values (HDF5 keeps 1 MiB
#: of chunks per dataset for the same reason); a row is ~64 KiB, so about 16 of them
ROW_CACHE_BYTES = 1 << 20


class ChunkFile:
    """An open ``.lens`` file: its header, and arrays decoded on demand, one at a time.

    Reads are verified (checksums) and checked against the header (dtypes, shapes,
    increasing ticks), so what it returns is what was written or a LensCorruptError.
    Every values tile decoded is counted in ``reads`` (shared when passed in).
    """

    def __init__(
        self, path: Path | str, *, threads: int = -1, reads: ValueReads | None = None
    ) -> None:
        self.path = Path(path)
        self.reads = ValueReads() if reads is None else reads
        # an s3:// URL as given (a Path would fold its //): read by ranges (lens.remote)
        self._reader = open_lens_container(
            path if layout.is_object_url(path) else self.path, threads
        )
        try:
            self.header = parse_header(self.path, self._reader.header)
            self._check_layout()
        except BaseException:
            self._reader.close()
            raise
        topo = self.header.identity.topology
        self.topology = topology_from_spec(topo) if topo else None
        self._ticks: np.ndarray | None = None
        self._stored: dict[str, np.ndarray] = {}
        self._decoded: dict[str, np.ndarray] | None = None
        #: the last tile rows decoded for single values, newest last, at most
        #: ROW_CACHE_BYTES: values near one another (a hover, a probe, a sweep of one
        #: tick) share a row, and decoding it again is most of a value's cost
        self._row_cache: OrderedDict[tuple[str, int], np.ndarray] = OrderedDict()
        self._row_cache_bytes = 0

    def __enter__(self) -> ChunkFile:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        self._reader.close()

    def _corrupt(self, what: str) -> LensCorruptError:
        return LensCorruptError(f"{self.path}: {what}")

    def _check_layout(self) -> None:
        entries = {e.name: e for e in self._reader.header.layout}
        expected = expected_layout(self.header)
        if set(entries) != set(expected):
            diff = sorted(set(entries) ^ set(expected))[:3]
            raise self._corrupt(f"arrays do not match the lens header (e.g. {diff})")
        for name, (kind, shape) in expected.items():
            entry = entries[name]
            if (
                np.dtype(entry.dtype).kind != kind
                or entry.dtype[-1] != "8"
                or (entry.shape != shape)
            ):
                raise self._corrupt(f"array {name!r} is {entry.dtype}{entry.shape}")

    def _read(self, name: str) -> np.ndarray:
        if self._decoded is not None:
            return self._decoded[name]
        if "/values/" in name:
            self.reads.tiles += 1
        return self._reader.read(name)

    def ticks(self) -> np.ndarray:
        """(F,) ticks, checked increasing and inside the header's tick range."""
        if self._ticks is None:
            ticks = self._read("ticks")
            lo, hi = self.header.tick_range
            if ticks.size and (np.any(np.diff(ticks) <= 0) or ticks[0] < lo or ticks[-1] >= hi):
                raise self._corrupt("ticks are not increasing inside the header's tick range")
            self._ticks = ticks
        return self._ticks

    def sim_times(self) -> np.ndarray:
        return self._read("sim_times")

    def rows(self, name: str) -> np.ndarray:
        """Which frames of the chunk hold field ``name`` (indices into :meth:`ticks`)."""
        self.config(name)
        rows = self._read(f"field/{name}/rows")
        n = len(self.ticks())
        if rows.size and (np.any(np.diff(rows) <= 0) or rows[0] < 0 or rows[-1] >= n):
            raise self._corrupt(f"field {name!r}: frame rows out of order or range")
        return rows

    def config(self, name: str) -> FieldConfig:
        try:
            return self.header.fields[name]
        except KeyError:
            have = ", ".join(self.header.fields) or "none"
            raise LensError(f"{self.path}: no field {name!r}; it holds: {have}") from None

    def units(self, name: str) -> str | None:
        """The unit of field ``name`` its header records (None: none declared, or a file
        written before units were recorded)."""
        self.config(name)
        return self.header.identity.field_units.get(name)

    def signal_units(self, name: str) -> str | None:
        """The unit of global signal ``name`` its header records, or None."""
        if name not in self.header.signals:
            have = ", ".join(self.header.signals) or "none"
            raise LensError(f"{self.path}: no signal {name!r}; it holds: {have}")
        return self.header.identity.signal_units.get(name)

    @property
    def time_units(self) -> str | None:
        """The unit of its sim times (the world's ``time_units``), or None."""
        return self.header.identity.time_units

    def positions(self, name: str) -> np.ndarray | None:
        """(m, 3) centres for cells, (F_f, m, 3) for points, None for global fields."""
        rule = self.config(name).positions
        if rule == GLOBAL:
            return None
        if rule == CELLS:
            return self.topology.centres  # type: ignore[union-attr]  # checked at open
        return self._read(f"field/{name}/positions")

    def stored(self, name: str) -> np.ndarray:
        """(F_f,) the stored values row of each frame of ``name`` (checked: it starts at 0
        and steps by 0 or 1 up to the header's count); identity in version 1 files."""
        self.config(name)
        count = self.header.field_stored[name]
        if self.header.format_version < 2:
            return np.arange(count, dtype=np.int64)
        cached = self._stored.get(name)
        if cached is None:
            cached = self._read(f"field/{name}/stored")
            steps = np.diff(cached)
            if cached.size and (
                cached[0] != 0 or np.any((steps < 0) | (steps > 1)) or cached[-1] != count - 1
            ):
                raise self._corrupt(f"field {name!r}: stored rows are not 0, +0/+1 to {count}")
            self._stored[name] = cached
        return cached

    def values(
        self, name: str, samples: np.ndarray | None = None, *, expand: bool = True
    ) -> np.ndarray:
        """(F_f, m[, 3]) values, or only the columns ``samples`` (reading only their tiles);
        with ``expand=False`` the D_f stored rows only (:meth:`stored` maps frames to them)."""
        config, tile = self.config(name), self.header.tiles[name]
        n_tiles = math.ceil(config.samples / tile)
        stored = self.stored(name)
        expand = expand and self.header.field_stored[name] != len(stored)
        if samples is None:
            parts = [self._read(values_name(name, k)) for k in range(n_tiles)]
            whole = parts[0] if len(parts) == 1 else np.concatenate(parts, axis=1)
            return whole[stored] if expand else whole
        samples = np.asarray(samples, dtype=np.int64)
        wanted = np.unique(samples // tile)
        out = np.empty((self.header.field_stored[name], *samples.shape, *config.sample_shape[1:]))
        for k in wanted:
            block = self._read(values_name(name, int(k)))
            hit = samples // tile == k
            out[:, hit] = block[:, samples[hit] - k * tile]
        return out[stored] if expand else out

    def sums(self, name: str, spans: list[tuple[int, int]]) -> np.ndarray:
        """(F_f[, 3]) the sum over the samples of ``spans`` (sorted half-open runs) at each
        frame, decoding only the tiles they touch, each once."""
        config, tile = self.config(name), self.header.tiles[name]
        pieces: dict[int, list[tuple[int, int]]] = {}
        for a, b in spans:
            for k in range(a // tile, (b - 1) // tile + 1):
                lo, hi = max(a, k * tile), min(b, (k + 1) * tile)
                pieces.setdefault(k, []).append((lo - k * tile, hi - k * tile))
        total = np.zeros((self.header.field_stored[name], *config.sample_shape[1:]))
        for k, cuts in sorted(pieces.items()):
            block = self._read(values_name(name, k))
            for lo, hi in cuts:
                total += block[:, lo:hi].sum(axis=1)
        return total[self.stored(name)]

    def value(self, name: str, index: int, sample: int) -> np.ndarray:
        """The value of one sample in frame ``index``: one row of one tile decoded."""
        tile = self.header.tiles[name]
        if self._decoded is not None or self.config(name).positions == POINTS:
            return np.asarray(self.values(name)[index, sample])
        k, row = sample // tile, int(self.stored(name)[index])
        got = self._rows(values_name(name, k), row)
        return np.array(got[sample - k * tile])  # a copy: the cached row stays as decoded

    def _rows(self, array: str, row: int) -> np.ndarray:
        """One decoded tile row (read-only), from the small cache when it was the subject of
        a recent value; only a decode counts as a tile read."""
        key = (array, row)
        cache = self._row_cache
        got = cache.get(key)
        if got is not None:
            cache.move_to_end(key)
            return got
        self.reads.tiles += 1
        try:
            got = self._reader.read_rows(array, row, row + 1)[0]
        except ValueError as exc:  # a layout the header check let through: not ours
            raise self._corrupt(str(exc)) from None
        got.flags.writeable = False  # shared by later values: nobody may change it
        cache[key] = got
        self._row_cache_bytes += got.nbytes
        while self._row_cache_bytes > ROW_CACHE_BYTES and len(cache) > 1:
            self._row_cache_bytes -= cache.popitem(last=False)[1].nbytes
        return got

    def block(self, name: str, frames: np.ndarray, samples: np.ndarray) -> np.ndarray:
        """(len(frames), len(samples)[, 3]) values of frames ``frames`` (increasing indices
        among the field's frames) at ``samples`` (increasing, unique): only the tiles
        holding those samples are read, and of each only the stored rows from the first
        frame's to the last's (one row for a time slice, every row for a history), all
        tiles' rows on the reader's threads."""
        config, tile = self.config(name), self.header.tiles[name]
        frames, samples = np.asarray(frames, np.int64), np.asarray(samples, np.int64)
        tail = config.sample_shape[1:]
        if not len(frames) or not len(samples):
            return np.empty((len(frames), len(samples), *tail))
        if self._decoded is not None:
            return self.values(name, samples)[frames]
        rows = self.stored(name)[frames]
        lo, hi = int(rows.min()), int(rows.max()) + 1
        wanted = [int(k) for k in np.unique(samples // tile)]
        bufs = [np.empty((hi - lo, min(tile, config.samples - k * tile), *tail)) for k in wanted]
        self.reads.tiles += len(wanted)
        try:
            self._reader.read_rows_into(
                [(values_name(name, k), lo, buf) for k, buf in zip(wanted, bufs)]
            )
        except ValueError as exc:  # a layout the header check let through: not ours
            raise self._corrupt(str(exc)) from None
        if len(wanted) == 1 and _is_run(samples) and _is_run(rows):  # no gather: a view
            a = int(samples[0]) - wanted[0] * tile
            return bufs[0][int(rows[0]) - lo :][: len(frames), a : a + len(samples)]
        out = np.empty((len(frames), len(samples), *tail))
        at = 0  # samples increase, so each tile's are one block of them
        for k, buf in zip(wanted, bufs):
            count = int(np.count_nonzero(samples // tile == k))
            cols = samples[at : at + count] - k * tile
            got = buf if _is_run(rows) and len(rows) == len(buf) else buf[rows - lo]
            if _is_run(cols):
                out[:, at : at + count] = got[:, int(cols[0]) : int(cols[0]) + count]
            else:
                out[:, at : at + count] = got[:, cols]
            at += count
        return out

    def frame(self, name: str, index: int) -> np.ndarray:
        """(m[, 3]) values of frame ``index`` of ``name``: one row of each tile decoded
        (in a version 1 file, each tile's frames holding that row)."""
        config, tile = self.config(name), self.header.tiles[name]
        if self._decoded is not None:
            return self.values(name)[index]
        row = int(self.stored(name)[index])
        out = np.empty(config.sample_shape)
        requests = [
            (values_name(name, k), row, out[k * tile : (k + 1) * tile][None])
            for k in range(math.ceil(config.samples / tile))
        ]
        self.reads.tiles += len(requests)
        try:
            self._reader.read_rows_into(requests)
        except ValueError as exc:  # a layout the header check let through: not ours
            raise self._corrupt(str(exc)) from None
        return out

    def signal(self, name: str) -> np.ndarray:
        if name not in self.header.signals:
            have = ", ".join(self.header.signals) or "none"
            raise LensError(f"{self.path}: no signal {name!r}; it holds: {have}")
        return self._read(f"signal/{name}")

    def verify(self) -> None:
        """Check everything without keeping it: every frame of the payload streamed
        through one buffer (``ContainerReader.verify``), then the index arrays (ticks,
        each field's rows: 8 bytes a frame, at most :data:`MAX_CHUNK_FRAMES`)."""
        self._reader.verify()
        self.ticks()
        for name in self.header.fields:
            self.rows(name)

    def read_all(self) -> ChunkData:
        """Every frame, after verifying the whole payload (footer and checksum)."""
        self._decoded = self._reader.read_all()  # serve the reads below from memory
        self.reads.tiles += sum("/values/" in n for n in self._decoded)
        data = ChunkData(self.ticks(), self.sim_times())
        for name, config in self.header.fields.items():
            data.fields[name] = FieldSeries(
                config, self.rows(name), self.positions(name), self.values(name)
            )
        data.signals = {name: self.signal(name) for name in self.header.signals}
        return data


def _is_run(idx: np.ndarray) -> bool:
    """Whether ``idx`` is consecutive increasing integers (a slice's worth)."""
    return (
        len(idx) > 0
        and int(idx[-1]) - int(idx[0]) == len(idx) - 1
        and bool(np.all(np.diff(idx) == 1))
    )


def read_chunk_header(path: Path | str) -> ChunkHeader:
    """Only the header of a ``.lens`` file (a few KB read, nothing decompressed)."""
    with ChunkFile(path) as chunk:
        return chunk.header
