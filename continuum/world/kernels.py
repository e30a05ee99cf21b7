"""The fixed set of functions expressions may call, with their typing rules.

Each kernel checks its arguments' kinds at compile time and returns one numpy
callable; nothing here loops over instances in Python.

- ``maths.*``: elementwise scalar maths (``sin``, ``exp``, ``clamp``, ``min``...)
- ``vec.*``: ``new(x, y, z)``, ``x/y/z(v)``, ``dot``, ``cross``, ``norm``, ``normalize``
- aggregates over an entity's instances: ``mean``, ``sum``, ``min``, ``max``
- topology neighbour operators on per-cell values: ``lap`` (graph Laplacian,
  sum of the 4 edge neighbours minus 4x self) and ``nmean`` (neighbour mean)
- seeded noise: ``rng.normal(mu, sigma)``, ``rng.uniform(lo, hi)``; counter-based,
  keyed by seed, tick, declaration and call site (see ``EvalContext.generator``)
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from continuum.errors import ExpressionError
from continuum.world.kinds import SCALAR, VEC3, Compiled, Fn, Kind


@dataclass(frozen=True)
class CallSite:
    """What a kernel may know about where it is called from."""

    name: str
    target: Kind | None  # kind of the declaration being compiled (None: no owner)
    stream: int  # declaration id, for noise
    site: int  # call-site id within the declaration, for noise
    cell_entities: frozenset[str]  # entities with one instance per topology cell


Builder = Callable[[CallSite, list[Compiled]], Compiled]


def combine_owner(call: str, kinds: list[Kind]) -> str | None:
    """The common owner of several operands, or an error if two entities mix."""
    owners = {k.entity for k in kinds if k.entity is not None}
    if len(owners) > 1:
        raise ExpressionError(
            f"{call} mixes per-instance values of different entities {sorted(owners)}; "
            "aggregate one side with mean(...)"
        )
    return owners.pop() if owners else None


def _require(call: str, args: list[Compiled], arity: int, shapes: tuple[str, ...]) -> None:
    if len(args) != arity:
        raise ExpressionError(f"{call}() takes {arity} argument(s), got {len(args)}")
    for index, (arg, shape) in enumerate(zip(args, shapes)):
        if arg.kind.shape != shape:
            raise ExpressionError(
                f"{call}() argument {index + 1} must be a {shape}, got a {arg.kind.describe()}"
            )


def _elementwise(np_fn: Callable, arity: int) -> Builder:
    def build(cs: CallSite, args: list[Compiled]) -> Compiled:
        _require(cs.name, args, arity, (SCALAR,) * arity)
        owner = combine_owner(cs.name, [a.kind for a in args])
        fns = [a.fn for a in args]
        if arity == 1:
            (f,) = fns
            return Compiled(lambda ctx: np_fn(f(ctx)), Kind(SCALAR, owner))
        if arity == 2:
            f, g = fns
            return Compiled(lambda ctx: np_fn(f(ctx), g(ctx)), Kind(SCALAR, owner))
        return Compiled(lambda ctx: np_fn(*(h(ctx) for h in fns)), Kind(SCALAR, owner))

    return build


def _clamp(x, lo, hi):
    return np.minimum(np.maximum(x, lo), hi)


def _vec_new(cs: CallSite, args: list[Compiled]) -> Compiled:
    _require(cs.name, args, 3, (SCALAR,) * 3)
    owner = combine_owner(cs.name, [a.kind for a in args])
    fx, fy, fz = (a.fn for a in args)

    def fn(ctx):
        parts = np.broadcast_arrays(fx(ctx), fy(ctx), fz(ctx))
        return np.stack(parts).reshape(3, -1)

    return Compiled(fn, Kind(VEC3, owner))


def _vec_component(axis: int) -> Builder:
    def build(cs: CallSite, args: list[Compiled]) -> Compiled:
        _require(cs.name, args, 1, (VEC3,))
        f, owner = args[0].fn, args[0].kind.entity
        if owner is None:
            return Compiled(lambda ctx: f(ctx)[axis, 0], Kind(SCALAR))
        return Compiled(lambda ctx: f(ctx)[axis], Kind(SCALAR, owner))

    return build


def _vec_reduce(np_reduce: Callable, arity: int) -> Builder:
    """dot and norm: a vec3 (or two) -> a scalar of the same owner."""

    def build(cs: CallSite, args: list[Compiled]) -> Compiled:
        _require(cs.name, args, arity, (VEC3,) * arity)
        owner = combine_owner(cs.name, [a.kind for a in args])
        fns = [a.fn for a in args]
        squeeze = owner is None

        def fn(ctx):
            out = np_reduce(*(h(ctx) for h in fns))
            return out[0] if squeeze else out

        return Compiled(fn, Kind(SCALAR, owner))

    return build


def _dot(a, b):
    return np.einsum("ij,ij->j", *np.broadcast_arrays(a, b))


def _norm(a):
    return np.sqrt(np.einsum("ij,ij->j", a, a))


def _cross(cs: CallSite, args: list[Compiled]) -> Compiled:
    _require(cs.name, args, 2, (VEC3, VEC3))
    owner = combine_owner(cs.name, [a.kind for a in args])
    f, g = args[0].fn, args[1].fn
    return Compiled(lambda ctx: np.cross(f(ctx), g(ctx), axis=0), Kind(VEC3, owner))


def _normalize(cs: CallSite, args: list[Compiled]) -> Compiled:
    _require(cs.name, args, 1, (VEC3,))
    f = args[0].fn

    def fn(ctx):
        v = f(ctx)
        length = _norm(v)
        return v / np.where(length > 0.0, length, 1.0)

    return Compiled(fn, args[0].kind)


def _aggregate(np_fn: Callable) -> Builder:
    def build(cs: CallSite, args: list[Compiled]) -> Compiled:
        if len(args) != 1:
            raise ExpressionError(f"{cs.name}() takes 1 argument, got {len(args)}")
        (arg,) = args
        if arg.kind.entity is None:
            raise ExpressionError(
                f"{cs.name}() aggregates over entity instances; its argument is a "
                f"{arg.kind.describe()}"
            )
        f = arg.fn
        if arg.kind.shape == VEC3:
            return Compiled(lambda ctx: np_fn(f(ctx), axis=-1, keepdims=True), Kind(VEC3))
        return Compiled(lambda ctx: np_fn(f(ctx)), Kind(SCALAR))

    return build


def _neighbour(op: str) -> Builder:
    def build(cs: CallSite, args: list[Compiled]) -> Compiled:
        if len(args) != 1:
            raise ExpressionError(f"{cs.name}() takes 1 argument, got {len(args)}")
        (arg,) = args
        entity = arg.kind.entity
        if entity not in cs.cell_entities:
            raise ExpressionError(
                f'{cs.name}() needs a per-cell value (an entity with count = "cells"), '
                f"got a {arg.kind.describe()}"
            )
        f = arg.fn

        def fn(ctx):
            x = f(ctx)
            nb = ctx.neighbours[entity]
            total = x[..., nb[0]] + x[..., nb[1]] + x[..., nb[2]] + x[..., nb[3]]
            return total - 4.0 * x if op == "lap" else total * 0.25

        return Compiled(fn, arg.kind)

    return build


def _noise(method: str) -> Builder:
    def build(cs: CallSite, args: list[Compiled]) -> Compiled:
        _require(cs.name, args, 2, (SCALAR, SCALAR))
        owner = combine_owner(cs.name, [a.kind for a in args])
        target_owner = cs.target.entity if cs.target else None
        if owner is not None and owner != target_owner:
            raise ExpressionError(f"{cs.name}() parameters are per-{owner} outside its context")
        f, g = args[0].fn, args[1].fn
        stream, site = cs.stream, cs.site

        def fn(ctx):
            size = ctx.counts[target_owner] if target_owner else None
            draw = getattr(ctx.generator(stream, site), method)
            return draw(f(ctx), g(ctx), size=size)

        return Compiled(fn, Kind(SCALAR, target_owner))

    return build


KERNELS: dict[str, Builder] = {
    **{
        f"maths.{name}": _elementwise(fn, 1)
        for name, fn in {
            "sin": np.sin,
            "cos": np.cos,
            "tan": np.tan,
            "asin": np.arcsin,
            "acos": np.arccos,
            "atan": np.arctan,
            "sinh": np.sinh,
            "cosh": np.cosh,
            "tanh": np.tanh,
            "exp": np.exp,
            "log": np.log,
            "sqrt": np.sqrt,
            "abs": np.abs,
            "floor": np.floor,
            "ceil": np.ceil,
            "sign": np.sign,
        }.items()
    },
    "maths.atan2": _elementwise(np.arctan2, 2),
    "maths.min": _elementwise(np.minimum, 2),
    "maths.max": _elementwise(np.maximum, 2),
    "maths.pow": _elementwise(np.power, 2),
    "maths.clamp": _elementwise(_clamp, 3),
    "vec.new": _vec_new,
    "vec.x": _vec_component(0),
    "vec.y": _vec_component(1),
    "vec.z": _vec_component(2),
    "vec.dot": _vec_reduce(_dot, 2),
    "vec.norm": _vec_reduce(_norm, 1),
    "vec.cross": _cross,
    "vec.normalize": _normalize,
    "mean": _aggregate(np.mean),
    "sum": _aggregate(np.sum),
    "min": _aggregate(np.min),
    "max": _aggregate(np.max),
    "lap": _neighbour("lap"),
    "nmean": _neighbour("nmean"),
    "rng.normal": _noise("normal"),
    "rng.uniform": _noise("uniform"),
}

CONSTANTS: dict[str, float] = {"maths.pi": float(np.pi), "maths.tau": float(2 * np.pi)}

__all__ = ["CONSTANTS", "KERNELS", "CallSite", "Fn", "combine_owner"]
