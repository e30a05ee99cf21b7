"""``continuum lens sql``: one read-only query over field history and the catalog.

Imports duckdb only when the command runs. Errors (bad SQL, a refused statement or file,
the timeout or memory limit hit) are one line, ``error: ...``, exit 1; warnings (catalog
exports outside the export dirs, skipped symlinks) are ``warning: ...`` lines on stderr.

Rows stream from DuckDB in batches, never fetched whole: ``--output FILE`` gets every
row (written to a temporary beside it, renamed into place only when the query
finished, so a timeout leaves no half-written file; only a new or regular file is
replaced, never a device, a FIFO, a symlink or the catalog, see
:func:`continuum.cli._output.output_path`); stdout gets the first ``--limit``
rows (1000 by default) and, when there were more, a one-line note on stderr. A table
is aligned per batch of rows (a batch is printed before the next is fetched). A table,
and CSV when stdout is a terminal, shows control characters as escapes.

Refused rather than silently accepted (one line, exit 1, nothing written): an ``--output``
named as a binary format (``out.parquet`` would get text; ``lens export`` writes Parquet)
and an ``--export-dir`` that does not exist (it would read as no rows, unexplained).
``--json`` is ``--format json``.
"""

from __future__ import annotations

import csv
import datetime as dt
import decimal
import io
import json
import math
import sys
from collections.abc import Callable, Iterable, Iterator, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, TextIO

import click

from continuum.cli._output import (
    catalog_files,
    catalog_option,
    echo,
    json_alias,
    note,
    output_path,
    printable,
    quiet_option,
    table_lines,
)
from continuum.cli.lens._runs import LOCATION
from continuum.errors import LensError

if TYPE_CHECKING:
    from continuum.sql import Cursor

STDOUT_LIMIT = 1000
BATCH_ROWS = 10_000
#: Suffixes of files this command does not write (it writes text: a table, CSV or JSON);
#: ``lens export`` writes Parquet, and ``lens sql`` reads it.
BINARY_SUFFIXES = frozenset({".parquet", ".pq", ".arrow", ".feather"})


#: DuckDB types whose Python values CSV and JSON take as they are.
_NATIVE = {
    "BOOLEAN", "VARCHAR", "TINYINT", "SMALLINT", "INTEGER", "BIGINT", "HUGEINT",
    "UTINYINT", "USMALLINT", "UINTEGER", "UBIGINT", "UHUGEINT",
}  # fmt: skip
_FLOATS = {"FLOAT", "DOUBLE"}


def _plain(value: Any) -> Any:
    """A value JSON and CSV can hold: ISO times, hex bytes, no NaN/Infinity (null)."""
    if value is None or isinstance(value, bool | int | str):
        return value
    if isinstance(value, float):
        return value if math.isfinite(value) else None  # strict JSON
    if isinstance(value, dt.datetime | dt.date | dt.time):
        return value.isoformat()
    if isinstance(value, decimal.Decimal):
        return _plain(float(value))
    if isinstance(value, bytes):
        return value.hex()
    if isinstance(value, list | tuple):
        return [_plain(v) for v in value]
    if isinstance(value, dict):
        return {str(k): _plain(v) for k, v in value.items()}
    return str(value)  # UUID, intervals...


def _csv(value: Any) -> Any:
    """A CSV field: nested values (lists, structs, maps) as JSON text."""
    plain = _plain(value)
    return json.dumps(plain) if isinstance(plain, list | dict) else plain


def _cell(value: Any) -> str:
    if isinstance(value, float):
        return str(value)  # nan, inf: a table says what the value is
    return "NULL" if value is None else str(_plain(value))


def _converters(types: Sequence[str], fmt: str) -> list[tuple[int, Callable[[Any], Any]]]:
    """(column, conversion) for the columns whose values need one in ``fmt``."""
    out: list[tuple[int, Callable[[Any], Any]]] = []
    for i, kind in enumerate(types):
        if kind in _NATIVE or (kind in _FLOATS and fmt == "csv"):  # CSV keeps nan, inf
            continue
        out.append((i, _csv if fmt == "csv" else _plain))
    return out


