"""Where exported parts land: relative export directories, and chunks whose header names
another run (issue 12, class 3: an identifier from a file must not choose the path)."""

from __future__ import annotations

import hashlib
import json
from dataclasses import replace
from pathlib import Path

import pytest

from continuum.lens.format import ChunkFile, write_chunk
from tests.cli.conftest import assert_one_line_error, catalog_url, ok, ok_json
from tests.conftest import lens_run


def parts(root: Path) -> dict[str, str]:
    return {
        str(p.relative_to(root)): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(root.rglob("*.parquet"))
    }


def test_relative_export_dirs_hold_the_parts_where_they_say(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    url = catalog_url(tmp_path)
    summary = ok_json(
        "run", "terra", "--scenario", "tiny", "--steps", "12", "--lens-dir", "lens",
        "--lens-export-dir", "exp", "--lens-chunk-size", "5", "--catalog", url, "--json",
    )  # fmt: skip
    run_id = summary["run_id"]
    assert {Path(p).parts[0] for p in parts(tmp_path / "exp")} == {f"run_id={run_id}"}
    ok("lens", "export", "--run", run_id, "--output", "sub/dir", "--catalog", url)
    assert {Path(p).parts[0] for p in parts(tmp_path / "sub" / "dir")} == {f"run_id={run_id}"}
    out = ok("lens", "sql", "SELECT count(*) AS n FROM ticks", "--export-dir", "exp",
             "--format", "json", "--catalog", url)  # fmt: skip
    assert json.loads(out) == [{"n": 13}]


def test_a_chunk_naming_another_run_cannot_replace_its_parts(tmp_path):
    url = catalog_url(tmp_path)
    mine, lens = lens_run(url, tmp_path / "lens", 12)
    victim, _ = lens_run(url, tmp_path / "lens2", 12, "--seed", "5")
    exports = tmp_path / "exp"
    ok("lens", "export", "--run", victim, "--output", exports, "--catalog", url)
    before = parts(exports)
    forged_dir = tmp_path / "forged" / mine
    forged_dir.mkdir(parents=True)
    source = min(lens.glob("lens_snapshot_*.lens"))
    with ChunkFile(source) as chunk:
        data, h = chunk.read_all(), chunk.header
    write_chunk(forged_dir / source.name, data, replace(h.identity, run_id=victim),
                tick_range=tuple(h.tick_range))  # fmt: skip
    from tests.cli.conftest import invoke

    result = invoke("lens", "export", forged_dir, "--output", exports, "--no-catalog")
    assert_one_line_error(result, "names run", victim)
    assert parts(exports) == before


@pytest.mark.parametrize("where", ["tmp", "cwd"])
def test_a_loose_checkpoint_file_needs_a_checkpoint_dir(tmp_path, monkeypatch, where):
    url = catalog_url(tmp_path)
    summary = ok_json(
        "run", "terra", "--scenario", "tiny", "--steps", "4", "--checkpoint-dir",
        tmp_path / "ck", "--checkpoint-stride", "2", "--catalog", url, "--json",
    )  # fmt: skip
    newest = max(Path(summary["checkpoint_dir"]).glob("checkpoint_*.ckpt"))
    loose_dir = tmp_path / "loose"
    loose_dir.mkdir()
    loose = loose_dir / newest.name
    loose.write_bytes(newest.read_bytes())
    if where == "cwd":
        monkeypatch.chdir(loose_dir)
    before = sorted(p.name for p in tmp_path.iterdir())
    from tests.cli.conftest import invoke

    arg = loose.name if where == "cwd" else str(loose)
    result = invoke("run", "terra", "--checkpoint-path", arg, "--steps", "2", "--no-catalog")
    assert_one_line_error(result, "--checkpoint-dir")
    assert sorted(p.name for p in tmp_path.iterdir()) == before
    assert sorted(p.name for p in loose_dir.iterdir()) == [loose.name]
    done = ok_json("run", "terra", "--checkpoint-path", arg, "--steps", "2", "--no-catalog",
                   "--checkpoint-dir", tmp_path / "branches", "--json")  # fmt: skip
    assert Path(done["checkpoint_dir"]).parent == tmp_path / "branches"
