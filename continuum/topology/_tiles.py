"""Tile ids: face, level of detail and Morton code packed into one non-negative int64.

A tile at level of detail ``lod`` is one of the ``2^lod x 2^lod`` equal blocks of a face in
equiangular coordinates (``lod 0`` is the whole face), indexed ``(ti, tj)`` like cells:
``ti`` along alpha (e1), ``tj`` along beta (e2). Tiles do not depend on a grid resolution.

Bit layout (bit 0 least significant; bits 62-63 are always zero, so ids are >= 0)::

    bits 59-61  face        0..5 (+X, -X, +Y, -Y, +Z, -Z)
    bits 54-58  lod         0..MAX_LOD (27)
    bits  0-53  Morton code of (ti, tj): bit k of ti at bit 2k+1, bit k of tj at bit 2k;
                only the low 2*lod bits may be set

``ti`` takes the odd bits so that, within a level, Morton order refines the row-major
(i, j) order of the cells; the parent tile drops the low two Morton bits. Sorting ids groups
them by face, then level, then Z-order along the face.
"""

from __future__ import annotations

import numpy as np

from continuum.errors import WorldError
from continuum.topology._faces import as_points, locate_grid

MAX_LOD = 27
_FACE_SHIFT = 59
_LOD_SHIFT = 54
_MORTON_MASK = (1 << _LOD_SHIFT) - 1

# (shift, mask) steps that spread the low 32 bits of x to the even bits, and back.
_SPREAD = [
    (16, 0x0000FFFF0000FFFF),
    (8, 0x00FF00FF00FF00FF),
    (4, 0x0F0F0F0F0F0F0F0F),
    (2, 0x3333333333333333),
    (1, 0x5555555555555555),
]
_COMPACT = [
    (1, 0x3333333333333333),
    (2, 0x0F0F0F0F0F0F0F0F),
    (4, 0x00FF00FF00FF00FF),
    (8, 0x0000FFFF0000FFFF),
    (16, 0x00000000FFFFFFFF),
]


def tile_id(face: object, lod: object, ti: object, tj: object) -> np.ndarray:
    """Pack (face, lod, ti, tj) into tile ids; arrays broadcast, scalars give a 0-d array."""
    face, lod, ti, tj = _ints(face, "face"), _ints(lod, "lod"), _ints(ti, "ti"), _ints(tj, "tj")
    _check(face, 0, 6, "face")
    _check(lod, 0, MAX_LOD + 1, "lod")
    side = np.left_shift(1, lod)
    _check(ti, 0, side, "ti")
    _check(tj, 0, side, "tj")
    return pack(face, lod, ti, tj)


def pack(face: np.ndarray, lod: np.ndarray, ti: np.ndarray, tj: np.ndarray) -> np.ndarray:
    """:func:`tile_id` without validation, for callers whose inputs are in range."""
    morton = (_spread(ti) << 1) | _spread(tj)
    return (face << _FACE_SHIFT) | (lod << _LOD_SHIFT) | morton


def decode_tile(tile: object) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Unpack tile ids into (face, lod, ti, tj); anything not made by :func:`tile_id` raises."""
    tile = _ints(tile, "ids")
    face, lod = tile >> _FACE_SHIFT, (tile >> _LOD_SHIFT) & 31
    morton = tile & _MORTON_MASK
    bad = (
        (tile < 0) | (face > 5) | (lod > MAX_LOD) | (morton >> (2 * np.minimum(lod, MAX_LOD)) != 0)
    )
    if bad.any():
        first = int(tile[bad].flat[0])
        raise WorldError(f"Expected a tile id made by tile_id(), got {first} instead")
    return face, lod, _compact(morton >> 1), _compact(morton)


def parent_tile(tile: object) -> np.ndarray:
    """The tile one level coarser that contains ``tile`` (level 0 tiles have no parent)."""
    face, lod, ti, tj = decode_tile(tile)
    if (lod == 0).any():
        raise WorldError("Expected tiles with lod >= 1, got a lod 0 tile (a whole face) instead")
    return pack(face, lod - 1, ti >> 1, tj >> 1)


def tile_of(points: object, lod: int) -> np.ndarray:
    """Tile id at ``lod`` of every position ((3,) or (m, 3), any non-zero length)."""
    lod_arr = _ints(lod, "lod")
    _check(lod_arr, 0, MAX_LOD + 1, "lod")
    if lod_arr.ndim:
        raise WorldError(f"Expected one tile lod, got an array of shape {lod_arr.shape}")
    pts, lead = as_points(points)
    face, ti, tj = locate_grid(pts, 1 << int(lod_arr))
    return pack(face, lod_arr, ti, tj).reshape(lead)


def _ints(x: object, name: str) -> np.ndarray:
    """``x`` as int64, refusing floats that would be silently truncated."""
    arr = np.asarray(x)
    if arr.dtype.kind not in "iu":
        raise WorldError(f"Expected integer tile {name}, got dtype {arr.dtype} instead")
    return arr.astype(np.int64)


def _check(x: np.ndarray, lo: int, hi: np.ndarray | int, name: str) -> None:
    """Raise unless lo <= x < hi everywhere."""
    bad = (x < lo) | (x >= hi)
    if np.any(bad):
        first = int(np.broadcast_to(x, bad.shape)[bad][0])
        raise WorldError(f"Expected tile {name} in [{lo}, {hi}), got {first} instead")


def _spread(x: np.ndarray) -> np.ndarray:
    """Move bit k of x (< 2^32) to bit 2k."""
    x = x.astype(np.uint64)
    for shift, mask in _SPREAD:
        x = (x | (x << np.uint64(shift))) & np.uint64(mask)
    return x.astype(np.int64)


def _compact(x: np.ndarray) -> np.ndarray:
    """Inverse of :func:`_spread`: gather the even bits of x."""
    x = x.astype(np.uint64) & np.uint64(0x5555555555555555)
    for shift, mask in _COMPACT:
        x = (x | (x >> np.uint64(shift))) & np.uint64(mask)
    return x.astype(np.int64)
