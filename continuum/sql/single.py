"""Exports of one ``.lens`` file, and of a run (or file) as one Parquet file.

``continuum lens export FILE.lens`` exports that file alone (a chunk, or the full
snapshot ``lens_snapshot_full.lens``) into the usual part tree (:func:`export_file`):
its parts are named by its tick range, so a full snapshot's parts replace the chunk
parts they contain (``remove_superseded_parts``) and no frame is counted twice.

``continuum lens export ... --output X.parquet`` writes one file (:func:`export_single`)
for tools outside Continuum. Decisions, since the design only says "writes one file":

- **Rows**: every exported field, long format: ``field, tick, sim_time, sample`` and the
  stored value columns (``value`` for scalar fields, ``vx, vy, vz`` for vectors, ``NULL``
  where a field has no such column), plus ``face, i, j, lat, lon`` for point fields (as
  stored). A cell field's positions follow from ``sample`` and the topology in the file's
  key-value metadata (``resolution``, ``face_order``, ``cell_order``), as in the part
  files. Ordered by field, tick, sample.
- **How**: the parts are exported as usual into a hidden scratch directory beside the
  target, read back by one DuckDB ``COPY`` into a hidden temporary, which is committed by
  the project's atomic protocol (fsync, rename over the target, fsync the directory);
  the scratch directory is removed whatever happens. A crash leaves the old file or the
  new one (and at worst a hidden scratch directory), never a torn ``X.parquet``.
- **Catalog**: not recorded. The catalog's exports are part trees that ``lens sql``,
  retention and ``catalog rm`` walk as roots; a single file is none of that. ``lens sql``
  does not read it either (DuckDB's ``read_parquet('X.parquet')`` does).
"""

from __future__ import annotations

import contextlib
import os
import shutil
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import duckdb

from continuum import layout
from continuum.blobs import commit_file, make_dirs
from continuum.errors import LensError
from continuum.lens import ChunkFile
from continuum.sql.errors import translate
from continuum.sql.export import ChunkExport, check_fields, export_chunk, remove_superseded_parts
from continuum.sql.exporter import export_run, record
from continuum.sql.remote import RemoteExports

if TYPE_CHECKING:
    from continuum.catalog import Catalog

#: The key-value metadata of the parts that the single file keeps (same meaning).
KEPT_METADATA = ("world", "seed", "stride", "topology", "resolution", "face_order", "cell_order")
#: Stored columns, in the order the single file has them (those present in any part).
COLUMN_ORDER = ("sample", "value", "vx", "vy", "vz", "face", "i", "j", "lat", "lon")


@dataclass(frozen=True)
class SingleExport:
    """What :func:`export_single` wrote."""

    run_id: str
    path: Path
    fields: tuple[str, ...]
    chunks: int  # lens files read
    rows: int
    bytes: int


def export_file(
    path: Path,
    root: Path | str,
    *,
    catalog: Catalog | None = None,
    fields: list[str] | None = None,
    start: int | None = None,
    stop: int | None = None,
    layouts: tuple[str, ...] = ("time",),
) -> list[ChunkExport]:
    """Export the one ``.lens`` file ``path`` as parts under ``root`` (a directory, or
    ``s3://``: staged and put, :mod:`continuum.sql.remote`); record it."""
    with ChunkFile(path) as chunk:
        check_fields(set(chunk.header.fields), fields)
    remote = RemoteExports(str(root)) if layout.is_object_url(root) else None
    con = duckdb.connect(config={"threads": 1})
    try:
        local = remote.staging if remote is not None else Path(root)
        done = export_chunk(
            con, path, local, fields=fields, start=start, stop=stop, layouts=layouts
        )
        if remote is not None:
            remote.publish(done)
        else:
            remove_superseded_parts(done)
    finally:
        con.close()
        if remote is not None:
            remote.close()
    record(catalog, done, root)
    return [done]


