"""Expression tree -> (numpy callable, static kind), type-checked once at load.

The compiled form is a tree of closures: per tick it costs a few Python calls
per node, never per instance, because every value is a whole numpy array.
``if`` compiles to ``np.where`` (both branches are evaluated, elementwise).

Arithmetic is numpy's, on arrays and on numpy scalars alike (constants compile to
``np.float64``, the runtime passes config and builtins as ``np.float64``): ``1/0`` is
inf, ``0**-1`` inf, ``(0-8)**0.5`` NaN, ``10**10**10`` inf, never a Python exception,
a complex number or a huge integer. Whether a non-finite *result* is allowed is the
runtime's check, per declaration (a masked ``if`` branch may well be inf).
"""

from __future__ import annotations

import difflib
import operator
from collections.abc import Mapping
from dataclasses import dataclass, field

import numpy as np

from continuum.errors import ExpressionError
from continuum.world.expr import Expr, Tree
from continuum.world.kernels import CONSTANTS, KERNELS, CallSite, combine_owner
from continuum.world.kinds import SCALAR, VEC3, Compiled, Kind

BUILTIN_SCALARS = ("dt", "tick", "sim_time")
# names available inside the context of an entity (bare, e.g. `lat`)
CELL_BUILTINS: dict[str, str] = {"lat": SCALAR, "lon": SCALAR, "pos": VEC3, "index": SCALAR}
ENTITY_BUILTINS: dict[str, str] = {"index": SCALAR}

_ARITH = {
    "+": operator.add,
    "-": operator.sub,
    "*": operator.mul,
    "/": operator.truediv,
    "**": operator.pow,
    "%": operator.mod,
}
_CMP = {
    "<": np.less,
    "<=": np.less_equal,
    ">": np.greater,
    ">=": np.greater_equal,
    "==": np.equal,
    "!=": np.not_equal,
}


@dataclass(frozen=True)
class Scope:
    """Names an expression may read, with their kinds.

    ``target`` is the declaration being compiled (its name and kind): ``prev``
    reads it, entity builtins and noise shapes follow its owner. ``stateful``
    is False for initial values, which may not read signals or members.
    """

    names: Mapping[str, Kind]
    cell_entities: frozenset[str]
    config: frozenset[str] = frozenset()
    target_name: str | None = None
    target: Kind | None = None
    stateful: bool = True
    stream: int = 0
    _sites: list[int] = field(default_factory=lambda: [0])

    def next_site(self) -> int:
        self._sites[0] += 1
        return self._sites[0]


def compile_expr(expr: Expr, scope: Scope) -> Compiled:
    """Compile ``expr`` in ``scope``; raises ExpressionError naming what is wrong."""
    return _compile(expr.tree, scope)


def _compile(tree: Tree, scope: Scope) -> Compiled:
    compiled = _compile_node(tree, scope)
    if tree[0] in ("num", "name") or not _is_static(tree, scope):
        return compiled
    return _cached(compiled)


def _is_static(tree: Tree, scope: Scope) -> bool:
    """True if ``tree`` reads only constants, config and entity builtins (no state, no noise).

    Such a sub-expression (``40.0 * maths.cos(lat)``) has the same value on every tick
    of a simulation, so it is computed once and reused (see ``_cached``).
    """
    tag = tree[0]
    if tag == "num":
        return True
    if tag == "name":
        return _is_static_name(tree[1], scope)
    if tag == "call":
        return not tree[1].startswith("rng.") and all(_is_static(a, scope) for a in tree[2])
    if tag == "bool":
        return all(_is_static(a, scope) for a in tree[2])
    return all(_is_static(c, scope) for c in tree[1:] if isinstance(c, tuple))


def _is_static_name(name: str, scope: Scope) -> bool:
    if name in CONSTANTS or name in scope.config:
        return True
    owner = scope.target.entity if scope.target else None
    if owner is None:
        return False
    return name in (CELL_BUILTINS if owner in scope.cell_entities else ENTITY_BUILTINS)


def _cached(compiled: Compiled) -> Compiled:
    """Evaluate once per simulation: ``ctx.cache`` is shared by all its contexts."""
    f, key = compiled.fn, object()

    def fn(ctx):
        try:
            return ctx.cache[key]
        except KeyError:
            value = ctx.cache[key] = f(ctx)
            return value

    return Compiled(fn, compiled.kind)


def _compile_node(tree: Tree, scope: Scope) -> Compiled:
    tag = tree[0]
    if tag == "num":
        value = np.float64(tree[1])  # numpy scalars: IEEE results (inf, nan), never exceptions
        return Compiled(lambda ctx: value, Kind(SCALAR))
    if tag == "name":
        return _name(tree[1], scope)
    if tag == "bin":
        return _binary(tree[1], _compile(tree[2], scope), _compile(tree[3], scope))
    if tag == "un":
        return _unary(tree[1], _compile(tree[2], scope))
    if tag == "cmp":
        return _comparison(tree[1], _compile(tree[2], scope), _compile(tree[3], scope))
    if tag == "bool":
        return _boolean(tree[1], [_compile(t, scope) for t in tree[2]])
    if tag == "if":
        return _ifexp(*(_compile(t, scope) for t in tree[1:]))
    if tag == "call":
        return _call(tree[1], [_compile(t, scope) for t in tree[2]], scope)
    raise ExpressionError(f"internal: unknown node {tag!r}")  # pragma: no cover


