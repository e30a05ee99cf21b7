"""Per-cell tables of a resolution-N grid, built once and vectorised (no per-cell loops).

Every table is in cell index order ``face * N * N + i * N + j``.
"""

from __future__ import annotations

import numpy as np

from continuum.topology._faces import face_point, locate_grid

HALF_PI = np.pi / 2


def cell_coords(n: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(face, alpha, beta) of every cell centre, each of shape (6 * n * n,)."""
    centre = -np.pi / 4 + (np.arange(n) + 0.5) * (HALF_PI / n)
    face, i, j = np.indices((6, n, n)).reshape(3, -1)
    return face, centre[i], centre[j]


def centres(n: int) -> np.ndarray:
    """(6 n^2, 3) unit vectors of the cell centres."""
    return face_point(*cell_coords(n))


def cell_area(n: int) -> np.ndarray:
    """Solid angle of every cell, exact up to rounding.

    A gnomonic rectangle [u0, u1] x [v0, v1] on a face at unit distance subtends
    F(u1, v1) - F(u0, v1) - F(u1, v0) + F(u0, v0), with F(u, v) = atan(uv / sqrt(1+u²+v²)).
    """
    t = np.tan(-np.pi / 4 + np.arange(n + 1) * (HALF_PI / n))
    t[0], t[-1] = -1.0, 1.0  # the face edges, exactly
    u, v = np.meshgrid(t, t, indexing="ij")
    f = np.arctan(u * v / np.sqrt(1.0 + u * u + v * v))
    face_area = f[1:, 1:] - f[:-1, 1:] - f[1:, :-1] + f[:-1, :-1]
    return np.tile(face_area.reshape(-1), 6)


def neighbours(n: int) -> np.ndarray:
    """(6 n^2, 4) cells across the edges (i-1, i+1, j-1, j+1) of every cell.

    Each probe steps one face coordinate 3/4 of a cell from the centre: inside the face
    that is a quarter into the next cell; past a face edge it is a quarter cell into the
    adjacent face, close enough to the shared edge that the along-edge coordinate (which
    both faces share exactly on the edge) moves by well under half a cell.
    """
    face, alpha, beta = cell_coords(n)
    step = 0.75 * HALF_PI / n
    probes = [(alpha - step, beta), (alpha + step, beta)]
    probes += [(alpha, beta - step), (alpha, beta + step)]
    out = np.empty((6 * n * n, 4), dtype=np.int64)
    for col, (a, b) in enumerate(probes):
        out[:, col] = cell_index(n, *locate_grid(face_point(face, a, b), n))
    return out


def candidates(nb: np.ndarray) -> np.ndarray:
    """(6 n^2, 9) the cell, its 4 edge neighbours, then its diagonals (i∓1, j∓1).

    A diagonal is the common neighbour, other than the cell, of two perpendicular edge
    neighbours. Where those two neighbours touch each other the cell sits at a cube
    corner (three cells meet there) and there is no diagonal: the cell itself stands in,
    which is harmless for an arg-max over the candidates.
    """
    cell = np.arange(len(nb))
    diagonals = [_diagonal(nb, cell, a, b) for a in (0, 1) for b in (2, 3)]
    return np.column_stack([cell, nb, *diagonals])


def _diagonal(nb: np.ndarray, cell: np.ndarray, a_col: int, b_col: int) -> np.ndarray:
    """The cell across the corner between edge a (0 / 1) and edge b (2 / 3) of every cell."""
    a_nb, b_nb = nb[nb[:, a_col]], nb[nb[:, b_col]]
    at_corner = (a_nb == nb[:, b_col, None]).any(axis=1)
    common = (a_nb[:, :, None] == b_nb[:, None, :]).any(axis=2) & (a_nb != cell[:, None])
    found = common.sum(axis=1)
    if not np.all(found[~at_corner] == 1):  # a broken invariant, not a user error
        raise AssertionError("cubed-sphere diagonal construction found no unique diagonal")
    diagonal = a_nb[cell, common.argmax(axis=1)]
    return np.where(at_corner, cell, diagonal)


def cell_index(n: int, face: np.ndarray, i: np.ndarray, j: np.ndarray) -> np.ndarray:
    """Flat cell index ``face * n * n + i * n + j`` (C order of a (6, n, n) array)."""
    return (face * n + i) * n + j
