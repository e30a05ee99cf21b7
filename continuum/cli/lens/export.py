"""``continuum lens export``: a lens run's chunks as Hive-partitioned Parquet.

Imports duckdb and the lens package only when the command runs; the export is recorded
in the catalog unless ``--no-catalog``, and the run must be there before anything is
written. Errors (an unknown run or field) are one line, ``error: ...``, exit 1.

Without ``--output`` the parts go to the default export dir
(``$XDG_DATA_HOME/continuum/exports``), which ``continuum lens sql`` always reads. Any
other ``--output`` is read by SQL only when named (``lens sql --export-dir DIR``): an
export to ``--output .`` must not make the current directory readable by every later
query, so a note on stderr says how to query it.

``--from`` after ``--to`` is refused before anything is opened (it would export nothing
and exit 0). On a terminal a progress bar on stderr follows the chunks exported.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import click

from continuum.cli._output import (
    NATURAL,
    catalog_option,
    echo_done,
    echo_json,
    format_bytes,
    json_option,
    note,
    progress,
    quiet_option,
)
from continuum.cli.lens._runs import lens_dir_of
from continuum.errors import LensError

if TYPE_CHECKING:
    from continuum.catalog import Catalog


def _run_dir(path: Path | None, run_id: str | None, catalog_url: str | None) -> Path:
    from continuum.lens import resolve_run_dir

    if path is not None:
        return resolve_run_dir(path, run_id)
    if run_id is None:
        raise LensError("Expected a lens run dir PATH or --run ID")
    lens_dir = lens_dir_of(run_id, catalog_url)
    if not lens_dir:
        raise LensError(f"run {run_id} has no lens dir in the catalog; pass its PATH")
    return resolve_run_dir(lens_dir)


@click.command("export")
@click.argument("path", required=False, type=click.Path(path_type=Path))
@click.option("--run", "run_id", default=None, help="Run id (PATH: a lens root; else via catalog).")
@click.option(
    "--format",
    "fmt",
    type=click.Choice(["parquet"]),
    default="parquet",
    show_default=True,
    help="What to write (Parquet: the files lens sql and any Parquet reader take).",
)
@click.option(
    "--output",
    type=click.Path(file_okay=False, path_type=Path),
    default=None,
    help="Export dir [default: $XDG_DATA_HOME/continuum/exports, read by `lens sql`].",
)
@click.option("--fields", default=None, help="Fields to export: 'a.b,c.d' [default: all].")
@click.option("--from", "start", type=NATURAL, default=None, help="First tick (inclusive).")
@click.option("--to", "stop", type=NATURAL, default=None, help="Last tick (inclusive).")
@click.option(
    "--layout",
    type=click.Choice(["time", "cell"]),
    default="time",
    help="cell: also write a sample-major copy (fast point histories).",
)
@click.option("--no-catalog", is_flag=True, help="Do not record the export in the catalog.")
@catalog_option
@json_option
@quiet_option
def export(
    path: Path | None,
    run_id: str | None,
    fmt: str,
    output: Path | None,
    fields: str | None,
    start: int | None,
    stop: int | None,
    layout: str,
    no_catalog: bool,
    catalog_url: str | None,
    as_json: bool,
) -> None:
    """Export a lens run's chunks to Hive-partitioned Parquet under --output.

    Re-exporting replaces a chunk's files, never duplicates rows.

    \b
    Examples:
      continuum lens export lens/RUN_ID
      continuum lens export --run RUN_ID --fields surface.elevation --layout cell
      continuum lens export lens/RUN_ID --output exports   # lens sql --export-dir exports
    """
    if start is not None and stop is not None and start > stop:
        raise LensError(f"--from {start} is after --to {stop}: no tick is in that range")
    from continuum.catalog import Catalog
    from continuum.lens import parse_fields
    from continuum.sql import default_root, export_run

    default = output is None
    output = default_root() if output is None else output

    run_dir = _run_dir(path, run_id, catalog_url)
    names = list(parse_fields(fields) or ()) or None
    layouts = ("time", "sample") if layout == "cell" else ("time",)
    cat = None if no_catalog else Catalog(catalog_url)
    try:
        if cat is not None:
            _require_run(cat, run_dir.name)  # before writing anything
        with progress("exporting lens chunks") as step:
            done = export_run(
                run_dir,
                output,
                catalog=cat,
                fields=names,
                start=start,
                stop=stop,
                layouts=layouts,
                on_chunk=step,
            )
    finally:
        if cat is not None:
            cat.close()
    size = sum(d.bytes for d in done)
    info = {
        "run_id": run_dir.name,
        "output": str(output),
        "chunks": len(done),
        "rows": sum(d.rows for d in done),
        "bytes": size,
    }
    if as_json:
        echo_json(info, indent=None)
    else:
        echo_done("  ".join(f"{k}={v}" for k, v in {**info, "bytes": format_bytes(size)}.items()))
    if not default and not _within(default_root(), output):
        note(f"note: `continuum lens sql` reads {output} only when told: --export-dir {output}")


def _within(root: Path, path: Path) -> bool:
    from continuum import layout

    return layout.is_within(root.resolve(), path.resolve())


def _require_run(cat: Catalog, run_id: str) -> None:
    from continuum.errors import RunNotFoundError

    try:
        cat.runs.get(run_id)
    except RunNotFoundError:
        raise LensError(
            f"run {run_id!r} is not in the catalog, so its export could not be recorded; "
            "register it with `continuum catalog scan DIR`, or pass --no-catalog"
        ) from None


COMMANDS = (export,)
