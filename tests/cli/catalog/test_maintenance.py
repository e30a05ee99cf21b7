"""``catalog rm`` takes a run's Parquet exports with it; ``gc`` finds ones left behind."""

from __future__ import annotations

import shutil
from pathlib import Path

from tests.cli.conftest import catalog_url, ok, ok_json, run_json


def parts(tree: Path) -> set[str]:
    return {p.relative_to(tree).as_posix() for p in tree.rglob("part-*.parquet")}


def test_rm_removes_exports_and_gc_finds_leftovers(tmp_path: Path):
    url, exp = catalog_url(tmp_path), tmp_path / "exp"
    common = ["--steps", "20", "--lens-dir", tmp_path / "lens", "--lens-chunk-size", "10"]
    common += ["--lens-export-dir", exp, "--catalog", url]
    ids = [run_json("--seed", seed, *common)["run_id"] for seed in (1, 2)]
    gone, kept = ids
    ok("lens", "export", "--run", gone, "--output", exp, "--layout", "cell", "--catalog", url)
    (exp / "notes.txt").write_text("mine")
    (exp / f"run_id={gone}" / "README").write_text("also mine")
    kept_files = parts(exp / f"run_id={kept}")
    assert parts(exp / f"run_id={gone}") and parts(exp / "by_sample" / f"run_id={gone}")

    removed = ok_json("catalog", "rm", gone, "--yes", "--json", "--catalog", url)
    assert removed["deleted"] > 0

    assert not parts(exp / f"run_id={gone}") and not (exp / "by_sample" / f"run_id={gone}").exists()
    assert (exp / "notes.txt").exists() and (exp / f"run_id={gone}" / "README").exists()
    assert parts(exp / f"run_id={kept}") == kept_files
    query = "SELECT DISTINCT run_id FROM fields ORDER BY run_id"
    seen = ok_json("lens", "sql", query, "--format", "json", "--catalog", url, "--export-dir", exp)
    assert seen == [{"run_id": kept}]
    log = ok_json("catalog", "log", "--run", gone, "--json", "--catalog", url)
    assert {"export-deleted", "run-deleted"} <= {e["action"] for e in log}

    # Files of the removed run put back (an rm by an older version left them): gc finds
    # them; an export of a run the catalog never recorded is not its to touch.
    for run_id in (gone, "20260101_000000_0000abcd"):
        shutil.copytree(exp / f"run_id={kept}", exp / f"run_id={run_id}", dirs_exist_ok=True)
    found = ok_json("catalog", "gc", "--json", "--catalog", url)
    assert {(f["run_id"], f["kind"]) for f in found} == {(gone, "export")}
    assert len(found) == len(kept_files)
    ok("catalog", "gc", "--delete", "--catalog", url)
    assert not parts(exp / f"run_id={gone}")
    assert parts(exp / "run_id=20260101_000000_0000abcd") == kept_files
    assert ok_json("catalog", "gc", "--json", "--catalog", url) == []