def _converted(
    batch: list[tuple[Any, ...]], convert: list[tuple[int, Callable[[Any], Any]]]
) -> Sequence[Sequence[Any]]:
    if not convert:
        return batch
    rows = []
    for r in batch:
        row = list(r)
        for i, fn in convert:
            row[i] = fn(row[i])
        rows.append(row)
    return rows


def _escaped(rows: Iterable[Sequence[Any]]) -> list[list[Any]]:
    """CSV rows for a terminal: text cells with their control characters escaped."""
    return [[printable(v) if isinstance(v, str) else v for v in row] for row in rows]


def write_rows(
    out: TextIO,
    columns: tuple[str, ...],
    types: Sequence[str],
    batches: Iterable[list[tuple[Any, ...]]],
    fmt: str,
    *,
    terminal: bool = False,
) -> None:
    """Rows as an aligned text table, CSV, or a JSON array of objects keyed by column,
    written batch by batch (a JSON document is complete only after the last).

    ``terminal``: ``out`` is a terminal, so CSV's text cells are escaped like a table's
    (a file or a pipe gets the data as it is; JSON escapes control characters itself)."""
    convert = _converters(types, fmt)
    if fmt == "csv":
        writer = csv.writer(out, lineterminator="\n")
        writer.writerow(_escaped([columns])[0] if terminal else columns)
        for batch in batches:
            rows = _converted(batch, convert)
            writer.writerows(_escaped(rows) if terminal else rows)
    elif fmt == "json":
        out.write("[")
        sep = ""
        for batch in batches:
            for r in _converted(batch, convert):
                out.write(sep + json.dumps(dict(zip(columns, r)), allow_nan=False))
                sep = ", "
        out.write("]\n")
    else:
        first = True
        for batch in batches:
            lines = table_lines(columns, [[_cell(v) for v in r] for r in batch], rule=True)
            out.write("\n".join(lines if first else lines[2:]) + "\n")
            first = False
        if first:  # no rows: the header alone
            out.write("\n".join(table_lines(columns, [], rule=True)) + "\n")


class _Cut:
    """Batches of at most ``limit`` rows in all (None: all rows); ``more``: rows were left."""

    def __init__(self, cursor: Cursor, limit: int | None) -> None:
        self.cursor, self.limit, self.shown, self.more = cursor, limit, 0, False

    def __iter__(self) -> Iterator[list[tuple[Any, ...]]]:
        while self.limit is None or self.shown < self.limit:
            want = BATCH_ROWS if self.limit is None else min(BATCH_ROWS, self.limit - self.shown)
            rows = self.cursor.fetchmany(want)
            if not rows:
                return
            self.shown += len(rows)
            yield rows
        self.more = self.cursor.fetchone() is not None


def _check_output(output: Path, roots: tuple[Path | str, ...], catalog_url: str | None) -> None:
    """--output may not be inside an export dir (SQL sessions read those, never write),
    must be a file a result may replace (:func:`output_path`: not a device, a FIFO,
    a symlink, the catalog's files or a name Continuum writes), and may not be named as a
    binary format (:data:`BINARY_SUFFIXES`): the rows are written as text."""
    from continuum import layout

    real = output.parent.resolve() / output.name
    if any(isinstance(r, Path) and layout.is_within(r, real) for r in roots):
        raise LensError(
            f"--output {output} is inside an export dir, which SQL only reads; "
            "write the result elsewhere"
        )
    output_path(output, protected=catalog_files(catalog_url), error=LensError)
    if output.suffix.lower() in BINARY_SUFFIXES:  # text in a .parquet file: no reader takes it
        raise LensError(
            f"--output {output}: lens sql writes text (--format table, csv or json), not "
            f"{output.suffix} files; name FILE.csv or FILE.json (Parquet: continuum lens export)"
        )


def _check_roots(roots: tuple[Path | str, ...]) -> None:
    """Refuse, before DuckDB opens, an --export-dir that is not there: it would be read as
    empty, and the query answer nothing without saying why (on object storage: a bucket
    that is not there, an endpoint that does not answer, credentials refused)."""
    for root in roots:
        if isinstance(root, str):
            from continuum.blobs.storage import open_store

            open_store(root).check()
        elif not root.exists():
            raise LensError(
                f"--export-dir {root} does not exist (a run exporting there makes it with "
                "its first chunk); pass a directory that `continuum lens export` wrote"
            )


