"""Route each reference to ``fields`` / ``fields_by_sample`` to the view that answers it fastest.

The user writes plain SQL on the two views; which files and which positions serve it is
decided here, from DuckDB's own parse tree (``json_serialize_sql``), before it runs:

- **layout**: a ``fields`` reference whose SELECT filters on ``sample`` or a position
  (``face, i, j, lat, lon``) and not on ``tick =`` / ``tick IN`` reads the sample-major
  copy (``--layout cell``) where one exists — a point history or a face's mean reads a
  few row groups per part instead of every row (terra ``large``: 96 ms -> ~15 ms for a
  point, measured with ``scripts/bench_sql.py``). ``fields_by_sample`` stays what it
  names; ``fields`` with a tick equality stays time-major (a slice reads one part);
- **positions**: a statement that reads a position column (or ``*``) gets the views
  that join the per-resolution cells table (:mod:`continuum.sql.cells`), so a position
  predicate costs no trigonometry per row and its sample range reaches the Parquet scan;
  other statements get the views that would compute positions per row, where DuckDB
  computes none (a join there would be kept and cost ~15x on a time slice, measured).

Only table names change, in the statement's own text (at the locations DuckDB's parser
gives), so the statement that runs is the one the user wrote with other view names. Any
surprise (a parse the serializer refuses, a name not where the parser says, a CTE or
table shadowing the names) leaves the statement as it is: the user-facing views answer
every query correctly, only slower.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import duckdb

from continuum.sql.schema import POSITIONS
from continuum.sql.statements import parse_tree

#: (user view, layout, cells joined) -> the view a reference is routed to.
VIEWS = {
    ("fields", "time", False): "fields",
    ("fields", "time", True): "_fields_time_cells",
    ("fields", "sample", False): "fields_by_sample",
    ("fields", "sample", True): "_fields_sample_cells",
    ("fields_by_sample", "sample", False): "fields_by_sample",
    ("fields_by_sample", "sample", True): "_fields_sample_cells",
}
SPATIAL = frozenset({"sample", *POSITIONS})
_NAME = re.compile(r'(?i)"?(fields_by_sample|fields)"?(?![A-Za-z0-9_$])')


@dataclass
class _Node:
    """One SELECT: its references to the user views, and what its WHERE filters on."""

    refs: list[tuple[int, str, str]] = field(default_factory=list)  # (location, name, alias)
    filtered: set[str] = field(default_factory=set)
    tick_equal: bool = False


@dataclass
class _Scan:
    nodes: list[_Node] = field(default_factory=list)
    columns: set[str] = field(default_factory=set)
    star: bool = False
    shadowed: bool = False


def route(con: duckdb.DuckDBPyConnection, statement: duckdb.Statement) -> duckdb.Statement:
    """``statement`` with its view references routed (itself when nothing changes)."""
    sql = statement.query
    if "fields" not in sql.lower():
        return statement
    try:
        doc: dict[str, Any] = parse_tree(con, sql)
    except (duckdb.Error, RecursionError, ValueError):
        return statement
    statements = doc.get("statements")
    if doc.get("error") or not isinstance(statements, list) or len(statements) != 1:
        return statement
    scan = _Scan()
    _walk(statements[0].get("node"), scan, None)
    routed = _rewrite(sql, scan)
    if routed is None or routed == sql:
        return statement
    try:
        parsed = con.extract_statements(routed)
    except duckdb.Error:
        return statement
    return parsed[0] if len(parsed) == 1 else statement


def _rewrite(sql: str, scan: _Scan) -> str | None:
    if scan.shadowed:
        return None
    cells = scan.star or bool(scan.columns & set(POSITIONS))
    edits: list[tuple[int, int, str]] = []
    for node in scan.nodes:
        spatial = bool(node.filtered & SPATIAL) and not node.tick_equal
        for loc, name, alias in node.refs:
            match = _NAME.match(sql, loc) if 0 <= loc < len(sql) else None
            if match is None or match.group(1).lower() != name:
                return None
            layout = "sample" if spatial or name == "fields_by_sample" else "time"
            view = VIEWS[(name, layout, cells)]
            text = view if alias else f"{view} AS {match.group(0)}"
            if view != name:
                edits.append((match.start(), match.end(), text))
    for start, end, text in sorted(edits, reverse=True):
        sql = sql[:start] + text + sql[end:]
    return sql


def _children(value: Any) -> Iterator[Any]:
    if isinstance(value, dict):
        yield from value.values()
    elif isinstance(value, list):
        yield from value


def _walk(value: Any, scan: _Scan, node: _Node | None, in_where: bool = False) -> None:
    """Collect references, columns and WHERE filters; a SELECT_NODE starts a new node."""
    if isinstance(value, dict):
        kind = value.get("type")
        if kind == "SELECT_NODE":
            node = _Node()
            scan.nodes.append(node)
            for k, v in value.items():
                if k == "cte_map":
                    for entry in v.get("map", ()):
                        if str(entry.get("key", "")).lower() in ("fields", "fields_by_sample"):
                            scan.shadowed = True
                _walk(v, scan, node, k == "where_clause")
            return
        if kind == "BASE_TABLE" and node is not None:
            name = str(value.get("table_name", "")).lower()
            if name in ("fields", "fields_by_sample"):
                if value.get("schema_name") or value.get("catalog_name"):
                    scan.shadowed = True  # main.fields etc.: left as written
                elif value.get("column_name_alias"):
                    scan.shadowed = True
                else:
                    node.refs.append((int(value["query_location"]), name, value.get("alias", "")))
            return
        if kind == "COLUMN_REF":
            column = str(value["column_names"][-1]).lower()
            scan.columns.add(column)
            if in_where and node is not None:
                node.filtered.add(column)
            return
        if kind == "STAR":
            scan.star = True
        if in_where and node is not None and _is_tick_equality(value):
            node.tick_equal = True
    for child in _children(value):
        _walk(child, scan, node, in_where)


def _is_tick_equality(expr: dict[str, Any]) -> bool:
    """``tick = x``, ``x = tick`` or ``tick IN (...)``."""

    def is_tick(e: Any) -> bool:
        return (
            isinstance(e, dict)
            and e.get("type") == "COLUMN_REF"
            and str(e["column_names"][-1]).lower() == "tick"
        )

    if expr.get("type") == "COMPARE_EQUAL":
        return is_tick(expr.get("left")) or is_tick(expr.get("right"))
    if expr.get("type") == "COMPARE_IN":
        kids = expr.get("children") or []
        return bool(kids) and is_tick(kids[0])
    return False
