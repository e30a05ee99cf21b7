"""The field views as Spark DataFrames over the exported files, read where they lie.

The same rows and columns as :mod:`continuum.sql.session`'s views, built the same way:

- ``fields`` / ``fields_by_sample``: one ``spark.read.parquet`` per file layout (derived
  positions' resolution, stored columns) and Hive base directory, with an explicit schema
  — the stored columns, and ``run_id`` and ``field`` as strings, as DuckDB's
  ``hive_types_autocast = false`` reads them (Spark's own inference would make a run id
  of digits a number) — so Spark reads no footer to infer one. A cell field's ``face, i,
  j, lat, lon`` are the DuckDB session's expressions of ``sample``
  (:func:`continuum.sql.schema.cell_position_sql` with ``dialect="spark"``), computed only
  for queries that read them (Spark prunes unread projections). ``sim_time`` is joined
  from the ticks files on (run_id, tick), one row per key (:func:`sim_times_frame`);
- ``signals``: the signals files, (tick, sim_time, signal, value, vx, vy, vz, run_id);
- ``ticks``: (run_id, tick, sim_time, captured, gap_cause): one row per exported frame,
  plus one per capture tick of a lens gap no frame holds (the catalog's ``lens_gaps``,
  stepped by the ticks files' stride) — a view here, not a table read at open as in the
  DuckDB session: Spark re-plans per query anyway, and the files may be many.

No routing: DuckDB's session sends a statement reading positions to views joined with a
cells table computed in numpy (:mod:`continuum.sql.cells`); Spark evaluates the SQL
expressions, with Java's ``Math.tan``/``asin``/``atan2``. Measured on terra's 6,144
cells: ``lat``/``lon`` within 9 ulps (1.3e-13 degrees) of numpy's, and within 2 ulps of
DuckDB's own evaluation of the same expressions; ``face, i, j`` are exact.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from functools import reduce
from pathlib import Path
from typing import TYPE_CHECKING

from continuum import layout
from continuum.errors import QueryError
from continuum.sql.roots import shown
from continuum.sql.schema import SCHEMA, cell_position_sql, cell_tangents
from continuum.sql.session import SIGNAL_SCHEMA
from continuum.sql.spark.metadata import Layout

if TYPE_CHECKING:
    from pyspark.sql import DataFrame, SparkSession

#: The DuckDB types of the views' schemas, as Spark SQL names them.
SPARK_TYPES = {
    "BIGINT": "BIGINT",
    "DOUBLE": "DOUBLE",
    "INTEGER": "INT",
    "SMALLINT": "SMALLINT",
    "TINYINT": "TINYINT",
    "VARCHAR": "STRING",
    "BOOLEAN": "BOOLEAN",
}
FIELD_PARTITIONS = ("run_id", "field")
TICKS_SCHEMA = {
    "run_id": "VARCHAR",
    "tick": "BIGINT",
    "sim_time": "DOUBLE",
    "captured": "BOOLEAN",
    "gap_cause": "VARCHAR",
}
#: Characters Hadoop's path globbing reads as a pattern: escaped, so a path is a path.
_GLOB = "\\*?[]{}"


def hadoop_path(path: Path) -> str:
    """``path`` as ``spark.read.parquet`` takes it literally (glob characters escaped;
    the ``basePath`` option is not globbed, and is given as it is). Hadoop cannot name a
    file with ``:`` in its path (it reads a scheme there): QueryError saying so."""
    if ":" in str(path):
        raise QueryError(
            f"Spark cannot read {shown(path)}: Hadoop paths cannot hold ':'; move or "
            "rename the export dir"
        )
    return "".join("\\" + c if c in _GLOB else c for c in str(path))


def _ddl(columns: Mapping[str, str], partitions: Sequence[str]) -> str:
    cols = [f"`{c}` {SPARK_TYPES[t]}" for c, t in columns.items()]
    return ", ".join(cols + [f"`{p}` STRING" for p in partitions])


def scan(
    spark: SparkSession,
    files: Sequence[Path],
    columns: Mapping[str, str],
    partitions: Sequence[str],
) -> DataFrame:
    """``columns`` of ``files`` plus their Hive ``partitions`` (strings, from the path):
    one read per partition base (:func:`continuum.layout.partition_base`), unioned."""
    by_base: dict[Path, list[Path]] = {}
    for f in files:
        by_base.setdefault(layout.partition_base(f), []).append(f)
    reader = spark.read.schema(_ddl(columns, partitions))
    frames = [
        reader.option("basePath", str(base)).parquet(*map(hadoop_path, sorted(group)))
        for base, group in sorted(by_base.items())
    ]
    return reduce(lambda a, b: a.unionByName(b), frames)


def empty(spark: SparkSession, columns: Mapping[str, str]) -> DataFrame:
    """No rows, with ``columns`` (name -> DuckDB type)."""
    return spark.range(0).selectExpr(
        *(f"CAST(NULL AS {SPARK_TYPES[t]}) AS `{c}`" for c, t in columns.items())
    )


FIELD_COLUMNS = {**SCHEMA, "run_id": "VARCHAR", "field": "VARCHAR"}


def fields_frame(
    spark: SparkSession,
    files: Sequence[Path],
    layouts: Mapping[Path, Layout],
    sim_times: DataFrame,
) -> DataFrame:
    """The ``fields`` (or ``fields_by_sample``) rows of ``files``; ``layouts``: each
    directory's file layout (:class:`~continuum.sql.spark.metadata.Metadata`);
    ``sim_times``: one (run_id, tick, sim_time) row per exported frame."""
    from pyspark.sql import functions as F  # noqa: N812 - PySpark's own spelling

    if not files:
        return empty(spark, FIELD_COLUMNS)
    groups: dict[Layout, list[Path]] = {}
    for f in files:
        groups.setdefault(layouts[f.parent], []).append(f)
    ordered = sorted(groups.items(), key=lambda kv: (kv[0][0] or 0, kv[0][1]))
    parts = [_layout_frame(spark, n, stored, group) for (n, stored), group in ordered]
    union = reduce(lambda a, b: a.unionByName(b), parts)
    if all("sim_time" in stored for _, stored in groups):
        return union
    u, t = union.alias("_u"), sim_times.alias("_t")
    on = (F.col("_u.run_id") == F.col("_t.run_id")) & (F.col("_u.tick") == F.col("_t.tick"))
    cols = [
        F.coalesce(F.col("_t.sim_time"), F.col("_u.sim_time")).alias(c)
        if c == "sim_time"
        else F.col(f"_u.{c}")
        for c in FIELD_COLUMNS
    ]
    return u.join(t, on, "left").select(*cols)


def _layout_frame(
    spark: SparkSession, n: int | None, stored: tuple[str, ...], files: Sequence[Path]
) -> DataFrame:
    """The view's columns over one layout group (see :func:`fields_frame`)."""
    frame = scan(spark, files, {c: SCHEMA[c] for c in SCHEMA if c in stored}, FIELD_PARTITIONS)
    derived: dict[str, str] = {}
    if n is not None:
        derived = cell_position_sql(n, "spark")
        frame = frame.selectExpr(
            "*", *(f"{e} AS {k}" for k, e in cell_tangents(n, "spark").items())
        )
    items = [
        f"`{c}`"
        if c in stored
        else f"{derived[c]} AS `{c}`"
        if c in derived
        else f"CAST(NULL AS {SPARK_TYPES[t]}) AS `{c}`"
        for c, t in SCHEMA.items()
    ]
    return frame.selectExpr(*items, "run_id", "field")


