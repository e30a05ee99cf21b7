"""Which user SQL only reads, decided by DuckDB's own parser before anything runs.

Admitted: exactly one statement that

- is of kind SELECT (``extract_statements``), which DuckDB gives to ``SELECT``,
  ``WITH``, ``VALUES``, ``FROM``-first queries, ``TABLE t``, set operations,
  ``DESCRIBE``, ``SHOW``, ``SUMMARIZE``, ``UNPIVOT`` and a ``PIVOT`` with ``IN`` lists
  (measured in the tests); and
- reads all the way down, by its parse tree. A SELECT can hide a write: DuckDB accepts
  ``INSERT``, ``UPDATE``, ``DELETE``/``TRUNCATE`` and ``COPY ... TO`` as CTE bodies
  (``WITH x AS (COPY (...) TO 'f') SELECT * FROM x`` wrote ``f``, measured), table
  functions can run SQL text (``query``, ``json_execute_serialized_sql``) or change state
  (``checkpoint``, ``copy_database``, ``import_database``, ``enable_logging``...), and
  CSV readers' options create tables (``store_rejects``, ``rejects_table``,
  ``rejects_scan``). So every SELECT is serialized by DuckDB's parser
  (``json_serialize_sql``: 0.5-1 ms a statement, measured; a time slice's query takes
  ~10 ms) and admitted only if every query node is a read node and every table function
  is on :data:`READ_TABLE_FUNCTIONS`, none of whose arguments names a
  :data:`WRITING_OPTIONS` option. Deciding from the tree, not the text,
  makes the spelling irrelevant: DuckDB 2.0.1 writes a named parameter as ``name = v``,
  ``name == v``, ``(name = v)`` (a comparison whose left side is the name), ``name := v``
  or ``name => v`` (the argument's name), quoted or not, in any case, with comments
  anywhere (measured: each of them created the rejects tables). Every other table
  function DuckDB has is listed in :data:`OTHER_TABLE_FUNCTIONS` (a test keeps the two
  lists equal to ``duckdb_functions()``, so a function a later DuckDB adds is refused
  until it is classified here);

or ``EXPLAIN [ANALYZE]`` of such a statement. ``EXPLAIN ANALYZE`` *executes* what it
wraps (``EXPLAIN ANALYZE COPY`` wrote a file and rewrote a stored part), so the wrapped
text is re-parsed under every reading of the prefix grammar (``ANALYZE``, an option
list in parentheses): each reading that parses must pass the check above.

Anything else — ``COPY``, ``ATTACH``, ``PRAGMA``, ``SET``, ``CALL``, ``INSTALL``,
``LOAD``, ``CREATE``, ``EXPORT``, a ``PIVOT`` without an ``IN`` list anywhere in the
statement (DuckDB runs it as several statements: ``CREATE TYPE`` of an ENUM of the pivoted
values, then the query; measured, the type stays behind), a kind this DuckDB module
cannot even name (``UPDATE EXTENSIONS``) — is one line. The statement object that was
checked is the one executed: no re-parse in between.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import duckdb

from continuum.errors import QueryError
from continuum.sql.errors import translate

READ = duckdb.StatementType.SELECT.name
EXPLAIN = duckdb.StatementType.EXPLAIN.name
REFUSED = (
    "only reads may run: SELECT (or WITH, VALUES, FROM, DESCRIBE, SHOW, SUMMARIZE) or "
    "EXPLAIN [ANALYZE] of one; got {kind}. Results are saved with --output FILE, not by SQL"
)
#: A PIVOT without IN lists is its own kind (MULTI): say what it is and what runs instead.
PIVOT_REFUSED = (
    "only reads may run, and DuckDB runs a PIVOT without an IN list as several statements "
    "(CREATE TYPE of an ENUM of the pivoted values, then the query); name the values "
    "instead: PIVOT t ON col IN (v1, v2, ...) USING ..."
)
#: Query nodes that only read (``SELECT_NODE`` ... ; not ``INSERT_QUERY_NODE`` etc.).
READ_NODES = frozenset({"SELECT_NODE", "SET_OPERATION_NODE", "RECURSIVE_CTE_NODE", "CTE_NODE"})
#: Table functions that only read (files: only under the roots, DuckDB's fence).
# fmt: off
READ_TABLE_FUNCTIONS = frozenset((
    "range", "generate_series", "unnest", "repeat", "repeat_row", "test_all_types",
    "test_vector_types", "read_parquet", "parquet_scan", "read_csv", "read_csv_auto",
    "read_json", "read_json_auto", "read_json_objects", "read_json_objects_auto",
    "read_ndjson", "read_ndjson_auto", "read_ndjson_objects", "read_text", "read_blob",
    "glob", "sniff_csv", "parquet_metadata", "parquet_schema", "parquet_kv_metadata",
    "parquet_file_metadata", "parquet_full_metadata", "parquet_page_index",
    "parquet_bloom_probe", "json_each", "json_tree", "query_table", "summary", "show",
    "show_tables", "show_tables_expanded", "show_databases", "table_info",
    "pragma_table_info", "pragma_show", "pragma_version", "pragma_platform",
    "pragma_database_size", "pragma_storage_info", "pragma_metadata_info",
    "pragma_collations", "pragma_user_agent", "version", "platform", "user_agent",
    "database_list", "database_size", "collations", "functions", "storage_info",
    "metadata_info", "histogram", "histogram_values", "icu_calendar_names",
    "pg_timezone_names", "which_secret", "duckdb_columns", "duckdb_constraints",
    "duckdb_databases", "duckdb_dependencies", "duckdb_functions", "duckdb_indexes",
    "duckdb_keywords", "duckdb_schemas", "duckdb_sequences", "duckdb_settings",
    "duckdb_tables", "duckdb_types", "duckdb_views", "duckdb_memory",
    "duckdb_temporary_files", "duckdb_variables", "duckdb_optimizers",
    "duckdb_approx_database_count", "duckdb_connection_count", "duckdb_dialects",
    "duckdb_prepared_statements", "duckdb_available_metrics", "duckdb_secret_types",
    "duckdb_secrets", "duckdb_triggers", "duckdb_extensions",
))
#: Table-function options that create tables (CSV rejects).
WRITING_OPTIONS = frozenset(("store_rejects", "rejects_table", "rejects_scan"))



#: The DuckDB version the two lists were read from (a test checks it is the one installed).
CLASSIFIED_FOR = "2.0.1"
#: DuckDB's other table functions, refused: they change state, run SQL text, take pointers...
OTHER_TABLE_FUNCTIONS = frozenset((
    "add_grammar_extension", "add_parquet_key", "arrow_scan", "arrow_scan_dumb",
    "checkpoint", "copy_database", "create_external_resource",
    "deregister_external_resource", "destroy_external_resource",
    "disable_checkpoint_on_shutdown", "disable_logging", "disable_object_cache",
    "disable_optimizer", "disable_print_progress_bar", "disable_profile",
    "disable_profiling", "disable_progress_bar", "disable_verification",
    "disable_verify_parallelism", "duckdb_coordinate_systems", "duckdb_eviction_queues",
    "duckdb_extension_repositories", "duckdb_external_file_cache",
    "duckdb_external_resource_types", "duckdb_external_resources",
    "duckdb_grammar_extensions", "duckdb_live_query_metrics", "duckdb_log_contexts",
    "duckdb_logs", "duckdb_logs_parsed", "duckdb_profiling_settings",
    "duckdb_secret_type_parameters", "duckdb_table_sample", "enable_checkpoint_on_shutdown",
    "enable_logging", "enable_object_cache", "enable_optimizer", "enable_print_progress_bar",
    "enable_profile", "enable_profiling", "enable_progress_bar", "enable_verification",
    "extension_versions", "force_checkpoint", "import_database",
    "json_execute_serialized_sql", "pandas_scan", "python_arrow_scan",
    "python_map_function", "query", "read_duckdb", "read_single_csv_file",
    "read_single_json_file", "read_single_parquet_file", "register_external_resource",
    "register_external_resource_type", "remove_grammar_extension", "seq_scan",
    "truncate_duckdb_logs", "verify_parallelism",
))
# fmt: on


def table_functions() -> set[str]:
    """Every table (and table macro, pragma) function name this DuckDB has."""
    with duckdb.connect() as con:
        rows = con.execute(
            "SELECT DISTINCT function_name FROM duckdb_functions() "
            "WHERE function_type IN ('table', 'table_macro', 'pragma')"
        ).fetchall()
    return {r[0].lower() for r in rows}


def _refused(kind: str, explained: bool = False) -> QueryError:
    """The one line refusing a statement of ``kind`` (``EXPLAIN`` of one if ``explained``)."""
    if kind == duckdb.StatementType.MULTI.name:
        return QueryError(PIVOT_REFUSED)
    said = kind.replace("_", " ")  # MERGE_INTO
    return QueryError(REFUSED.format(kind=f"EXPLAIN of {said}" if explained else said))


def _kinds(con: duckdb.DuckDBPyConnection, sql: str) -> list[tuple[duckdb.Statement, str]]:
    """(statement, kind name) of each statement DuckDB parses in ``sql``."""
    with translate("query"):
        statements = con.extract_statements(sql)
    out = []
    for s in statements:
        try:
            out.append((s, s.type.name))
        except ValueError:  # a kind newer than this module's enum (UPDATE EXTENSIONS)
            out.append((s, "a statement kind DuckDB's Python API cannot name"))
    return out


def _words(text: str) -> list[tuple[str, Any, int]]:
    """(text, token kind, offset) of every token that is not a comment."""
    tokens = duckdb.tokenize(text)
    starts = [p for p, _ in tokens] + [len(text)]
    return [
        (text[p : starts[k + 1]].strip(), kind, p)
        for k, (p, kind) in enumerate(tokens)
        if kind != duckdb.token_type.comment
    ]


#: parse trees of recent statement texts: the read check, the routing of views and the
#: catalog-row filters each walk the tree of the same statement, and serializing it costs
#: 0.5-1 ms a time (the tree depends on the text alone: DuckDB's parser, no catalog)
_TREES: dict[str, Any] = {}
_TREES_KEPT = 32


def parse_tree(con: duckdb.DuckDBPyConnection, text: str) -> Any:
    """DuckDB's parse tree of ``text`` (``json_serialize_sql``, decoded), shared by every
    reader of one statement; ``{"error": True}`` when DuckDB gives none. Raises
    ``duckdb.Error``, and ``RecursionError`` for a tree nested beyond ``json``'s depth."""
    tree = _TREES.get(text)
    if tree is None:
        doc = con.execute("SELECT json_serialize_sql(?)", [text]).fetchone()
        tree = json.loads(doc[0]) if doc else {"error": True}
        if len(_TREES) >= _TREES_KEPT:
            _TREES.clear()
        _TREES[text] = tree
    return tree