def _lookup(key: str, kind: Kind) -> Compiled:
    return Compiled(lambda ctx: ctx.values[key], kind)


def _name(name: str, scope: Scope) -> Compiled:
    if name in CONSTANTS:
        value = np.float64(CONSTANTS[name])
        return Compiled(lambda ctx: value, Kind(SCALAR))
    if name in BUILTIN_SCALARS:
        return _lookup(name, Kind(SCALAR))
    owner = scope.target.entity if scope.target else None
    if name == "prev":
        if not scope.stateful or scope.target_name is None or scope.target is None:
            raise ExpressionError("'prev' is only available in resolve expressions")
        return _lookup(scope.target_name, scope.target)
    if owner is not None:
        builtins = CELL_BUILTINS if owner in scope.cell_entities else ENTITY_BUILTINS
        if name in builtins:
            return _lookup(f"{owner}/{name}", Kind(builtins[name], owner))
    kind = scope.names.get(name)
    if kind is None:
        raise ExpressionError(_unknown_name(name, scope, owner))
    if not scope.stateful and name not in scope.config:
        raise ExpressionError(
            f"initial values may read config constants and builtins only, not {name!r}"
        )
    return _lookup(name, kind)


def _unknown_name(name: str, scope: Scope, owner: str | None) -> str:
    known = [*scope.names, *BUILTIN_SCALARS, *CONSTANTS]
    if owner is not None:
        known += list(CELL_BUILTINS if owner in scope.cell_entities else ENTITY_BUILTINS)
    hint = difflib.get_close_matches(name, known, n=1)
    return f"unknown name {name!r}" + (f" (did you mean {hint[0]!r}?)" if hint else "")


def _binary(op: str, left: Compiled, right: Compiled) -> Compiled:
    owner = combine_owner(f"'{op}'", [left.kind, right.kind])
    shapes = (left.kind.shape, right.kind.shape)
    if shapes == (SCALAR, SCALAR):
        shape = SCALAR
    elif (
        op in "+-"
        and shapes == (VEC3, VEC3)
        or (op == "*" and SCALAR in shapes)
        or (op == "/" and shapes == (VEC3, SCALAR))
    ):
        shape = VEC3
    else:
        raise ExpressionError(
            f"type mismatch: {left.kind.describe()} {op} {right.kind.describe()} "
            "(use vec.dot/vec.cross for vector products)"
        )
    fn, f, g = _ARITH[op], left.fn, right.fn
    return Compiled(lambda ctx: fn(f(ctx), g(ctx)), Kind(shape, owner))


def _scalar_only(what: str, args: list[Compiled]) -> None:
    for arg in args:
        if arg.kind.shape != SCALAR:
            raise ExpressionError(
                f"type mismatch: {what} needs scalars, got a {arg.kind.describe()}"
            )


def _unary(op: str, arg: Compiled) -> Compiled:
    f = arg.fn
    if op == "neg":
        return Compiled(lambda ctx: -f(ctx), arg.kind)
    if op == "pos":
        return arg
    _scalar_only("'not'", [arg])
    return Compiled(lambda ctx: np.logical_not(f(ctx)), arg.kind)


def _comparison(op: str, left: Compiled, right: Compiled) -> Compiled:
    _scalar_only(f"'{op}'", [left, right])
    owner = combine_owner(f"'{op}'", [left.kind, right.kind])
    fn, f, g = _CMP[op], left.fn, right.fn
    return Compiled(lambda ctx: fn(f(ctx), g(ctx)), Kind(SCALAR, owner))


def _boolean(op: str, args: list[Compiled]) -> Compiled:
    _scalar_only(f"'{op}'", args)
    owner = combine_owner(f"'{op}'", [a.kind for a in args])
    fold = np.logical_and if op == "and" else np.logical_or
    fns = [a.fn for a in args]

    def fn(ctx):
        result = fns[0](ctx)
        for h in fns[1:]:
            result = fold(result, h(ctx))
        return result

    return Compiled(fn, Kind(SCALAR, owner))


def _ifexp(test: Compiled, body: Compiled, orelse: Compiled) -> Compiled:
    _scalar_only("an 'if' condition", [test])
    if body.kind.shape != orelse.kind.shape:
        raise ExpressionError(
            f"type mismatch: 'if' branches are a {body.kind.describe()} and a "
            f"{orelse.kind.describe()}"
        )
    owner = combine_owner("'if'", [test.kind, body.kind, orelse.kind])
    t, a, b = test.fn, body.fn, orelse.fn
    return Compiled(lambda ctx: np.where(t(ctx), a(ctx), b(ctx)), Kind(body.kind.shape, owner))


def _call(name: str, args: list[Compiled], scope: Scope) -> Compiled:
    builder = KERNELS.get(name)
    if builder is None:
        hint = difflib.get_close_matches(name, list(KERNELS), n=1)
        suffix = f" (did you mean {hint[0]}?)" if hint else ""
        raise ExpressionError(f"unknown function {name}(){suffix}")
    site = CallSite(name, scope.target, scope.stream, scope.next_site(), scope.cell_entities)
    return builder(site, args)
