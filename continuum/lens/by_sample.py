"""By-sample files: a span of a run's field history stored point-major.

The chunks (:mod:`continuum.lens.format`) are time-major: a time slice decodes one row of
each tile, but the history of one position decodes, per chunk, a whole tile (8,192
samples x every frame of the chunk). A by-sample file holds the same frames transposed,
one array per field of shape ``(samples, D[, 3])`` cut into zstd frames of ``group``
whole samples, so one position's history over the file's whole span is **one** frame of
about :data:`TARGET_BLOCK_BYTES` decoded, and a region (a face, a band of latitude) over
every tick decodes only the frames of its samples. It is derived data, written in the
background (:mod:`continuum.lens.compaction`), off the tick loop: the chunks stay the
record, and a by-sample file is used only while every chunk it was built from is still
there, unchanged (``sources``: name and payload checksum of each), so a chunk rewritten or
pruned makes it stale, never wrong.

Header ``meta`` (format ``continuum.lens.by_sample`` version 1)::

    run_id, world, seed, ir_hash, stride, topology, created_at, tick_range [start, end),
    frames, sources [{name, checksum}], field_configs {name: {kind, positions cells|global,
    samples, frames, stored, group[, units]}}, [time_units]

Arrays::

    ticks, sim_times              (F,) as in a chunk
    field/NAME/rows               (F_f,) which of the F frames hold the field
    field/NAME/stored             (F_f,) the stored column of each frame (0, then +0/+1):
                                  frames that repeat the one before bit for bit are
                                  stored once, as in the chunks
    field/NAME/by_sample          (samples, D_f[, 3]), ``group`` samples per zstd frame

Point-sample fields are not copied: their samples move every frame, so "one sample's
history" is not a position's (their history is served from the chunks).

Why repeats dropped, then byte shuffle: along time, a sample's consecutive values repeat
(a stratum that runs every other tick) or differ in their low bytes. With every frame
kept, zstd finds the repeats in plain 8-byte words and shuffling scatters them over eight
planes; with repeated frames stored once (``stored``), shuffling wins. Measured on terra
``large`` (500 frames x 393,216 cells): 585 MB plain, 1,066 MB shuffled, 672 MB
XOR-delta-coded, 695 MB repeats dropped plain, 558-566 MB repeats dropped and shuffled —
about the size of the chunks themselves (570-594 MB), which hold the same information.
So the two shapes together take ~2x the chunks; no lossless coding tried got the second
copy under half of them.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated, Any

import msgspec
import numpy as np
from msgspec import Meta

from continuum import layout
from continuum.blobs import ContainerInfo, decode_json
from continuum.blobs.stream import ArraySpec, write_streamed
from continuum.errors import LensCorruptError, LensError
from continuum.lens.format import (
    KIND,
    ChunkFile,
    LensIdentity,
    ValueReads,
    check_topology_spec,
    open_lens_container,
)
from continuum.lens.reconstruct import CELLS, GLOBAL, FieldConfig

FORMAT = "continuum.lens.by_sample"
FORMAT_VERSION = 1
#: raw bytes of one zstd frame (``group`` samples x every stored frame): one position's
#: history decodes one of these; larger frames decode a single history slower, smaller
#: ones compress worse and cost a region more calls
TARGET_BLOCK_BYTES = 512 << 10
#: frames a file spans at most: a position's history over a longer run decodes one frame
#: per file; the builder holds ``tile x frames`` values at once (268 MB at 8,192 x 4,096)
MAX_SEGMENT_FRAMES = 4096
#: zstd level: written once in the background and read often, so a level above the
#: chunks' 1 is affordable; measured 587 vs 585 MB at 3 vs 1 on terra ``large`` (no gain),
#: so 1, for the builder's speed
LEVEL = 1
#: values the builder transposes at once (bytes)
BUILD_BYTES = 256 << 20


def group_size(stored: int, config: FieldConfig) -> int:
    """Samples per zstd frame: a power of two near TARGET_BLOCK_BYTES, in [1, samples]."""
    per_sample = max(stored, 1) * 8 * (3 if config.kind == "vec3" else 1)
    group = 1 << max((TARGET_BLOCK_BYTES // per_sample).bit_length() - 1, 0)
    return min(group, config.samples)


def raw_bytes(frames: int, config: FieldConfig) -> int:
    """Bytes a field's copy of ``frames`` frames transposes (before compression)."""
    return frames * config.samples * 8 * (3 if config.kind == "vec3" else 1)


