"""FieldLens: a bounded, in-memory history of field frames, and queries over it.

Frames arrive with :meth:`FieldLens.record_many` (the :class:`FieldFrame` list that
``Simulation.observe`` returns, or a mapping of cell-centred arrays). Each field keeps
its frames in tick order; the oldest are evicted beyond ``max_frames`` per field or
``max_bytes`` in total, so a long run cannot grow the lens without bound.

Arrays are kept by reference when they are read-only (the runtime's arrays are: a State
never writes into one) and copied otherwise, so a caller reusing a buffer cannot rewrite
history. A field's positions rule is inferred on its first frame: no positions ->
``global``; the lens topology's cell centres -> ``cells`` (stored once, reconstructed by
face/i/j arithmetic); anything else -> ``points`` (stored with every frame, since point
samples such as plate centroids move).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from continuum.blobs import ContainerInfo, ShufflePolicy
from continuum.errors import LensError
from continuum.lens.format import (
    DEFAULT_LEVEL,
    ChunkData,
    ChunkFile,
    FieldSeries,
    LensIdentity,
    write_chunk,
)
from continuum.lens.interpolate import bracket, moment, sample_between
from continuum.lens.reconstruct import (
    CELLS,
    GLOBAL,
    POINTS,
    FieldConfig,
    Reconstruction,
    nearest_brute,
    topology_from_spec,
    unit_points,
)
from continuum.lens.source import (
    FieldHistory,
    PointValue,
    PointValues,
    point_value,
    tick_mask,
)
from continuum.runtime import FieldFrame
from continuum.topology import CubedSphere

DEFAULT_MAX_FRAMES = 1000


@dataclass
class _Series:
    """One field's frames, oldest first."""

    config: FieldConfig
    cell_positions: np.ndarray | None = None  # CELLS: the centres, once
    ticks: list[int] = field(default_factory=list)
    times: list[float] = field(default_factory=list)
    values: list[np.ndarray] = field(default_factory=list)
    positions: list[np.ndarray] = field(default_factory=list)  # POINTS only
    nbytes: int = 0

    def frame_bytes(self, i: int) -> int:
        return self.values[i].nbytes + (self.positions[i].nbytes if self.positions else 0)

    def pop_oldest(self) -> None:
        self.nbytes -= self.frame_bytes(0)
        for column in (self.ticks, self.times, self.values, self.positions):
            if column:
                del column[0]


def kept(array: Any) -> np.ndarray:
    """A read-only float64 array: by reference if it already is one, else a copy."""
    arr = np.asarray(array, dtype=np.float64)
    if arr.flags.writeable:
        arr = arr.copy()
        arr.flags.writeable = False
    return arr


def _freeze(data: ChunkData) -> None:
    """Mark decoded arrays read-only, so frames are kept as views rather than copies."""
    for fs in data.fields.values():
        for arr in (fs.values, fs.positions):
            if isinstance(arr, np.ndarray):
                arr.flags.writeable = False


def _same(positions: np.ndarray, centres: np.ndarray) -> bool:
    return positions is centres or np.array_equal(positions, centres)


def describe_ticks(ticks: np.ndarray) -> str:
    """``0..1000 every 10 (101 frames)``: what exists, for error messages."""
    if not len(ticks):
        return "no frames"
    steps = np.unique(np.diff(ticks))
    every = f" every {steps[0]}" if len(steps) == 1 else ""
    return f"{ticks[0]}..{ticks[-1]}{every} ({len(ticks)} frames)"


