"""Reconstruction: a field's samples at one tick -> a value at any position.

Every reconstruction names its rule, because the rules give different answers:

- ``containing`` (the default for cell-centred fields): the value of the cell that
  contains the position, by O(1) face/i/j arithmetic (:meth:`CubedSphere.cell_of`).
  It is what a cell-centred field *means*: the cell's value holds over the whole cell.
- ``nearest``: the value of the sample nearest the position by angle. For cell-centred
  fields that is the exact nearest centre (:meth:`CubedSphere.nearest_cell`); for
  arbitrary point samples (plate centroids, moving every frame) a spatial index, scipy's
  ``cKDTree`` over unit vectors (chord order = angle order on the sphere), built lazily.

Cells are not Voronoi cells of their centres, so the two disagree near cell corners
(about 5 % of random positions at N = 256, see ``scripts/bench_topology.py``).
Global fields have one value everywhere; their rule is ``global``.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

import numpy as np

from continuum.errors import LensError, WorldError
from continuum.topology import CubedSphere

CONTAINING = "containing"
NEAREST = "nearest"
GLOBAL = "global"
RULES = (CONTAINING, NEAREST)

# Positions rules of a field (how its samples are placed), stored in chunk headers.
CELLS = "cells"  # one sample per topology cell, at the centres, in cell order
POINTS = "points"  # m samples at positions stored with every frame (they may move)
POSITION_RULES = (CELLS, POINTS, GLOBAL)
KINDS = ("scalar", "vec3")


@dataclass(frozen=True)
class FieldConfig:
    """How one field is sampled: value kind, positions rule and sample count."""

    kind: str  # "scalar" | "vec3"
    positions: str  # CELLS | POINTS | GLOBAL
    samples: int

    def __post_init__(self) -> None:
        if self.kind not in KINDS or self.positions not in POSITION_RULES or self.samples < 1:
            raise LensError(f"Expected a valid field config, got {self} instead")
        if self.positions == GLOBAL and self.samples != 1:
            raise LensError(f"Expected one sample for a global field, got {self.samples}")

    @property
    def sample_shape(self) -> tuple[int, ...]:
        """Shape of one frame's values: (m,) scalars, (m, 3) vectors."""
        return (self.samples, 3) if self.kind == "vec3" else (self.samples,)

    def to_json(self) -> dict[str, Any]:
        return {"kind": self.kind, "positions": self.positions, "samples": self.samples}


def topology_from_spec(spec: Mapping[str, Any]) -> CubedSphere:
    """The topology a header's spec names, shared per resolution (its tables are cached)."""
    try:
        return _shared(CubedSphere.from_spec(spec).resolution)
    except WorldError as exc:
        raise LensError(f"bad topology spec in lens data: {exc}") from None


@lru_cache(maxsize=8)
def _shared(resolution: int) -> CubedSphere:
    return CubedSphere(resolution)


def default_rule(config: FieldConfig) -> str:
    """``containing`` for cell-centred fields, ``nearest`` for point samples."""
    return {CELLS: CONTAINING, POINTS: NEAREST, GLOBAL: GLOBAL}[config.positions]


def check_rule(name: str, config: FieldConfig, rule: str | None) -> str:
    """The rule to use for ``name``: ``rule`` if it applies, else a LensError saying why."""
    if rule is None or config.positions == GLOBAL:
        return default_rule(config)
    if rule not in RULES:
        raise LensError(f"Expected a rule in {list(RULES)}, got {rule!r} instead")
    if rule == CONTAINING and config.positions != CELLS:
        raise LensError(
            f"field {name!r} is sampled at moving points, not cells: 'containing' needs a "
            "cell-centred field; use --rule nearest"
        )
    return rule


