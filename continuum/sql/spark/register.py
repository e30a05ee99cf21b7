"""``register_views``: the DuckDB session's views and tables as temp views of a SparkSession."""

from __future__ import annotations

import logging
import os
from collections.abc import Sequence
from typing import TYPE_CHECKING

from continuum.errors import QueryError
from continuum.sql.roots import Warn, configured_roots, list_files, search_dirs, shown
from continuum.sql.spark._runtime import pyspark_sql, require_version, translate
from continuum.sql.spark.metadata import read_metadata
from continuum.sql.spark.tables import catalog_frame, units_frame
from continuum.sql.spark.views import fields_frame, signals_frame, sim_times_frame, ticks_frame

if TYPE_CHECKING:
    from pyspark.sql import DataFrame, SparkSession

    from continuum.catalog.exports import TableDump

log = logging.getLogger("continuum.sql")
Roots = str | os.PathLike[str] | Sequence[str | os.PathLike[str]]


def _as_list(roots: Roots) -> list[str | os.PathLike[str]]:
    if isinstance(roots, str | os.PathLike):
        return [roots]
    return list(roots)


def _refuse_object_storage(roots: Sequence[object]) -> None:
    """One line for an ``s3://`` root: Spark opens object storage through Hadoop's S3A
    connector (``hadoop-aws`` and the AWS SDK, jars from Maven), which PySpark's wheel
    does not carry and this project cannot install; the views are never half made."""
    remote = [str(r) for r in roots if isinstance(r, str)]
    if remote:
        raise QueryError(
            f"Spark views over {remote[0]}: exports on object storage need Hadoop's S3A "
            "connector in the Spark session (spark.jars.packages="
            "org.apache.hadoop:hadoop-aws:<its Hadoop version>), which continuum does not "
            "set up; copy the export to a shared directory (aws s3 sync), or query it "
            "with `continuum lens sql`, which reads s3:// exports"
        )


def register_views(
    spark: SparkSession,
    roots: Roots = (),
    *,
    catalog: str | None = None,
    tables: Sequence[str] | None = None,
    warn: Warn | None = None,
) -> tuple[str, ...]:
    """Register ``fields``, ``fields_by_sample``, ``signals``, ``ticks``, ``field_units``,
    ``signal_units`` and the catalog's tables (``runs``, ``run_params``, ``run_tags``,
    ``checkpoints``, ``lens_chunks``, ``lens_gaps``, ``lens_copies``,
    ``parquet_exports``) as temp views of ``spark``; return their names.

    The views read the exports under the same roots as :func:`continuum.sql.connect`
    (the default export root, ``CONTINUUM_EXPORT_ROOTS``, and ``roots``: one directory
    or several; the catalog's export rows add directories inside them), the same files,
    with the same columns, so the README's queries answer the same in ``spark.sql`` as
    in ``continuum lens sql``. ``catalog``: its URL (default: the configured catalog);
    its tables are copied at this call (:mod:`continuum.sql.spark.tables`), the file
    lists fixed: register again to see newer exports. ``tables``: the catalog tables to
    copy (default all; measured ~4 s for 100,000 rows of 20 columns on a loaded 2-core
    machine — name fewer for a large catalog; without ``lens_gaps``, ``ticks`` has no gap
    rows). ``warn``: where warning lines go (default the ``continuum.sql`` logger).

    On a cluster, every executor must see the export dirs at the same paths (a shared
    file system): the views name local files. Registering replaces views of the same
    names and leaves others as they were. Unlike ``lens sql``, nothing here confines what
    SQL may read: the session is the caller's own, and ``spark.sql`` reads any file its
    user can. Example::

        spark = continuum.sql.spark.local_session()
        continuum.sql.spark.register_views(spark, "exports")
        spark.sql("SELECT seed, avg(value) FROM fields JOIN runs USING (run_id) "
                  "GROUP BY seed").show()
    """
    pyspark_sql()  # a missing PySpark is one line, before the catalog is opened
    require_version(spark)
    say = warn or log.warning
    readable = configured_roots(_as_list(roots), default=True, warn=say)
    _refuse_object_storage(readable)
    recorded, dumps = _catalog(catalog, tables)
    files = list_files(readable, search_dirs(readable, recorded, say), say)
    meta = read_metadata(files)
    with translate("registering the Spark views"):
        copies = {d.name: catalog_frame(spark, d) for d in dumps}
        sim_times = sim_times_frame(spark, files.ticks)
        views: dict[str, DataFrame] = {
            "fields": fields_frame(spark, files.by_time, meta.by_time, sim_times),
            "fields_by_sample": fields_frame(spark, files.by_sample, meta.by_sample, sim_times),
            "signals": signals_frame(spark, files.signals),
            "ticks": ticks_frame(spark, sim_times, copies.get("lens_gaps"), meta.strides),
            "field_units": units_frame(spark, "field_units", meta.field_units),
            "signal_units": units_frame(spark, "signal_units", meta.signal_units),
            **copies,
        }
        for name, frame in views.items():
            frame.createOrReplaceTempView(name)
    return tuple(views)


def _catalog(url: str | None, names: Sequence[str] | None) -> tuple[list[str], list[TableDump]]:
    """The export dirs the catalog records and the rows of its SQL tables ``names`` (None:
    all), in one open of it."""
    from continuum.catalog import Catalog  # SQLAlchemy: only once the views are wanted

    with Catalog(url) as cat:
        known = [d.name for d in cat.exports.sql_schemas()]
        wanted = known if names is None else list(dict.fromkeys(names))
        unknown = [n for n in wanted if n not in known]
        if unknown:
            raise QueryError(
                f"no catalog table {shown(unknown[0])} to register; the tables are "
                f"{', '.join(known)}"
            )
        return cat.exports.roots(), cat.exports.sql_rows(dict.fromkeys(wanted))
