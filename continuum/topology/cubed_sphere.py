"""The equiangular gnomonic cubed sphere: one grid, shared by the runtime and the lens.

Face ``f`` (``+X, -X, +Y, -Y, +Z, -Z``) is covered by face coordinates ``alpha, beta`` in
``[-pi/4, pi/4]``; the point is ``n + tan(alpha) e1 + tan(beta) e2``, normalised (the frames
are tabulated in ``_faces.py``). Equiangular spacing keeps cell areas within a factor of
sqrt(2) of each other, against 3*sqrt(3) ~ 5.2 for equal spacing in ``tan``. Cell
``(f, i, j)`` has its centre at ``alpha = -pi/4 + (i + 0.5) * (pi/2) / N`` (``beta`` likewise
with ``j``), and flat index ``f*N*N + i*N + j`` (C order of a ``(6, N, N)`` array).

Two rules map a position to a cell, on purpose:

- *containing cell* (:meth:`CubedSphere.locate`, :meth:`CubedSphere.cell_of`): pure
  arithmetic, O(1); the rule for cell-centred fields.
- *nearest centre* (:meth:`CubedSphere.nearest_cell`): the exact nearest centre by angle.

Cells are not Voronoi cells of their centres, so the rules disagree near cell corners
(a few percent of random positions at N = 8).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from functools import cached_property
from typing import Any

import numpy as np
import numpy.typing as npt

from continuum.errors import WorldError
from continuum.topology import _tables
from continuum.topology._faces import CHUNK, FACE_NAMES, as_points, locate_grid
from continuum.topology._tiles import MAX_LOD, decode_tile

_SPEC = {
    "kind": "cubed_sphere",
    "projection": "equiangular_gnomonic",
    "face_order": list(FACE_NAMES),
    "cell_order": "face,i,j",
}

IntArray = npt.NDArray[np.int64]


@dataclass(frozen=True)
class CubedSphere:
    """A cubed sphere with ``resolution`` cells along each face edge (``6 N²`` cells).

    Immutable and compared by resolution; per-cell tables are computed on first use, cached
    and returned read-only, since the runtime and the lens share them.
    """

    resolution: int

    def __post_init__(self) -> None:
        n = self.resolution
        if isinstance(n, bool) or not isinstance(n, int | np.integer):
            raise WorldError(f"Expected an integer cubed-sphere resolution, got {n!r} instead")
        if not 1 <= n <= 1 << MAX_LOD:
            raise WorldError(
                f"Expected a cubed-sphere resolution in [1, 2^{MAX_LOD}] (cells per face edge),"
                f" got {n} instead"
            )
        object.__setattr__(self, "resolution", int(n))

    @property
    def n_cells(self) -> int:
        """Number of cells, ``6 * N * N``."""
        return 6 * self.resolution**2

    # -- per-cell tables ------------------------------------------------------------------

    @cached_property
    def centres(self) -> np.ndarray:
        """(n_cells, 3) float64 unit vectors of the cell centres."""
        return _frozen(_tables.centres(self.resolution))

    @cached_property
    def lat(self) -> np.ndarray:
        """Latitude of each centre in radians, ``asin(z)``, in [-pi/2, pi/2]."""
        return _frozen(np.arcsin(np.clip(self.centres[:, 2], -1.0, 1.0)))

    @cached_property
    def lon(self) -> np.ndarray:
        """Longitude of each centre in radians, ``atan2(y, x)``, in (-pi, pi]."""
        return _frozen(np.arctan2(self.centres[:, 1], self.centres[:, 0]))

    @cached_property
    def cell_area(self) -> np.ndarray:
        """Solid angle of each cell in steradians; they sum to 4 pi."""
        return _frozen(_tables.cell_area(self.resolution))

    @cached_property
    def neighbours(self) -> np.ndarray:
        """(n_cells, 4) int64: the cells across edges (i-1, i+1, j-1, j+1) of each cell.

        Across a face edge it is the adjacent face's cell sharing that edge, so the
        relation is symmetric; the column it appears in follows the other face's axes.
        """
        return _frozen(_tables.neighbours(self.resolution))

    @cached_property
    def _candidates(self) -> np.ndarray:
        """(n_cells, 9) the cell, its edge neighbours and diagonals: nearest-centre candidates."""
        return _frozen(_tables.candidates(self.neighbours))

    @cached_property
    def _centre_columns(self) -> np.ndarray:
        """(3, n_cells) centres by component: contiguous gathers for :meth:`nearest_cell`."""
        return _frozen(np.ascontiguousarray(self.centres.T))

    # -- positions -> cells ---------------------------------------------------------------

    def locate(self, points: object) -> tuple[IntArray, IntArray, IntArray]:
        """(face, i, j) of the cell containing each position; O(1) arithmetic per position.

        ``points`` is (3,) or (m, 3), any non-zero length. The face is the axis of largest
        ``|component|`` with its sign; a tie (a point on a face edge or cube corner) goes to
        the earlier face in the fixed order, and ``i, j`` are clipped into ``[0, N-1]``, so
        every position has exactly one cell, the same one every time.
        """
        pts, lead = as_points(points)
        face, i, j = locate_grid(pts, self.resolution)
        return face.reshape(lead), i.reshape(lead), j.reshape(lead)

    def cell_of(self, points: object) -> IntArray:
        """Flat index of the cell containing each position (the *containing cell* rule)."""
        face, i, j = self.locate(points)
        return _tables.cell_index(self.resolution, face, i, j)

    def nearest_cell(self, points: object) -> IntArray:
        """Index of the cell centre nearest each position by angle (*nearest centre* rule).

        Exact: the nearest centre lies in the 3 x 3 block of cells around the containing
        cell (checked against brute force for N = 1..31 with positions packed around cube
        edges and corners), so only those 9 are compared. Ties go to the containing cell.
        """
        pts, lead = as_points(points)
        out = np.empty(len(pts), dtype=np.int64)
        for start in range(0, len(pts), CHUNK):
            chunk = pts[start : start + CHUNK]
            out[start : start + CHUNK] = self._nearest_chunk(chunk)
        return out.reshape(lead)

    def _nearest_chunk(self, pts: np.ndarray) -> IntArray:
        """Arg-max of the dot product over the 9 candidates of each containing cell."""
        n = self.resolution
        cand = self._candidates.take(_tables.cell_index(n, *locate_grid(pts, n)), axis=0)
        cx, cy, cz = self._centre_columns
        dots = cx.take(cand)
        dots *= pts[:, 0, None]
        term = cy.take(cand)
        term *= pts[:, 1, None]
        dots += term
        cz.take(cand, out=term)
        term *= pts[:, 2, None]
        dots += term
        best = dots.argmax(axis=1)
        return np.take_along_axis(cand, best[:, None], axis=1)[:, 0]

    # -- tiles ----------------------------------------------------------------------------

    def cells_in_tile(self, tile: int) -> IntArray:
        """Sorted indices of the cells whose centres lie in ``tile`` (see ``_tiles.py``).

        Decided by exact integer arithmetic on the centre coordinate ``(2i+1) / 2N``, with
        half-open tiles: a centre exactly on a tile boundary (odd N, or tiles finer than
        cells) belongs to the upper tile. For power-of-two N and ``2^lod <= N`` this is the
        exact ``N/2^lod``-square block. Tiles finer than the cells may hold no centre.
        """
        parts = decode_tile(tile)
        if parts[0].size != 1:
            raise WorldError(f"Expected one tile id, got an array of shape {parts[0].shape}")
        face, lod, ti, tj = (int(x.reshape(())) for x in parts)
        n = self.resolution
        tile_of_row = ((2 * np.arange(n, dtype=np.int64) + 1) << lod) // (2 * n)
        rows = np.flatnonzero(tile_of_row == ti)
        cols = np.flatnonzero(tile_of_row == tj)
        return (face * n * n + rows[:, None] * n + cols[None, :]).reshape(-1)

    # -- spec -----------------------------------------------------------------------------

    def spec(self) -> dict[str, Any]:
        """JSON-able description, stored in lens headers and checked on load."""
        return {
            "kind": "cubed_sphere",
            "resolution": self.resolution,
            "projection": _SPEC["projection"],
            "face_order": list(FACE_NAMES),
            "cell_order": _SPEC["cell_order"],
        }

    @classmethod
    def from_spec(cls, spec: Mapping[str, Any]) -> CubedSphere:
        """Parse :meth:`spec` output; only ``kind`` and ``resolution`` are required.

        Unknown keys and other projections, face or cell orders are refused rather than
        guessed at: data laid out under another convention would be silently misread.
        """
        if not isinstance(spec, Mapping):
            raise WorldError(f"Expected a topology spec mapping, got {type(spec).__name__}")
        unknown = sorted(set(spec) - {*_SPEC, "resolution"})
        if unknown:
            raise WorldError(f"Expected cubed-sphere spec keys only, got unknown keys {unknown}")
        if spec.get("kind") != "cubed_sphere":
            raise WorldError(f"Expected topology kind 'cubed_sphere', got {spec.get('kind')!r}")
        for key, expected in _SPEC.items():
            found = spec.get(key, expected)
            if (list(found) if isinstance(found, tuple) else found) != expected:
                raise WorldError(f"Expected topology {key} {expected!r}, got {found!r} instead")
        if "resolution" not in spec:
            raise WorldError("Expected a 'resolution' (cells per face edge) in the topology spec")
        return cls(spec["resolution"])


def _frozen(arr: np.ndarray) -> np.ndarray:
    """Mark a cached table read-only, so one caller cannot corrupt another's view."""
    arr.flags.writeable = False
    return arr
