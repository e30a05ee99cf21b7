"""Lens chunks -> Hive-partitioned Parquet, one file per chunk, field and layout.

    DIR/run_id=R/field=F/part-SSSSSSSSSS-EEEEEEEEEE.parquet            by tick, then sample
    DIR/run_id=R/ticks/part-SSSSSSSSSS-EEEEEEEEEE.parquet              tick -> sim_time
    DIR/run_id=R/signals/part-SSSSSSSSSS-EEEEEEEEEE.parquet            global signals
    DIR/by_sample/run_id=R/field=F/part-....parquet                     --layout cell copy

Names and directories are :mod:`continuum.layout`'s (``part_name``, ``field_partition``,
``ticks_part_path``, ``signals_part_path``). Why one file per chunk, named by the chunk's
tick range, instead of ``COPY ... PARTITION_BY``: exporting a chunk again must replace its
rows, not add to them. Each file is committed by the project's one atomic-write protocol:
``COPY ... TO`` the hidden ``layout.temp_path`` beside it (no ``.parquet`` suffix, so the
views never glob a half-written file), fsync, rename over the old one, fsync the directory
(:func:`continuum.blobs.commit_file`). So after a crash or power cut a part is the old
one or the new one, never a torn file that a query would fail on. The commit is a
parameter (``commit``): :func:`continuum.sql.export_run` hands each finished temporary to a
committer thread, so one part's fsync (the disk flushing it) overlaps the next part's COPY.

Field files hold (tick, sample) and ``value`` (scalar fields) or ``vx, vy, vz`` (vector
fields), plus, for point fields only, the per-row positions (face, i, j, lat, lon); the
``columns`` metadata lists them. A cell field's positions are a function of sample and
resolution, which the views compute (``schema.cell_position_sql``) and the key-value
metadata states (``positions``, ``resolution``, ``derived_columns``) — so a file stays
self-describing without the catalog. ``sim_time`` is one value per frame: the chunk's
``ticks`` file holds it (metadata ``sim_time`` names that file), and the views join it in.

Every file is zstd level 1, with row groups of whole ticks (or whole samples) and
key-value metadata naming the run, field, layout and topology (resolution, face order,
cell order, vector frame) and the world's units (``units`` of a field's values,
``time_units`` of ``sim_time``, ``signal_units`` a JSON object in a signals file; empty
where the world declares none), so a file is readable without the catalog. Where the
bytes go (terra ``large``, 100 frames x 393,216 cells a chunk): all but ~0.1 % in the
value column; tick and sample are runs that DELTA/RLE-dictionary store in < 1 MB.

- **time-major** (``part-*`` under ``run_id=``): Parquet v2, byte-stream-split floats
  (~2x smaller values than v1's plain here), row groups near 500k rows. zstd levels 3
  and 9 were measured 1.4 % and 2.5 % smaller at 1.3-1.5x the COPY time: not worth it.
  Dictionaries only where a row group repeats a handful of values
  (:func:`dictionary_limit`): the ``tick`` column (~1-20 ticks per row group) is
  RLE-dictionary encoded, which DuckDB's hash aggregate groups per dictionary entry
  instead of per row (a ``GROUP BY tick`` scan ~20 % less CPU, measured);
- **sample-major** (``by_sample/``): row groups near 100k rows
  (:data:`SAMPLE_ROW_GROUP_TARGET`); Parquet v2 (byte-stream-split), except for a chunk
  whose frames repeat (:func:`repeated_frames` >= :data:`REPEATS_FOR_PLAIN`): Parquet v1,
  *plain* doubles. Along time a field's value often repeats (terra's atmosphere advances
  every other tick: half of its frames equal the one before); plain 8-byte values side
  by side are a match zstd finds, byte-stream-split scatters them into 1-byte runs it
  cannot: 1,016 MB -> 563 MB for terra ``large``'s 500 frames, about the lens chunks'
  own size (554 MB). Values that change every frame compress better split (5.2 vs 7.1
  bytes a value on a random walk, measured), hence the choice per chunk. Groups of
  ~100k rows answered a point history fastest (measured 15.8 ms vs 30 ms at 51k and
  56 ms at 26k: more groups cost more than they save; 17 ms at 500k). Only ``tick``
  gets a dictionary.
"""

from __future__ import annotations

import contextlib
import json
import os
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import duckdb
import numpy as np

from continuum import layout
from continuum.blobs import commit_file, make_dirs
from continuum.errors import LensError
from continuum.lens import ChunkFile
from continuum.lens.reconstruct import CELLS
from continuum.sql.columns import (
    Scratch,
    field_columns,
    file_schema,
    select_list,
    ticks_columns,
)
from continuum.sql.errors import translate
from continuum.sql.schema import POSITIONS

