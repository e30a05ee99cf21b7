"""The causal state of a run and its canonical flattening.

Arrays in a State are **read-only**: every resolve produces a new array and the
tick loop swaps dict entries, never writing into an array in place. A snapshot
for a checkpoint is therefore a shallow copy of two dicts, taken in
microseconds, and the writer thread can read it while the loop goes on.

Storage follows ``continuum.world.kinds``: global scalars are 0-d float64,
global vec3 ``(3,)``, member scalars ``(n,)``, member vec3 ``(3, n)``.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field
from typing import Any

import numpy as np

CURRENT = "cur/"
PREVIOUS = "prev/"


def frozen(array: Any) -> np.ndarray:
    """A float64, C-contiguous, read-only array (copied only if it must be)."""
    out = np.asarray(array, dtype=np.float64, order="C")
    if out.flags.writeable and out.base is not None:
        out = out.copy()
    out.flags.writeable = False
    return out


@dataclass
class State:
    """Everything a continuation depends on, and nothing that can be rebuilt."""

    tick: int
    sim_time: float
    era: str
    seed: int
    counters: dict[str, int]  # stratum -> cadence counter
    counts: dict[str, int]  # entity -> instance count
    current: dict[str, np.ndarray] = field(default_factory=dict)
    previous: dict[str, np.ndarray] = field(default_factory=dict)

    def snapshot(self) -> State:
        """An independent State sharing the (immutable) arrays: O(number of signals)."""
        return State(
            self.tick,
            self.sim_time,
            self.era,
            self.seed,
            dict(self.counters),
            dict(self.counts),
            dict(self.current),
            dict(self.previous),
        )

    def meta(self) -> dict[str, Any]:
        """The non-array part, JSON-able (floats round-trip exactly through repr)."""
        return {
            "tick": self.tick,
            "sim_time": self.sim_time,
            "era": self.era,
            "seed": self.seed,
            "counters": dict(sorted(self.counters.items())),
            "counts": dict(sorted(self.counts.items())),
        }

    def arrays(self) -> dict[str, np.ndarray]:
        """Every array under a stable name: ``cur/NAME`` and ``prev/NAME``, sorted."""
        out = {CURRENT + k: v for k, v in sorted(self.current.items())}
        out.update({PREVIOUS + k: v for k, v in sorted(self.previous.items())})
        return out

    @classmethod
    def from_parts(cls, meta: dict[str, Any], arrays: dict[str, np.ndarray]) -> State:
        """Inverse of ``meta()`` + ``arrays()``."""
        current = {k[len(CURRENT) :]: frozen(v) for k, v in arrays.items() if k.startswith(CURRENT)}
        previous = {
            k[len(PREVIOUS) :]: frozen(v) for k, v in arrays.items() if k.startswith(PREVIOUS)
        }
        return cls(
            tick=int(meta["tick"]),
            sim_time=float(meta["sim_time"]),
            era=str(meta["era"]),
            seed=int(meta["seed"]),
            counters={k: int(v) for k, v in meta["counters"].items()},
            counts={k: int(v) for k, v in meta["counts"].items()},
            current=current,
            previous=previous,
        )

    def state_hash(self) -> str:
        """blake2b-256 over the canonical bytes; equal iff the states are bitwise equal."""
        h = hashlib.blake2b(digest_size=32)
        h.update(json.dumps(self.meta(), sort_keys=True).encode())
        for name, array in self.arrays().items():
            little = np.ascontiguousarray(array, dtype="<f8")
            h.update(f"\n{name}:{little.shape}\n".encode())
            h.update(little.data.cast("B"))
        return h.hexdigest()
