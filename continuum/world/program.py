"""World IR + scenario -> type-checked, compiled program the runtime executes.

This is where names are bound and kinds are checked; the loader calls it once
so that a mistyped world fails at load with the file and declaration named,
and the runtime calls it again with the scenario it runs under.
"""

from __future__ import annotations

from dataclasses import dataclass

from continuum.errors import ExpressionError
from continuum.world.compile import BUILTIN_SCALARS, Scope, compile_expr
from continuum.world.expr import Expr
from continuum.world.ir import CELLS, Field, Signal, WorldIR
from continuum.world.kernels import CONSTANTS
from continuum.world.kinds import SCALAR, VEC3, Compiled, Kind
from continuum.world.limits import (
    EXPR_WIDTH,
    MEMORY_LIMIT_ENV,
    estimate_bytes,
    format_bytes,
    memory_limit,
    shown,
    world_error,
)
from continuum.world.parse import Sources, Where, quoted, where
from continuum.world.scenario import DEFAULT_SCENARIO, Scenario

CELLS_PER_FACE_SQUARED = 6  # a cubed sphere of resolution r has 6 r**2 cells
_FIELD_STREAM = 1 << 20
_TRANSITION_STREAM = 1 << 21


@dataclass(frozen=True)
class Declaration:
    """A signal or member with its compiled initial and resolve expressions.

    ``where`` locates the declaration, ``initial_where`` and ``initial_key`` its initial
    value (``[initial] NAME`` in a scenario that overrides it), for run-time errors.
    """

    signal: Signal
    kind: Kind
    initial: Compiled
    resolve: Compiled
    where: Where
    initial_where: Where
    initial_key: str
    initial_expr: Expr


@dataclass(frozen=True)
class FieldProgram:
    field: Field
    kind: Kind
    source: Compiled
    where: Where


@dataclass(frozen=True)
class Program:
    ir: WorldIR
    scenario: Scenario
    config: dict[str, float]
    resolution: int
    declarations: tuple[Declaration, ...]  # global signals first, then members; sorted
    transitions: dict[str, Compiled]  # era name -> condition
    fields: dict[str, FieldProgram]
    cell_entities: frozenset[str]


def compile_world(ir: WorldIR, scenario: Scenario = DEFAULT_SCENARIO) -> Program:
    """Bind names, check kinds and compile every expression of ``ir``."""
    sources = dict(ir.sources)
    names = _names(ir, sources)
    cells = frozenset(e.name for e in ir.entities if e.count == CELLS)
    config = frozenset(ir.config_dict)
    overrides = dict(scenario.initial)
    decls = []
    for index, signal in enumerate((*ir.signals, *ir.members)):
        w = where(sources, _path(signal), _label(signal))
        kind = Kind(signal.type, signal.entity)
        init_expr = overrides.get(signal.name, signal.initial)
        init_w, init_key = w, "initial"
        if signal.name in overrides:
            init_w, init_key = Where(str(scenario.path), "[initial]"), quoted(signal.name)
        init = _compile_for(
            init_w,
            init_key,
            init_expr,
            kind,
            Scope(names, cells, config, signal.name, kind, stateful=False, stream=2 * index),
        )
        resolve = _compile_for(
            w,
            "resolve",
            signal.resolve,
            kind,
            Scope(names, cells, config, signal.name, kind, stream=2 * index + 1),
        )
        decls.append(Declaration(signal, kind, init, resolve, w, init_w, init_key, init_expr))
    resolution = scenario.resolution or ir.topology.resolution
    _check_memory(ir, scenario, resolution, sources)
    return Program(
        ir=ir,
        scenario=scenario,
        config={**ir.config_dict, **dict(scenario.config)},
        resolution=resolution,
        declarations=tuple(decls),
        transitions=_transitions(ir, names, cells, sources),
        fields=_fields(ir, names, cells, sources),
        cell_entities=cells,
    )


def _check_memory(ir: WorldIR, scenario: Scenario, resolution: int, sources: Sources) -> None:
    """Refuse, before anything is allocated, a world whose state cannot fit in memory.

    The key blamed is the largest term: the resolution (the topology and every per-cell
    entity), or the count of one other entity.
    """
    cells = CELLS_PER_FACE_SQUARED * resolution * resolution
    values = {
        e.name: (
            cells if e.count == CELLS else int(e.count),
            sum(3 if m.type == VEC3 else 1 for m in e.members),
        )
        for e in ir.entities
    }
    needed, limit = estimate_bytes(cells, values), memory_limit()
    if needed <= limit:
        return
    counted = {
        e.name: estimate_bytes(0, {e.name: values[e.name]}) for e in ir.entities if e.count != CELLS
    }
    worst = max(counted, key=counted.__getitem__, default=None)
    if worst is not None and counted[worst] > needed - counted[worst]:
        w = where(sources, ("entities", worst), f"[entities.{worst}]")
        key, what = "count", f"{values[worst][0]:,}"
    else:
        if scenario.resolution is not None and scenario.path is not None:
            w = Where(str(scenario.path), "[topology]")
        else:
            w = where(sources, ("topology",), "[topology]")
        key, what = "resolution", f"{resolution} ({cells:,} cells)"
    raise w.error(
        key,
        f"{what} needs about {format_bytes(needed)}, more than the "
        f"{format_bytes(limit)} one simulation may use (half of physical memory, or "
        f"${MEMORY_LIMIT_ENV}); make it smaller",
    )


