"""A field at one tick drawn as an equirectangular lat/lon grid of float32.

The grid has ``width x width/2`` pixel centres, north up, longitude from -180 at the
left (:func:`continuum.lens.plot.lat_lon_grid`, the same grid ``lens plot`` draws). A
cell-centred field is drawn by the *containing cell* rule, so the map shows the cells
themselves: each pixel's cell is found once per (resolution, width) and cached
(:class:`SampleMaps`), after which a frame is one gather of its values. Point samples are
drawn by their nearest sample (a tree per frame, since they move), a global field as
one value everywhere. A vector field is drawn by its magnitude.

Rendered frames are kept in a small cache (:class:`FrameCache`) so a slider moved back
and forth, or several clients watching one run, decode each frame once.
"""

from __future__ import annotations

import math
import threading
from collections import OrderedDict
from dataclasses import dataclass
from typing import Any, Generic, TypeVar

import numpy as np

from continuum.lens import Reconstruction
from continuum.lens.plot import lat_lon_grid
from continuum.topology import CubedSphere

DEFAULT_WIDTH = 512
MAX_WIDTH = 2048
MAX_JSON_WIDTH = 256


class SampleMaps:
    """(resolution, width) -> the flat cell index of each pixel (int32, row-major)."""

    def __init__(self, size: int = 16) -> None:
        self.size = size
        self._maps: OrderedDict[tuple[int, int], np.ndarray] = OrderedDict()
        self._lock = threading.Lock()

    def cells(self, topology: CubedSphere, width: int) -> np.ndarray:
        key = (topology.resolution, width)
        with self._lock:
            found = self._maps.get(key)
            if found is not None:
                self._maps.move_to_end(key)
                return found
        _, _, xyz = lat_lon_grid(width)
        cells = topology.cell_of(xyz.reshape(-1, 3)).astype(np.int32)
        cells.setflags(write=False)
        with self._lock:
            self._maps[key] = cells
            while len(self._maps) > self.size:
                self._maps.popitem(last=False)
        return cells


@dataclass(frozen=True)
class Frame:
    """One drawn frame: ``pixels`` little-endian float32 bytes, ``height x width``."""

    tick: int
    width: int
    height: int
    pixels: bytes
    low: float | None  # the field's own min and max at this tick (NaN ignored), None if none
    high: float | None
    units: str | None

    def values(self) -> list[float | None]:
        """The pixels as JSON numbers (NaN as null)."""
        arr = np.frombuffer(self.pixels, dtype="<f4")
        return [None if math.isnan(v) else v for v in arr.astype(np.float64).tolist()]

    def to_json(self) -> dict[str, Any]:
        return {
            "tick": self.tick,
            "width": self.width,
            "height": self.height,
            "min": self.low,
            "max": self.high,
            "units": self.units,
            "values": self.values(),
        }


def _magnitude(values: np.ndarray) -> np.ndarray:
    return np.sqrt(np.einsum("...k,...k->...", values, values)) if values.ndim > 1 else values


def _range(values: np.ndarray) -> tuple[float | None, float | None]:
    finite = values[np.isfinite(values)] if not np.isfinite(values).all() else values
    if not finite.size:
        return None, None
    return float(finite.min()), float(finite.max())


def draw_cells(
    values: np.ndarray,
    topology: CubedSphere,
    tick: int,
    units: str | None,
    width: int,
    maps: SampleMaps,
) -> Frame:
    """A cell-centred frame's ``values`` by the containing cell of each pixel."""
    cells = maps.cells(topology, width)
    grid = _magnitude(values.take(cells, axis=0))
    low, high = _range(_magnitude(values))
    pixels = np.ascontiguousarray(grid, dtype="<f4").tobytes()
    return Frame(tick, width, width // 2, pixels, low, high, units)


def draw(recon: Reconstruction, width: int, maps: SampleMaps) -> Frame:
    """``recon`` on the ``width x width/2`` grid (see the module docstring)."""
    height = width // 2
    positions = recon.config.positions
    if positions == "cells":
        assert recon.topology is not None
        return draw_cells(recon.values, recon.topology, recon.tick, recon.units, width, maps)
    if positions == "global":
        arr = np.asarray(recon.values, dtype=np.float64)
        one = _magnitude(arr.reshape(1, 3)) if recon.config.kind == "vec3" else arr.reshape(1)
        grid = np.full(height * width, one[0])
        low, high = _range(one)
    else:
        _, _, xyz = lat_lon_grid(width)
        grid = _magnitude(recon.sample_batch(xyz.reshape(-1, 3)))
        low, high = _range(_magnitude(recon.values))
    pixels = np.ascontiguousarray(grid, dtype="<f4").tobytes()
    return Frame(recon.tick, width, height, pixels, low, high, recon.units)


K = TypeVar("K")
V = TypeVar("V")


class LRU(Generic[K, V]):
    """A small thread-safe mapping that forgets its least recently used entries."""

    def __init__(self, size: int) -> None:
        self.size = size
        self._items: OrderedDict[K, V] = OrderedDict()
        self._lock = threading.Lock()

    def get(self, key: K) -> V | None:
        with self._lock:
            found = self._items.get(key)
            if found is not None:
                self._items.move_to_end(key)
            return found

    def __setitem__(self, key: K, value: V) -> None:
        with self._lock:
            self._items[key] = value
            self._items.move_to_end(key)
            while len(self._items) > self.size:
                self._items.popitem(last=False)


class FrameCache:
    """Recently drawn frames by (run, field, tick, width, store generation)."""

    def __init__(self, max_bytes: int = 64 << 20) -> None:
        self.max_bytes = max_bytes
        self._frames: OrderedDict[tuple[Any, ...], Frame] = OrderedDict()
        self._bytes = 0
        self._lock = threading.Lock()

    def get(self, key: tuple[Any, ...]) -> Frame | None:
        with self._lock:
            frame = self._frames.get(key)
            if frame is not None:
                self._frames.move_to_end(key)
            return frame

    def put(self, key: tuple[Any, ...], frame: Frame) -> None:
        with self._lock:
            if key in self._frames:
                return
            self._frames[key] = frame
            self._bytes += len(frame.pixels)
            while self._bytes > self.max_bytes and self._frames:
                _, old = self._frames.popitem(last=False)
                self._bytes -= len(old.pixels)
