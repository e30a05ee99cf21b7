"""Without PySpark or Java, the Spark views refuse in one line saying what to install.

Apart from ``test_spark.py``: these need neither (and run where it skips).
"""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

from continuum.errors import QueryError
from continuum.sql.spark import local_session, register_views
from continuum.sql.spark._runtime import require_java


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
