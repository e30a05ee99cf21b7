"""``catalog rm`` takes a run's Parquet exports with it; ``gc`` finds ones left behind."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

from click.testing import CliRunner

from continuum.cli import cli


def ok(runner: CliRunner, *args: str) -> str:
    result = runner.invoke(cli, [str(a) for a in args])
    assert result.exit_code == 0, result.output
    return result.stdout


def parts(tree: Path) -> set[str]:
    return {p.relative_to(tree).as_posix() for p in tree.rglob("part-*.parquet")}


def test_rm_removes_exports_and_gc_finds_leftovers(tmp_path: Path, runner: CliRunner):
    url, exp = f"sqlite:///{tmp_path / 'cat.db'}", tmp_path / "exp"
    common = ["--steps", "20", "--lens-dir", tmp_path / "lens", "--lens-chunk-size", "10"]
    ids = [
        json.loads(
            ok(runner, "run", "terra", "--scenario", "tiny", "--seed", seed, "--json", *common,
               "--lens-export-dir", exp, "--catalog", url)
        )["run_id"]
        for seed in (1, 2)
    ]  # fmt: skip
    gone, kept = ids
    ok(
        runner,
        "lens",
        "export",
        "--run",
        gone,
        "--output",
        exp,
        "--layout",
        "cell",
        "--catalog",
        url,
    )
    (exp / "notes.txt").write_text("mine")
    (exp / f"run_id={gone}" / "README").write_text("also mine")
    kept_files = parts(exp / f"run_id={kept}")
    assert parts(exp / f"run_id={gone}") and parts(exp / "by_sample" / f"run_id={gone}")

    removed = json.loads(ok(runner, "catalog", "rm", gone, "--json", "--catalog", url))
    assert removed["deleted"] > 0

    assert not parts(exp / f"run_id={gone}") and not (exp / "by_sample" / f"run_id={gone}").exists()
    assert (exp / "notes.txt").exists() and (exp / f"run_id={gone}" / "README").exists()
    assert parts(exp / f"run_id={kept}") == kept_files
    query = "SELECT DISTINCT run_id FROM fields ORDER BY run_id"
    seen = json.loads(ok(runner, "lens", "sql", query, "--format", "json", "--catalog", url))
    assert seen == [{"run_id": kept}]
    log = json.loads(ok(runner, "catalog", "log", "--run", gone, "--json", "--catalog", url))
    assert {"export-deleted", "run-deleted"} <= {e["action"] for e in log}

    # Files of the removed run put back (an rm by an older version left them): gc finds
    # them; an export of a run the catalog never recorded is not its to touch.
    for run_id in (gone, "20260101_000000_0000abcd"):
        shutil.copytree(exp / f"run_id={kept}", exp / f"run_id={run_id}", dirs_exist_ok=True)
    found = json.loads(ok(runner, "catalog", "gc", "--json", "--catalog", url))
    assert {(f["run_id"], f["kind"]) for f in found} == {(gone, "export")}
    assert len(found) == len(kept_files)
    ok(runner, "catalog", "gc", "--delete", "--catalog", url)
    assert not parts(exp / f"run_id={gone}")
    assert parts(exp / "run_id=20260101_000000_0000abcd") == kept_files
    assert json.loads(ok(runner, "catalog", "gc", "--json", "--catalog", url)) == []
