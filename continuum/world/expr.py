"""The safe expression language: source text -> canonical tree.

Expressions are parsed with :mod:`ast` in ``eval`` mode and only a whitelist of
nodes is accepted: numbers, dotted names, arithmetic, comparisons,
``and``/``or``/``not``, ``x if c else y`` and calls of dotted function names.
Everything else (attribute access on a value, subscripts, lambdas,
comprehensions, f-strings, keyword arguments, any name part starting with
``_``) is refused at load, so nothing a world file says is ever executed as
Python.

The result is a tree of plain tuples, e.g. ``("bin", "+", ("name", "prev"),
("num", 1.0))``: hashable, comparable, independent of whitespace and of the
Python version's ``ast`` details, and the input of both the IR hash and the
compiler.

Size is bounded before anything recurses: the source text by ``MAX_EXPR_CHARS``
(checked before :mod:`ast` parses it), the tree by ``MAX_EXPR_DEPTH`` (measured
iteratively before it is converted), numbers by what a float64 holds; so hostile
text is one ``ExpressionError``, never a ``RecursionError`` or an ``OverflowError``.
"""

from __future__ import annotations

import ast
import math
import warnings
from dataclasses import dataclass

from continuum.errors import ExpressionError
from continuum.world.limits import EXPR_WIDTH, MAX_EXPR_CHARS, MAX_EXPR_DEPTH, shown

Tree = tuple

_BINOPS: dict[type, str] = {
    ast.Add: "+",
    ast.Sub: "-",
    ast.Mult: "*",
    ast.Div: "/",
    ast.Pow: "**",
    ast.Mod: "%",
}
_UNOPS: dict[type, str] = {ast.USub: "neg", ast.UAdd: "pos", ast.Not: "not"}
_CMPOPS: dict[type, str] = {
    ast.Lt: "<",
    ast.LtE: "<=",
    ast.Gt: ">",
    ast.GtE: ">=",
    ast.Eq: "==",
    ast.NotEq: "!=",
}
_FORBIDDEN_NAMES: dict[type, str] = {
    ast.Lambda: "lambda",
    ast.ListComp: "comprehension",
    ast.SetComp: "comprehension",
    ast.DictComp: "comprehension",
    ast.GeneratorExp: "comprehension",
    ast.Subscript: "subscript",
    ast.JoinedStr: "f-string",
    ast.Starred: "starred argument",
    ast.NamedExpr: "assignment expression",
    ast.Await: "await",
    ast.Yield: "yield",
}


@dataclass(frozen=True)
class Expr:
    """One parsed expression: its source text (for messages) and canonical tree."""

    source: str
    tree: Tree

    def names(self) -> set[str]:
        """Every dotted name the expression reads (function names excluded)."""
        found: set[str] = set()
        _collect_names(self.tree, found)
        return found


def parse_expr(source: str | int | float) -> Expr:
    """Parse ``source`` into an :class:`Expr`; numbers are accepted as constants.

    Raises ExpressionError (without file context: the loader adds it).
    """
    if isinstance(source, bool) or not isinstance(source, (str, int, float)):
        raise ExpressionError(f"expected an expression string or a number, got {shown(source)}")
    if isinstance(source, float) and not math.isfinite(source):
        raise ExpressionError(f"expected a finite number, got {source!r}")
    text = source if isinstance(source, str) else repr(source)
    if len(text) > MAX_EXPR_CHARS:
        raise ExpressionError(
            f"expression of {len(text)} characters is too long (at most {MAX_EXPR_CHARS}); "
            "split it into several signals"
        )
    node = _parse(text)
    _check_depth(node)
    return Expr(source=text, tree=_convert(node))


def _parse(text: str) -> ast.expr:
    try:
        with warnings.catch_warnings():  # "invalid decimal literal" in '1if x else 2'...
            warnings.simplefilter("ignore")  # would be a second line on stderr
            return ast.parse(text.strip(), mode="eval").body
    except SyntaxError as exc:
        raise ExpressionError(
            f"syntax error in {shown(text, EXPR_WIDTH)}: {exc.msg} (column {exc.offset})"
        ) from None
    except ValueError:  # a NUL character (Python 3.11 says ValueError, later SyntaxError)
        raise ExpressionError(
            f"syntax error in {shown(text, EXPR_WIDTH)}: a NUL character"
        ) from None
    except (RecursionError, MemoryError):  # the parser's own nesting limits
        raise ExpressionError(_too_deep()) from None


