"""Which catalog tables a statement names, and which of their rows it can need.

A session reads the catalog's tables only for the statements that name them
(:mod:`continuum.sql.catalog_tables`), and only the rows a simple filter keeps:

- **named**: a table's name appears in the statement's text as a word, in any case,
  quoted or not, in a string (``query_table('runs')``) or even a comment. An
  over-approximation on purpose: a table read needlessly costs time, a table missed
  would read as an error (its view finds no rows table, see ``catalog_tables``);
- **filtered**: from DuckDB's own parse tree (``json_serialize_sql``), only where the
  rows removed are rows the statement's ``WHERE`` removes anyway, whatever else it
  does. That holds when the table is named exactly once in the text and referenced
  exactly once in the tree, as a plain table (no alias list, ``TABLESAMPLE`` or ``AT``
  clause), in the ``FROM`` of one SELECT — alone, or joined by regular joins only
  (inner, left, right, full; never ``ASOF`` or ``POSITIONAL``, where removing a row
  changes which rows pair up) — whose ``WHERE`` is a conjunction holding
  ``column = constant`` or ``column IN (constants)`` on that table's own column (named
  through the table's alias, or bare when the table is the only one in that ``FROM``):
  a null-rejecting predicate on the table's row, so a pre-filtered scan gives the same
  joined, grouped, windowed result. Only text columns compared with strings and integer
  columns compared with integers, where the catalog's database (SQLite, PostgreSQL)
  and DuckDB agree on equality exactly. Anything else — parameters, casts, ``OR``,
  ``query_table`` anywhere (it could reach a table by a computed name), more than
  :data:`MAX_VALUES` values — reads the whole table.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator, Mapping, Sequence
from typing import Any

import duckdb

#: Beyond this many values a filter reads the whole table (bind-parameter limits).
MAX_VALUES = 1000
INT64 = (-(1 << 63), (1 << 63) - 1)
REGULAR_JOINS = frozenset({"INNER", "LEFT", "RIGHT", "OUTER"})
LITERAL_KINDS = {"text": "STRING", "int": "INTEGER"}

Filter = dict[str, tuple[Any, ...]] | None


def named(text: str, names: Sequence[str]) -> dict[str, int]:
    """How many times each of ``names`` occurs in ``text`` as a word (0: not named)."""
    return {
        n: len(re.findall(rf"(?<!\w){re.escape(n)}(?!\w)", text, flags=re.IGNORECASE))
        for n in names
    }


def _dicts(tree: Any) -> Iterator[dict[str, Any]]:
    stack = [tree]
    while stack:
        node = stack.pop()
        if isinstance(node, dict):
            yield node
            stack.extend(node.values())
        elif isinstance(node, list):
            stack.extend(node)


def _tree(con: duckdb.DuckDBPyConnection, text: str) -> Any:
    try:
        doc = con.execute("SELECT json_serialize_sql(?)", [text]).fetchone()
        tree = json.loads(doc[0]) if doc else None
    except (duckdb.Error, RecursionError, ValueError):
        return None
    return None if not isinstance(tree, dict) or tree.get("error") else tree


def filters(
    con: duckdb.DuckDBPyConnection,
    text: str,
    tables: Mapping[str, Mapping[str, str]],
    counts: Mapping[str, int],
) -> dict[str, Filter]:
    """The row filter (None: every row) of each table named in ``text``.

    ``tables``: {table: {column: kind}}; ``counts``: :func:`named` of ``text``.
    """
    wanted = [n for n in tables if counts.get(n)]
    out: dict[str, Filter] = dict.fromkeys(wanted)
    tree = _tree(con, text) if wanted else None
    if tree is None:
        return out
    nodes = list(_dicts(tree))
    if any(_function(n) == "query_table" for n in nodes):
        return out
    for name in wanted:
        refs = [n for n in nodes if n.get("type") == "BASE_TABLE" and _table(n) == name]
        if counts[name] == 1 and len(refs) == 1 and _plain(refs[0]):
            out[name] = _filter(nodes, refs[0], tables[name])
    return out


def _function(node: dict[str, Any]) -> str:
    if node.get("type") != "TABLE_FUNCTION":
        return ""
    return str((node.get("function") or {}).get("function_name", "")).lower()


def _table(node: dict[str, Any]) -> str:
    return str(node.get("table_name", "")).lower()


def _plain(ref: dict[str, Any]) -> bool:
    return (
        not ref.get("sample")
        and not ref.get("at_clause")
        and not ref.get("column_name_alias")
        and str(ref.get("schema_name") or "main").lower() == "main"
        and str(ref.get("catalog_name") or "memory").lower() in ("memory", "temp")
    )


def _joined(source: Any, ref: dict[str, Any]) -> bool:
    """Whether ``ref`` is ``source`` or inside it through regular joins only."""
    if source is ref:
        return True
    if not isinstance(source, dict) or source.get("type") != "JOIN":
        return False
    if source.get("ref_type") not in ("REGULAR", "NATURAL", "CROSS"):
        return False
    if source.get("ref_type") != "CROSS" and source.get("join_type") not in REGULAR_JOINS:
        return False
    return _joined(source.get("left"), ref) or _joined(source.get("right"), ref)


def _filter(nodes: list[dict[str, Any]], ref: dict[str, Any], kinds: Mapping[str, str]) -> Filter:
    select = next(
        (n for n in nodes if n.get("type") == "SELECT_NODE" and _joined(n.get("from_table"), ref)),
        None,
    )
    if select is None or select.get("sample"):
        return None
    qualifier = str(ref.get("alias") or ref.get("table_name")).lower()
    alone = select.get("from_table") is ref
    found: dict[str, set[Any]] = {}
    for term in _conjuncts(select.get("where_clause")):
        matched = _term(term, qualifier, alone, kinds)
        if matched is not None:
            column, values = matched
            found[column] = found[column] & values if column in found else values
    kept = {c: tuple(sorted(v)) for c, v in found.items() if len(v) <= MAX_VALUES}
    return kept or None


def _conjuncts(expr: Any) -> Iterator[dict[str, Any]]:
    if not isinstance(expr, dict):
        return
    if expr.get("type") == "CONJUNCTION_AND":
        for child in expr.get("children") or ():
            yield from _conjuncts(child)
    else:
        yield expr


def _term(
    term: dict[str, Any], qualifier: str, alone: bool, kinds: Mapping[str, str]
) -> tuple[str, set[Any]] | None:
    """(column, values) of ``column = constant`` or ``column IN (constants)``, else None."""
    if term.get("type") == "COMPARE_EQUAL":
        sides = [term.get("left"), term.get("right")]
        if not isinstance(sides[0], dict) or sides[0].get("class") != "COLUMN_REF":
            sides.reverse()
        column, constants = sides[0], sides[1:]
    elif term.get("type") == "COMPARE_IN" and term.get("children"):
        column, constants = term["children"][0], term["children"][1:]
    else:
        return None
    name = _column(column, qualifier, alone)
    kind = kinds.get(name or "")
    if name is None or kind not in LITERAL_KINDS:
        return None
    values = {_value(c, kind) for c in constants}
    return None if None in values else (name, values)


def _column(node: Any, qualifier: str, alone: bool) -> str | None:
    if not isinstance(node, dict) or node.get("class") != "COLUMN_REF":
        return None
    names = [str(n).lower() for n in node.get("column_names") or ()]
    if len(names) == 2 and names[0] == qualifier or len(names) == 1 and alone:
        return names[-1]
    return None


def _value(node: Any, kind: str) -> Any:
    if not isinstance(node, dict) or node.get("class") != "CONSTANT":
        return None
    literal = node.get("literal") or {}
    if literal.get("kind") != LITERAL_KINDS[kind] or not isinstance(literal.get("text"), str):
        return None
    if kind == "text":
        return literal["text"]
    try:
        value = int(literal["text"])
    except ValueError:
        return None
    return value if INT64[0] <= value <= INT64[1] else None