class FieldLens:
    """Field frames held in memory, reconstructed at positions and interpolated in time.

    ``topology`` lets cell-centred fields use the containing-cell rule; without it every
    field with positions is treated as point samples (nearest sample, cKDTree).
    """

    def __init__(
        self,
        topology: CubedSphere | None = None,
        *,
        max_frames: int | None = DEFAULT_MAX_FRAMES,
        max_bytes: int | None = None,
        identity: LensIdentity | None = None,
    ) -> None:
        if topology is None and identity is not None and identity.topology:
            topology = topology_from_spec(identity.topology)
        self.topology = topology
        self.max_frames = max_frames
        self.max_bytes = max_bytes
        self.identity = identity or LensIdentity(
            topology=topology.spec() if topology is not None else None
        )
        self._series: dict[str, _Series] = {}
        self._signals: dict[int, tuple[float, dict[str, np.ndarray]]] = {}

    # -- recording ------------------------------------------------------------------------

    def record_many(
        self,
        tick: int,
        fields: Iterable[FieldFrame] | Mapping[str, Any],
        *,
        sim_time: float | None = None,
        signals: Mapping[str, Any] | None = None,
    ) -> None:
        """Record one tick's frames of any number of fields (and global signal values).

        ``fields``: FieldFrames, or ``{name: values}`` for cell-centred arrays on the lens
        topology (global values if 0-d or (3,)). ``sim_time`` defaults to ``tick``. Ticks
        must increase per field; a repeated or older tick raises LensError.
        """
        tick = int(tick)
        time = float(tick if sim_time is None else sim_time)
        for frame in self._as_frames(fields):
            self._record(frame, tick, time)
        if signals:
            last = next(reversed(self._signals), None)  # insertion order is tick order
            if last is not None and tick <= last:
                raise LensError(f"signals: tick {tick} is not after {last}")
            self._signals[tick] = (time, {k: kept(v).reshape(-1) for k, v in signals.items()})
        self._evict()

    def _as_frames(self, fields: Iterable[FieldFrame] | Mapping[str, Any]) -> list[FieldFrame]:
        if not isinstance(fields, Mapping):
            return list(fields)
        frames = []
        for name, values in fields.items():
            arr = np.asarray(values)
            glob = arr.ndim == 0 or arr.shape == (3,)
            centres = None if glob or self.topology is None else self.topology.centres
            frames.append(FieldFrame(name, centres, values))
        return frames

    def _record(self, frame: FieldFrame, tick: int, time: float) -> None:
        series = self._series.get(frame.name)
        values = kept(frame.values)
        if series is None:
            series = self._series[frame.name] = self._new_series(frame, values)
        config = series.config
        if config.positions == GLOBAL:
            values = values.reshape(config.sample_shape)
        if values.shape != config.sample_shape:
            raise LensError(
                f"field {frame.name!r}: expected values of shape {config.sample_shape}, "
                f"got {values.shape}"
            )
        if series.ticks and tick <= series.ticks[-1]:
            raise LensError(
                f"field {frame.name!r}: tick {tick} is not after the latest recorded tick "
                f"{series.ticks[-1]}"
            )
        series.ticks.append(tick)
        series.times.append(time)
        series.values.append(values)
        if config.positions == POINTS:
            series.positions.append(kept(frame.positions))
        series.nbytes += series.frame_bytes(-1)

    def _new_series(self, frame: FieldFrame, values: np.ndarray) -> _Series:
        if frame.positions is None:
            kind = "vec3" if values.shape == (3,) else "scalar"
            if values.shape not in ((), (3,)):
                raise LensError(f"global field {frame.name!r}: values of shape {values.shape}")
            return _Series(FieldConfig(kind, GLOBAL, 1))
        positions = np.asarray(frame.positions)
        m = positions.shape[0] if positions.ndim == 2 and positions.shape[1] == 3 else -1
        if m < 1 or values.shape not in ((m,), (m, 3)):
            raise LensError(
                f"field {frame.name!r}: expected (m, 3) positions and (m,) or (m, 3) values, "
                f"got {positions.shape} and {values.shape}"
            )
        kind = "vec3" if values.ndim == 2 else "scalar"
        topo = self.topology
        if topo is not None and m == topo.n_cells and _same(positions, topo.centres):
            return _Series(FieldConfig(kind, CELLS, m), cell_positions=topo.centres)
        return _Series(FieldConfig(kind, POINTS, m))

    def _evict(self) -> None:
        """Drop the oldest frames beyond ``max_frames`` per field or ``max_bytes`` total."""
        for series in self._series.values():
            while self.max_frames is not None and len(series.ticks) > self.max_frames:
                series.pop_oldest()
        while self.max_bytes is not None and self.nbytes > self.max_bytes:
            oldest = min((s for s in self._series.values() if s.ticks), key=lambda s: s.ticks[0])
            if len(oldest.ticks) == 1 and sum(bool(s.ticks) for s in self._series.values()) == 1:
                break  # keep the newest frame whatever its size
            oldest.pop_oldest()
        if self.max_frames is not None:
            while len(self._signals) > self.max_frames:
                del self._signals[next(iter(self._signals))]

    # -- what is held ---------------------------------------------------------------------

    @property
    def fields(self) -> list[str]:
        """Names of the fields held, sorted."""
        return sorted(self._series)

    @property
    def nbytes(self) -> int:
        """Bytes of the frames held (values and per-frame positions)."""
        return sum(s.nbytes for s in self._series.values())

    def config(self, name: str) -> FieldConfig:
        return self._get(name).config

    def field_ticks(self, name: str) -> np.ndarray:
        """The ticks held for field ``name``, oldest first."""
        return np.array(self._get(name).ticks, dtype=np.int64)

    def field_times(self, name: str) -> np.ndarray:
        """The sim times of :meth:`field_ticks`."""
        return np.array(self._get(name).times, dtype=np.float64)

    def signal_history(self, name: str) -> tuple[np.ndarray, np.ndarray]:
        """(ticks, values) of a recorded global signal: values (n, 1) or (n, 3)."""
        rows = [(t, s[name]) for t, (_, s) in sorted(self._signals.items()) if name in s]
        if not rows:
            have = sorted({n for _, s in self._signals.values() for n in s})
            raise LensError(f"no signal {name!r}; recorded signals: {', '.join(have) or 'none'}")
        return np.array([t for t, _ in rows]), np.stack([v for _, v in rows])

    def _get(self, name: str) -> _Series:
        try:
            return self._series[name]
        except KeyError:
            have = ", ".join(self.fields) or "none"
            raise LensError(f"no field {name!r}; the lens holds: {have}") from None

    # -- queries --------------------------------------------------------------------------

    def at(self, name: str, tick: int, *, rule: str | None = None) -> Reconstruction:
        """Field ``name`` as captured at ``tick`` exactly, reconstructed under ``rule``."""
        series = self._get(name)
        i = int(np.searchsorted(series.ticks, tick))
        if i == len(series.ticks) or series.ticks[i] != tick:
            ticks = np.array(series.ticks)
            raise LensError(
                f"field {name!r} has no frame at tick {tick}; held: {describe_ticks(ticks)}"
            )
        return self._reconstruction(name, i, rule)

    def latest(self, name: str, *, rule: str | None = None) -> Reconstruction:
        """The newest frame of ``name``."""
        series = self._get(name)
        if not series.ticks:
            raise LensError(f"field {name!r} holds no frames")
        return self._reconstruction(name, len(series.ticks) - 1, rule)

    def _reconstruction(self, name: str, i: int, rule: str | None) -> Reconstruction:
        s = self._series[name]
        positions = s.cell_positions if s.config.positions == CELLS else None
        if s.config.positions == POINTS:
            positions = s.positions[i]
        ident = self.identity  # units: labels from the world, as LensStore.at gives them
        return Reconstruction(
            name,
            s.ticks[i],
            s.times[i],
            s.config,
            positions,
            s.values[i],
            self.topology,
            rule,
            units=ident.field_units.get(name),
            time_units=ident.time_units,
        )

    def query(
        self,
        name: str,
        position: object,
        time: float | None = None,
        *,
        tick: float | None = None,
        rule: str | None = None,
    ) -> PointValue:
        """Value of ``name`` at one position and sim ``time`` (or ``tick``), interpolated.

        Between captured frames the bracketing frames are blended (scalars linearly,
        vectors lerp-then-normalise, see :mod:`continuum.lens.interpolate`).
        """
        pos = np.asarray(position, dtype=np.float64)
        if pos.shape != (3,):
            raise LensError(f"Expected one position (x, y, z), got shape {pos.shape} instead")
        batch = self.query_batch(name, pos[None, :], time, tick=tick, rule=rule)
        return point_value(batch, self.config(name).kind)

    def query_batch(
        self,
        name: str,
        positions: object,
        time: float | None = None,
        *,
        tick: float | None = None,
        rule: str | None = None,
    ) -> PointValues:
        """Values at (n, 3) positions at sim ``time`` (or ``tick``), interpolated."""
        series = self._get(name)
        t, by_time = moment(time, tick)
        keys = np.asarray(series.times if by_time else series.ticks)
        i0, i1, w = bracket(keys, t, f"field {name!r} ({'sim time' if by_time else 'ticks'})")

        def frame(i: int) -> Reconstruction:
            return self._reconstruction(name, i, rule)

        values, used = sample_between(frame, i0, i1, w, positions)
        return PointValues(values, used, (series.ticks[i0], series.ticks[i1]), w)

    def history(
        self,
        name: str,
        position: object,
        *,
        start: int | None = None,
        stop: int | None = None,
        rule: str | None = None,
    ) -> FieldHistory:
        """One value per held tick in ``[start, stop]`` (inclusive) at ``position``."""
        series = self._get(name)
        ticks = np.array(series.ticks, dtype=np.int64)
        keep = np.flatnonzero(tick_mask(ticks, start, stop))
        if not len(keep):
            raise LensError(
                f"field {name!r} has no frames in [{start}, {stop}]; held: {describe_ticks(ticks)}"
            )
        first = self._reconstruction(name, int(keep[0]), rule)
        if series.config.positions == POINTS:
            point = unit_points(position)[0][0]
            stacked = np.stack([series.positions[i] for i in keep])
            idx = nearest_brute(stacked, point)
            values = np.stack([series.values[i][j] for i, j in zip(keep, idx)])
        else:
            j = int(first.indices(np.asarray(position, dtype=np.float64).reshape(1, 3))[0])
            values = np.stack([series.values[i][j] for i in keep])
        times = np.array(series.times, dtype=np.float64)[keep]
        return FieldHistory(name, str(first.rule), ticks[keep], times, values)

    # -- files ----------------------------------------------------------------------------

    def to_chunk(self, *, frame_lists: bool = False) -> ChunkData:
        """All frames held, columnar (the layout of a ``.lens`` file).

        ``frame_lists=True`` leaves each field's values as the list of frames (see
        :class:`FieldSeries`): for a writer, which stacks them tile by tile.
        """
        times: dict[int, float] = {t: s[0] for t, s in self._signals.items()}
        for s in self._series.values():
            times.update(zip(s.ticks, s.times))
        ticks = np.array(sorted(times), dtype=np.int64)
        data = ChunkData(ticks, np.array([times[t] for t in ticks], dtype=np.float64))
        for name, s in sorted(self._series.items()):
            rows = np.searchsorted(ticks, np.array(s.ticks, dtype=np.int64))
            positions = s.cell_positions
            if s.config.positions == POINTS:
                positions = np.stack(s.positions) if s.positions else None
            frames = list(s.values)
            values: np.ndarray | list[np.ndarray] = frames
            if not frame_lists:
                values = np.stack(frames) if frames else np.empty((0, *s.config.sample_shape))
            if positions is None and s.config.positions == POINTS:
                positions = np.empty((0, s.config.samples, 3))
            data.fields[name] = FieldSeries(s.config, rows, positions, values)
        data.signals = self._signal_arrays(ticks)
        return data

    def _signal_arrays(self, ticks: np.ndarray) -> dict[str, np.ndarray]:
        widths: dict[str, int] = {}
        for _, signals in self._signals.values():
            for n, v in signals.items():
                widths[n] = v.size
        out = {n: np.full((len(ticks), w), np.nan) for n, w in sorted(widths.items())}
        for t, (_, signals) in self._signals.items():
            row = int(np.searchsorted(ticks, t))
            for n, v in signals.items():
                out[n][row] = v
        return out

    def save_snapshot(
        self, path: str | Path, *, level: int = DEFAULT_LEVEL, shuffle: ShufflePolicy = "auto"
    ) -> ContainerInfo:
        """Write every frame held to one ``.lens`` file (atomic; see ``format.py``)."""
        return write_chunk(Path(path), self.to_chunk(), self.identity, level=level, shuffle=shuffle)

    @classmethod
    def from_chunks(
        cls,
        chunks: list[ChunkData],
        identity: LensIdentity,
        *,
        max_frames: int | None = None,
    ) -> FieldLens:
        """A lens holding the frames of ``chunks`` (unbounded unless ``max_frames``)."""
        lens = cls(max_frames=max_frames, identity=identity)
        lens.merge(chunks)
        return lens

    def merge(self, chunks: list[ChunkData]) -> int:
        """Add the frames of ``chunks``, merged by tick; return the frames added.

        Duplicate ticks are resolved deterministically: the frame from the earliest chunk
        in the given order wins, later ones are skipped (and not counted). Every merged
        tick must come after the ticks already held for its field.
        """
        added = 0
        for data in chunks:
            _freeze(data)
        for name in sorted({n for data in chunks for n in data.fields}):
            entries = sorted(
                (int(data.ticks[row]), order, j)
                for order, data in enumerate(chunks)
                if name in data.fields
                for j, row in enumerate(data.fields[name].rows)
            )
            added += self._merge_field(name, chunks, entries)
        self._merge_signals(chunks)
        self._evict()
        return added

    def _merge_field(self, name: str, chunks: list[ChunkData], entries: list) -> int:
        added, last = 0, None
        for tick, order, j in entries:
            if tick == last:
                continue  # a duplicate tick from a later chunk: the first one won
            last = tick
            data = chunks[order]
            fs = data.fields[name]
            series = self._series.get(name)
            if series is None:
                series = self._series[name] = _Series(fs.config, self._cell_positions(fs))
            if series.config != fs.config:
                raise LensError(f"field {name!r}: {fs.config} in one chunk, {series.config} before")
            pos = fs.positions[j] if fs.config.positions == POINTS else fs.positions
            time = float(data.sim_times[fs.rows[j]])
            self._record(FieldFrame(name, pos, fs.values[j]), tick, time)
            added += 1
        return added

    def _cell_positions(self, fs: FieldSeries) -> np.ndarray | None:
        if fs.config.positions != CELLS:
            return None
        if self.topology is None:
            raise LensError("a cell-centred field needs the lens topology (missing in header)")
        return fs.positions

    def _merge_signals(self, chunks: list[ChunkData]) -> None:
        for data in chunks:
            for row, tick in enumerate(data.ticks):
                values = {n: v[row] for n, v in data.signals.items() if not np.isnan(v[row]).all()}
                if values and int(tick) not in self._signals:
                    self._signals[int(tick)] = (float(data.sim_times[row]), values)
        self._signals = dict(sorted(self._signals.items()))

    @classmethod
    def load_snapshot(cls, path: str | Path, *, max_frames: int | None = None) -> FieldLens:
        """A lens holding every frame of one ``.lens`` file (verified on load)."""
        with ChunkFile(path) as chunk:
            data = chunk.read_all()
            return cls.from_chunks([data], chunk.header.identity, max_frames=max_frames)
