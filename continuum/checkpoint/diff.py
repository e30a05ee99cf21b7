"""Comparing two checkpoints: which run facts and which arrays differ, and by how much.

``diff_states`` and ``diff_headers`` are pure (no I/O) so they serve tests and
notebooks as well as ``continuum checkpoint diff``; ``diff_checkpoints`` reads
and fully verifies both files first, because a diff of a corrupt file would be
a report about the corruption, not about the runs.

Decisions written down here because DESIGN.md is silent:

- Arrays are compared per signal *and* buffer (``current`` / ``previous``):
  both are causal state, and a resume from either checkpoint reads both.
- An element differs when ``|a - b| > atol`` (``atol`` 0: any change). NaN
  equals NaN and -0.0 equals 0.0, so a state compared with itself never
  differs (``State.state_hash`` is the bitwise test); NaN against a
  number differs, and ``max_abs`` is the largest *finite* difference (NaN
  when every difference involves NaN or infinity; None in JSON).
- Arrays that exist in one file only, or with another shape, are listed with
  their shapes and no element counts: there is nothing element-wise to compare.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import numpy as np

from continuum import layout
from continuum.checkpoint.format import CheckpointHeader, read_checkpoint
from continuum.runtime import State

Buffer = Literal["current", "previous"]
ArrayStatus = Literal["changed", "shape", "only_a", "only_b"]

#: Run and state facts compared between the two headers, in report order.
HEADER_FIELDS = (
    "run_id",
    "world",
    "world_version",
    "ir_hash",
    "scenario",
    "scenario_hash",
    "seed",
    "tick",
    "sim_time",
    "era",
    "counts",
)


@dataclass(frozen=True)
class FieldDiff:
    """One header fact (tick, era, ir_hash...) that differs: its value in A and in B."""

    field: str
    a: Any
    b: Any


@dataclass(frozen=True)
class ArrayDiff:
    """One signal buffer that differs between A and B."""

    signal: str
    buffer: Buffer
    status: ArrayStatus
    shape_a: tuple[int, ...] | None
    shape_b: tuple[int, ...] | None
    size: int  # elements compared (0 unless status is "changed")
    differing: int  # elements with |a - b| > atol (or NaN against a number)
    max_abs: float  # largest finite |a - b| of the differing elements, else NaN

    def to_dict(self) -> dict[str, Any]:
        """JSON-able: shapes as lists, a non-finite ``max_abs`` as None."""
        return {
            "signal": self.signal,
            "buffer": self.buffer,
            "status": self.status,
            "shape_a": list(self.shape_a) if self.shape_a is not None else None,
            "shape_b": list(self.shape_b) if self.shape_b is not None else None,
            "size": self.size,
            "differing": self.differing,
            "max_abs": self.max_abs if math.isfinite(self.max_abs) else None,
        }


@dataclass(frozen=True)
class CheckpointDiff:
    """The whole report: differing header facts and arrays, and how much was compared."""

    a: Path | str | None  # a file's path, or an object's URL
    b: Path | str | None
    atol: float
    fields: tuple[FieldDiff, ...]
    arrays: tuple[ArrayDiff, ...]
    compared: int  # signal buffers present in both with equal shapes

    @property
    def identical(self) -> bool:
        return not self.fields and not self.arrays

    def to_dict(self) -> dict[str, Any]:
        """The ``--json`` document of ``continuum checkpoint diff``."""
        return {
            "a": str(self.a) if self.a is not None else None,
            "b": str(self.b) if self.b is not None else None,
            "atol": self.atol,
            "identical": self.identical,
            "fields": {f.field: {"a": f.a, "b": f.b} for f in self.fields},
            "arrays": [d.to_dict() for d in self.arrays],
            "compared": self.compared,
        }


def diff_headers(a: CheckpointHeader, b: CheckpointHeader) -> tuple[FieldDiff, ...]:
    """The run and state facts of :data:`HEADER_FIELDS` whose values differ."""
    va, vb = _header_facts(a), _header_facts(b)
    return tuple(
        FieldDiff(name, va[name], vb[name]) for name in HEADER_FIELDS if va[name] != vb[name]
    )


def _header_facts(h: CheckpointHeader) -> dict[str, Any]:
    ident = h.identity
    return {
        "run_id": ident.run_id,
        "world": ident.world,
        "world_version": ident.world_version,
        "ir_hash": ident.ir_hash,
        "scenario": ident.scenario,
        "scenario_hash": ident.scenario_hash,
        "seed": h.seed,
        "tick": h.tick,
        "sim_time": h.sim_time,
        "era": h.era,
        "counts": dict(sorted(h.counts.items())),
    }


def diff_states(a: State, b: State, atol: float = 0.0) -> tuple[tuple[ArrayDiff, ...], int]:
    """Differing signal buffers of two states (sorted), and how many were compared."""
    if not atol >= 0.0:  # also refuses NaN
        raise ValueError(f"atol must be a non-negative number, got {atol!r}")
    found, compared = [], 0
    buffers: tuple[tuple[Buffer, dict[str, np.ndarray], dict[str, np.ndarray]], ...] = (
        ("current", a.current, b.current),
        ("previous", a.previous, b.previous),
    )
    for buffer, left, right in buffers:
        for name in sorted(set(left) | set(right)):
            diff = diff_arrays(name, buffer, left.get(name), right.get(name), atol)
            compared += diff is None or diff.status == "changed"
            if diff is not None:
                found.append(diff)
    found.sort(key=lambda d: (d.signal, d.buffer))
    return tuple(found), compared


def diff_arrays(
    signal: str, buffer: Buffer, a: np.ndarray | None, b: np.ndarray | None, atol: float
) -> ArrayDiff | None:
    """How ``a`` and ``b`` differ (None if they do not); either may be absent."""
    shape_a = tuple(a.shape) if a is not None else None
    shape_b = tuple(b.shape) if b is not None else None
    if a is None or b is None or shape_a != shape_b:
        status: ArrayStatus = "only_b" if a is None else "only_a" if b is None else "shape"
        return ArrayDiff(signal, buffer, status, shape_a, shape_b, 0, 0, math.nan)
    if a is b:  # unchanged signals share one immutable array between snapshots
        return None
    with np.errstate(invalid="ignore", over="ignore"):  # inf - inf, NaN: handled below
        delta = np.abs(np.subtract(a, b, dtype=np.float64))
    equal = (a == b) | (np.isnan(a) & np.isnan(b))  # inf == inf, NaN == NaN
    differs = ~equal & ~(delta <= atol)  # NaN against a number differs
    count = int(np.count_nonzero(differs))
    if not count:
        return None
    finite = delta[differs & np.isfinite(delta)]
    max_abs = float(finite.max()) if finite.size else math.nan
    return ArrayDiff(signal, buffer, "changed", shape_a, shape_b, int(a.size), count, max_abs)


def _read(where: Path | str) -> tuple[CheckpointHeader, State]:
    if isinstance(where, str) and layout.is_object_url(where):
        from continuum.checkpoint.remote import read_object

        return read_object(where)
    return read_checkpoint(Path(where))


def diff_checkpoints(path_a: Path | str, path_b: Path | str, atol: float = 0.0) -> CheckpointDiff:
    """Read and verify both checkpoints (files, or ``s3://`` objects given as URLs), then
    compare headers and every array."""
    header_a, state_a = _read(path_a)
    header_b, state_b = _read(path_b)
    arrays, compared = diff_states(state_a, state_b, atol)
    return CheckpointDiff(
        a=path_a if isinstance(path_a, str) else header_a.path,
        b=path_b if isinstance(path_b, str) else header_b.path,
        atol=atol,
        fields=diff_headers(header_a, header_b),
        arrays=arrays,
        compared=compared,
    )