def copies(config: FieldConfig) -> bool:
    """Whether a field is copied by sample (its samples stay put: cells, global)."""
    return config.positions in (CELLS, GLOBAL)


# -- writing ------------------------------------------------------------------------------


@dataclass
class _FieldPlan:
    name: str
    config: FieldConfig
    rows: np.ndarray  # (F_f,) into the file's ticks
    stored: np.ndarray  # (F_f,) into the stored columns
    sources: list[tuple[ChunkFile, int]]  # chunk, first stored column it fills
    count: int  # D_f
    group: int


class _Builder:
    """Hands the streamed writer rows of each field's ``by_sample`` array, transposing a
    band of samples of every chunk at a time (each chunk tile decoded once per band)."""

    def __init__(self, plans: dict[str, _FieldPlan]) -> None:
        self.plans = plans
        self.band: tuple[str, int, int] | None = None
        self.values: np.ndarray | None = None

    def band_of(self, plan: _FieldPlan, start: int) -> tuple[int, int]:
        width = plan.count * 8 * (3 if plan.config.kind == "vec3" else 1)
        size = max(plan.group, (BUILD_BYTES // max(width, 1)) // plan.group * plan.group)
        lo = start // size * size
        return lo, min(lo + size, plan.config.samples)

    def fill(self, array: str, start: int, stop: int) -> np.ndarray:
        name = array.split("/")[1]
        plan = self.plans[name]
        lo, hi = self.band_of(plan, start)
        if self.band != (name, lo, hi):
            self.values = None  # release the previous band before building the next
            self.values = self._transpose(plan, lo, hi)
            self.band = (name, lo, hi)
        assert self.values is not None
        return self.values[start - lo : stop - lo]

    def _transpose(self, plan: _FieldPlan, lo: int, hi: int) -> np.ndarray:
        tail = (3,) if plan.config.kind == "vec3" else ()
        out = np.empty((hi - lo, plan.count, *tail))
        samples = np.arange(lo, hi)
        for chunk, first in plan.sources:
            block = chunk.values(plan.name, samples, expand=False)  # (D_c, n[, 3])
            out[:, first : first + len(block)] = np.swapaxes(block, 0, 1)
        return out


def _plans(chunks: list[ChunkFile], ticks: np.ndarray) -> dict[str, _FieldPlan]:
    plans: dict[str, _FieldPlan] = {}
    for chunk in chunks:
        at = np.searchsorted(ticks, chunk.ticks())
        for name, config in chunk.header.fields.items():
            if not copies(config):
                continue
            plan = plans.setdefault(
                name,
                _FieldPlan(name, config, np.empty(0, np.int64), np.empty(0, np.int64), [], 0, 0),
            )
            if plan.config != config:
                raise LensError(f"field {name!r} changes shape between chunks: not copied")
            stored = chunk.stored(name)
            plan.rows = np.r_[plan.rows, at[chunk.rows(name)]]
            plan.stored = np.r_[plan.stored, stored + plan.count]
            plan.sources.append((chunk, plan.count))
            plan.count += chunk.header.field_stored[name]
    for plan in plans.values():
        plan.group = group_size(plan.count, plan.config)
    return plans


def _specs(plans: dict[str, _FieldPlan], frames: int) -> list[ArraySpec]:
    specs = [
        ArraySpec("sim_times", np.dtype("<f8"), (frames,), frames, False),
        ArraySpec("ticks", np.dtype("<i8"), (frames,), frames, False),
    ]
    for name, plan in plans.items():
        tail = (3,) if plan.config.kind == "vec3" else ()
        shape = (plan.config.samples, plan.count, *tail)
        specs += [
            ArraySpec(f"field/{name}/by_sample", np.dtype("<f8"), shape, plan.group, True),
            ArraySpec(f"field/{name}/rows", np.dtype("<i8"), (len(plan.rows),), 1 << 20, False),
            ArraySpec(f"field/{name}/stored", np.dtype("<i8"), (len(plan.rows),), 1 << 20, False),
        ]
    return sorted(specs, key=lambda s: s.name)


class Cancelled(LensError):
    """A copy's build was called off (its run is stopping); nothing of it is left."""


def write_by_sample(
    path: Path,
    chunks: list[ChunkFile],
    identity: LensIdentity,
    tick_range: tuple[int, int],
    cancelled: Callable[[], bool] | None = None,
) -> ContainerInfo:
    """Atomically write the by-sample copy of ``chunks`` (in tick order, no tick twice).

    ``cancelled`` is asked before each band of samples is transposed; once it says yes,
    :class:`Cancelled` is raised and the temporary file removed."""
    ticks = np.concatenate([c.ticks() for c in chunks]) if chunks else np.empty(0, np.int64)
    if ticks.size and np.any(np.diff(ticks) <= 0):
        raise LensError("by-sample sources overlap or are out of order")
    times = np.concatenate([c.sim_times() for c in chunks]) if chunks else np.empty(0)
    plans = _plans(chunks, ticks)
    builder = _Builder(plans)
    heads = {"ticks": ticks, "sim_times": times}
    for name, plan in plans.items():
        heads[f"field/{name}/rows"], heads[f"field/{name}/stored"] = plan.rows, plan.stored

    def fill(array: str, start: int, stop: int) -> np.ndarray:
        if array in heads:
            return heads[array][start:stop]
        if cancelled is not None and cancelled():
            raise Cancelled(f"{path}: by-sample copy called off")
        return builder.fill(array, start, stop)

    meta = _meta(chunks, plans, identity, tick_range, ticks)
    specs = _specs(plans, len(ticks))
    return write_streamed(path, KIND, meta, specs, fill, level=LEVEL, threads=0)


def _meta(
    chunks: list[ChunkFile],
    plans: dict[str, _FieldPlan],
    identity: LensIdentity,
    tick_range: tuple[int, int],
    ticks: np.ndarray,
) -> dict[str, Any]:
    units = identity.field_units
    configs = {
        name: {
            **p.config.to_json(),
            "frames": len(p.rows),
            "stored": p.count,
            "group": p.group,
            **({"units": units[name]} if units.get(name) else {}),
        }
        for name, p in sorted(plans.items())
    }
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
        "sources": [{"name": c.path.name, "checksum": c.header.checksum} for c in chunks],
        "field_configs": configs,
        **({"time_units": identity.time_units} if identity.time_units else {}),
    }


# -- reading ------------------------------------------------------------------------------

_Count = Annotated[int, Meta(ge=0, le=1 << 62)]
_Frames = Annotated[int, Meta(ge=0, le=1 << 23)]
_Name = Annotated[str, Meta(max_length=200, pattern=layout.DOTTED_NAME_RE.pattern)]


class _FieldDoc(msgspec.Struct):
    kind: Annotated[str, Meta(pattern="^(scalar|vec3)$")]
    positions: Annotated[str, Meta(pattern=f"^({CELLS}|{GLOBAL})$")]
    samples: Annotated[int, Meta(ge=1, le=1 << 62)]
    frames: _Frames
    stored: _Frames
    group: Annotated[int, Meta(ge=1, le=1 << 62)]
    units: Annotated[str, Meta(min_length=1, max_length=64)] | None = None


class _Source(msgspec.Struct):
    name: Annotated[str, Meta(pattern=layout.LENS_CHUNK_RE.pattern)]
    checksum: Annotated[str, Meta(pattern="^[0-9a-f]{32}$")]


class _MetaDoc(msgspec.Struct):
    format: Annotated[str, Meta(pattern="^continuum[.]lens[.]by_sample$")]
    format_version: Annotated[int, Meta(ge=1, le=FORMAT_VERSION)]
    run_id: Annotated[str, Meta(pattern=layout.RUN_ID_RE.pattern)]
    tick_range: tuple[_Count, _Count]
    frames: _Frames
    sources: Annotated[list[_Source], Meta(max_length=1 << 16)]
    field_configs: dict[_Name, _FieldDoc]
    topology: dict[str, Any] | None = None


_DECODER = msgspec.json.Decoder(_MetaDoc)


class BySampleFile:
    """An open by-sample file: header checked, then one position's history or a sum over
    sample ranges, decoding only the frames that hold them."""

    def __init__(
        self, path: Path | str, *, threads: int = -1, reads: ValueReads | None = None
    ) -> None:
        self.path = Path(path)
        self.reads = ValueReads() if reads is None else reads  # sample groups decoded
        self._reader = open_lens_container(self.path, threads)
        try:
            self.doc = self._parse()
        except BaseException:
            self._reader.close()
            raise
        self.tick_range = (int(self.doc.tick_range[0]), int(self.doc.tick_range[1]))
        self.sources = [(s.name, s.checksum) for s in self.doc.sources]
        self._index: dict[str, np.ndarray] = {}

    def __enter__(self) -> BySampleFile:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        self._reader.close()

    def _corrupt(self, what: str) -> LensCorruptError:
        return LensCorruptError(f"{self.path}: {what}")

    def _parse(self) -> _MetaDoc:
        header = self._reader.header
        doc = decode_json(
            header.meta_json, _DECODER, str(self.path), "by-sample header", LensCorruptError
        )
        if doc.tick_range[0] > doc.tick_range[1]:
            raise self._corrupt("malformed by-sample header: $.tick_range: start after end")
        if doc.topology is not None:
            check_topology_spec(doc.topology, self.path, "by-sample header topology")
        expected = {"ticks": ("i", (doc.frames,)), "sim_times": ("f", (doc.frames,))}
        for name, c in doc.field_configs.items():
            if c.stored > c.frames or (c.frames and not c.stored) or c.group > c.samples:
                raise self._corrupt(
                    f"malformed by-sample header: {name!r} stored {c.stored} of {c.frames} "
                    f"frames, groups of {c.group} of {c.samples} samples"
                )
            tail = (3,) if c.kind == "vec3" else ()
            expected[f"field/{name}/by_sample"] = ("f", (c.samples, c.stored, *tail))
            expected[f"field/{name}/rows"] = ("i", (c.frames,))
            expected[f"field/{name}/stored"] = ("i", (c.frames,))
        entries = {e.name: e for e in header.layout}
        if set(entries) != set(expected):
            raise self._corrupt("arrays do not match the by-sample header")
        for name, (kind, shape) in expected.items():
            e = entries[name]
            if np.dtype(e.dtype).kind != kind or e.dtype[-1] != "8" or e.shape != shape:
                raise self._corrupt(f"array {name!r} is {e.dtype}{e.shape}")
        return doc

    @property
    def fields(self) -> list[str]:
        return sorted(self.doc.field_configs)

    def config(self, name: str) -> FieldConfig:
        c = self.doc.field_configs[name]
        return FieldConfig(c.kind, c.positions, c.samples)

    def ticks(self) -> np.ndarray:
        """(F,) ticks, checked increasing and inside the header's tick range."""
        got = self._index.get("ticks")
        if got is None:
            got = self._reader.read("ticks")
            lo, hi = self.tick_range
            if got.size and (np.any(np.diff(got) <= 0) or got[0] < lo or got[-1] >= hi):
                raise self._corrupt("ticks are not increasing inside the header's tick range")
            self._index["ticks"] = got
        return got

    def sim_times(self) -> np.ndarray:
        if "sim_times" not in self._index:
            self._index["sim_times"] = self._reader.read("sim_times")
        return self._index["sim_times"]

    def rows(self, name: str) -> np.ndarray:
        return self._checked(f"field/{name}/rows", self.doc.frames, increasing=True)

    def stored(self, name: str) -> np.ndarray:
        count = self.doc.field_configs[name].stored
        stored = self._checked(f"field/{name}/stored", count, increasing=False)
        steps = np.diff(stored)
        if stored.size and (
            stored[0] != 0 or np.any((steps < 0) | (steps > 1)) or stored[-1] != count - 1
        ):
            raise self._corrupt(f"field {name!r}: stored columns are not 0, +0/+1 to {count}")
        return stored

    def _checked(self, array: str, bound: int, *, increasing: bool) -> np.ndarray:
        got = self._index.get(array)
        if got is None:
            got = self._reader.read(array)
            if got.size and (got.min() < 0 or got.max() >= max(bound, 1)):
                raise self._corrupt(f"array {array!r} holds indices out of range")
            if increasing and got.size and np.any(np.diff(got) <= 0):
                raise self._corrupt(f"array {array!r} is not increasing")
            self._index[array] = got
        return got

    def history(self, name: str, sample: int) -> np.ndarray:
        """(F_f[, 3]) values of one sample at every frame of the field: one zstd frame."""
        self.reads.tiles += 1
        row = self._reader.read_rows(f"field/{name}/by_sample", sample, sample + 1)[0]
        return row[self.stored(name)]

    def sums(self, name: str, ranges: list[tuple[int, int]]) -> np.ndarray:
        """(F_f[, 3]) sums over the samples in ``ranges`` (sorted half-open runs) at every
        frame: each sample group they touch decoded once, a batch of groups (~32 MB) at a
        time on the reader's threads, into one reused buffer."""
        c = self.doc.field_configs[name]
        tail = (3,) if c.kind == "vec3" else ()
        pieces = _pieces(ranges, c.group)
        groups = sorted(pieces)
        per = max(1, (32 << 20) // max(c.group * c.stored * 8 * (3 if tail else 1), 1))
        buf = np.empty((min(per, max(len(groups), 1)), c.group, c.stored, *tail))
        total = np.zeros((c.stored, *tail))
        array = f"field/{name}/by_sample"
        for at in range(0, len(groups), per):
            batch = groups[at : at + per]
            self.reads.tiles += len(batch)
            parts = [buf[n][: min(c.group, c.samples - k * c.group)] for n, k in enumerate(batch)]
            self._reader.read_rows_into(
                [(array, k * c.group, part) for k, part in zip(batch, parts)]
            )
            for k, part in zip(batch, parts):
                for lo, hi in pieces[k]:
                    total += part[lo:hi].sum(axis=0)
        return total[self.stored(name)]


def _pieces(ranges: list[tuple[int, int]], group: int) -> dict[int, list[tuple[int, int]]]:
    """The runs ``ranges`` cut at group boundaries: group -> runs relative to its start."""
    out: dict[int, list[tuple[int, int]]] = {}
    for a, b in ranges:
        for k in range(a // group, (b - 1) // group + 1):
            lo, hi = max(a, k * group), min(b, (k + 1) * group)
            out.setdefault(k, []).append((lo - k * group, hi - k * group))
    return out


def span_frames(frames: list[int]) -> list[tuple[int, int]]:
    """Group consecutive chunks (their frame counts, in order) into spans of at most
    :data:`MAX_SEGMENT_FRAMES` frames (a chunk larger than that is a span alone):
    index ranges ``[i, j)`` into the list."""
    out, start, held = [], 0, 0
    for i, n in enumerate(frames):
        if held and held + n > MAX_SEGMENT_FRAMES:
            out.append((start, i))
            start, held = i, 0
        held += n
    if start < len(frames):
        out.append((start, len(frames)))
    return out


def listed(run_dir: Path) -> list[tuple[Path, tuple[int, int]]]:
    """The by-sample files of a run directory by name (links are not files it holds)."""
    out = []
    for path in sorted(run_dir.iterdir()):
        span = layout.parse_lens_by_sample_name(path.name)
        if span is not None and not path.is_symlink() and path.is_file():
            out.append((path, span))
    return out


def current(
    copy: BySampleFile, span: tuple[int, int], chunks: list[tuple[str, int, int, str | None]]
) -> bool:
    """Whether ``copy`` (named for ``span``) covers that span and was built from exactly
    the chunks ``(name, start, end, checksum)`` now inside it, unchanged: otherwise it is
    stale (a chunk rewritten, pruned or added since, or a file renamed) and must not
    answer."""
    lo, hi = copy.tick_range
    if (lo, hi) != span:
        return False
    inside = [(name, checksum) for name, a, b, checksum in chunks if lo <= a and b <= hi]
    return inside == copy.sources
