"""The one-line errors of a run stopped by its world's numbers.

Only the slow path lives here: it runs once, when a resolve, an initial value or a
field gave NaN or infinity, or raised on its numbers (noise parameters out of range).
It names the file and declaration, the tick and the expression, and says why: the
first floating-point error found by evaluating again with numpy raising on it, or the
non-finite values the expression reads.
"""

from __future__ import annotations

import numpy as np

from continuum.errors import ResolveError
from continuum.world import Declaration, EvalContext, Expr, FieldProgram
from continuum.world.ir import ALLOW_NONFINITE, WorldIR
from continuum.world.kinds import Compiled
from continuum.world.limits import EXPR_WIDTH, shown
from continuum.world.parse import Where, where


def failed(decl: Declaration, compiled: Compiled, ctx: EvalContext, exc: Exception) -> ResolveError:
    """``compiled`` (``decl``'s initial or resolve) raised ``exc`` on its numbers."""
    where, key, expr = _origin(decl, compiled)
    return _failed(where, key, expr, ctx.tick, exc)


def nonfinite(
    decl: Declaration, compiled: Compiled, ctx: EvalContext, array: np.ndarray
) -> ResolveError:
    """``compiled`` gave ``array``, which holds NaN or infinity."""
    where, key, expr = _origin(decl, compiled)
    cause = _first_fp_error(compiled, ctx) or _nonfinite_inputs(expr, decl.signal.name, ctx)
    return _nonfinite(where, key, expr, ctx.tick, array, cause, decl.where.label)


def field_failed(prog: FieldProgram, ctx: EvalContext, exc: Exception) -> ResolveError:
    return _failed(prog.where, "source", prog.field.source, ctx.tick, exc)


def nonfinite_field(prog: FieldProgram, ctx: EvalContext, values: np.ndarray) -> ResolveError:
    expr = prog.field.source
    cause = _first_fp_error(prog.source, ctx) or _nonfinite_inputs(expr, None, ctx)
    return _nonfinite(prog.where, "source", expr, ctx.tick, values, cause, prog.where.label)


def transition_failed(ir: WorldIR, era: str, ctx: EvalContext, exc: Exception) -> ResolveError:
    """The transition condition of ``era`` raised ``exc`` on its numbers."""
    w = where(dict(ir.sources), ("eras", era), f"[eras.{era}]")
    when = ir.era(era).transition
    assert when is not None  # only eras with a transition have a condition
    return _failed(w, "transition.when", when.when, ctx.tick, exc)


def _origin(decl: Declaration, compiled: Compiled) -> tuple[Where, str, Expr]:
    if compiled is decl.initial:
        return decl.initial_where, decl.initial_key, decl.initial_expr
    return decl.where, "resolve", decl.signal.resolve


def _failed(where: Where, key: str, expr: Expr, tick: int, exc: Exception) -> ResolveError:
    return ResolveError(
        where.message(
            key,
            f"fails at tick {tick} in {shown(expr.source, EXPR_WIDTH)}: {exc}; "
            "fix the expression or the values it reads",
        )
    )


def _nonfinite(
    where: Where,
    key: str,
    expr: Expr,
    tick: int,
    array: np.ndarray,
    cause: str | None,
    table: str,
) -> ResolveError:
    kinds = [k for k, test in (("NaN", np.isnan), ("inf", np.isinf)) if test(array).any()]
    what = f"gives {' and '.join(kinds)}"
    if array.size > 1:
        what += f" in {int((~np.isfinite(array)).sum())} of {array.size} values"
    why = f" ({cause})" if cause else ""
    return ResolveError(
        where.message(
            key,
            f"{what} at tick {tick} in {shown(expr.source, EXPR_WIDTH)}{why}; fix the "
            f"expression, or set {ALLOW_NONFINITE} = true in {table} to keep NaN and infinity",
        )
    )


def _first_fp_error(compiled: Compiled, ctx: EvalContext) -> str | None:
    """Evaluate again, raising on the first division by zero, overflow or invalid operation.

    A fresh cache recomputes static sub-expressions too; noise is counter-based, so the
    values are the same as the first time.
    """
    probe = EvalContext(ctx.values, ctx.counts, ctx.neighbours, ctx.seed, ctx.tick, {})
    try:
        with np.errstate(divide="raise", over="raise", invalid="raise", under="ignore"):
            compiled.fn(probe)
    except (ArithmeticError, ValueError) as exc:  # FloatingPointError is an ArithmeticError
        return str(exc)
    return None


def _nonfinite_inputs(expr: Expr, target: str | None, ctx: EvalContext) -> str | None:
    """Which of the values ``expr`` reads are already NaN or infinite."""
    found = []
    for name in sorted(expr.names()):
        value = ctx.values.get(target if name == "prev" and target else name)
        if value is not None and not np.isfinite(value).all():
            found.append(name)
    return f"it reads non-finite {', '.join(found)}" if found else None
