"""``continuum lens export`` and ``continuum lens sql``: field history as Parquet + SQL.

Attached to the ``lens`` group by one line in ``lens.py``; imports duckdb only when a
command runs. Errors (bad SQL, a refused file, an unknown run or field) are one line,
``error: ...``, exit 1.
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

from continuum.errors import LensError

CATALOG = click.option(
    "--catalog", metavar="URL", help="Catalog URL [default: $CONTINUUM_CATALOG or ~/.local/...]."
)


def _run_dir(path: Path | None, run_id: str | None, catalog: str | None) -> Path:
    from continuum.lens import resolve_run_dir

    if path is not None:
        return resolve_run_dir(path, run_id)
    if run_id is None:
        raise LensError("Expected a lens run dir PATH or --run ID")
    from continuum.catalog import Catalog

    with Catalog(catalog) as cat:
        lens_dir = cat.runs.get(run_id).lens_dir
    if not lens_dir:
        raise LensError(f"run {run_id} has no lens dir in the catalog; pass its PATH")
    return resolve_run_dir(lens_dir)


@click.command("export")
@click.argument("path", required=False, type=click.Path(path_type=Path))
@click.option("--run", "run_id", default=None, help="Run id (PATH: a lens root; else via catalog).")
@click.option("--format", "fmt", type=click.Choice(["parquet"]), default="parquet")
@click.option("--output", type=click.Path(file_okay=False, path_type=Path), required=True)
@click.option("--fields", default=None, help="Fields to export: 'a.b,c.d' [default: all].")
@click.option("--from", "start", type=int, default=None, help="First tick (inclusive).")
@click.option("--to", "stop", type=int, default=None, help="Last tick (inclusive).")
@click.option(
    "--layout",
    type=click.Choice(["time", "cell"]),
    default="time",
    help="cell: also write a sample-major copy (fast point histories).",
)
@click.option("--no-catalog", is_flag=True, help="Do not record the export in the catalog.")
@CATALOG
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
def export(
    path: Path | None,
    run_id: str | None,
    fmt: str,
    output: Path,
    fields: str | None,
    start: int | None,
    stop: int | None,
    layout: str,
    no_catalog: bool,
    catalog: str | None,
    as_json: bool,
) -> None:
    """Export a lens run's chunks to Hive-partitioned Parquet under --output.

    Re-exporting replaces a chunk's files, never duplicates rows.

    \b
    Examples:
      continuum lens export lens/RUN_ID --output exports
      continuum lens export --run RUN_ID --output exports --fields surface.elevation --layout cell
    """
    from continuum.catalog import Catalog
    from continuum.lens import parse_fields
    from continuum.sql import export_run

    run_dir = _run_dir(path, run_id, catalog)
    names = list(parse_fields(fields) or ()) or None
    layouts = ("time", "sample") if layout == "cell" else ("time",)
    cat = None if no_catalog else Catalog(catalog)
    try:
        if cat is not None:
            _require_run(cat, run_dir.name)  # before writing anything
        done = export_run(
            run_dir, output, catalog=cat, fields=names, start=start, stop=stop, layouts=layouts
        )
    finally:
        if cat is not None:
            cat.close()
    info = {
        "run_id": run_dir.name,
        "output": str(output),
        "chunks": len(done),
        "rows": sum(d.rows for d in done),
        "bytes": sum(d.bytes for d in done),
    }
    click.echo(json.dumps(info) if as_json else "  ".join(f"{k}={v}" for k, v in info.items()))


def _require_run(cat: Any, run_id: str) -> None:
    from continuum.errors import RunNotFoundError

    try:
        cat.runs.get(run_id)
    except RunNotFoundError:
        raise LensError(
            f"run {run_id!r} is not in the catalog, so its export could not be recorded; "
            "register it with `continuum catalog scan DIR`, or pass --no-catalog"
        ) from None


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
    cells = [list(columns)] + [["NULL" if v is None else str(_plain(v)) for v in r] for r in rows]
    widths = [max(len(row[k]) for row in cells) for k in range(len(columns))]
    lines = ["  ".join(c.ljust(w) for c, w in zip(row, widths)).rstrip() for row in cells]
    lines.insert(1, "  ".join("-" * w for w in widths))
    return "\n".join(lines) + "\n"


@click.command("sql")
@click.argument("query")
@click.option("--format", "fmt", type=click.Choice(["table", "csv", "json"]), default="table")
@click.option("--output", type=click.Path(dir_okay=False, path_type=Path), default=None)
@click.option("--export-dir", "roots", multiple=True, type=click.Path(path_type=Path))
@CATALOG
def sql(
    query: str, fmt: str, output: Path | None, roots: tuple[Path, ...], catalog: str | None
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

    con = connect(catalog, roots=roots)
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
