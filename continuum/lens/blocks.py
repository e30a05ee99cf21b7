"""Blocks of a lens run's history: a field's values at any set of ticks and samples.

What an array view of the run (``continuum.lens.dataset``: an xarray ``BackendArray``)
indexes. The run's *tick axis* is every tick some file holds a frame at (duplicates once,
gaps absent: a gap is ticks that are not there, never a row of NaN pretending to be
one); a block is ``(ticks, samples[, 3])`` of one field on that axis, NaN where the
field has no frame at a tick of the axis (a field captured on fewer frames than others).

What is read, and why it costs what :class:`~continuum.lens.store.LensStore` costs for
the same question:

- the tick axis comes from the manifest: a chunk holding every capture tick from its
  first frame to its last is ``range(first, last + 1, stride)``; only another chunk's
  ticks array is read (an index, never a values tile);
- a block reads, per chunk meeting its ticks, only the tiles holding its samples and of
  each only the stored rows its frames span (:meth:`ChunkFile.block`): one row per tile
  for a time slice, as ``LensStore.at``;
- a narrow block (a few samples) over most of a chunk's frames reads the run's current
  by-sample copy instead, one sample group for the copy's whole span, as
  ``LensStore.history`` does; a copy found damaged is dropped (one warning) and the
  chunks answer.

Duplicate frames resolve as in the store: chunks in (start, end, name) order, the first
holding a tick wins.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

from continuum.lens.reconstruct import POINTS

if TYPE_CHECKING:  # the store imports this module's caller; no cycle at run time
    from continuum.lens.by_sample import BySampleFile
    from continuum.lens.store import ChunkRef, LensStore

#: at most this many samples make a block narrow enough for a by-sample copy
COPY_SAMPLES = 64
#: ... when it wants at least 1/COPY_SHARE of a chunk's frames (a few frames: the chunk)
COPY_SHARE = 4


def run_ticks(store: LensStore) -> np.ndarray:
    """(T,) int64 every tick some file of ``store`` holds a frame at, increasing."""
    stride = store.stride
    parts = []
    for ref in store.chunks:
        if not ref.frames:
            continue
        first, last = ref.first_tick, ref.last_tick
        if (
            first is not None
            and last is not None
            and first % stride == 0
            and (last - first) % stride == 0
            and (last - first) // stride + 1 == ref.frames
        ):
            parts.append(np.arange(first, last + 1, stride, dtype=np.int64))
        else:
            parts.append(store._file(ref).ticks())
    if not parts:
        return np.array([], dtype=np.int64)
    return np.unique(np.concatenate(parts))


def tick_windows(store: LensStore, ticks: np.ndarray) -> tuple[int, ...]:
    """How many ticks of the axis ``ticks`` each chunk window holds, in order (the chunk
    sizes along ``tick`` that read each file once); empty windows left out."""
    if not len(ticks):
        return ()
    starts = sorted({ref.start for ref in store.chunks if ref.frames})
    cuts = np.unique(np.r_[np.searchsorted(ticks, starts[1:]), len(ticks)])
    sizes = np.diff(np.r_[0, cuts])
    return tuple(int(n) for n in sizes if n)


def read_times(store: LensStore, ticks: np.ndarray) -> np.ndarray:
    """(len(ticks),) the sim time of each tick of the axis (the first chunk's)."""
    out = np.full(len(ticks), np.nan)
    filled = np.zeros(len(ticks), bool)
    for ref in _meeting(store, ticks):
        chunk = store._file(ref)
        at, where = _positions(ticks, chunk.ticks(), filled)
        out[at] = chunk.sim_times()[where]
        filled[at] = True
    return out


def read_block(store: LensStore, name: str, ticks: np.ndarray, samples: np.ndarray) -> np.ndarray:
    """(len(ticks), len(samples)[, 3]) values of field ``name``; ``ticks`` increasing,
    unique, ``samples`` unique sample indices (``[0]`` for a global field)."""
    return store._past_damage(lambda: _block(store, name, ticks, samples))


def read_positions(
    store: LensStore, name: str, ticks: np.ndarray, samples: np.ndarray
) -> np.ndarray:
    """(len(ticks), len(samples), 3) positions of a point-sample field (NaN: no frame)."""
    out = np.full((len(ticks), len(samples), 3), np.nan)
    filled = np.zeros(len(ticks), bool)
    for ref in _meeting(store, ticks, name):
        keys = store._field_keys(ref, name)
        if keys is None:
            continue
        at, frames = _positions(ticks, keys.ticks, filled)
        positions = store._file(ref).positions(name)
        if positions is not None and len(frames):
            out[at] = positions[frames][:, samples]
        filled[at] = True
    return out


def _block(store: LensStore, name: str, ticks: np.ndarray, samples: np.ndarray) -> np.ndarray:
    config = store.config(name)
    out = np.full((len(ticks), len(samples), *config.sample_shape[1:]), np.nan)
    filled = np.zeros(len(ticks), bool)
    narrow = len(samples) <= COPY_SAMPLES and config.positions != POINTS
    copied: set[object] = set()
    for ref in _meeting(store, ticks, name):
        if narrow and _wanted(ref, ticks) * COPY_SHARE >= ref.frames:
            copy = store._copy_of(ref, name)
            if copy is not None:
                if copy.path not in copied:
                    copied.add(copy.path)
                    _from_copy(copy, name, ticks, samples, out, filled)
                continue
        keys = store._field_keys(ref, name)
        if keys is None:
            continue
        at, frames = _positions(ticks, keys.ticks, filled)
        if len(frames):
            out[at] = store._file(ref).block(name, frames, samples)
            filled[at] = True
    return out


def _from_copy(
    copy: BySampleFile,
    name: str,
    ticks: np.ndarray,
    samples: np.ndarray,
    out: np.ndarray,
    filled: np.ndarray,
) -> None:
    """Fill ``out`` at the ticks ``copy`` holds: one sample group decoded per sample."""
    from continuum.lens.store import _read_copy

    def read(c: BySampleFile) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        held = c.ticks()[c.rows(name)]
        at, frames = _positions(ticks, held, filled)
        if len(frames):
            for n, j in enumerate(samples):
                out[at, n] = c.history(name, int(j))[frames]
        return at, frames, held

    at = _read_copy(copy, read)[0]
    filled[at] = True


def _meeting(store: LensStore, ticks: np.ndarray, name: str | None = None) -> list[ChunkRef]:
    """The chunks whose tick range meets ``[ticks[0], ticks[-1]]`` (holding ``name``)."""
    if not len(ticks):
        return []
    lo, hi = int(ticks[0]), int(ticks[-1])
    return [
        ref
        for ref in store.chunks
        if ref.frames and ref.start <= hi and ref.end > lo and (name is None or name in ref.fields)
    ]


def _wanted(ref: ChunkRef, ticks: np.ndarray) -> int:
    """How many ticks of ``ticks`` lie in ``ref``'s tick range."""
    return int(np.searchsorted(ticks, ref.end) - np.searchsorted(ticks, ref.start))


def _positions(
    ticks: np.ndarray, held: np.ndarray, filled: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """(where in ``ticks``, which of ``held``) for each tick of ``held`` that ``ticks``
    asks for and no earlier chunk has filled."""
    if not len(held) or not len(ticks):
        return np.array([], np.int64), np.array([], np.int64)
    at = np.minimum(np.searchsorted(ticks, held), len(ticks) - 1)
    hit = (ticks[at] == held) & ~filled[at]
    which = np.flatnonzero(hit)
    return at[which], which
