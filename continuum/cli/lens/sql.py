"""``continuum lens sql``: one read-only SELECT over field history and the catalog.

Imports duckdb only when the command runs. Errors (bad SQL, a refused file) are one
line, ``error: ...``, exit 1.
"""

from __future__ import annotations

import csv
import datetime as dt
import decimal
import io
import json
from pathlib import Path
from typing import Any

import click

from continuum.cli._output import catalog_option, table_lines
from continuum.errors import LensError


def _plain(value: Any) -> Any:
    if isinstance(value, dt.datetime | dt.date | dt.time):
        return value.isoformat()
    if isinstance(value, decimal.Decimal):
        return float(value)
    if isinstance(value, bytes):
        return value.hex()
    if isinstance(value, list | tuple):
        return [_plain(v) for v in value]
    if isinstance(value, dict):
        return {str(k): _plain(v) for k, v in value.items()}
    return value


def render(columns: tuple[str, ...], rows: list[tuple[Any, ...]], fmt: str) -> str:
    """Rows as an aligned text table, CSV, or a JSON array of objects keyed by column."""
    if fmt == "json":
        return json.dumps([dict(zip(columns, map(_plain, r))) for r in rows]) + "\n"
    if fmt == "csv":
        out = io.StringIO()
        writer = csv.writer(out, lineterminator="\n")
        writer.writerow(columns)
        writer.writerows([_plain(v) for v in r] for r in rows)
        return out.getvalue()
    cells = [["NULL" if v is None else str(_plain(v)) for v in r] for r in rows]
    lines = table_lines(columns, cells, rule=True)
    return "\n".join(lines) + "\n"


@click.command("sql")
@click.argument("query")
@click.option("--format", "fmt", type=click.Choice(["table", "csv", "json"]), default="table")
@click.option("--output", type=click.Path(dir_okay=False, path_type=Path), default=None)
@click.option("--export-dir", "roots", multiple=True, type=click.Path(path_type=Path))
@catalog_option
def sql(
    query: str, fmt: str, output: Path | None, roots: tuple[Path, ...], catalog_url: str | None
) -> None:
    """Run one SELECT over field history and the catalog.

    Views: fields, fields_by_sample, signals (every export the catalog knows, plus
    --export-dir); tables: runs, run_params, run_tags, checkpoints, lens_chunks,
    parquet_exports. Files outside the export dirs cannot be read; only --output is
    written.

    \b
    Examples:
      continuum lens sql "SELECT tick, avg(value) FROM fields GROUP BY tick ORDER BY tick"
      continuum lens sql "SELECT seed, count(*) FROM runs GROUP BY seed" --format json
    """
    from continuum.sql import connect, run_query

    con = connect(catalog_url, roots=roots)
    try:
        result = run_query(con, query)
    finally:
        con.close()
    text = render(result.columns, result.rows, fmt)
    if output is None:
        click.echo(text, nl=False)
        return
    try:
        output.write_text(text, encoding="utf-8")
    except OSError as exc:
        raise LensError(f"cannot write {output}: {exc.strerror or exc}") from None


COMMANDS = (sql,)
