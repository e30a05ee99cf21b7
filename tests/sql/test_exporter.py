"""Exporting a run dir: recorded in the catalog once; a re-export replaces, never adds."""

from __future__ import annotations

from continuum import layout
from continuum.catalog import Catalog
from continuum.sql import export_run

from .conftest import Runs


def test_reexport_does_not_duplicate(runs: Runs):
    before = runs.session().execute("SELECT count(*) FROM fields").fetchone()
    with Catalog(runs.url) as cat:
        n_exports = len(cat.exports.list())
        export_run(runs.lens(2), runs.exports, catalog=cat)
        assert len(cat.exports.list()) == n_exports
    assert runs.session().execute("SELECT count(*) FROM fields").fetchone() == before
    assert not list(runs.exports.rglob("*.tmp"))
    assert not [p for p in runs.exports.rglob("*") if layout.is_temp_name(p.name)]
