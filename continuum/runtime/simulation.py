"""The deterministic tick loop.

One tick (``step``):

1. The era's active strata advance their cadence counters; a stratum whose
   counter reaches its stride runs this tick and its counter resets. Gated
   strata neither run nor count (they pause).
2. Every declaration of a running stratum resolves from the **start-of-tick**
   values (double buffering), so declaration order cannot change results.
   ``dt`` is the era's, ``tick`` the tick being computed, ``sim_time`` the time
   at its start. Declarations that do not run keep their value.
3. ``previous`` becomes the start-of-tick values, ``current`` the new ones,
   ``sim_time += dt``; then the era's transition condition is evaluated on the
   new values and, if true, the next tick runs in the target era.

Each resolve is one vectorised numpy evaluation; nothing loops over instances.

Arithmetic is IEEE 754 (numpy's floating-point warnings are silenced, see
``continuum.world.compile``), and every value a resolve or an initial expression
produces is checked once to be finite (one ``np.isfinite`` pass per array, a few
microseconds a tick). A NaN or an infinity stops the run with a ``ResolveError`` naming
the declaration, the tick and the expression, before the tick changes the state, unless
the declaration says ``allow_nonfinite = true``. Fields are checked the same way when a
lens observes them. Noise parameters out of range (``rng.normal(0, -1)``) fail the same way.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np

from continuum.errors import ResolveError
from continuum.runtime.nonfinite import (
    failed,
    field_failed,
    nonfinite,
    nonfinite_field,
    transition_failed,
)
from continuum.runtime.state import State, frozen
from continuum.topology import CubedSphere
from continuum.world import VEC3, Declaration, EvalContext, FieldProgram, Program
from continuum.world.ir import CELLS
from continuum.world.kinds import Compiled
from continuum.world.parse import where

TickObserver = Callable[[State], None]


@dataclass(frozen=True)
class FieldFrame:
    """One field observed at one tick: values at positions (None for global fields)."""

    name: str
    positions: np.ndarray | None  # (m, 3) unit vectors
    values: np.ndarray  # (m,) scalar or (m, 3) vector; () / (3,) for global fields


class Simulation:
    """A compiled world bound to a seed and a topology, ready to step states."""

    def __init__(self, program: Program, seed: int) -> None:
        self.program = program
        self.seed = seed
        self.topology = CubedSphere(program.resolution)
        self.counts = {
            e.name: self.topology.n_cells if e.count == CELLS else int(e.count)
            for e in program.ir.entities
        }
        self.neighbours = {
            name: np.ascontiguousarray(self.topology.neighbours.T) for name in program.cell_entities
        }
        self._static = self._static_values()
        self._cache: dict[object, object] = {}  # static sub-expressions, computed once
        self._by_stratum: dict[str, list[Declaration]] = {}
        for decl in program.declarations:
            self._by_stratum.setdefault(decl.signal.stratum, []).append(decl)
        self._eras = {era.name: era for era in program.ir.eras}

    def _static_values(self) -> dict[str, Any]:
        values: dict[str, Any] = {k: np.float64(v) for k, v in self.program.config.items()}
        for entity, count in self.counts.items():
            values[f"{entity}/index"] = frozen(np.arange(count, dtype=np.float64))
            if entity in self.program.cell_entities:
                values[f"{entity}/lat"] = frozen(self.topology.lat)
                values[f"{entity}/lon"] = frozen(self.topology.lon)
                values[f"{entity}/pos"] = frozen(self.topology.centres.T)
        return values

    def _context(self, state: State, tick: int, dt: float) -> EvalContext:
        return self._context_of(state.current, state.sim_time, tick, dt)

    def _context_of(
        self, current: dict[str, np.ndarray], sim_time: float, tick: int, dt: float
    ) -> EvalContext:
        values = dict(self._static)
        for name, array in current.items():
            if array.ndim == 0:  # a numpy scalar: its arithmetic is 5x cheaper than a 0-d array's
                values[name] = array[()]
            else:
                values[name] = array.reshape(3, 1) if array.shape == (3,) else array
        # numpy scalars, so that arithmetic on them is IEEE (1/0 is inf, not an exception)
        values.update(dt=np.float64(dt), tick=np.float64(tick), sim_time=np.float64(sim_time))
        return EvalContext(values, self.counts, self.neighbours, self.seed, tick, self._cache)

    def _store(self, decl: Declaration, value: Any) -> np.ndarray:
        kind = decl.kind
        if kind.entity is None:
            shape: tuple[int, ...] = (3,) if kind.shape == VEC3 else ()
        else:
            n = self.counts[kind.entity]
            shape = (3, n) if kind.shape == VEC3 else (n,)
        array = np.asarray(value, dtype=np.float64)
        if array.shape != shape:
            # globals: (3, 1) -> (3,); members: a value shared by all instances -> broadcast
            array = array.reshape(shape) if kind.entity is None else np.broadcast_to(array, shape)
        return frozen(array)

    def initial_state(self) -> State:
        """Tick 0: every declaration's initial value, in the initial era."""
        ir = self.program.ir
        state = State(
            0,
            0.0,
            ir.initial_era.name,
            self.seed,
            {s.name: 0 for s in ir.strata},
            dict(self.counts),
        )
        ctx = self._context(state, 0, ir.initial_era.dt)
        with np.errstate(all="ignore"):
            state.current = {
                d.signal.name: self._evaluate(d, d.initial, ctx) for d in self.program.declarations
            }
        state.previous = dict(state.current)
        return state

    def running_strata(self, state: State) -> list[str]:
        """Advance cadence counters (mutates ``state.counters``); return strata that run."""
        running, state.counters = self._advance(state)
        return running

    def _advance(self, state: State) -> tuple[list[str], dict[str, int]]:
        """The strata that run next tick and the counters after it; ``state`` is untouched."""
        era = self._eras[state.era]
        counters = dict(state.counters)
        running = []
        for stratum in self.program.ir.strata:
            if not era.is_active(stratum.name):
                continue
            count = counters[stratum.name] + 1
            if count >= stratum.stride:
                running.append(stratum.name)
                count = 0
            counters[stratum.name] = count
        return running, counters

    def step(self, state: State) -> None:
        """Advance ``state`` by one tick, in place (see the module docstring).

        A ``ResolveError`` leaves ``state`` as it was: nothing is written before every
        declaration of the tick has resolved to finite values.
        """
        era = self._eras[state.era]
        tick = state.tick + 1
        running, counters = self._advance(state)
        ctx = self._context(state, tick, era.dt)
        new = dict(state.current)
        with np.errstate(all="ignore"):
            for stratum in running:
                for decl in self._by_stratum.get(stratum, ()):
                    new[decl.signal.name] = self._evaluate(decl, decl.resolve, ctx)
        sim_time = state.sim_time + era.dt
        if not math.isfinite(sim_time):
            w = where(dict(self.program.ir.sources), ("eras", era.name), f"[eras.{era.name}]")
            raise ResolveError(
                w.message("dt", f"sim_time overflows at tick {tick}; make dt smaller")
            )
        condition = self.program.transitions.get(era.name)
        transition = era.transition  # set for every era that has a condition
        next_era = state.era
        if condition is not None and transition is not None:
            ctx = self._context_of(new, sim_time, tick, era.dt)
            if self._condition(era.name, condition, ctx):
                next_era = transition.to
        state.previous, state.current = state.current, new
        state.counters.update(counters)
        state.tick, state.sim_time, state.era = tick, sim_time, next_era

    def _condition(self, era: str, condition: Compiled, ctx: EvalContext) -> bool:
        """An era's transition condition on the new values (NaN compares false)."""
        try:
            with np.errstate(all="ignore"):
                return bool(condition.fn(ctx))
        except (ArithmeticError, ValueError) as exc:  # noise parameters out of range
            raise transition_failed(self.program.ir, era, ctx, exc) from None

    def _evaluate(self, decl: Declaration, compiled: Compiled, ctx: EvalContext) -> np.ndarray:
        """``compiled`` (decl's initial or resolve) on ``ctx``, stored and checked finite."""
        try:
            array = self._store(decl, compiled.fn(ctx))
        except (ArithmeticError, ValueError) as exc:  # noise parameters out of range
            raise failed(decl, compiled, ctx, exc) from None
        if decl.signal.allow_nonfinite:
            return array
        if math.isfinite(array) if array.ndim == 0 else np.isfinite(array).all():
            return array
        raise nonfinite(decl, compiled, ctx, array)

    def check_resumed(self, state: State) -> None:
        """A state read from a checkpoint holds only finite values where the world asks.

        The tick loop checks what it resolves; a NaN a file brings in would otherwise pass
        unseen through every signal that is gated or reads it only under a false branch.
        """
        for decl in self.program.declarations:
            if decl.signal.allow_nonfinite:
                continue
            name = decl.signal.name
            for which, values in (("current", state.current), ("previous", state.previous)):
                array = values.get(name)
                if array is not None and not np.isfinite(array).all():
                    raise ResolveError(
                        f"the checkpoint at tick {state.tick} holds NaN or infinity in "
                        f"{name} ({which} value), which the world does not allow; resume "
                        "from an earlier checkpoint, or set allow_nonfinite = true for it"
                    )

    def run(self, state: State, steps: int, observer: TickObserver | None = None) -> State:
        """Step ``steps`` times, calling ``observer(state)`` after each tick."""
        for _ in range(steps):
            self.step(state)
            if observer is not None:
                observer(state)
        return state

    def observe(self, state: State, names: list[str] | None = None) -> list[FieldFrame]:
        """Evaluate fields on ``state`` (only when a lens asks: fields cost a tick's work)."""
        ctx = self._context(state, state.tick, self._eras[state.era].dt)
        frames = []
        for name, prog in self.program.fields.items():
            if names is not None and name not in names:
                continue
            with np.errstate(all="ignore"):
                values = self._field(prog, ctx)
            frames.append(FieldFrame(name, self._positions(prog, ctx), _rows(values, prog)))
        return frames

    def _field(self, prog: FieldProgram, ctx: EvalContext) -> np.ndarray:
        try:
            values = np.asarray(prog.source.fn(ctx), dtype=np.float64)
        except (ArithmeticError, ValueError) as exc:
            raise field_failed(prog, ctx, exc) from None
        if prog.field.allow_nonfinite or np.isfinite(values).all():
            return values
        raise nonfinite_field(prog, ctx, values)

    def _positions(self, prog, ctx: EvalContext) -> np.ndarray | None:
        entity = prog.kind.entity
        if entity is None:
            return None
        if prog.field.positions in (None, CELLS):
            return self.topology.centres
        return np.ascontiguousarray(ctx.values[prog.field.positions].T)


def _rows(values: np.ndarray, prog) -> np.ndarray:
    """Instances along the first axis: (n,) scalars, (n, 3) vectors."""
    if prog.kind.entity is None:
        return values.reshape(3) if prog.kind.shape == VEC3 else values.reshape(())
    return np.ascontiguousarray(values.T) if prog.kind.shape == VEC3 else values
