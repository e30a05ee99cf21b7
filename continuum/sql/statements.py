"""Which user SQL only reads, decided by DuckDB's own parser before anything runs.

Admitted: exactly one statement that

- is of kind SELECT (``extract_statements``), which DuckDB gives to ``SELECT``,
  ``WITH``, ``VALUES``, ``FROM``-first queries, ``TABLE t``, set operations,
  ``DESCRIBE``, ``SHOW``, ``SUMMARIZE`` and ``UNPIVOT`` (measured in the tests); and
- reads all the way down. A SELECT can hide a write: DuckDB accepts ``INSERT``,
  ``UPDATE``, ``DELETE``/``TRUNCATE`` and ``COPY ... TO`` as CTE bodies (``WITH x AS
  (COPY (...) TO 'f') SELECT * FROM x`` wrote ``f``, measured), and table functions can
  run SQL text (``query``, ``json_execute_serialized_sql``) or change state
  (``checkpoint``, ``copy_database``, ``import_database``, ``enable_logging``...). So a
  SELECT whose tokens name any of those — DuckDB's tokenizer: a string or a comment
  never counts, a quoted identifier does — is serialized by DuckDB's parser
  (``json_serialize_sql``) and admitted only if every query node is a read node and
  every table function is on :data:`READ_TABLE_FUNCTIONS` (without ``store_rejects``
  and friends, which create tables). Which names trigger the look is every other table
  function of DuckDB's own list (:data:`OTHER_TABLE_FUNCTIONS`, kept complete by a test;
  under another DuckDB version read from ``duckdb_functions()``), so a table function a
  later DuckDB adds is looked at and refused until it is allowed here. Plain queries
  skip the serialization (~1 ms, measured: ~10 % of a time slice's query);

or ``EXPLAIN [ANALYZE]`` of such a statement. ``EXPLAIN ANALYZE`` *executes* what it
wraps (``EXPLAIN ANALYZE COPY`` wrote a file and rewrote a stored part), so the wrapped
text is re-parsed under every reading of the prefix grammar (``ANALYZE``, an option
list in parentheses): each reading that parses must pass the check above.

Anything else — ``COPY``, ``ATTACH``, ``PRAGMA``, ``SET``, ``CALL``, ``INSTALL``,
``LOAD``, ``CREATE``, ``EXPORT``, a ``PIVOT`` statement (it creates a type first), a
kind this DuckDB module cannot even name (``UPDATE EXTENSIONS``) — is one line. The
statement object that was checked is the one executed: no re-parse in between.
"""

from __future__ import annotations

import functools
import json
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
#: Keywords that start a statement DuckDB accepts as a CTE body (INSERT, UPDATE, DELETE,
#: TRUNCATE, COPY), or any other that is not a read: they send a SELECT to the full check.
WRITING_KEYWORDS = frozenset((
    "insert", "update", "delete", "truncate", "copy", "merge", "attach", "detach",
    "create", "drop", "alter", "pragma", "set", "reset", "call", "load", "install",
    "export", "import", "vacuum", "analyze", "checkpoint", "prepare", "execute",
    "deallocate", "use", "begin", "commit", "rollback", "transaction",
))


#: The DuckDB version :data:`OTHER_TABLE_FUNCTIONS` was read from; under any other the
#: list is read from ``duckdb_functions()`` again (once per process, ~50 ms, measured).
CLASSIFIED_FOR = "2.0.1"
#: DuckDB's other table functions: they change state, run SQL text, take pointers...
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


@functools.cache
def _suspect_names() -> frozenset[str]:
    """Names whose token sends a SELECT to the full check: every table function DuckDB
    has that is not a known read, the writing options and keywords."""
    if duckdb.__version__ == CLASSIFIED_FOR:
        others: set[str] | frozenset[str] = OTHER_TABLE_FUNCTIONS
    else:
        others = table_functions() - READ_TABLE_FUNCTIONS
    return frozenset(others | WRITING_OPTIONS | WRITING_KEYWORDS)


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


def _name(word: str) -> str:
    """An identifier as DuckDB compares it: unquoted, case-folded."""
    if len(word) >= 2 and word[0] == word[-1] == '"':
        word = word[1:-1].replace('""', '"')
    return word.lower()


def _suspect(text: str) -> bool:
    names = (duckdb.token_type.identifier, duckdb.token_type.keyword)
    suspects = _suspect_names()
    return any(kind in names and _name(w) in suspects for w, kind, _ in _words(text))


def _walk(node: Any, found: list[str]) -> None:
    """Collect what in a serialized parse tree is not a read."""
    if isinstance(node, list):
        for item in node:
            _walk(item, found)
        return
    if not isinstance(node, dict):
        return
    kind = str(node.get("type"))
    if ("cte_map" in node or kind.endswith("_NODE")) and kind not in READ_NODES:
        found.append(kind.removesuffix("_NODE").replace("_QUERY", "") + " inside")
    if kind == "TABLE_FUNCTION":
        function = node.get("function") or {}
        name = str(function.get("function_name", "")).lower()
        if name not in READ_TABLE_FUNCTIONS:
            found.append(f"table function {name}()")
        for arg in function.get("arguments") or ():
            left = ((arg or {}).get("expression") or {}).get("left") or {}
            names = [str(n).lower() for n in left.get("column_names") or ()]
            if any(n in WRITING_OPTIONS for n in names):
                found.append(f"{name}() with {names[-1]}")
    for value in node.values():
        _walk(value, found)


def _check_tree(con: duckdb.DuckDBPyConnection, text: str) -> None:
    """Refuse ``text`` unless its serialized parse tree only reads."""
    with translate("checking the query"):
        doc = con.execute("SELECT json_serialize_sql(?)", [text]).fetchone()
    tree = json.loads(doc[0]) if doc else {"error": True}
    if tree.get("error"):
        raise QueryError(REFUSED.format(kind="a SELECT this check cannot inspect"))
    found: list[str] = []
    _walk(tree.get("statements"), found)
    if found:
        raise QueryError(REFUSED.format(kind=found[0]))


def _check_select(con: duckdb.DuckDBPyConnection, text: str) -> None:
    if _suspect(text):
        _check_tree(con, text)


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
            raise QueryError(REFUSED.format(kind=f"EXPLAIN of {statements[0][1]}"))
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
        raise QueryError(REFUSED.format(kind=kind))
    return statement