def _save(output: Path, cut: _Cut, fmt: str) -> None:
    from continuum.blobs import atomic_writer

    try:
        with atomic_writer(output) as raw:
            text = io.TextIOWrapper(raw, encoding="utf-8", newline="")
            write_rows(text, cut.cursor.columns, cut.cursor.types, cut, fmt)
            text.flush()
            text.detach()
    except OSError as exc:
        raise LensError(f"cannot write {output}: {exc.strerror or exc}") from None


@click.command("sql")
@click.argument("query")
@click.option(
    "--format",
    "fmt",
    type=click.Choice(["table", "csv", "json"]),
    default="table",
    show_default=True,
    help="table: aligned columns; csv: a header row, then the rows; json: an array of "
    "objects keyed by column (same as --json).",
)
@click.option("--json", "as_json", is_flag=True, help="Print JSON (--format json).")
@click.option(
    "--output",
    metavar="FILE",
    type=click.Path(dir_okay=False, path_type=Path),
    default=None,
    help="Write every row to FILE in --format, as text (replaced only once the query has "
    "finished; a .parquet name is refused: use lens export).",
)
@click.option(
    "--export-dir",
    "roots",
    metavar="DIR",
    multiple=True,
    type=LOCATION,
    help="Also read the Parquet exports under DIR or s3://BUCKET/PREFIX, which must exist "
    "(repeatable). Always read: the default export dir, $XDG_DATA_HOME/continuum/exports.",
)
@click.option(
    "--limit",
    type=click.IntRange(min=0),
    default=None,
    help=f"Rows to show (0: all) [default: {STDOUT_LIMIT} on stdout, all with --output].",
)
@click.option(
    "--timeout",
    metavar="SECONDS",
    type=click.FloatRange(min=0),
    default=60.0,
    show_default=True,
    help="Stop the query after SECONDS, output included (0: never).",
)
@click.option(
    "--memory-limit",
    metavar="SIZE",
    default=None,
    help="DuckDB's memory for the query, e.g. 4G; beyond it, it spills to a private temp "
    "dir [default: 1G or a quarter of RAM if less].",
)
@quiet_option
@catalog_option
def sql(
    query: str,
    fmt: str,
    as_json: bool,
    output: Path | None,
    roots: tuple[Path | str, ...],
    limit: int | None,
    timeout: float,
    memory_limit: str | None,
    catalog_url: str | None,
) -> None:
    """Run one read-only query (SELECT, WITH, EXPLAIN...) over field history.

    Views: fields, fields_by_sample, signals (the exports under the default export dir
    and every --export-dir); tables: ticks (captured frames, and the ticks of lens gaps
    with captured false), runs, run_params, run_tags, checkpoints, lens_chunks, lens_gaps,
    parquet_exports. Only those dirs can be read, and nothing is written
    but --output.

    \b
    Examples:
      continuum lens sql "SELECT tick, avg(value) FROM fields GROUP BY tick ORDER BY tick"
      continuum lens sql "SELECT * FROM fields" --export-dir exports --format csv --output all.csv
      continuum lens sql "SELECT seed, count(*) FROM runs GROUP BY seed" --format json
    """
    from continuum.sql import connect

    fmt = json_alias(fmt, as_json)
    _check_roots(roots)

    def warn(line: str) -> None:
        echo(f"warning: {line}", err=True)

    cap = (STDOUT_LIMIT if output is None else None) if limit is None else (limit or None)
    with connect(
        catalog_url, roots=roots, memory_limit=memory_limit, timeout=timeout, warn=warn
    ) as session:
        if output is not None:
            _check_output(output, session.roots, catalog_url)
        cursor = session.execute(query)
        cut = _Cut(cursor, cap)
        if output is None:
            tty = sys.stdout.isatty()
            write_rows(sys.stdout, cursor.columns, cursor.types, cut, fmt, terminal=tty)
        else:
            _save(output, cut, fmt)
    if cut.more:
        how = "--limit 0 for all" if output else "--limit 0 prints all, --output FILE saves all"
        note(f"note: showed the first {cut.shown} rows; there are more ({how})")


COMMANDS = (sql,)
