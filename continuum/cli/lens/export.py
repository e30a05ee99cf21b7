"""``continuum lens export``: a lens run's chunks as Hive-partitioned Parquet, or one file.

What is exported: ``PATH`` is a ``.lens`` file (that file alone: a chunk, or the full
snapshot, whose parts replace the chunk parts they cover), a lens run dir, a lens root
(its newest run) or a run id; without it (or with ``--run ID``) the run is found as for
every lens command (:mod:`continuum.cli.lens._runs`, which also says what a missing
``ROOT/lens_snapshot_full.lens`` means), and a line on stderr names it.

Where: an ``--output`` ending in ``.parquet`` is one Parquet file, written atomically
(its directory made if missing; :mod:`continuum.sql.single`), not recorded in the
catalog; any other ``--output`` is a directory of Hive-partitioned parts.

Imports duckdb and the lens package only when the command runs; a parts export is
recorded in the catalog unless ``--no-catalog``, and the run must be there before
anything is written. Errors (an unknown run or field) are one line, ``error: ...``, exit 1.

Without ``--output`` the parts go to the default export dir
(``$XDG_DATA_HOME/continuum/exports``), which ``continuum lens sql`` always reads. Any
other ``--output`` is read by SQL only when named (``lens sql --export-dir DIR``): an
export to ``--output .`` must not make the current directory readable by every later
query, so a note on stderr says how to query it.

``--format netcdf|zarr --output PATH`` writes one netCDF-4 file or one Zarr store through
xarray (the ``[xarray]`` extra; :mod:`continuum.datasets.export`: window by window,
atomically, the topology in the global attributes), not recorded in the catalog;
``--fields``, ``--from`` and ``--to`` select as for Parquet. Parquet stays the default.

``--from`` after ``--to`` is refused before anything is opened (it would export nothing
and exit 0). On a terminal a progress bar on stderr follows the chunks exported.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import click

from continuum.cli._output import (
    NATURAL,
    catalog_files,
    catalog_option,
    echo_done,
    echo_json,
    format_bytes,
    json_option,
    note,
    output_path,
    progress,
    quiet_option,
)
from continuum.cli.lens._runs import LOCATION, LensSource, lens_source
from continuum.errors import LensError

if TYPE_CHECKING:
    from continuum.catalog import Catalog

#: What ``--format`` can write (netCDF and Zarr: :mod:`continuum.datasets.export`).
FORMATS = ("parquet", "netcdf", "zarr")
#: The formats written through xarray (the ``[xarray]`` extra), to one path.
XARRAY_FORMATS = ("netcdf", "zarr")
#: An ``--output`` with this suffix (any case) is one file; anything else a directory.
SINGLE_SUFFIX = ".parquet"


def is_single(output: Path | str | None) -> bool:
    return isinstance(output, Path) and output.suffix.lower() == SINGLE_SUFFIX


@click.command("export")
@click.argument("path", required=False, type=LOCATION)
@click.option(
    "--run",
    "run_id",
    default=None,
    help="Run id (with PATH: a run under the lens root PATH; else found via the catalog).",
)
@click.option(
    "--format",
    "fmt",
    type=click.Choice(FORMATS),
    default="parquet",
    show_default=True,
    help="File format written (Parquet: one file, or Hive-partitioned parts; netcdf: one "
    "netCDF-4 file; zarr: one Zarr store; both need --output and the [xarray] extra).",
)
@click.option(
    "--output",
    type=LOCATION,
    default=None,
    help="X.parquet: one Parquet file (made atomically, not read by `lens sql`); else a "
    "directory of Hive-partitioned parts, or s3://BUCKET/PREFIX for them [default: "
    "$XDG_DATA_HOME/continuum/exports, read by `lens sql`].",
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
    path: Path | str | None,
    run_id: str | None,
    fmt: str,
    output: Path | str | None,
    fields: str | None,
    start: int | None,
    stop: int | None,
    layout: str,
    no_catalog: bool,
    catalog_url: str | None,
    as_json: bool,
) -> None:
    """Export a lens run (or one .lens file) to Parquet (parts under --output, or one
    file), or to one netCDF file or Zarr store (--format netcdf|zarr --output PATH).

    PATH: a .lens file, a lens run dir, a lens root (its newest run) or a run id
    [default: the newest run with lens data in the catalog, else ./lens].
    Re-exporting replaces a chunk's files, never duplicates rows.

    \b
    Examples:
      continuum lens export lens/RUN_ID
      continuum lens export --run RUN_ID --fields surface.elevation --layout cell
      continuum lens export lens/RUN_ID --output exports   # lens sql --export-dir exports
      continuum lens export lens/RUN_ID/lens_snapshot_full.lens --output ./data/run.parquet
      continuum lens export lens/RUN_ID --format netcdf --output run.nc
      continuum lens export --run RUN_ID --format zarr --output run.zarr --from 0 --to 500
    """
    if start is not None and stop is not None and start > stop:
        raise LensError(f"--from {start} is after --to {stop}: no tick is in that range")
    from continuum.lens import parse_fields
    from continuum.sql import default_root

    source = lens_source(path, run_id, catalog_url)
    names = list(parse_fields(fields) or ()) or None
    default = output is None
    if isinstance(output, str) and (fmt in XARRAY_FORMATS or output.endswith(SINGLE_SUFFIX)):
        raise LensError(
            f"--output {output}: object storage takes Parquet parts (an s3://BUCKET/PREFIX "
            "export root); write one file or store locally, then copy it"
        )
    if fmt in XARRAY_FORMATS:
        assert not isinstance(output, str)
        if layout != "time":
            raise click.UsageError(f"--layout cell is a Parquet layout; --format {fmt} has one")
        info = _export_xarray(source, fmt, output, names, start, stop, catalog_url)
        if as_json:
            echo_json(info, indent=None)
        else:
            shown = {**info, "bytes": format_bytes(int(info["bytes"]))}  # type: ignore[call-overload]
            echo_done("  ".join(f"{k}={v}" for k, v in shown.items()))
        return
    if is_single(output):
        assert isinstance(output, Path)
        if layout != "time":
            raise click.UsageError("--layout cell writes a second part tree: use a directory")
        info = _export_single(source, output, names, start, stop, catalog_url)
    else:
        output = default_root() if output is None else output
        if isinstance(output, Path) and output.exists() and not output.is_dir():
            raise LensError(
                f"--output {output} is a file: name a directory for parts, or X{SINGLE_SUFFIX} "
                "for one file"
            )
        layouts = ("time", "sample") if layout == "cell" else ("time",)
        info = _export_parts(source, output, names, start, stop, layouts, no_catalog, catalog_url)
    if as_json:
        echo_json(info, indent=None)
    else:
        shown = {**info, "bytes": format_bytes(int(info["bytes"]))}  # type: ignore[call-overload]
        echo_done("  ".join(f"{k}={v}" for k, v in shown.items()))
    if not default and not is_single(output) and not _within(default_root(), output):
        note(f"note: `continuum lens sql` reads {output} only when told: --export-dir {output}")


def _export_single(
    source: LensSource,
    output: Path,
    names: list[str] | None,
    start: int | None,
    stop: int | None,
    catalog_url: str | None,
) -> dict[str, object]:
    """``--output X.parquet``: one file (:mod:`continuum.sql.single`)."""
    from continuum.blobs import make_dirs
    from continuum.sql.single import export_single

    if not output.parent.is_dir() and not output.parent.exists():
        make_dirs(output.parent)  # as a parts export makes its directory
    output_path(output, protected=catalog_files(catalog_url), error=LensError)
    done = export_single(
        source.file or source.run_dir, output, fields=names, start=start, stop=stop
    )
    return {
        "run_id": done.run_id,
        "output": str(output),
        "chunks": done.chunks,
        "rows": done.rows,
        "bytes": done.bytes,
    }


def _export_xarray(
    source: LensSource,
    fmt: str,
    output: Path | None,
    names: list[str] | None,
    start: int | None,
    stop: int | None,
    catalog_url: str | None,
) -> dict[str, object]:
    """``--format netcdf|zarr``: one file or store (:mod:`continuum.datasets.export`)."""
    from continuum.blobs import make_dirs

    what = "a netCDF file (X.nc)" if fmt == "netcdf" else "a Zarr store directory (X.zarr)"
    if output is None:
        raise LensError(f"--format {fmt} writes one path: pass --output PATH, {what}")
    if not output.parent.is_dir() and not output.parent.exists():
        make_dirs(output.parent)  # as the other exports make their directory
    if fmt == "netcdf":
        output_path(output, protected=catalog_files(catalog_url), error=LensError)
    elif output.is_symlink() or (output.exists() and not output.is_dir()):
        raise LensError(f"--output {output} is not a directory: name a new path for the store")
    try:
        from continuum.datasets import export_dataset
        from continuum.lens import open_dataset

        if fmt == "netcdf":  # h5netcdf finds its h5py only when a file is opened
            import h5py  # noqa: F401
    except ImportError as exc:
        raise LensError(
            f"--format {fmt} needs the xarray extra ({exc.name} is missing): "
            "pip install 'continuum[xarray]'"
        ) from None
    ds = open_dataset(source.file or source.run_dir, fields=names, chunks=None)
    try:
        if start is not None or stop is not None:
            ds = ds.sel(tick=slice(start, stop))  # --to is inclusive, as a label slice is
        if not ds.sizes.get("tick", 0):
            raise LensError(f"no captured tick in [{start}, {stop}]: nothing to export")
        with progress(f"exporting lens windows to {fmt}") as step:
            done = export_dataset(ds, output, fmt, on_window=step)
    finally:
        ds.close()
    return {
        "run_id": str(ds.attrs.get("run_id", source.run_dir.name)),
        "output": str(output),
        "format": fmt,
        "frames": done.frames,
        "fields": ",".join(done.fields),
        "bytes": done.bytes,
    }


def _export_parts(
    source: LensSource,
    output: Path | str,
    names: list[str] | None,
    start: int | None,
    stop: int | None,
    layouts: tuple[str, ...],
    no_catalog: bool,
    catalog_url: str | None,
) -> dict[str, object]:
    """A directory of Hive-partitioned parts, recorded in the catalog unless told not."""
    from continuum.catalog import Catalog
    from continuum.sql import export_run
    from continuum.sql.single import export_file

    cat = None if no_catalog else Catalog(catalog_url)
    try:
        if cat is not None:
            _require_run(cat, source.run_dir.name)  # before writing anything
        if source.file is not None:
            done = export_file(
                source.file,
                output,
                catalog=cat,
                fields=names,
                start=start,
                stop=stop,
                layouts=layouts,
            )
        else:
            with progress("exporting lens chunks") as step:
                done = export_run(
                    source.run_dir,
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
    return {
        "run_id": source.run_dir.name,
        "output": str(output),
        "chunks": len(done),
        "rows": sum(d.rows for d in done),
        "bytes": sum(d.bytes for d in done),
    }


def _within(root: Path, path: Path | str) -> bool:
    from continuum import layout

    return isinstance(path, Path) and layout.is_within(root.resolve(), path.resolve())


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
