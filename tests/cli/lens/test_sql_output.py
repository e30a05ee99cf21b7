"""``lens sql`` output: rows streamed to --output, cut at --limit on stdout, bounds as flags."""

from __future__ import annotations

import json
import time
from pathlib import Path

import pytest

from tests.cli.conftest import assert_one_line_error, invoke


@pytest.fixture(autouse=True)
def own_catalog(tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch) -> None:
    """An empty catalog of its own: exports other tests recorded in the session's catalog
    (outside these tests' roots) would add a warning line to the stderr asserted here."""
    home = tmp_path_factory.mktemp("own")
    monkeypatch.setenv("CONTINUUM_CATALOG", f"sqlite:///{home / 'own.db'}")
    monkeypatch.setenv("XDG_DATA_HOME", str(home / "data"))


ROWS = "SELECT i, i * 0.5 AS half, 'r' || i AS name FROM range(5000) t(i)"


def sql(*args: object):
    return invoke("lens", "sql", *args)


def test_stdout_is_cut_at_the_limit_with_a_note():
    got = sql(ROWS, "--format", "csv")
    assert got.exit_code == 0, got.output
    lines = got.stdout.splitlines()
    assert lines[0] == "i,half,name" and len(lines) == 1001 and lines[-1] == "999,499.5,r999"
    assert got.stderr == (
        "note: showed the first 1000 rows; there are more "
        "(--limit 0 prints all, --output FILE saves all)\n"
    )
    docs = json.loads(sql(ROWS, "--format", "json", "--limit", "10").stdout)
    assert [d["i"] for d in docs] == list(range(10))
    table = sql(ROWS, "--limit", "3").stdout.splitlines()
    assert table[0].split() == ["i", "half", "name"] and len(table) == 2 + 3


def test_all_rows_when_asked_and_no_note_when_none_are_left():
    every = sql(ROWS, "--format", "csv", "--limit", "0")
    assert every.stdout.count("\n") == 5001 and every.stderr == ""
    exact = sql(ROWS, "--format", "csv", "--limit", "5000")
    assert exact.stdout.count("\n") == 5001 and exact.stderr == ""
    table = sql(ROWS, "--limit", "0").stdout.splitlines()  # aligned per batch of rows
    assert len(table) == 2 + 5000 and table[-1].split() == ["4999", "2499.5", "r4999"]


def test_output_gets_every_row_atomically(tmp_path: Path):
    out = tmp_path / "all.json"
    got = sql(ROWS, "--format", "json", "--output", out)
    assert got.exit_code == 0 and got.stdout == "" and got.stderr == ""
    assert [d["i"] for d in json.loads(out.read_text())] == list(range(5000))
    capped = sql(ROWS, "--format", "csv", "--output", out, "--limit", "7")
    assert capped.exit_code == 0 and "first 7 rows" in capped.stderr
    assert out.read_text().count("\n") == 8
    assert sorted(p.name for p in tmp_path.iterdir()) == ["all.json"]


def test_a_timeout_leaves_no_output_file(tmp_path: Path):
    out = tmp_path / "big.csv"
    out.write_text("old\n")
    start = time.monotonic()
    got = sql("SELECT * FROM range(1000000000000)", "--output", out, "--timeout", "0.5")
    assert_one_line_error(got, "0.5 s timeout", "--timeout")
    assert time.monotonic() - start < 20
    assert out.read_text() == "old\n" and [p.name for p in tmp_path.iterdir()] == ["big.csv"]


def test_timeout_and_memory_limit_on_stdout():
    endless = "SELECT count(*) FROM range(1000000000000) a, range(1000) b"
    assert_one_line_error(sql(endless, "--timeout", "0.3"), "timeout")
    hungry = "SELECT list(i) FROM range(100000000) t(i)"
    assert_one_line_error(sql(hungry, "--memory-limit", "64M"), "64 MiB memory limit")
    assert sql("SELECT 1", "--memory-limit", "2G", "--timeout", "0").exit_code == 0


def test_bad_flags():
    assert_one_line_error(sql("SELECT 1", "--memory-limit", "lots"), "expected")
    assert_one_line_error(sql("SELECT 1", "--memory-limit", "1K"), "too small")
    assert sql("SELECT 1", "--timeout", "-1").exit_code == 2
    assert sql("SELECT 1", "--limit", "-1").exit_code == 2


def test_output_inside_an_export_dir_is_refused(tmp_path: Path):
    root = tmp_path / "exp"
    root.mkdir()
    target = root / "run_id=x" / "field=f" / "part-0000000000-0000000001.parquet"
    got = sql("SELECT 1", "--export-dir", root, "--output", target)
    assert_one_line_error(got, "inside an export dir")
    assert [p.name for p in root.iterdir()] == []


def test_values_json_cannot_hold_are_plain():
    query = "SELECT 'nan'::DOUBLE AS d, [1, 'inf'::DOUBLE] AS l, uuid() IS NOT NULL AS u"
    query += ", {'a': 1} AS s, 1.5::DECIMAL(4, 2) AS dec, TIMESTAMP '2026-01-02 03:04:05' AS t"
    doc = json.loads(sql(query, "--format", "json").stdout)[0]
    assert doc == {
        "d": None,
        "l": [1.0, None],
        "u": True,
        "s": {"a": 1},
        "dec": 1.5,
        "t": "2026-01-02T03:04:05",
    }
    csv = sql(query, "--format", "csv").stdout.splitlines()[1]
    assert csv == 'nan,"[1.0, null]",True,"{""a"": 1}",1.5,2026-01-02T03:04:05'
