"""How lens commands find their lens without ``--lens-dir``, and what ``load``/``export``
accept: a ``.lens`` file, a run dir, a lens root, a run id, the document's missing
``ROOT/lens_snapshot_full.lens``; ``export --output X.parquet`` as one file (issue 14)."""

from __future__ import annotations

from pathlib import Path

import duckdb
import pytest

from tests.cli.conftest import assert_one_line_error, catalog_url, invoke, ok, ok_json

FIELD = "atmosphere.temperature"
TINY = ("--scenario", "tiny")


@pytest.fixture
def here(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    work = tmp_path / "work"
    work.mkdir()
    monkeypatch.chdir(work)
    monkeypatch.setenv("CONTINUUM_CATALOG", catalog_url(tmp_path))
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "xdg"))
    return work


def lens_run(root: Path | str, steps: int = 20, *extra: object) -> str:
    summary = ok_json(
        *("run", "terra", *TINY, "--steps", steps, "--json", "--lens-dir", root),
        *("--lens-chunk-size", 10, *extra),
    )
    run_id: str = summary["run_id"]
    return run_id


def test_query_without_lens_dir_reads_the_catalogs_newest_lens_run(here, tmp_path):
    lens_run(tmp_path / "a", 20)
    newer = lens_run(tmp_path / "b", 30)
    ok_json("run", "terra", *TINY, "--steps", 2, "--json")  # newest run, but no lens
    got = invoke("lens", "query", FIELD, "--tick", 25, "--position", "0,0,1", "--json")
    assert got.exit_code == 0, got.output
    assert newer in got.stderr and "newest run with lens data in the catalog" in got.stderr
    assert (
        ok_json("lens", "history", FIELD, "--position", "0,0,1", "--format", "json")["ticks"][-1]
        == 30
    )


def test_without_a_catalog_run_lens_here_is_read(here, tmp_path):
    made = ok_json(
        "run", "terra", *TINY, "--steps", 5, "--json", "--lens-stride", 1, "--no-catalog"
    )
    assert (here / "lens" / made["run_id"]).is_dir()
    got = invoke("lens", "query", FIELD, "--tick", 5, "--position", "1,0,0")
    assert got.exit_code == 0, got.output
    assert made["run_id"] in got.stderr and "./lens" in got.stderr
    assert not (tmp_path / "catalog.db").exists()  # a lens command made no catalog


def test_nothing_to_read_says_where_it_looked(here):
    got = invoke("lens", "query", FIELD, "--tick", 5, "--position", "1,0,0")
    assert_one_line_error(got, "no lens data found", "./lens", "--lens-dir")


def test_a_lens_root_with_several_runs_means_its_newest(here):
    lens_run("root", 10)
    newest = lens_run("root", 20)
    got = invoke("lens", "load", "root", "--json")
    assert got.exit_code == 0, got.output
    assert newest in got.stdout and f"reading run {newest}, the newest of 2 runs" in got.stderr
    got = invoke("lens", "query", FIELD, "--tick", 15, "--position", "1,0,0", "--lens-dir", "root")
    assert got.exit_code == 0 and newest in got.stderr


def test_load_takes_a_file_a_run_dir_and_a_run_id(here):
    run_id = lens_run("root", 20)
    chunk = f"root/{run_id}/lens_snapshot_0000000010-0000000020.lens"
    assert ok_json("lens", "load", chunk, "--json")["tick_range"] == [10, 20]
    assert ok_json("lens", "load", f"root/{run_id}", "--json")["run_id"] == run_id
    assert ok_json("lens", "load", run_id, "--json")["run_id"] == run_id  # via the catalog
    assert ok_json("lens", "load", "--json")["run_id"] == run_id  # no PATH: the newest
    assert_one_line_error(invoke("lens", "load", "nope/x.lens"), "does not exist", "run id")


def test_the_documents_missing_full_snapshot_reads_the_roots_newest_run(here):
    lens_run("terra-lens", 10)
    newest = lens_run("terra-lens", 20)
    got = invoke("lens", "load", "./terra-lens/lens_snapshot_full.lens", "--json")
    assert got.exit_code == 0, got.output
    assert f'"run_id": "{newest}"' in got.stdout or newest in got.stdout
    assert "wrote no full snapshot; reading all its chunks" in got.stderr
    full = lens_run("terra-lens", 30, "--lens-full")
    got = invoke("lens", "load", "./terra-lens/lens_snapshot_full.lens", "--json")
    assert got.exit_code == 0, got.output
    assert f"terra-lens/{full}/lens_snapshot_full.lens" in got.stdout  # the file itself
    assert "the full snapshot of run" in got.stderr


def test_export_of_an_existing_lens_file(here):
    run_id = lens_run("root", 20)
    chunk = f"root/{run_id}/lens_snapshot_0000000010-0000000020.lens"
    info = ok_json("lens", "export", chunk, "--output", "parts", "--json")
    assert info["chunks"] == 1 and info["rows"] > 0
    parts = sorted(p.name for p in Path("parts").rglob("part-*.parquet"))
    assert parts and all(name == "part-0000000010-0000000020.parquet" for name in parts)


def test_export_to_one_parquet_file(here):
    run_id = lens_run("root", 20)
    everything = ok_json("lens", "export", f"root/{run_id}", "--output", "parts", "--json")
    info = ok_json("lens", "export", f"root/{run_id}", "--output", "data/fields.parquet", "--json")
    target = here / "data" / "fields.parquet"
    assert target.is_file() and info["rows"] == everything["rows"] and info["chunks"] == 3
    assert sorted(p.name for p in target.parent.iterdir()) == ["fields.parquet"]
    with duckdb.connect() as con:
        rows = con.execute(
            "SELECT field, count(*), min(tick), max(tick), count(*) FILTER (sim_time IS NULL) "
            "FROM read_parquet(?) GROUP BY field ORDER BY field",
            [str(target)],
        ).fetchall()
        meta = dict(
            con.execute(
                "SELECT decode(key), decode(value) FROM parquet_kv_metadata(?)", [str(target)]
            ).fetchall()
        )
    assert sum(r[1] for r in rows) == info["rows"]
    assert all(r[2] == 0 and r[3] == 20 and r[4] == 0 for r in rows), rows
    assert meta["run_id"] == run_id and meta["resolution"] == "8"
    # re-exporting replaces the file whole; an output named .parquet that is a directory is refused
    assert (
        ok_json("lens", "export", f"root/{run_id}", "--output", target, "--json")["rows"]
        == info["rows"]
    )
    (here / "dir.parquet").mkdir()
    got = invoke("lens", "export", f"root/{run_id}", "--output", "dir.parquet")
    assert_one_line_error(got, "dir.parquet")


def test_export_of_the_documents_full_snapshot_path_to_one_file(here):
    lens_run("terra-lens", 20)
    got = invoke(
        *("lens", "export", "./terra-lens/lens_snapshot_full.lens", "--format", "parquet"),
        *("--output", "./data/terra_fields.parquet"),
    )
    assert got.exit_code == 0, got.output
    assert (here / "data" / "terra_fields.parquet").read_bytes()[:4] == b"PAR1"


def test_export_format_lists_what_it_writes():
    shown = ok("lens", "export", "--help").replace("\n", " ").replace("  ", " ")
    assert "[parquet|netcdf|zarr]" in shown
    got = invoke("lens", "export", "--format", "hdf5")
    assert got.exit_code == 2 and "parquet" in got.stderr