def reads_relations(con: duckdb.DuckDBPyConnection, text: str) -> bool:
    """Whether a checked statement may read a table, view or table function: False
    only for a SELECT whose every ``FROM`` is empty (``SELECT 1``, ``SELECT now()``),
    subqueries included; True for anything DuckDB does not serialize (EXPLAIN)."""
    try:
        tree = parse_tree(con, text)
    except (duckdb.Error, RecursionError):
        return True
    if tree.get("error", True):
        return True
    froms = [n["from_table"] for n in dicts(tree) if "from_table" in n]
    return not froms or any(not isinstance(f, dict) or f.get("type") != "EMPTY" for f in froms)


def dicts(tree: Any) -> Iterator[dict[str, Any]]:
    """Every object in a decoded JSON tree, without recursion (a tree can be deep)."""
    stack = [tree]
    while stack:
        node = stack.pop()
        if isinstance(node, dict):
            yield node
            stack.extend(node.values())
        elif isinstance(node, list):
            stack.extend(node)


def _identifiers(call: Any) -> set[str]:
    """Every name in a table function call, case-folded: an argument's own name
    (``x := v``, ``x => v``), an alias, a column reference (``x = v``) — wherever DuckDB
    could take a named parameter from, and more (the whole call, not only ``arguments``,
    so a DuckDB that moves them is still seen)."""
    names: set[str] = set()
    for node in dicts(call):
        for key in ("name", "alias"):
            if isinstance(node.get(key), str):
                names.add(node[key].lower())
        if node.get("class") == "COLUMN_REF":
            names.update(str(n).lower() for n in node.get("column_names") or ())
    return names


