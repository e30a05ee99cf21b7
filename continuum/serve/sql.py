"""``/api/sql``: the SQL console, over the same sandbox as ``continuum lens sql``.

Every statement runs in a fresh session of :func:`continuum.sql.connect` (the hardened
sandbox: only reads, files only under the export roots, memory and time bounded), on a
worker thread, so the event loop keeps answering while DuckDB works. The roots are the
ones ``lens sql`` reads: the default export root, ``CONTINUUM_EXPORT_ROOTS``, and the
directories ``continuum serve --export-dir`` names. JSON replies hold at most
:data:`MAX_ROWS` rows (``truncated`` says whether there were more); CSV streams every
row. ``/api/sql/examples`` lists the README's queries (:mod:`continuum.serve.examples`).
"""

from __future__ import annotations

import csv
import datetime as dt
import decimal
import io
import json
import math
import time
from collections.abc import Iterator
from typing import Any

from starlette.requests import Request
from starlette.responses import Response, StreamingResponse

from continuum.serve import params
from continuum.serve.errors import ApiError, answers, answers_body
from continuum.serve.examples import EXAMPLES
from continuum.serve.responses import JSONResponse
from continuum.serve.state import Inspector

MAX_ROWS = 10_000
MAX_SQL = 100_000
BATCH = 5_000


def plain(value: Any) -> Any:
    """A value JSON and CSV can hold: ISO times, hex bytes, NaN and infinities as null."""
    if value is None or isinstance(value, bool | int | str):
        return value
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, dt.datetime | dt.date | dt.time):
        return value.isoformat()
    if isinstance(value, decimal.Decimal):
        return plain(float(value))
    if isinstance(value, bytes):
        return value.hex()
    if isinstance(value, list | tuple):
        return [plain(v) for v in value]
    if isinstance(value, dict):
        return {str(k): plain(v) for k, v in value.items()}
    return str(value)


def _csv_cell(value: Any) -> Any:
    got = plain(value)
    return json.dumps(got) if isinstance(got, list | dict) else got


def _connect(inspector: Inspector) -> Any:
    from continuum.sql import connect  # duckdb: only when SQL is asked for

    config = inspector.config
    return connect(config.catalog_url, roots=config.export_roots, timeout=config.sql_timeout)


def _statement(raw: object) -> str:
    if not isinstance(raw, str) or not raw.strip():
        raise ApiError(400, 'expected a JSON body {"sql": "SELECT ..."} with a statement')
    if len(raw) > MAX_SQL:
        raise ApiError(400, f"the statement is longer than {MAX_SQL} characters")
    return raw


def query(inspector: Inspector, sql: str) -> dict[str, Any]:
    start = time.perf_counter()
    with _connect(inspector) as session:
        cursor = session.execute(sql)
        rows = cursor.fetchmany(MAX_ROWS + 1)
        columns = list(cursor.columns)
        cursor.close()
    truncated = len(rows) > MAX_ROWS
    return {
        "columns": columns,
        "rows": [[plain(v) for v in r] for r in rows[:MAX_ROWS]],
        "truncated": truncated,
        "elapsed_ms": round((time.perf_counter() - start) * 1000, 3),
    }


def csv_lines(inspector: Inspector, sql: str) -> Iterator[str]:
    """The header and every row as CSV text, batch by batch (the session closes at the end).
    The statement runs before the first line is yielded, so a refused one is a 400."""
    session = _connect(inspector)
    try:
        cursor = session.execute(sql)
    except BaseException:
        session.close()
        raise

    def lines() -> Iterator[str]:
        try:
            out = io.StringIO()
            writer = csv.writer(out, lineterminator="\n")
            writer.writerow(cursor.columns)
            for batch in cursor.batches(BATCH):
                writer.writerows([_csv_cell(v) for v in r] for r in batch)
                yield out.getvalue()
                out.seek(0)
                out.truncate()
            yield out.getvalue()
        finally:
            session.close()

    return lines()


def _csv_response(inspector: Inspector, sql: str) -> Response:
    headers = {"content-disposition": 'attachment; filename="continuum-query.csv"'}
    return StreamingResponse(csv_lines(inspector, sql), media_type="text/csv", headers=headers)


@answers_body
def post_sql(request: Request, raw: bytes) -> Response:
    inspector: Inspector = request.app.state.inspector
    fmt = params.choice(request.query_params, "format", ("json", "csv"), "json")
    try:
        body = json.loads(raw or b"null")
    except (ValueError, UnicodeDecodeError):
        raise ApiError(400, 'the body is not JSON: send {"sql": "SELECT ..."}') from None
    sql = _statement(body.get("sql") if isinstance(body, dict) else None)
    if fmt == "csv":
        return _csv_response(inspector, sql)
    return JSONResponse(query(inspector, sql))


@answers
def get_csv(request: Request) -> Response:
    inspector: Inspector = request.app.state.inspector
    sql = _statement(request.query_params.get("sql"))
    return _csv_response(inspector, sql)


@answers
def examples(request: Request) -> Response:
    return JSONResponse({"examples": [{"title": t, "sql": s} for t, s in EXAMPLES]})
