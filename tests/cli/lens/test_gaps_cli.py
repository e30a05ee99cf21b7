"""``continuum lens load|query|history`` on a lens run dir with gaps."""

from __future__ import annotations

import csv
import io
import json

from tests.cli.conftest import assert_one_line_error, catalog_url, invoke, ok, ok_json
from tests.lens.gap_dirs import FIELD, GAPPY, RUN_ID, gappy_run


def test_load_lists_every_gap_and_the_missing_ticks(tmp_path):
    run_dir = gappy_run(tmp_path)
    info = ok_json("lens", "load", run_dir, "--json")
    assert [(g["start"], g["end"], g["cause"], g["ticks"]) for g in info["gaps"]] == GAPPY
    assert info["missing_ticks"] == 9
    assert info["superseded_chunks"] == ["lens_snapshot_0000000010-0000000013.lens"]
    text = ok("lens", "load", run_dir)
    lines = [line.strip() for line in text.splitlines()]
    at = lines.index("gaps  [14, 15)  1 ticks  dropped")
    assert lines[at + 1 : at + 4] == [
        "[26, 30)  4 ticks  missing",
        "[33, 35)  2 ticks  lost",
        "[40, 42)  2 ticks  dropped",
    ]
    assert "missing_ticks  9" in lines


def test_load_of_a_run_without_gaps_says_zero(tmp_path):
    run_dir = gappy_run(tmp_path)
    for name in sorted(run_dir.glob("lens_snapshot_*.lens"))[1:]:
        name.unlink()
    (run_dir / "manifest.json").unlink()
    info = ok_json("lens", "load", run_dir, "--json")
    assert (info["gaps"], info["missing_ticks"]) == ([], 0)


def test_query_inside_a_gap_is_refused_in_one_line(tmp_path):
    run_dir = gappy_run(tmp_path)
    args = ("lens", "query", FIELD, "--position", "1,0,0", "--lens-dir", run_dir)
    assert_one_line_error(
        invoke(*args, "--tick", 14),
        "tick 14 falls in a lens gap [14, 15) (frames dropped); the nearest captured frames "
        "are 13 and 15; pass --across-gaps",
    )
    assert_one_line_error(
        invoke(*args, "--tick", 28), "tick 28 falls in a lens gap [26, 30) (no chunk file"
    )
    got = ok_json(*args, "--tick", 28, "--across-gaps", "--json")
    assert (got["value"], got["ticks"], got["weight"]) == (28.0, [25, 30], 0.6)
    assert ok(*args, "--tick", 13).startswith("13.0  (containing; tick 13)")


def test_history_across_a_gap_needs_the_flag_and_names_the_gaps(tmp_path):
    run_dir = gappy_run(tmp_path)
    args = ("lens", "history", FIELD, "--position", "1,0,0", "--lens-dir", run_dir)
    assert_one_line_error(
        invoke(*args, "--from", 10, "--to", 20),
        "crosses lens gap [14, 15) (frames dropped) (1 capture ticks missing)",
    )
    result = invoke(*args, "--from", 10, "--to", 20, "--across-gaps")
    assert result.exit_code == 0, result.output
    rows = list(csv.DictReader(io.StringIO(result.stdout)))
    assert [int(r["tick"]) for r in rows] == [10, 11, 12, 13, 15, 16, 17, 18, 19, 20]
    assert result.stderr == (
        "warning: lens gap [14, 15) (frames dropped): 1 capture ticks not in the rows\n"
    )
    doc = json.loads(ok(*args, "--to", 30, "--across-gaps", "--format", "json"))
    assert [(g["start"], g["end"], g["cause"]) for g in doc["gaps"]] == [
        (14, 15, "dropped"),
        (26, 30, "missing"),
    ]
    assert ok(*args, "--from", 15, "--to", 25).count("\n") == 12  # header + 11 rows


def test_catalog_scan_then_show_lists_the_gaps(tmp_path):
    gappy_run(tmp_path / "lens")
    url = catalog_url(tmp_path)
    ok("catalog", "scan", tmp_path / "lens", "--catalog", url)
    shown = ok_json("catalog", "show", RUN_ID, "--catalog", url, "--json")
    assert [(g["start_tick"], g["end_tick"], g["cause"]) for g in shown["lens_gaps"]] == [
        g[:3] for g in GAPPY
    ]
    text = ok("catalog", "show", RUN_ID, "--catalog", url)
    lines = text.splitlines()
    at = lines.index("lens gaps (4):")
    assert [line.split() for line in lines[at + 1 : at + 6]] == [
        ["TICKS", "CAUSE"],
        ["[14,", "15)", "dropped"],
        ["[26,", "30)", "missing"],
        ["[33,", "35)", "lost"],
        ["[40,", "42)", "dropped"],
    ]
