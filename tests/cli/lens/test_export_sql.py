"""``continuum lens export`` / ``lens sql`` through the CLI: formats, refusals, live export."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

from tests.cli.conftest import assert_one_line_error, catalog_url, invoke
from tests.sql.conftest import Runs, _runs  # noqa: F401 - registers the two-run fixture


def sql(runs: Runs, *args: str):
    return invoke("lens", "sql", *args, "--catalog", runs.url, "--export-dir", str(runs.exports))


def test_json_csv_table_and_output_file(runs: Runs, tmp_path: Path):
    query = "SELECT seed, count(*) AS n FROM runs GROUP BY seed ORDER BY seed"
    got = sql(runs, query, "--format", "json")
    assert got.exit_code == 0 and json.loads(got.stdout) == [
        {"seed": 1, "n": 1},
        {"seed": 2, "n": 1},
    ]
    assert sql(runs, query, "--format", "csv").stdout == "seed,n\n1,1\n2,1\n"
    assert sql(runs, query).stdout.splitlines()[0].split() == ["seed", "n"]
    out = tmp_path / "result.json"
    assert sql(runs, query, "--format", "json", "--output", str(out)).stdout == ""
    assert json.loads(out.read_text())[1]["seed"] == 2


def test_reading_outside_the_exports_is_refused(runs: Runs):
    assert_one_line_error(sql(runs, "SELECT * FROM read_csv('/etc/passwd')"), "/etc/passwd")
    assert_one_line_error(sql(runs, "SELECT * FROM read_text('/etc/passwd')"))


def test_writing_files_is_refused(runs: Runs, tmp_path: Path):
    for target in ("/tmp/x.csv", str(runs.exports / "evil.csv"), str(tmp_path / "y.csv")):
        assert_one_line_error(sql(runs, f"COPY (SELECT 1) TO '{target}'"), "only reads may run")
        assert not (runs.exports / "evil.csv").exists() and not (tmp_path / "y.csv").exists()
    assert_one_line_error(sql(runs, f"ATTACH '{runs.exports / 'x.db'}'"), "only reads may run")
    assert_one_line_error(sql(runs, "SET enable_external_access = true"), "only reads may run")
    assert_one_line_error(sql(runs, "SELECT 1; SELECT 2"), "one SQL statement")


def test_bad_sql_unknown_run_and_field(runs: Runs, tmp_path: Path):
    assert_one_line_error(sql(runs, "SELEC 1"), "syntax error")
    assert_one_line_error(sql(runs, "SELECT nope FROM fields"), "nope")
    base = ["lens", "export", "--output", str(tmp_path / "o"), "--catalog", runs.url]
    assert_one_line_error(invoke(*base, "--run", "nope"), "no run 'nope'")
    elsewhere = ["lens", "export", str(runs.lens(1)), "--output", str(tmp_path / "o")]
    elsewhere += ["--catalog", catalog_url(tmp_path, "other.db")]
    assert_one_line_error(invoke(*elsewhere), "not in the catalog", "--no-catalog")
    bad_field = [*base, "--run", runs.ids[1], "--fields", "no.such"]
    assert_one_line_error(invoke(*bad_field), "no field 'no.such'")


def test_export_command_counts_rows(runs: Runs, tmp_path: Path):
    out = tmp_path / "o"
    args = ["lens", "export", str(runs.lens(1)), "--output", str(out), "--no-catalog", "--json"]
    args += ["--fields", "surface.elevation", "--from", "5", "--to", "14"]
    got = invoke(*args)
    assert got.exit_code == 0, got.output
    info = json.loads(got.stdout)
    assert info["rows"] == 10 * 6 * 32 * 32 and info["chunks"] == 2


def test_lens_export_dir_needs_lens_dir():
    got = invoke("run", "terra", "--steps", "1", "--lens-export-dir", "x")
    assert got.exit_code == 2 and "--lens-dir" in got.stderr


def test_live_export_is_queryable_while_the_run_goes(tmp_path: Path):
    """A real `continuum run` subprocess; `lens sql` sees its sealed chunks; then it is killed."""
    url = catalog_url(tmp_path, "live.db")
    env = {**os.environ, "CONTINUUM_CATALOG": url}
    cmd = [sys.executable, "-m", "continuum", "run", "terra", "--steps", "100000", "--quiet"]
    cmd += ["--lens-dir", str(tmp_path / "lens"), "--lens-chunk-size", "5"]
    cmd += ["--lens-fields", "surface.elevation", "--lens-export-dir", str(tmp_path / "exp")]
    proc = subprocess.Popen(cmd, env=env, cwd=tmp_path)
    query = [sys.executable, "-m", "continuum", "lens", "sql", "--format", "json"]
    query += ["--export-dir", str(tmp_path / "exp")]
    query += ["SELECT count(DISTINCT tick) AS ticks, count(*) AS n FROM fields"]
    try:
        deadline = time.monotonic() + 30
        seen = {"ticks": 0}
        while time.monotonic() < deadline and seen["ticks"] == 0:
            if not (tmp_path / "exp").is_dir():  # made with the first sealed chunk
                time.sleep(0.1)
                continue
            out = subprocess.run(query, env=env, capture_output=True, text=True, cwd=tmp_path)
            assert out.returncode == 0, out.stderr
            seen = json.loads(out.stdout)[0]
            time.sleep(0.2)
        assert proc.poll() is None, "the run ended before a query saw its chunks"
    finally:
        proc.kill()
        proc.wait()
    assert seen["ticks"] >= 5 and seen["n"] == seen["ticks"] * 6 * 32 * 32
