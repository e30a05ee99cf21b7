"""Field history on Spark: the exported Parquet layout, read unchanged, as Spark temp views.

Owns: :func:`register_views` (``register``), which registers on a ``SparkSession`` the
views and tables of the DuckDB session (:mod:`continuum.sql.session`) — ``fields``,
``fields_by_sample``, ``signals``, ``ticks``, ``field_units``, ``signal_units`` and the
catalog's ``runs``, ``run_params``, ``run_tags``, ``checkpoints``, ``lens_chunks``,
``lens_gaps``, ``lens_copies``, ``parquet_exports`` — with the same columns, derived
columns included, over the same files (``views``; the footers' facts through DuckDB,
``metadata``; the catalog's rows copied, ``tables``), so a query written for ``continuum
lens sql`` runs in ``spark.sql`` and gives the same rows; :func:`local_session` and the
one seam where PySpark is imported and its errors become QueryError (``_runtime``).
For histories larger than one machine: the files stay where the exports wrote them, and
a cluster reads them through ``spark.read.parquet``.

Must not: copy or rewrite an export (Spark reads the parts in place), write the catalog,
or be imported by any other package — PySpark (an extra, ``continuum[spark]``) and its JVM
load only here, on first use.
"""

from typing import TYPE_CHECKING

from continuum import lazy

if TYPE_CHECKING:  # what the names are, for type checkers; at run time, loaded on first use
    from continuum.sql.spark._runtime import local_session
    from continuum.sql.spark.register import register_views

_WHERE = {
    "local_session": "continuum.sql.spark._runtime",
    "register_views": "continuum.sql.spark.register",
}

__all__ = ["local_session", "register_views"]

__getattr__, __dir__ = lazy.exports(__name__, _WHERE, __all__)
