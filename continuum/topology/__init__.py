"""Cubed-sphere geometry shared by the runtime (cells, neighbour operators) and the lens.

Owns pure geometry: cell centres and their lat/lon and solid angles, edge neighbours,
locating positions in cells (containing cell, O(1) arithmetic) or at the nearest cell
centre (exact), and tile ids (face, level of detail, Morton code) for spatial queries.
Everything is vectorised numpy over arrays of positions or cells.

Must not touch: state, time, files or any other I/O, and must not import other
``continuum`` packages except ``continuum.errors``; runtime and lens depend on it, never the
reverse. Bad input raises :class:`continuum.errors.WorldError`, since the topology is part
of the world a run declares.
"""

from continuum.topology._faces import FACE_NAMES
from continuum.topology._tiles import MAX_LOD, decode_tile, parent_tile, tile_id, tile_of
from continuum.topology.cubed_sphere import CubedSphere

__all__ = [
    "FACE_NAMES",
    "MAX_LOD",
    "CubedSphere",
    "decode_tile",
    "parent_tile",
    "tile_id",
    "tile_of",
]
