"""Static types of expression values and the context compiled code runs in.

A value is a scalar or a vec3, either global (one per world) or per instance of
one entity. Storage follows from that, so numpy broadcasting is always right:

=========================  ============
kind                       array shape
=========================  ============
global scalar              ``()``
global vec3                ``(3, 1)``   (stored as ``(3,)``; widened on read)
member scalar of entity E  ``(n,)``
member vec3 of entity E    ``(3, n)``   component-major SoA
=========================  ============
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np

SCALAR = "scalar"
VEC3 = "vec3"
VALUE_TYPES = (SCALAR, VEC3)


@dataclass(frozen=True)
class Kind:
    """Shape (scalar/vec3) and owner (None = global, else an entity name)."""

    shape: str
    entity: str | None = None

    def describe(self) -> str:
        owner = "global" if self.entity is None else f"per-{self.entity}"
        return f"{owner} {self.shape}"


class EvalContext:
    """What compiled expressions read while one tick (or the initial state) is built.

    ``values`` maps names to start-of-tick values (double buffering: resolves
    never see values written in the same tick). Keys are dotted names of
    signals, members and config constants, the builtins ``dt``, ``tick``,
    ``sim_time``, and per-entity builtins as ``"entity/name"`` (e.g.
    ``"cell/lat"``), which no declared name can collide with.
    """

    __slots__ = ("values", "counts", "neighbours", "seed", "tick", "cache")

    def __init__(
        self,
        values: dict[str, Any],
        counts: dict[str, int],
        neighbours: dict[str, np.ndarray],
        seed: int,
        tick: int,
        cache: dict[object, Any] | None = None,
    ) -> None:
        self.values = values
        self.counts = counts
        self.neighbours = neighbours
        self.seed = seed
        self.tick = tick
        # values of static sub-expressions; one dict per simulation (config and
        # topology fixed), so sharing it across simulations would be wrong
        self.cache = {} if cache is None else cache

    def generator(self, stream: int, site: int) -> np.random.Generator:
        """Counter-based noise: the same (seed, tick, stream, site) gives the same numbers.

        Philox increments the low counter word while drawing, so the identity of
        the draw lives in the high words and draws can never overlap.
        """
        counter = [0, site, stream, self.tick]
        return np.random.Generator(np.random.Philox(key=self.seed, counter=counter))


Fn = Callable[[EvalContext], Any]


@dataclass(frozen=True)
class Compiled:
    """A compiled expression: call ``fn(ctx)``; ``kind`` is its static type."""

    fn: Fn
    kind: Kind