def _too_deep() -> str:
    return (
        f"expression nests deeper than {MAX_EXPR_DEPTH} levels (each operator of a chain "
        "like a + b + c, each sign, 'if' and call is one); split it into several signals"
    )


def _check_depth(root: ast.AST) -> None:
    """Refuse a tree deeper than ``MAX_EXPR_DEPTH`` before anything recurses over it."""
    stack = [(root, 1)]
    while stack:
        node, depth = stack.pop()
        if depth > MAX_EXPR_DEPTH:
            raise ExpressionError(_too_deep())
        for child in ast.iter_child_nodes(node):
            stack.append((child, depth + 1 if isinstance(child, ast.expr) else depth))


def _convert(node: ast.AST) -> Tree:
    if isinstance(node, ast.Constant):
        return _constant(node.value)
    if isinstance(node, (ast.Name, ast.Attribute)):
        return ("name", _dotted(node))
    if isinstance(node, ast.BinOp) and type(node.op) in _BINOPS:
        return ("bin", _BINOPS[type(node.op)], _convert(node.left), _convert(node.right))
    if isinstance(node, ast.UnaryOp) and type(node.op) in _UNOPS:
        return ("un", _UNOPS[type(node.op)], _convert(node.operand))
    if isinstance(node, ast.BoolOp):
        op = "and" if isinstance(node.op, ast.And) else "or"
        return ("bool", op, tuple(_convert(v) for v in node.values))
    if isinstance(node, ast.Compare):
        return _compare(node)
    if isinstance(node, ast.IfExp):
        return ("if", _convert(node.test), _convert(node.body), _convert(node.orelse))
    if isinstance(node, ast.Call):
        return _call(node)
    what = _FORBIDDEN_NAMES.get(type(node), type(node).__name__)
    raise ExpressionError(f"forbidden construct: {what} is not part of the expression language")


def _constant(value: object) -> Tree:
    if isinstance(value, bool):
        return ("num", 1.0 if value else 0.0)
    if isinstance(value, int):
        try:
            return ("num", float(value))
        except OverflowError:
            digits = len(str(value))  # ast.parse admits at most 4300 digits
            raise ExpressionError(
                f"number literal of {digits} digits is out of range (a float64 holds "
                "at most about 1.8e308)"
            ) from None
    if isinstance(value, float):
        if not math.isfinite(value):
            raise ExpressionError(
                "number literal is out of range (a float64 holds at most about 1.8e308)"
            )
        return ("num", value)
    raise ExpressionError(f"forbidden constant {shown(value)}: only numbers are allowed")


def _dotted(node: ast.AST) -> str:
    parts: list[str] = []
    while isinstance(node, ast.Attribute):
        parts.append(node.attr)
        node = node.value
    if not isinstance(node, ast.Name):
        raise ExpressionError(
            "forbidden construct: attribute access is only allowed in dotted names like core.temp"
        )
    parts.append(node.id)
    name = ".".join(reversed(parts))
    if any(part.startswith("_") for part in parts):
        raise ExpressionError(
            f"forbidden name {shown(name)}: names starting with '_' are not allowed"
        )
    return name


def _compare(node: ast.Compare) -> Tree:
    terms = [_convert(node.left), *(_convert(c) for c in node.comparators)]
    pairs = []
    for op, left, right in zip(node.ops, terms, terms[1:]):
        if type(op) not in _CMPOPS:
            raise ExpressionError(f"forbidden comparison {type(op).__name__}")
        pairs.append(("cmp", _CMPOPS[type(op)], left, right))
    return pairs[0] if len(pairs) == 1 else ("bool", "and", tuple(pairs))


def _call(node: ast.Call) -> Tree:
    if node.keywords:
        raise ExpressionError("forbidden construct: keyword arguments are not supported")
    if not isinstance(node.func, (ast.Name, ast.Attribute)):
        _convert(node.func)  # names the construct (lambda, subscript...) if it is one
        raise ExpressionError("forbidden construct: only named functions can be called")
    return ("call", _dotted(node.func), tuple(_convert(a) for a in node.args))


def _collect_names(tree: Tree, out: set[str]) -> None:
    tag = tree[0]
    if tag == "name":
        out.add(tree[1])
    elif tag == "call" or tag == "bool":
        for arg in tree[2]:
            _collect_names(arg, out)
    elif tag != "num":
        for child in tree[1:]:
            if isinstance(child, tuple):
                _collect_names(child, out)