def _not_reads(tree: Any) -> Iterator[str]:
    """What in a serialized parse tree is not a read, in words."""
    for node in dicts(tree):
        kind = str(node.get("type"))
        if ("cte_map" in node or kind.endswith("_NODE")) and kind not in READ_NODES:
            yield kind.removesuffix("_NODE").replace("_QUERY", "") + " inside"
        if kind == "TABLE_FUNCTION":
            function = node.get("function") or {}
            name = str(function.get("function_name", "")).lower()
            if name not in READ_TABLE_FUNCTIONS:
                yield f"table function {name}()"
            for option in sorted(_identifiers(function) & WRITING_OPTIONS):
                yield f"{name}() with {option} (it creates a table)"


def _check_select(con: duckdb.DuckDBPyConnection, text: str) -> None:
    """Refuse ``text`` unless its serialized parse tree only reads."""
    try:
        with translate("checking the query"):
            tree = parse_tree(con, text)
    except RecursionError:  # DuckDB takes ~1000 levels of expressions, json ~300
        raise QueryError(
            "query nested too deeply to check that it only reads; split the expression"
        ) from None
    if tree.get("error"):
        raise QueryError(REFUSED.format(kind="a SELECT this check cannot inspect"))
    for found in _not_reads(tree.get("statements")):
        raise QueryError(REFUSED.format(kind=found))