SIGNAL_COLUMNS = {**SIGNAL_SCHEMA, "run_id": "VARCHAR"}


def signals_frame(spark: SparkSession, files: Sequence[Path]) -> DataFrame:
    """The ``signals`` rows of the signals files."""
    if not files:
        return empty(spark, SIGNAL_COLUMNS)
    return scan(spark, files, SIGNAL_SCHEMA, ("run_id",)).select(*SIGNAL_COLUMNS)


def sim_times_frame(spark: SparkSession, files: Sequence[Path]) -> DataFrame:
    """(run_id, tick, sim_time), one row per exported frame: a tick two files hold (a
    window file exported after a piece it merged) is one row, as in DuckDB's ``ticks``.

    Grouped on (run_id, tick) only when two of a run's parts overlap by their names'
    tick ranges: otherwise each tick is in one file once already, and the group — a
    shuffle under every query reading ``fields`` — would change nothing.
    """
    from pyspark.sql import functions as F  # noqa: N812

    if not files:
        return empty(spark, {k: TICKS_SCHEMA[k] for k in ("run_id", "tick", "sim_time")})
    frame = scan(spark, files, {"tick": "BIGINT", "sim_time": "DOUBLE"}, ("run_id",))
    if _disjoint(files):
        return frame.select("run_id", "tick", "sim_time")
    return frame.groupBy("run_id", "tick").agg(F.any_value("sim_time", True).alias("sim_time"))


def _disjoint(files: Sequence[Path]) -> bool:
    """Whether every run's parts (by their names' half-open tick ranges) are disjoint —
    across roots too: a run exported under two roots has each tick twice."""
    spans: dict[str, list[tuple[int, int]]] = {}
    for f in files:
        match, run = (
            layout.PART_NAME_RE.match(f.name),
            layout.parse_run_partition(f.parent.parent.name),
        )
        if match is None or run is None:
            return False
        spans.setdefault(run, []).append((int(match["start"]), int(match["end"])))
    for ranges in spans.values():
        ranges.sort()
        if any(b[0] < a[1] for a, b in zip(ranges, ranges[1:])):
            return False
    return True


def ticks_frame(
    spark: SparkSession, sim_times: DataFrame, gaps: DataFrame | None, strides: Mapping[str, int]
) -> DataFrame:
    """The ``ticks`` rows: the frames of ``sim_times``, then one row per capture tick of
    the ``gaps`` (the catalog's ``lens_gaps``) of runs with a stride that no frame holds,
    ``captured`` false, ``sim_time`` NULL (as :func:`continuum.sql.session.load_ticks`)."""
    from pyspark.sql import functions as F  # noqa: N812

    frames = sim_times.select(
        "run_id",
        "tick",
        "sim_time",
        F.lit(True).alias("captured"),
        F.lit(None).cast("string").alias("gap_cause"),
    )
    if gaps is None or not strides:
        return frames
    steps = spark.createDataFrame(sorted(strides.items()), "run_id STRING, stride BIGINT")
    first = F.expr("(start_tick + stride - 1) div stride * stride")
    held = sim_times.select("run_id", "tick")
    missing = (
        gaps.join(steps, "run_id")
        .where(first <= F.col("end_tick") - 1)
        .select(
            "run_id",
            F.explode(F.sequence(first, F.col("end_tick") - 1, F.col("stride"))).alias("tick"),
            "cause",
        )
        .join(held, ["run_id", "tick"], "left_anti")
        .groupBy("run_id", "tick")
        .agg(F.any_value("cause", True).alias("gap_cause"))
    )
    holes = missing.select(
        "run_id",
        "tick",
        F.lit(None).cast("double").alias("sim_time"),
        F.lit(False).alias("captured"),
        "gap_cause",
    )
    return frames.unionByName(holes)
