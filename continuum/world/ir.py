"""The world IR: typed, immutable dataclasses parsed once from TOML.

Nothing below the loader looks at raw TOML dicts again. Collections are tuples
sorted by name so that iteration order — and with it noise streams and the
canonical bytes behind the IR hash — never depends on how the TOML was written.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from continuum.world.expr import Expr

ACTIVE = "active"
GATED = "gated"
CELLS = "cells"
ALLOW_NONFINITE = "allow_nonfinite"
"""Key of a signal, member or field table: ``true`` keeps NaN and infinity in its values
instead of stopping the run (the default stops it at the first non-finite value)."""

HASHED_IF_SET = {"hash": "if-set"}
"""Field metadata: a field added after the IR hash's first version is hashed only when it
differs from its default, so the worlds that do not use it keep their hash."""

NOT_HASHED = {"hash": "never"}
"""Field metadata: a label for people that changes no value (``units``), never hashed, so
declaring or correcting it keeps the IR hash and the run's checkpoints resumable. It
still takes part in equality: two IRs that differ only in units are different worlds to
read, the same world to run."""


@dataclass(frozen=True)
class Topology:
    kind: str
    resolution: int


@dataclass(frozen=True)
class Stratum:
    """An execution lane: its members resolve when its cadence counter reaches ``stride``."""

    name: str
    stride: int


@dataclass(frozen=True)
class Transition:
    to: str
    when: Expr


@dataclass(frozen=True)
class Era:
    """A phase of the run: its ``dt`` and which strata are active or gated (paused)."""

    name: str
    dt: float
    initial: bool
    terminal: bool
    strata: tuple[tuple[str, str], ...]  # (stratum, ACTIVE|GATED), sorted
    transition: Transition | None

    def is_active(self, stratum: str) -> bool:
        return dict(self.strata).get(stratum) == ACTIVE


@dataclass(frozen=True)
class Signal:
    """A global signal (``entity is None``) or a member signal of an entity."""

    name: str  # dotted: "core.temp" or "cell.temperature"
    type: str  # "scalar" | "vec3"
    stratum: str
    initial: Expr
    resolve: Expr
    entity: str | None = None
    allow_nonfinite: bool = field(default=False, metadata=HASHED_IF_SET)
    #: the unit of its values (``"K"``), a label only: see :mod:`continuum.world.units`
    units: str | None = field(default=None, metadata=NOT_HASHED)


@dataclass(frozen=True)
class Entity:
    name: str
    count: int | str  # an instance count, or CELLS (one per topology cell)
    members: tuple[Signal, ...]


@dataclass(frozen=True)
class Field:
    """An observation: ``source`` evaluated at ``positions`` on the ticks a lens captures.

    ``positions`` is ``"cells"`` (cell centres) for per-cell sources, the dotted
    name of a vec3 member giving each instance's position, or ``None`` for a
    global value.

    ``units`` is declared on the field, or taken from its source when the source is the
    bare name of a signal or member that declares units (``source = "cell.temperature"``).
    """

    name: str
    source: Expr
    positions: str | None
    allow_nonfinite: bool = field(default=False, metadata=HASHED_IF_SET)
    units: str | None = field(default=None, metadata=NOT_HASHED)


@dataclass(frozen=True)
class WorldIR:
    name: str
    title: str
    version: str
    config: tuple[tuple[str, float], ...]
    topology: Topology
    strata: tuple[Stratum, ...]
    eras: tuple[Era, ...]
    signals: tuple[Signal, ...]
    entities: tuple[Entity, ...]
    fields: tuple[Field, ...]
    #: the unit of ``dt`` and ``sim_time`` (``[world] time_units``, e.g. ``"years"``); None
    #: when the world does not say. A label: not hashed, like every unit
    time_units: str | None = field(default=None, metadata=NOT_HASHED)
    # where it was loaded from: for messages only, not part of the IR hash
    root: Path | None = field(default=None, compare=False)
    sources: tuple[tuple[tuple[str, ...], str], ...] = field(default=(), compare=False)

    def stratum(self, name: str) -> Stratum:
        return next(s for s in self.strata if s.name == name)

    def era(self, name: str) -> Era:
        return next(e for e in self.eras if e.name == name)

    @property
    def initial_era(self) -> Era:
        return next(e for e in self.eras if e.initial)

    @property
    def members(self) -> tuple[Signal, ...]:
        return tuple(m for e in self.entities for m in e.members)

    @property
    def config_dict(self) -> dict[str, float]:
        return dict(self.config)

    def units_of(self, name: str) -> str | None:
        """The declared unit of the field, signal or member ``name`` (fields first), or None."""
        declared: tuple[Field | Signal, ...] = (*self.fields, *self.signals, *self.members)
        return next((d.units for d in declared if d.name == name), None)
