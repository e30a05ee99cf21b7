"""The six face frames of the cube and the arithmetic from a position to grid coordinates.

Face ``f`` has axis ``k = f // 2`` and sign ``s = +1`` (even ``f``) or ``-1`` (odd ``f``).
With ``e_k`` the unit axes and indices taken mod 3, its frame is::

    n = s e_k,   e1 = s e_(k+1),   e2 = e_(k+2)        (e1 x e2 = n: right-handed)

    face  name   n    e1   e2
    0     +X     +x   +y   +z
    1     -X     -x   -y   +z
    2     +Y     +y   +z   +x
    3     -Y     -y   -z   +x
    4     +Z     +z   +x   +y
    5     -Z     -z   -x   +y

This choice is what makes locating cheap: with ``p_k`` the dominant component,
``tan(alpha) = p·e1 / p·n = p_(k+1) / p_k`` and ``tan(beta) = p·e2 / p·n = p_(k+2) / |p_k|``
for both signs, so a position needs three gathers, two divisions and two ``arctan``.

Grid coordinates at scale ``S`` are ``g = (alpha / (pi/2) + 1/2) * S`` in ``[0, S]``; the cell
or tile is ``floor(g)`` clipped to ``S - 1``. For power-of-two ``S`` the fused form below is
bitwise equal to scaling one shared ``[0, 1]`` coordinate, so cells of a power-of-two grid
nest exactly inside the tiles of every coarser level.
"""

from __future__ import annotations

import math

import numpy as np

from continuum.errors import WorldError

FACE_NAMES: tuple[str, ...] = ("+X", "-X", "+Y", "-Y", "+Z", "-Z")

_AXIS = np.eye(3)
_SIGN = np.array([1.0, -1.0] * 3)
_K = np.repeat(np.arange(3), 2)
NORMAL = _SIGN[:, None] * _AXIS[_K]
E1 = _SIGN[:, None] * _AXIS[(_K + 1) % 3]
E2 = _AXIS[(_K + 2) % 3]

# Chunks of this many points keep a locate pass's temporaries in cache (measured:
# ~1.5x faster than whole-array passes at a million points).
CHUNK = 1 << 15
_BASE = np.arange(0, 3 * CHUNK, 3, dtype=np.int64)


def as_points(points: object) -> tuple[np.ndarray, tuple[int, ...]]:
    """Return positions as a C-contiguous (m, 3) float64 array and their leading shape."""
    arr = np.asarray(points, dtype=np.float64)
    if arr.ndim == 0 or arr.shape[-1] != 3:
        raise WorldError(f"Expected positions of shape (3,) or (m, 3), got {arr.shape} instead")
    lead = arr.shape[:-1]
    return np.ascontiguousarray(arr.reshape(-1, 3)), lead


def face_point(face: np.ndarray, alpha: np.ndarray, beta: np.ndarray) -> np.ndarray:
    """Unit vectors at face coordinates (alpha, beta): the inverse of locating."""
    p = NORMAL[face] + np.tan(alpha)[..., None] * E1[face] + np.tan(beta)[..., None] * E2[face]
    return p / np.linalg.norm(p, axis=-1, keepdims=True)


def locate_grid(points: np.ndarray, scale: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(face, gi, gj) of (m, 3) positions on a ``scale`` x ``scale`` grid per face."""
    m = len(points)
    if m == 1:  # one point (a value at a position): ~20 numpy calls cost ~10x the arithmetic
        f, i, j = (np.array([x], np.int64) for x in _locate_one(points[0], scale))
        return f, i, j
    face = np.empty(m, dtype=np.int64)
    gi = np.empty(m, dtype=np.int64)
    gj = np.empty(m, dtype=np.int64)
    for start in range(0, m, CHUNK):
        stop = min(start + CHUNK, m)
        _locate_chunk(points[start:stop], scale, face[start:stop], gi[start:stop], gj[start:stop])
    return face, gi, gj


def _locate_one(point: np.ndarray, scale: int) -> tuple[int, int, int]:
    """:func:`_locate_chunk` of one point in Python floats: the same IEEE operations in
    the same order, and numpy's own ``arctan`` (libm's ``atan`` differs from it in the
    last bit for ~0.4% of inputs here, which would move points on a cell edge)."""
    x, y, z = (float(c) for c in point)
    if not (math.isfinite(x) and math.isfinite(y) and math.isfinite(z)):
        raise WorldError("Expected finite positions, got NaN or infinity instead")
    ax, ay, az = abs(x), abs(y), abs(z)
    not_x = ax < ay or ax < az
    k = int(not_x) + int(ay < az and not_x)
    p = (x, y, z)
    pk, u, v = p[k], p[(k + 1) % 3], p[(k + 2) % 3]
    if pk == 0.0:
        raise WorldError("Expected non-zero positions, got the zero vector instead")
    angles = np.arctan(np.array([u / pk, v / abs(pk)]))
    gi, gj = (min(int(a * ((2.0 / np.pi) * scale) + 0.5 * scale), scale - 1) for a in angles)
    return 2 * k + int(pk < 0), gi, gj


def _locate_chunk(
    p: np.ndarray, scale: int, face: np.ndarray, gi: np.ndarray, gj: np.ndarray
) -> None:
    """One chunk of :func:`locate_grid`, written into the output slices."""
    if not np.isfinite(p).all():
        raise WorldError("Expected finite positions, got NaN or infinity instead")
    a = np.abs(p)
    ax, ay, az = a[:, 0], a[:, 1], a[:, 2]
    # Dominant axis; ties go to the earlier axis (x, then y), i.e. the earlier face.
    not_x = (ax < ay) | (ax < az)
    is_z = (ay < az) & not_x
    k = not_x.astype(np.int64)
    k += is_z
    flat = p.reshape(-1)
    idx = _BASE[: len(p)] + k
    pk = flat.take(idx)
    if not pk.all():
        raise WorldError("Expected non-zero positions, got the zero vector instead")
    np.add(idx, 1, out=idx)
    np.subtract(idx, 3, out=idx, where=is_z)  # (k + 1) mod 3
    u = flat.take(idx)
    np.add(idx, 1, out=idx)
    np.subtract(idx, 3, out=idx, where=not_x & ~is_z)  # (k + 2) mod 3
    v = flat.take(idx)
    np.multiply(k, 2, out=face)
    np.add(face, pk < 0, out=face)
    np.divide(u, pk, out=u)
    np.abs(pk, out=pk)
    np.divide(v, pk, out=v)
    _to_index(u, scale, gi)
    _to_index(v, scale, gj)


def _to_index(tan_coord: np.ndarray, scale: int, out: np.ndarray) -> None:
    """floor((atan(t) / (pi/2) + 1/2) * scale), clipped to [0, scale - 1], into ``out``."""
    np.arctan(tan_coord, out=tan_coord)
    tan_coord *= (2.0 / np.pi) * scale
    tan_coord += 0.5 * scale
    np.copyto(out, tan_coord, casting="unsafe")  # truncation == floor: values are >= -1 ulp
    np.minimum(out, scale - 1, out=out)