def _path(signal: Signal) -> tuple[str, ...]:
    if signal.entity is None:
        return ("signals", signal.name)
    return ("entities", signal.entity, "members", signal.name.split(".", 1)[1])


def _label(signal: Signal) -> str:
    if signal.entity is None:
        return f'[signals."{signal.name}"]'
    return f"[entities.{signal.entity}.members.{signal.name.split('.', 1)[1]}]"


def _names(ir: WorldIR, sources: Sources) -> dict[str, Kind]:
    """Every readable name with its kind; collisions are load errors."""
    names: dict[str, Kind] = {}
    reserved = {*BUILTIN_SCALARS, *CONSTANTS, "prev"}
    declared: list[tuple[str, Kind, tuple[str, ...], str]] = [
        (n, Kind(SCALAR), ("config",), "[config]") for n, _ in ir.config
    ]
    declared += [
        (s.name, Kind(s.type, s.entity), _path(s), _label(s)) for s in (*ir.signals, *ir.members)
    ]
    for name, kind, path, label in declared:
        w = where(sources, path, label)
        if name in reserved:
            raise w.error(None, f"{name!r} is a reserved builtin name; choose another")
        if name in names:
            raise w.error(None, f"name {name!r} is declared twice (config, signal or member)")
        names[name] = kind
    return names


def _compile_for(w, key: str, expr: Expr, want: Kind, scope: Scope) -> Compiled:
    try:
        compiled = compile_expr(expr, scope)
    except ExpressionError as exc:
        raise w.error(key, f"{exc} in {shown(expr.source, EXPR_WIDTH)}") from None
    got = compiled.kind
    if got.shape != want.shape or got.entity not in (None, want.entity):
        raise w.error(
            key,
            f"type mismatch: declared {want.describe()}, expression "
            f"{shown(expr.source, EXPR_WIDTH)} gives a {got.describe()}"
            + ("; aggregate it with mean(...)" if got.entity else ""),
        )
    return compiled


def _transitions(ir: WorldIR, names, cells, sources: Sources) -> dict[str, Compiled]:
    out = {}
    for index, era in enumerate(ir.eras):
        if era.transition is None:
            continue
        w = where(sources, ("eras", era.name), f"[eras.{era.name}]")
        scope = Scope(names, cells, frozenset(), stream=_TRANSITION_STREAM + index)
        out[era.name] = _compile_for(w, "transition.when", era.transition.when, Kind(SCALAR), scope)
    return out


def _fields(ir: WorldIR, names, cells, sources: Sources) -> dict[str, FieldProgram]:
    out = {}
    counts = {e.name: e.count for e in ir.entities}
    for index, fld in enumerate(ir.fields):
        w = where(sources, ("fields", fld.name), f'[fields."{fld.name}"]')
        scope = Scope(names, cells, frozenset(), stream=_FIELD_STREAM + index)
        try:
            compiled = compile_expr(fld.source, scope)
        except ExpressionError as exc:
            raise w.error("source", f"{exc} in {shown(fld.source.source, EXPR_WIDTH)}") from None
        _check_positions(w, fld, compiled.kind, counts, names)
        out[fld.name] = FieldProgram(fld, compiled.kind, compiled, w)
    return out


def _check_positions(w, fld: Field, kind: Kind, counts: dict, names: dict[str, Kind]) -> None:
    entity = kind.entity
    if entity is None:
        if fld.positions is not None:
            raise w.error("positions", "a global field has no positions; remove the key")
        return
    if fld.positions in (None, CELLS):
        if counts[entity] != CELLS:
            raise w.error(
                "positions",
                f"entity {entity!r} is not per-cell; name a vec3 member "
                f"of {entity!r} that holds positions",
            )
        return
    if names.get(fld.positions) != Kind(VEC3, entity):
        raise world_error(
            f'{w.file}: {w.label} positions: expected "cells" or a vec3 member '
            f"of {entity!r}, got {fld.positions!r}"
        )
