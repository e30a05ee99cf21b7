"""Worlds: a directory of TOML -> typed IR -> compiled program -> IR hash.

Owns the expression language (parse, type-check, compile to numpy callables),
the IR dataclasses, scenarios and the canonical hashing of both. It must not
touch simulation state, files other than the world's own TOML, or any other
continuum package except ``continuum.errors`` and ``continuum.layout``.

Every size a world can ask for is bounded up front in :mod:`continuum.world.limits`
(files, lines, nesting, integers, expressions, memory) and checked at load; see the
loader's docstring for the list.
"""

from continuum.world.expr import Expr, parse_expr
from continuum.world.hashing import canonical_bytes, digest
from continuum.world.ir import Entity, Era, Field, Signal, Stratum, Topology, Transition, WorldIR
from continuum.world.kinds import SCALAR, VEC3, EvalContext, Kind
from continuum.world.loader import load_world, resolve_world_path
from continuum.world.program import Declaration, FieldProgram, Program, compile_world
from continuum.world.scenario import (
    DEFAULT_SCENARIO,
    Scenario,
    available_scenarios,
    load_named_scenario,
    load_scenario,
)


def ir_hash(ir: WorldIR) -> str:
    """The world's IR hash: 64 hex chars, independent of TOML formatting."""
    return digest(ir)


__all__ = [
    "DEFAULT_SCENARIO",
    "SCALAR",
    "VEC3",
    "Declaration",
    "Entity",
    "Era",
    "EvalContext",
    "Expr",
    "Field",
    "FieldProgram",
    "Kind",
    "Program",
    "Scenario",
    "Signal",
    "Stratum",
    "Topology",
    "Transition",
    "WorldIR",
    "available_scenarios",
    "canonical_bytes",
    "compile_world",
    "digest",
    "ir_hash",
    "load_named_scenario",
    "load_scenario",
    "load_world",
    "parse_expr",
    "resolve_world_path",
]
