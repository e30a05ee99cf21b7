"""What of ``continuum.sql.spark`` runs without a JVM: without PySpark or Java the views
refuse in one line saying what to install; the Spark versions refused; when the ticks
need grouping. Apart from ``test_spark.py``: these need neither (and run where it skips).
"""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

from continuum import layout
from continuum.errors import QueryError
from continuum.sql.spark import local_session, register_views
from continuum.sql.spark._runtime import require_java, version_problem
from continuum.sql.spark.views import _disjoint


def test_missing_java_is_one_line(monkeypatch: pytest.MonkeyPatch, tmp_path: Path):
    monkeypatch.setenv("JAVA_HOME", str(tmp_path))  # a JAVA_HOME without bin/java
    with pytest.raises(QueryError, match="apt-get install default-jre-headless"):
        require_java()
    pytest.importorskip("pyspark", reason="local_session checks PySpark before Java")
    with pytest.raises(QueryError, match="or set JAVA_HOME"):
        local_session()


def test_missing_pyspark_is_one_line(monkeypatch: pytest.MonkeyPatch, tmp_path: Path):
    monkeypatch.setitem(sys.modules, "pyspark.sql", None)  # what an absent package raises
    with pytest.raises(QueryError, match=r"pip install 'continuum\[spark\]'"):
        local_session()
    with pytest.raises(QueryError, match=r"pip install 'continuum\[spark\]'"):
        register_views(object(), tmp_path)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("version", "vectorized", "says"),
    [
        ("4.3.0", True, None),
        ("5.0.0-preview1", True, None),
        ("4.2.1", True, "use Spark 4.3 or newer"),  # measured: BYTE_STREAM_SPLIT unsupported
        ("3.5.9", True, "enableVectorizedReader=false"),
        ("4.2.1", False, None),  # its row-by-row reader decodes them (measured with 3.5.9)
        ("3.4.4", False, "need Spark 3.5 or newer"),
    ],
)
def test_spark_versions_that_cannot_read_the_exports_are_named(version, vectorized, says):
    problem = version_problem(version, vectorized)
    assert problem is None if says is None else says in problem


def test_ticks_are_grouped_only_where_parts_overlap(tmp_path: Path):
    def part(root: Path, run: str, start: int, end: int) -> Path:
        return layout.ticks_part_path(root, run, start, end)

    a, b = tmp_path / "a", tmp_path / "b"
    chunks = [part(a, "r1", 0, 10), part(a, "r1", 10, 20), part(a, "r2", 0, 10)]
    assert _disjoint(chunks)
    assert not _disjoint([*chunks, part(a, "r1", 10, 13)])  # a piece and its window
    assert not _disjoint([*chunks, part(b, "r1", 0, 10)])  # one run under two roots
    assert _disjoint([*chunks, part(b, "r3", 0, 10)])
