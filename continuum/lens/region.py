"""Regions of the sphere as sample ranges: what a spatial predicate becomes before any
value is read.

A region is given the way an analyst writes it in SQL — ``face``, ``i``, ``j`` (a value
or an inclusive ``(lo, hi)`` range) and ``lat``, ``lon`` in degrees (inclusive ranges) —
and becomes the sorted cells it holds, then runs of consecutive samples: cells are
numbered ``face * n^2 + i * n + j``, so a face is one run and a band of latitude a few
hundred. Readers decode only the tiles or sample groups those runs touch; the positions
are computed once per resolution (the topology's cached tables), never per row.

Latitude and longitude are those of the cell centres, in degrees, as the SQL views give
them (``lon`` in (-180, 180]); a range is inclusive at both ends, like SQL's BETWEEN.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from continuum.errors import LensError
from continuum.topology import CubedSphere

Range = int | float | tuple[float, float] | None


@dataclass(frozen=True)
class Region:
    """Cells selected by position; every given predicate must hold (all: the sphere)."""

    face: Range = None
    i: Range = None
    j: Range = None
    lat: Range = None
    lon: Range = None

    @property
    def everything(self) -> bool:
        return all(v is None for v in (self.face, self.i, self.j, self.lat, self.lon))

    def cells(self, topology: CubedSphere) -> np.ndarray:
        """Sorted cell indices in the region (int64)."""
        n = topology.resolution
        total = topology.n_cells
        if self.everything:
            return np.arange(total, dtype=np.int64)
        keep = np.ones(total, bool)
        index = np.arange(total, dtype=np.int64)
        for value, column in (
            (self.face, lambda: index // (n * n)),
            (self.i, lambda: index // n % n),
            (self.j, lambda: index % n),
            (self.lat, lambda: np.degrees(topology.lat)),
            (self.lon, lambda: np.degrees(topology.lon)),
        ):
            if value is not None:
                lo, hi = _bounds(value)
                col = column()
                keep &= (col >= lo) & (col <= hi)
        return np.flatnonzero(keep).astype(np.int64)


def _bounds(value: int | float | tuple[float, float]) -> tuple[float, float]:
    pair = value if isinstance(value, tuple) else (value, value)
    if len(pair) != 2:
        raise LensError(f"a range is (lo, hi), got {value!r}")
    try:
        lo, hi = float(pair[0]), float(pair[1])
    except (TypeError, ValueError):
        raise LensError(f"a region bound is a number or (lo, hi), got {value!r}") from None
    if not lo <= hi:
        raise LensError(f"range {value!r}: lo after hi (or not a number)")
    return lo, hi


def runs(cells: np.ndarray) -> list[tuple[int, int]]:
    """Half-open runs ``[a, b)`` of consecutive values of the sorted ``cells``."""
    if not len(cells):
        return []
    breaks = np.flatnonzero(np.diff(cells) != 1) + 1
    starts = np.r_[cells[0], cells[breaks]]
    ends = np.r_[cells[breaks - 1] + 1, cells[-1] + 1]
    return [(int(a), int(b)) for a, b in zip(starts, ends)]