#: Makes a finished temporary its final file (fsync, rename, fsync dir), now or later.
Commit = Callable[[Path, Path], object]
LAYOUTS = ("time", "sample")
AXES = ("vx", "vy", "vz")
ROW_GROUP_TARGET = 500_000
#: Rows per sample-major row group (see the module docstring).
SAMPLE_ROW_GROUP_TARGET = 100_000
#: Parquet format per layout: (version, row group target).
FORMATS = {"time": ("V2", ROW_GROUP_TARGET), "sample": ("V2", SAMPLE_ROW_GROUP_TARGET)}
#: Share of frames equal to the one before from which sample-major values are stored plain.
REPEATS_FOR_PLAIN = 0.25


def repeated_frames(values: np.ndarray) -> float:
    """The share of frames (rows of ``values``) equal to the frame before them."""
    if len(values) < 2:
        return 0.0
    same = [np.array_equal(values[k], values[k - 1]) for k in range(1, len(values))]
    return sum(same) / len(same)


VECTOR_FRAME = "cartesian unit-sphere axes: vx along +X, vy along +Y, vz along +Z"


@dataclass(frozen=True)
class ChunkExport:
    """What exporting one chunk wrote: the catalog records it."""

    run_id: str
    tick_range: tuple[int, int]
    fields: tuple[str, ...]
    rows: int  # field rows in the time-major files
    bytes: int  # every file written, all layouts and signals
    files: tuple[Path, ...]


