"""The package's surface and its import cost (``catalog list`` must start fast)."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

import continuum.catalog as catalog_pkg


def loaded_after(statement: str) -> set[str]:
    code = f"import sys, json; {statement}; print(json.dumps(sorted(sys.modules)))"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    return set(json.loads(out.stdout))


def test_public_all_is_complete():
    exported = list(catalog_pkg.__all__)
    assert len(exported) == len(set(exported))
    assert all(hasattr(catalog_pkg, name) for name in exported)
    public = {
        n
        for n, v in vars(catalog_pkg).items()
        if not n.startswith("_")
        and getattr(v, "__module__", "").startswith("continuum.catalog")
        and not isinstance(v, type(catalog_pkg))
    }
    assert public <= set(exported), f"missing from __all__: {public - set(exported)}"


@pytest.mark.parametrize("module", ["continuum.catalog", "continuum.cli.catalog"])
def test_catalog_imports_stay_light(module):
    loaded = loaded_after(f"import {module}")
    heavy = {"numpy", "duckdb", "alembic", "sqlalchemy.orm", "psycopg"}
    assert not loaded & heavy, loaded & heavy
