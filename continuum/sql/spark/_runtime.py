"""PySpark and its Java runtime: imported on first use, refused in one line when missing.

The one place where Spark's errors become :class:`continuum.errors.QueryError`
(:func:`translate`, like :mod:`continuum.sql.errors` for DuckDB): a user sees
``registering the Spark views failed: [PATH_NOT_FOUND] ...`` and never a Py4J stack; the
original stays chained. ``pyspark`` is an extra (``continuum[spark]``), and it needs a
JVM that pip cannot install, so both are checked before Spark is asked to start one —
PySpark's own report of a missing ``java`` is a Java gateway that "exited before sending
its port number".
"""

from __future__ import annotations

import importlib
import os
import shutil
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from types import ModuleType
from typing import TYPE_CHECKING

from continuum.errors import QueryError
from continuum.sql.errors import one_line

if TYPE_CHECKING:
    from pyspark.sql import SparkSession

INSTALL_PYSPARK = "pip install 'continuum[spark]'"
INSTALL_JAVA = "apt-get install default-jre-headless"

#: A local session for one machine: no web UI (it binds a port), few shuffle partitions
#: (200 by default, one task each, for tables a laptop holds).
LOCAL_CONF = {
    "spark.ui.enabled": "false",
    "spark.sql.shuffle.partitions": "4",
    "spark.ui.showConsoleProgress": "false",
}


def pyspark_sql() -> ModuleType:
    """``pyspark.sql``, or QueryError saying which extra to install."""
    try:
        return importlib.import_module("pyspark.sql")
    except ImportError as exc:
        raise QueryError(
            f"the Spark views need PySpark, which is not installed: {INSTALL_PYSPARK}"
        ) from exc


def java_command() -> str | None:
    """The ``java`` PySpark will start: ``$JAVA_HOME/bin/java``, else ``java`` on PATH."""
    home = os.environ.get("JAVA_HOME")
    if home:
        found = os.path.join(home, "bin", "java")
        return found if os.access(found, os.X_OK) else None
    return shutil.which("java")


def require_java() -> str:
    """The ``java`` command, or QueryError saying how to install one."""
    found = java_command()
    if found is None:
        where = "JAVA_HOME/bin/java" if os.environ.get("JAVA_HOME") else "java on PATH"
        raise QueryError(
            f"Spark needs a Java runtime (17 or newer) and found no {where}: install one, "
            f"e.g. `{INSTALL_JAVA}`, or set JAVA_HOME"
        )
    return found


#: The vectorized Parquet reader of Spark before 4.3 cannot decode BYTE_STREAM_SPLIT, the
#: encoding of the exports' doubles (measured: 3.5.9, 4.0.5 and 4.2.1 fail with
#: "Unsupported encoding: BYTE_STREAM_SPLIT"; 4.3.0 reads them); its row-by-row reader
#: can, slower. The views use ``any_value``, new in 3.5.
VECTORIZED = "spark.sql.parquet.enableVectorizedReader"
VECTORIZED_BSS = (4, 3)
OLDEST = (3, 5)


def version_problem(version: str, vectorized: bool) -> str | None:
    """Why Spark ``version`` (with its vectorized Parquet reader on or off) cannot read
    the exports, or None when it can."""
    numbers = tuple(int(p) for p in version.split("-")[0].split(".")[:2] if p.isdigit())
    if numbers >= VECTORIZED_BSS:
        return None
    if numbers < OLDEST:
        return f"the Spark views need Spark 3.5 or newer, found {version}: {INSTALL_PYSPARK}"
    if vectorized:
        return (
            f"Spark {version} cannot read the exports' BYTE_STREAM_SPLIT doubles with its "
            f"vectorized Parquet reader: use Spark 4.3 or newer ({INSTALL_PYSPARK}), or "
            f"set {VECTORIZED}=false on the session (slower)"
        )
    return None


def require_version(spark: SparkSession) -> None:
    """QueryError unless ``spark`` reads the exports (:func:`version_problem`)."""
    vectorized = str(spark.conf.get(VECTORIZED, "true")).lower() != "false"
    problem = version_problem(spark.version, vectorized)
    if problem:
        raise QueryError(problem)


@contextmanager
def translate(what: str) -> Iterator[None]:
    """Turn a PySpark or Py4J error raised inside into a one-line QueryError about ``what``."""
    errors = _spark_errors()
    try:
        yield
    except errors as exc:
        raise QueryError(f"{what} failed: {one_line(exc)}") from exc


def _spark_errors() -> tuple[type[BaseException], ...]:
    from py4j.protocol import Py4JError  # PySpark's own dependency
    from pyspark.errors import PySparkException

    return (PySparkException, Py4JError)


def local_session(
    master: str = "local[*]",
    *,
    app_name: str = "continuum",
    conf: Mapping[str, str] | None = None,
) -> SparkSession:
    """A Spark session on this machine (``master``, e.g. ``local[4]``) with
    :data:`LOCAL_CONF` and ``conf`` set; PySpark and Java checked first.

    An active session is returned as it is (``getOrCreate``: ``master`` and ``conf``
    apply to a new one only). For a cluster, build the session as the cluster wants
    (``SparkSession.builder``) and pass it to :func:`continuum.sql.spark.register_views`:
    the views need nothing of it but ``spark.read`` reaching the export dirs.
    """
    sql = pyspark_sql()
    require_java()
    builder = sql.SparkSession.builder.master(master).appName(app_name)
    for key, value in {**LOCAL_CONF, **(conf or {})}.items():
        builder = builder.config(key, value)
    with translate("starting Spark"):
        session: SparkSession = builder.getOrCreate()
    return session
