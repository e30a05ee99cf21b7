"""``continuum catalog scan|verify|show`` end to end: exit codes, one-line errors, text.

The behaviour behind these commands is tested through the Python API in
``tests/maintenance`` and ``tests/catalog``; these tests only check what the CLI adds.
"""

from __future__ import annotations

import json

from click.testing import CliRunner

from continuum.catalog import Catalog
from continuum.cli import cli
from tests.catalog.test_blob_rows_lens import chunk
from tests.conftest import chunks, file_of, lens_run


def test_cli_verify_shows_lens_problems_with_their_tick_range(tmp_path, sqlite_url):
    ckpt = ["--checkpoint-dir", str(tmp_path / "ckpt"), "--checkpoint-stride", "100"]
    run_id, lens_dir = lens_run(sqlite_url, tmp_path / "lens", 250, *ckpt)
    lost = chunks(sqlite_url, run_id)[1]
    file_of(lens_dir, lost).unlink()
    where = f"run {run_id} lens chunk ticks [{lost.start_tick}, {lost.end_tick})"
    with Catalog(sqlite_url) as cat:
        n = len(cat.checkpoints.list(run_id))  # a checkpoint the writer dropped is not listed
    summary = f"checked {n} checkpoint(s) and 3 lens chunk(s) in 1 run(s)"

    def text(*extra: str) -> tuple[int, list[str]]:
        args = ["catalog", "verify", "--catalog", sqlite_url, *extra]
        result = CliRunner().invoke(cli, args)
        return result.exit_code, result.stdout.splitlines()

    code, lines = text()
    assert code == 1 and lines == [
        f"missing: {where}: {file_of(lens_dir, lost)}: committed row, no file",
        f"{summary}: 1 problem(s), 0 repaired",
    ]
    code, lines = text("--repair")
    assert code == 0 and lines[0].endswith("committed row, no file -> marked missing")
    assert text() == (0, [f"{summary}: 0 problem(s), 0 repaired"])


def test_verify_of_an_unknown_run_is_one_line(sqlite_url):
    result = CliRunner().invoke(
        cli, ["catalog", "verify", "--run", "nope", "--catalog", sqlite_url]
    )
    assert result.exit_code == 1 and result.output.count("\n") == 1
    assert "no run 'nope'" in result.output


def test_scan_refuses_what_is_not_a_checkpoint_dir(tmp_path, sqlite_url):
    result = CliRunner().invoke(cli, ["catalog", "scan", str(tmp_path), "--catalog", sqlite_url])
    assert result.exit_code == 1
    assert "is not a checkpoint directory" in result.output and result.output.count("\n") == 1


def test_catalog_show_json_lists_lens_chunks(catalog, catalog_url):
    run = catalog.runs.register(world="terra", ir_hash="cd" * 32, seed=1)
    chunk(catalog, run.run_id, 0)
    args = ["catalog", "show", run.run_id, "--catalog", catalog_url, "--json"]
    result = CliRunner().invoke(cli, args)
    assert result.exit_code == 0, result.output
    shown = json.loads(result.stdout)["lens_chunks"]
    assert [(c["start_tick"], c["end_tick"], c["frames"]) for c in shown] == [(0, 100, 100)]
    assert shown[0]["fields"] == ["surface.elevation", "atmosphere.temperature"]
