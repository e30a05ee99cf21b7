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
  joined, grouped, windowed result. Through inner ``JOIN ... USING (column)`` the
  column equals the other side's in every joined row, so ``r.run_id = 'x'`` (and a bare
  ``run_id = 'x'`` when such joins reach the top of the ``FROM``) narrows
  ``checkpoints`` too in ``runs AS r JOIN checkpoints USING (run_id)``; an ``ON``
  equality or an outer join does not (not inferred: the whole table is read). Only
  text columns compared with strings and integer columns compared with integers, where
  the catalog's database (SQLite, PostgreSQL) and DuckDB agree on equality exactly.
  Anything else — parameters, casts, ``OR``, ``query_table`` anywhere (it could reach
  a table by a computed name), more than :data:`MAX_VALUES` values — reads the whole
  table.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping, Sequence
from typing import Any

import duckdb

from continuum.sql.statements import dicts, parse_tree

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


def _tree(con: duckdb.DuckDBPyConnection, text: str) -> Any:
    try:
        tree = parse_tree(con, text)
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
    nodes = list(dicts(tree))
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


def _path(source: Any, ref: dict[str, Any]) -> list[tuple[dict[str, Any], Any]] | None:
    """The joins from ``source`` down to ``ref``, each with its side not holding ``ref``,
    if ``ref`` is ``source`` or inside it through regular joins only; else None."""
    if source is ref:
        return []
    if not isinstance(source, dict) or source.get("type") != "JOIN":
        return None
    if source.get("ref_type") not in ("REGULAR", "NATURAL", "CROSS"):
        return None
    if source.get("ref_type") != "CROSS" and source.get("join_type") not in REGULAR_JOINS:
        return None
    for side, other in (("left", "right"), ("right", "left")):
        below = _path(source.get(side), ref)
        if below is not None:
            return [(source, source.get(other)), *below]
    return None


def _equal_names(path: list[tuple[dict[str, Any], Any]], qualifier: str) -> dict[str, set[Any]]:
    """{column: names whose value equals the table's ``column`` in every row the WHERE
    sees}: its own ``qualifier`` for every column (``None``, the bare name, when the table
    is the FROM's only one) and, through inner ``USING (column)`` joins from the table
    up, the other sides' aliases — and the bare name, when those joins reach the top."""
    names: dict[str, set[Any]] = {"*": {qualifier} | ({None} if not path else set())}
    using = _using(path[-1][0]) if path else set()
    for column in using:
        found: set[Any] = set()
        for depth in range(len(path) - 1, -1, -1):
            join, other = path[depth]
            if column not in _using(join):
                break
            if isinstance(other, dict) and other.get("type") != "JOIN":
                found.add(str(other.get("alias") or other.get("table_name") or "").lower())
            if depth == 0:
                found.add(None)
        names[column] = found - {""}
    return names


def _using(join: dict[str, Any]) -> set[str]:
    """The ``USING`` columns of an inner join (none for any other join)."""
    if join.get("join_type") != "INNER" or join.get("ref_type") != "REGULAR":
        return set()
    return {str(c).lower() for c in join.get("using_columns") or ()}


def _filter(nodes: list[dict[str, Any]], ref: dict[str, Any], kinds: Mapping[str, str]) -> Filter:
    paths = ((n, _path(n.get("from_table"), ref)) for n in nodes if n.get("type") == "SELECT_NODE")
    select, path = next(((n, p) for n, p in paths if p is not None), (None, None))
    if select is None or path is None or select.get("sample"):
        return None
    names = _equal_names(path, str(ref.get("alias") or ref.get("table_name")).lower())
    found: dict[str, set[Any]] = {}
    for term in _conjuncts(select.get("where_clause")):
        matched = _term(term, names, kinds)
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
    term: dict[str, Any], names: Mapping[str, set[Any]], kinds: Mapping[str, str]
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
    name = _column(column, names)
    kind = kinds.get(name or "")
    if name is None or kind not in LITERAL_KINDS:
        return None
    values = {_value(c, kind) for c in constants}
    return None if None in values else (name, values)


def _column(node: Any, names: Mapping[str, set[Any]]) -> str | None:
    """The table's column ``node`` names, directly or through an equal column."""
    if not isinstance(node, dict) or node.get("class") != "COLUMN_REF":
        return None
    parts = [str(n).lower() for n in node.get("column_names") or ()]
    if len(parts) not in (1, 2):
        return None
    qualifier = parts[0] if len(parts) == 2 else None
    if qualifier in names["*"] or qualifier in names.get(parts[-1], ()):
        return parts[-1]
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
