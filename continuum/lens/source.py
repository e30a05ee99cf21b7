"""One field-source interface: what a lens answers, from frames in memory or on disk.

:class:`~continuum.lens.history.FieldLens` (frames held in memory) and
:class:`~continuum.lens.store.LensStore` (a lens run directory, chunks opened lazily) both
implement :class:`FieldSource` and return the same records, so code that asks for a value,
a history or a frame does not care which one it holds; the test suite asks both the same
questions over the same frames and compares answers and types.

Tick windows of ``history``/``load`` are inclusive, ``[start, stop]`` (``None``: open), as
the CLI's ``--from``/``--to``; :func:`tick_mask` and :func:`span_meets` are the one place
that rule is written.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol, runtime_checkable

import numpy as np

from continuum.lens.format import LensIdentity
from continuum.lens.gaps import LensGap
from continuum.lens.reconstruct import FieldConfig, Reconstruction
from continuum.topology import CubedSphere


@dataclass(frozen=True)
class PointValue:
    """A queried value at one position and how it was obtained."""

    value: float | np.ndarray  # a float, or a (3,) vector
    rule: str  # containing | nearest | global
    ticks: tuple[int, int]  # the bracketing captured ticks (equal at a captured tick)
    weight: float  # of the later frame in the blend; 0 at a captured tick


@dataclass(frozen=True)
class PointValues:
    """Queried values at many positions (one time) and how they were obtained."""

    values: np.ndarray  # (n,) scalars or (n, 3) vectors
    rule: str
    ticks: tuple[int, int]
    weight: float


@dataclass
class FieldHistory:
    """One position's values over time: one row per captured tick."""

    field: str
    rule: str
    ticks: np.ndarray  # (n,) int64
    sim_times: np.ndarray  # (n,) float64
    values: np.ndarray  # (n,) or (n, 3)
    #: the lens gaps inside the window asked for (a history read with across_gaps=True)
    gaps: tuple[LensGap, ...] = ()


@runtime_checkable
class FieldSource(Protocol):
    """Captured field frames, queried by tick or sim time at any position."""

    @property
    def identity(self) -> LensIdentity: ...

    @property
    def topology(self) -> CubedSphere | None: ...

    @property
    def fields(self) -> list[str]: ...

    def config(self, name: str) -> FieldConfig: ...

    def field_ticks(self, name: str) -> np.ndarray: ...

    def field_times(self, name: str) -> np.ndarray: ...

    def at(self, name: str, tick: int, *, rule: str | None = None) -> Reconstruction: ...

    def query(
        self,
        name: str,
        position: object,
        time: float | None = None,
        *,
        tick: float | None = None,
        rule: str | None = None,
    ) -> PointValue: ...

    def query_batch(
        self,
        name: str,
        positions: object,
        time: float | None = None,
        *,
        tick: float | None = None,
        rule: str | None = None,
    ) -> PointValues: ...

    def history(
        self,
        name: str,
        position: object,
        *,
        start: int | None = None,
        stop: int | None = None,
        rule: str | None = None,
    ) -> FieldHistory: ...


def tick_mask(ticks: np.ndarray, start: int | None, stop: int | None) -> np.ndarray:
    """Which of ``ticks`` lie in ``[start, stop]`` (inclusive; None: unbounded)."""
    keep = np.ones(len(ticks), dtype=bool)
    if start is not None:
        keep &= ticks >= start
    if stop is not None:
        keep &= ticks <= stop
    return keep


def span_meets(lo: int, end: int, start: int | None, stop: int | None) -> bool:
    """Whether a chunk's ticks ``[lo, end)`` can hold one in ``[start, stop]``."""
    return (start is None or end > start) and (stop is None or lo <= stop)


def point_value(batch: PointValues, kind: str) -> PointValue:
    """The one-position answer of a one-row batch: a float for scalars, a (3,) vector else."""
    row = batch.values[0]
    value = float(row) if kind == "scalar" else row
    return PointValue(value, batch.rule, batch.ticks, batch.weight)