def export_single(
    source: Path,
    target: Path,
    *,
    fields: list[str] | None = None,
    start: int | None = None,
    stop: int | None = None,
) -> SingleExport:
    """Write the lens run dir (or ``.lens`` file) ``source`` as the one file ``target``."""
    target = Path(os.path.abspath(target))
    make_dirs(target.parent)
    scratch = Path(tempfile.mkdtemp(prefix=f".{target.name}.", suffix=".parts", dir=target.parent))
    try:
        if source.is_file():
            done = export_file(source, scratch, fields=fields, start=start, stop=stop)
        else:
            done = export_run(source, scratch, fields=fields, start=start, stop=stop)
        parts = sorted(scratch.glob(layout.FIELD_PART_GLOB))
        if not parts:
            raise LensError(
                f"{source}: no frames to export in the ticks asked for; nothing written"
            )
        size, rows = _combine(scratch, parts, target)
    finally:
        shutil.rmtree(scratch, ignore_errors=True)
    run_id = done[0].run_id
    names = tuple(sorted({f for d in done for f in d.fields}))
    return SingleExport(run_id, target, names, len(done), rows, size)


def _quote(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"


def _combine(scratch: Path, parts: list[Path], target: Path) -> tuple[int, int]:
    """One COPY of every field part (with sim_time joined in) into ``target``.

    The ORDER BY is needed (a join does not keep its input's order) and may spill: DuckDB's
    temporary files go into the scratch directory, removed with it, never into the cwd.
    """
    con = duckdb.connect(config={"temp_directory": str(scratch / "duckdb.tmp")})
    tmp = layout.temp_path(target)
    try:
        with translate(f"export to {target}"):
            files = "[" + ", ".join(_quote(str(p)) for p in parts) + "]"
            options = "hive_partitioning=true, union_by_name=true, hive_types_autocast=false"
            source = f"read_parquet({files}, {options})"
            present = {row[0] for row in con.execute(f"DESCRIBE SELECT * FROM {source}").fetchall()}
            stored = [c for c in COLUMN_ORDER if c in present]
            ticks = _quote(str(scratch / layout.TICKS_PART_GLOB))
            select = (
                f"SELECT f.field, f.tick, t.sim_time, {', '.join(f'f.{c}' for c in stored)} "
                f"FROM {source} f JOIN (SELECT DISTINCT tick, sim_time FROM "
                f"read_parquet({ticks})) t USING (tick) ORDER BY f.field, f.tick, f.sample"
            )
            meta = _metadata(con, parts[0], stored)
            kv = ", ".join(f"{k}: {_quote(str(v))}" for k, v in meta.items())
            con.execute(
                f"COPY ({select}) TO {_quote(str(tmp))} (FORMAT PARQUET, PARQUET_VERSION V2, "
                f"COMPRESSION zstd, COMPRESSION_LEVEL 1, KV_METADATA {{{kv}}})"
            )
            row = con.execute(f"SELECT count(*) FROM read_parquet({_quote(str(tmp))})").fetchone()
            rows = row[0] if row else 0
        size = tmp.stat().st_size
    except BaseException:
        with contextlib.suppress(OSError):
            tmp.unlink()
        raise
    finally:
        con.close()
    commit_file(tmp, target)
    return size, int(rows)


def _metadata(con: duckdb.DuckDBPyConnection, part: Path, stored: list[str]) -> dict[str, Any]:
    """The single file's key-value metadata: the run's, from one part, and its own layout."""
    found = dict(
        con.execute(
            "SELECT decode(key), decode(value) FROM parquet_kv_metadata(?)", [str(part)]
        ).fetchall()
    )
    meta: dict[str, Any] = {
        "continuum_format": "continuum.parquet.single.v1",
        "run_id": found.get("run_id", ""),
    }
    meta.update({k: found.get(k, "") for k in KEPT_METADATA})
    meta["columns"] = ",".join(["field", "tick", "sim_time", *stored])
    meta["row_order"] = "field,tick,sample"
    meta["cell_positions"] = (
        "cell fields: face = sample // N^2, i = sample // N % N, j = sample % N (N: resolution)"
    )
    return meta