def unit_points(points: object) -> tuple[np.ndarray, tuple[int, ...]]:
    """Positions as (m, 3) unit vectors plus their leading shape; bad input -> LensError."""
    arr = np.asarray(points, dtype=np.float64)
    if arr.ndim == 0 or arr.shape[-1] != 3:
        raise LensError(f"Expected positions of shape (3,) or (m, 3), got {arr.shape} instead")
    flat = arr.reshape(-1, 3)
    norms = np.linalg.norm(flat, axis=1)
    if not np.isfinite(flat).all() or not norms.all():
        raise LensError("Expected finite, non-zero positions, got NaN, infinity or zero")
    return flat / norms[:, None], arr.shape[:-1]


def cell_indices(topology: CubedSphere, rule: str, points: object) -> np.ndarray:
    """Cell of each (3,) or (m, 3) position under ``rule`` (``containing`` or ``nearest``)."""
    try:
        if rule == CONTAINING:
            return topology.cell_of(points)
        return topology.nearest_cell(points)
    except WorldError as exc:
        raise LensError(str(exc)) from None


def nearest_brute(positions: np.ndarray, point: np.ndarray) -> np.ndarray:
    """Index of the sample nearest ``point`` in each frame of (..., m, 3) ``positions``.

    Arg-max of the dot product (exact nearest by angle), vectorised over frames: the
    history of one position needs one query per frame, where building a tree per frame
    would cost more than it saves. Used for point samples in :mod:`continuum.lens.store`.
    """
    return np.argmax(positions @ point, axis=-1)


@dataclass
class Reconstruction:
    """One field at one tick: its samples and the rule that turns them into values.

    ``values`` is (m,) or (m, 3); ``positions`` (m, 3) unit vectors (None for global
    fields); ``units`` and ``time_units`` label them. ``sample`` takes one position,
    ``sample_batch`` an (n, 3) array; positions need not be unit length.
    """

    field: str
    tick: int
    sim_time: float
    config: FieldConfig
    positions: np.ndarray | None
    values: np.ndarray
    topology: CubedSphere | None = None
    rule: str | None = None
    #: labels for people (a plot's colour bar and time): the unit of ``values`` and of
    #: ``sim_time``, as the chunk holding the frame recorded them (None: not declared)
    units: str | None = None
    time_units: str | None = None
    _tree: Any = dataclasses.field(default=None, init=False, repr=False)

    def __post_init__(self) -> None:
        self.rule = check_rule(self.field, self.config, self.rule)
        if self.config.positions == CELLS:
            n_cells = None if self.topology is None else self.topology.n_cells
            if n_cells != self.config.samples:
                raise LensError(
                    f"field {self.field!r} has {self.config.samples} cell samples but the "
                    f"topology has {n_cells} cells"
                )

    def indices(self, points: object) -> np.ndarray:
        """Index of the sample each position takes its value from, under ``rule``."""
        if self.config.positions == CELLS:  # any non-zero length will do: no normalising
            assert self.topology is not None and self.rule is not None
            return cell_indices(self.topology, self.rule, points)
        pts, lead = unit_points(points)
        if self.config.positions == GLOBAL:
            return np.zeros(lead, dtype=np.int64)
        return self._kdtree().query(pts)[1].astype(np.int64).reshape(lead)

    def sample(self, position: object) -> float | np.ndarray:
        """The value at one position: a float, or a (3,) vector for vec3 fields."""
        pts = np.asarray(position, dtype=np.float64)
        if pts.shape != (3,):
            raise LensError(f"Expected one position (x, y, z), got shape {pts.shape} instead")
        value = self.sample_batch(pts[None, :])[0]
        return float(value) if self.config.kind == "scalar" else value

    def sample_batch(self, positions: object) -> np.ndarray:
        """Values at (n, 3) positions: (n,) scalars or (n, 3) vectors."""
        return self.values.take(self.indices(positions), axis=0)

    def _kdtree(self) -> Any:
        """scipy's cKDTree over the unit sample positions, built on first use."""
        if self._tree is None:
            from scipy.spatial import cKDTree  # lazy: scipy costs ~0.2 s to import

            assert self.positions is not None
            unit = self.positions / np.linalg.norm(self.positions, axis=1, keepdims=True)
            self._tree = cKDTree(unit)
        return self._tree