def _explained(text: str) -> list[str]:
    """Every reading of what ``EXPLAIN [ANALYZE] [(options)]`` wraps in ``text``."""
    words = _words(text)
    if not words or words[0][0].upper() != "EXPLAIN":
        return []
    heads = [1]
    if len(words) > 1 and words[1][0].upper() in ("ANALYZE", "ANALYSE"):
        heads.append(2)
    readings = []
    for head in heads:
        readings.append(text[words[head][2] :] if head < len(words) else "")
        if head < len(words) and words[head][0].startswith("("):  # an option list?
            depth, k = 0, head
            while k < len(words):
                if words[k][1] == duckdb.token_type.operator:
                    depth += words[k][0].count("(") - words[k][0].count(")")
                k += 1
                if depth <= 0:
                    break
            readings.append(text[words[k][2] :] if depth == 0 and k < len(words) else "")
    return readings


def _check_explain(con: duckdb.DuckDBPyConnection, text: str) -> None:
    parsed = []
    for reading in _explained(text):
        try:
            statements = _kinds(con, reading)
        except QueryError:
            continue  # not this reading: DuckDB's parser took another
        if statements:
            parsed.append((reading, statements))
    if not parsed:
        raise QueryError(REFUSED.format(kind="EXPLAIN of something else"))
    for reading, statements in parsed:
        if len(statements) != 1 or statements[0][1] != READ:
            raise _refused(statements[0][1], explained=True)
        _check_select(con, reading)


def check_read(con: duckdb.DuckDBPyConnection, sql: str) -> duckdb.Statement:
    """The one statement of ``sql`` if it only reads, else a one-line QueryError."""
    statements = _kinds(con, sql)
    if len(statements) != 1:
        raise QueryError(f"Expected one SQL statement, got {len(statements)} instead")
    statement, kind = statements[0]
    if kind == READ:
        _check_select(con, statement.query)
    elif kind == EXPLAIN:
        _check_explain(con, statement.query)
    else:
        raise _refused(kind)
    return statement