def row_group_rows(span: int, count: int, target: int = ROW_GROUP_TARGET) -> int:
    """Rows per group: whole ticks (or samples) of ``span`` rows, ~``target``, within
    [target / 5, 1M]."""
    whole = max(1, target // max(span, 1)) * max(span, 1)
    return min(max(whole, target // 5), 1_000_000, max(span * count, 1))


def dictionary_limit(rows_per_group: int, span: int, file_layout: str) -> int:
    """DICTIONARY_SIZE_LIMIT (bytes) that dictionary-encodes only the time-major ``tick``.

    A time-major row group holds ``rows_per_group / span`` distinct ticks (8 bytes each);
    the limit admits those and stops every other column's dictionary after a few dozen
    values (DuckDB gives up on a column once its dictionary passes the limit). Above
    512 ticks a group (fields of few samples) the gain is gone: no dictionaries. A
    sample-major group holds ``span`` ticks (all of the chunk's), repeated per sample:
    v1 has no delta encoding, so without its dictionary the column is 40 MB a chunk.
    """
    ticks = -(-rows_per_group // max(span, 1)) if file_layout == "time" else span
    if ticks > 512:
        return 1
    return 8 * ticks + 64


def _quote(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"


def _copy(
    con: duckdb.DuckDBPyConnection,
    cols: dict[str, np.ndarray],
    select: str,
    target: Path,
    opts: str,
    commit: Commit,
) -> int:
    """COPY the registered columns to a temporary and ``commit`` it as ``target``; returns
    bytes written. A failed COPY leaves nothing behind."""
    make_dirs(target.parent)
    tmp = layout.temp_path(target)
    name = f"cols_{uuid.uuid4().hex[:8]}"  # a DuckDB view name, not a file
    con.register(name, cols)
    try:
        with translate(f"export to {target}"):
            sql = f"COPY (SELECT {select.replace('SRC', name)} FROM {name}) TO {_quote(str(tmp))}"
            con.execute(f"{sql} (FORMAT PARQUET, {opts})")
        size = tmp.stat().st_size
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    finally:
        con.unregister(name)
    commit(tmp, target)  # commit_file removes the temporary if it fails
    return size


def _options(
    rows_per_group: int, meta: dict[str, Any], dictionary: int = 1, version: str = "V2"
) -> str:
    kv = ", ".join(f"{k}: {_quote(str(v))}" for k, v in meta.items())
    return (
        f"PARQUET_VERSION {version}, COMPRESSION zstd, COMPRESSION_LEVEL 1, "
        f"DICTIONARY_SIZE_LIMIT {dictionary}, ROW_GROUP_SIZE {rows_per_group}, "
        f"KV_METADATA {{{kv}}}"
    )


class _Chunk:
    """One open chunk, the tick window asked for, and how its parts are committed."""

    def __init__(
        self, chunk: ChunkFile, start: int | None, stop: int | None, commit: Commit
    ) -> None:
        self.file, self.h, self.commit = chunk, chunk.header, commit
        self.ticks, self.times = chunk.ticks(), chunk.sim_times()
        lo = -(2**63) if start is None else start
        hi = 2**63 - 1 if stop is None else stop
        self.keep = (self.ticks >= lo) & (self.ticks <= hi)

    def part(self) -> str:
        """This chunk's part file name (every field, ticks and signals file shares it)."""
        return layout.part_name(*self.h.tick_range)

    def ticks_file(self) -> str:
        """The chunk's ticks file relative to its run partition: ``ticks/part-....parquet``."""
        root = Path("/")  # any root: only the relative part is kept
        run_id = self.h.identity.run_id
        path = layout.ticks_part_path(root, run_id, *self.h.tick_range)
        return path.relative_to(layout.run_partition(root, run_id)).as_posix()

    def meta(self, name: str | None, file_layout: str) -> dict[str, Any]:
        """Key-value metadata of one file (``name`` None: the signals or ticks file)."""
        topo = self.h.identity.topology or {}
        ident = self.h.identity
        config = self.h.fields[name] if name else None
        cells = config is not None and config.positions == CELLS
        return {
            "continuum_format": "continuum.parquet.v2",
            "run_id": ident.run_id,
            "world": ident.world,
            "seed": ident.seed,
            "field": name or "",
            "field_config": json.dumps(config.to_json()) if config else "",
            "positions": config.positions if config else "",
            # cell fields: face = sample // N^2, i = sample // N % N, j = sample % N, lat/lon
            # of that cell's centre (topology below) — computed by the views, not stored
            "derived_columns": ",".join(POSITIONS) if cells else "",
            "columns": ",".join(file_schema(config)) if config else "",
            # one sim_time per frame, in the chunk's ticks file (run dir relative)
            "sim_time": self.ticks_file() if config else "",
            "layout": file_layout,
            "tick_range": json.dumps(list(self.h.tick_range)),
            # the capture stride: the ticks table's rows for lens gaps step by it
            "stride": self.h.identity.stride or "",
            "topology": json.dumps(topo),
            "resolution": topo.get("resolution", ""),
            "face_order": ",".join(topo.get("face_order", [])),
            "cell_order": topo.get("cell_order", ""),
            "vector_frame": VECTOR_FRAME,
            # the world's labels (continuum.world.units): "" where none is declared
            "units": (ident.field_units.get(name) or "") if name else "",
            "time_units": ident.time_units or "",
            "signal_units": json.dumps(ident.signal_units) if file_layout == layout.SIGNALS else "",
        }


def _export_field(
    con: duckdb.DuckDBPyConnection,
    c: _Chunk,
    root: Path,
    name: str,
    file_layout: str,
    scratch: Scratch,
) -> tuple[int, int, Path] | None:
    config = c.file.config(name)
    rows = c.file.rows(name)
    mask = c.keep[rows]
    if not mask.any():
        return None
    if mask.all():  # the usual whole chunk: a view, not a 100 MB boolean-index copy
        mask = slice(None)
    values = c.file.values(name)[mask]
    positions = c.file.positions(name)
    if positions is not None and positions.ndim == 3:
        positions = positions[mask]
    ticks = c.ticks[rows][mask]
    cols = field_columns(config, ticks, values, positions, c.file.topology, file_layout, scratch)
    span, count = (
        (config.samples, len(ticks)) if file_layout == "time" else (len(ticks), config.samples)
    )
    partition = layout.field_partition(root, c.h.identity.run_id, name, file_layout)
    target = layout.confine(root, layout.child(partition, c.part()))
    version, rows_target = FORMATS[file_layout]
    if file_layout == "sample" and repeated_frames(values) >= REPEATS_FOR_PLAIN:
        version = "V1"  # plain doubles: zstd matches a value repeated along time
    group = row_group_rows(span, count, rows_target)
    limit = dictionary_limit(group, span, file_layout)
    opts = _options(group, c.meta(name, file_layout), limit, version)
    size = _copy(con, cols, select_list(cols, "SRC", file_schema(config)), target, opts, c.commit)
    return len(cols["tick"]), size, target


def _export_ticks(con: duckdb.DuckDBPyConnection, c: _Chunk, root: Path) -> tuple[int, Path]:
    """The chunk's (tick, sim_time) of the frames in the window: the views join sim_time."""
    cols = ticks_columns(c.ticks[c.keep], c.times[c.keep])
    target = layout.confine(
        root, layout.ticks_part_path(root, c.h.identity.run_id, *c.h.tick_range)
    )
    opts = _options(row_group_rows(1, len(cols["tick"])), c.meta(None, layout.TICKS))
    return _copy(con, cols, "tick, sim_time", target, opts, c.commit), target


def _export_signals(con: duckdb.DuckDBPyConnection, c: _Chunk, root: Path) -> tuple[int, Path]:
    parts: dict[str, list[np.ndarray]] = {k: [] for k in ("tick", "sim_time", "signal")}
    parts.update({k: [] for k in ("value", *AXES)})
    for name in sorted(c.h.signals):
        vals = c.file.signal(name)
        ok = c.keep & ~np.isnan(vals).all(axis=1)
        n = int(ok.sum())
        parts["tick"].append(c.ticks[ok])
        parts["sim_time"].append(c.times[ok])
        parts["signal"].append(np.full(n, name, dtype=object))
        scalar = vals.shape[1] == 1
        nan = np.full(n, np.nan)
        parts["value"].append(vals[ok, 0] if scalar else nan)
        for k, axis in enumerate(AXES):
            parts[axis].append(nan if scalar else vals[ok, k])
    cols = {k: np.concatenate(v) for k, v in parts.items()}
    target = layout.confine(
        root, layout.signals_part_path(root, c.h.identity.run_id, *c.h.tick_range)
    )
    floats = [f"CASE WHEN isnan({a}) THEN NULL ELSE {a} END AS {a}" for a in ("value", *AXES)]
    select = "tick, sim_time, signal::VARCHAR AS signal, " + ", ".join(floats)
    opts = _options(row_group_rows(1, len(cols["tick"])), c.meta(None, layout.SIGNALS))
    return _copy(con, cols, select, target, opts, c.commit), target


def export_chunk(
    con: duckdb.DuckDBPyConnection,
    path: Path,
    root: Path,
    *,
    fields: list[str] | None = None,
    start: int | None = None,
    stop: int | None = None,
    layouts: tuple[str, ...] = ("time",),
    scratch: Scratch | None = None,
    commit: Commit | None = None,
) -> ChunkExport:
    """Write one ``.lens`` chunk's fields (ticks in [start, stop]), its ticks and signals.

    ``scratch``: buffers reused from chunk to chunk by one thread (see :class:`Scratch`).
    ``commit``: makes each finished temporary its part; by default (``commit_file``) before
    this returns, else when the caller's committer does (it waits before recording).

    The parts go under ``run_id={the header's run}``, so the header must name the run whose
    directory holds the chunk (as ``catalog scan`` requires): a copied or forged chunk
    cannot replace another run's stored parts. ``root`` is made absolute once, so every
    part path is built from it and proved under it (:func:`layout.confine`).
    """
    scratch = scratch or Scratch()
    root = Path(os.path.abspath(root))
    with ChunkFile(path) as chunk:
        if chunk.header.identity.run_id != path.parent.name:
            raise LensError(
                f"{path}: its header names run {chunk.header.identity.run_id}, not the run of "
                f"its directory {path.parent.name!r}; a lens run directory is named for its "
                "run (copy the run's whole directory)"
            )
        c = _Chunk(chunk, start, stop, commit or commit_file)
        names = list(c.h.fields) if fields is None else [f for f in fields if f in c.h.fields]
        rows = size = 0
        files: list[Path] = []
        for name in names:
            for file_layout in layouts:
                done = _export_field(con, c, Path(root), name, file_layout, scratch)
                if done is not None:
                    rows += done[0] if file_layout == "time" else 0
                    size += done[1]
                    files.append(done[2])
        if c.keep.any() and (files or c.h.signals):
            tick_bytes, target = _export_ticks(con, c, Path(root))
            size += tick_bytes
            files.append(target)
        if c.h.signals and c.keep.any():
            signal_bytes, target = _export_signals(con, c, Path(root))
            size += signal_bytes
            files.append(target)
    return ChunkExport(c.h.identity.run_id, c.h.tick_range, tuple(names), rows, size, tuple(files))


def check_fields(available: set[str], wanted: list[str] | None) -> None:
    """An unknown ``--fields`` name is a LensError listing what the run holds."""
    unknown = sorted(set(wanted or ()) - available)
    if unknown:
        have = ", ".join(sorted(available)) or "none"
        raise LensError(f"no field {unknown[0]!r} in this lens run; it holds: {have}")


def remove_superseded_parts(done: ChunkExport) -> list[Path]:
    """Delete the parts an exported chunk supersedes; returns them.

    A chunk window's file is rewritten with more frames when a later segment continues
    the window (a piece ``[kC, t)`` becomes ``[kC, (k+1)C)``, see
    :mod:`continuum.lens.store`), and its parts are named by the new range, so the old
    piece's parts would stay beside them and every frame of the piece would be counted
    twice by the views. So once the new parts are in place (committed), the parts in the
    same directories whose range the new one contains are removed. Only directories the
    new export wrote are touched: a field it did not export keeps its older parts.
    """
    lo, hi = done.tick_range
    removed = []
    for part in done.files:
        for other in part.parent.glob("part-*.parquet"):
            span = layout.PART_NAME_RE.match(other.name)
            if span is None or other.name == part.name:
                continue
            if lo <= int(span["start"]) and int(span["end"]) <= hi:
                with contextlib.suppress(FileNotFoundError):
                    other.unlink()
                    removed.append(other)
    return removed
