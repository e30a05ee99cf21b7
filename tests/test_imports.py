"""Import costs: the tick loop's packages stay free of the catalog's and SQL's libraries."""

from __future__ import annotations

import importlib
import json
import subprocess
import sys

import pytest

HEAVY_FOR_LOOP = {"sqlalchemy", "duckdb", "click", "alembic"}


def loaded_after(statement: str) -> set[str]:
    code = f"import sys; {statement}; import json; print(json.dumps(sorted(sys.modules)))"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    return {name.split(".")[0] for name in json.loads(out.stdout)}


@pytest.mark.parametrize(
    "module", ["continuum.runtime", "continuum.checkpoint", "continuum.world", "continuum.blobs"]
)
def test_loop_packages_do_not_load_catalog_or_cli_libraries(module):
    assert not loaded_after(f"import {module}") & HEAVY_FOR_LOOP


def test_importing_continuum_is_cheap():
    assert not loaded_after("import continuum") & (HEAVY_FOR_LOOP | {"numpy"})


@pytest.mark.parametrize(
    "module",
    [
        "continuum.world",
        "continuum.runtime",
        "continuum.checkpoint",
        "continuum.blobs",
        "continuum.topology",
    ],
)
def test_public_all_is_complete(module):
    mod = importlib.import_module(module)
    exported = list(mod.__all__)  # its order is ruff's business (RUF022)
    assert len(exported) == len(set(exported))
    public = {
        n
        for n, v in vars(mod).items()
        if not n.startswith("_") and getattr(v, "__module__", "").startswith(module)
    }
    assert public <= set(exported), f"missing from __all__: {public - set(exported)}"


@pytest.mark.parametrize("statement", ["import continuum.sql", "import continuum.sql.spark"])
def test_pyspark_loads_only_when_the_spark_views_are_used(statement):
    """PySpark (an extra, with a JVM behind it) is imported by the functions that need it."""
    assert not loaded_after(statement) & {"pyspark", "py4j"}
