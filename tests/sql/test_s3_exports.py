"""The README's queries over exports on a real S3 server answer as over the same local exports."""

from __future__ import annotations

import math
import shutil
from pathlib import Path

import pytest

from continuum.catalog import Catalog
from continuum.sql import connect, export_run, run_query

from .conftest import Runs
from .test_readme_queries import QUERIES


@pytest.mark.slow
def test_readme_queries_answer_the_same_from_s3(runs: Runs, s3_root: str, tmp_path: Path):
    db = tmp_path / "catalog.db"  # a copy: the shared runs' catalog stays as it was
    shutil.copy(runs.base / "catalog.db", db)
    url, root = f"sqlite:///{db}", f"{s3_root}/exp"
    with Catalog(url) as cat:
        for seed in (1, 2):
            export_run(runs.lens(seed), root, catalog=cat, layouts=("time", "sample"))
        assert {r.path for r in cat.exports.list()} >= {root}
    with connect(url, roots=[runs.exports]) as here, connect(url, roots=[root]) as there:
        for query in QUERIES:
            mine, theirs = run_query(here, query), run_query(there, query)
            assert theirs.columns == mine.columns
            assert len(theirs.rows) == len(mine.rows) > 0, query
            for a, b in zip(theirs.rows, mine.rows, strict=True):
                assert same(a, b), (query, a, b)


def same(a: tuple[object, ...], b: tuple[object, ...]) -> bool:
    """Equal rows; floats to 1e-12 (an avg sums in whatever order DuckDB's threads take)."""
    return len(a) == len(b) and all(
        math.isclose(x, y, rel_tol=1e-12) if isinstance(x, float) else x == y
        for x, y in zip(a, b, strict=True)
    )


def test_export_roots_from_the_environment_keep_s3_urls_whole(monkeypatch: pytest.MonkeyPatch):
    from continuum.sql.roots import ObjectPath, configured_roots, split_roots

    assert split_roots("/a:s3://b-1/p/q:/c::s3://b-2") == ["/a", "s3://b-1/p/q", "/c", "s3://b-2"]
    monkeypatch.setenv("CONTINUUM_EXPORT_ROOTS", "s3://bucket-a/x/:s3://bucket-a/x/y")
    assert configured_roots([], default=True) == ["s3://bucket-a/x"]
    part = ObjectPath("s3://bucket-a/x/run_id=R/field=f/part-1.parquet")
    assert str(part) == "s3://bucket-a/x/run_id=R/field=f/part-1.parquet"
    assert part.name == "part-1.parquet" and str(part.parent) == "s3://bucket-a/x/run_id=R/field=f"
    assert part.parent.parent.name == "run_id=R"
