"""The SQL ``ticks`` table marks lens gaps: one row per capture tick no frame holds."""

from __future__ import annotations

from continuum import maintenance
from continuum.catalog import Catalog
from continuum.sql import connect, export_run
from tests.lens.gap_dirs import RUN_ID, chunk, gappy_run, manifest

CAPTURED = [t for t in range(0, 26) if t != 14] + [t for t in range(30, 40) if t not in (33, 34)]
MISSING = {14: "dropped", 26: "missing", 27: "missing", 28: "missing", 29: "missing"}
MISSING |= {33: "lost", 34: "lost", 40: "dropped", 41: "dropped"}


def test_ticks_hold_a_row_per_missing_tick_with_its_cause(tmp_path):
    run_dir = gappy_run(tmp_path / "lens")
    url = f"sqlite:///{tmp_path / 'cat.db'}"
    with Catalog(url) as cat:
        # known to the catalog without its gaps: the export records them
        cat.runs.register(world="terra", ir_hash="h" * 8, seed=7, run_id=RUN_ID)
        export_run(run_dir, tmp_path / "exp", catalog=cat)
        assert len(cat.lens_gaps.list(RUN_ID)) == 4
    with connect(url, roots=[tmp_path / "exp"]) as s:
        rows = s.execute(
            "SELECT tick, sim_time, captured, gap_cause FROM ticks ORDER BY tick"
        ).fetchall()
        joined = s.execute(
            "SELECT count(*) FROM ticks t LEFT JOIN fields f USING (run_id, tick) "
            "WHERE NOT t.captured AND f.tick IS NOT NULL"
        ).fetchone()
        gaps = s.execute("SELECT start_tick, end_tick, cause FROM lens_gaps").fetchall()
    assert [r[0] for r in rows if r[2]] == CAPTURED  # the superseded piece adds no rows
    assert all(r[1] == 10.0 * r[0] and r[3] is None for r in rows if r[2])
    assert {r[0]: r[3] for r in rows if not r[2]} == MISSING
    assert all(r[1] is None for r in rows if not r[2])
    assert joined == (0,)
    assert sorted(gaps) == [
        (14, 15, "dropped"),
        (26, 30, "missing"),
        (33, 35, "lost"),
        (40, 42, "dropped"),
    ]


def test_gap_rows_step_by_the_capture_stride(tmp_path):
    """Stride 3: a gap [12, 19) means ticks 12, 15 and 18, not seven rows."""
    run_dir = tmp_path / "lens" / RUN_ID
    run_dir.mkdir(parents=True)
    entries = [
        chunk(run_dir, [0, 3, 6, 9], (0, 10), name=(0, 10)),
        chunk(run_dir, [21, 24, 27], (20, 30), name=(20, 30)),
    ]
    manifest(run_dir, entries, stride=3, gaps=[])
    url = f"sqlite:///{tmp_path / 'cat.db'}"
    with Catalog(url) as cat:
        maintenance.scan(cat, tmp_path / "lens")  # scan derives the gap
        export_run(run_dir, tmp_path / "exp", catalog=cat)
    with connect(url, roots=[tmp_path / "exp"]) as s:
        missing = s.execute(
            "SELECT tick, gap_cause FROM ticks WHERE NOT captured ORDER BY tick"
        ).fetchall()
        captured = s.execute("SELECT count(*) FROM ticks WHERE captured").fetchone()
    assert missing == [(12, "missing"), (15, "missing"), (18, "missing")]
    assert captured == (7,)


def test_a_window_file_exported_after_its_piece_replaces_the_piece_parts(tmp_path):
    """A segment ended mid-window (piece [10, 13) exported live), the next one rewrote the
    window file [10, 20) with the union: SQL sees each frame once."""
    run_dir = tmp_path / "lens" / RUN_ID
    run_dir.mkdir(parents=True)
    piece = chunk(run_dir, [10, 11, 12], (10, 13), name=(10, 20))
    manifest(run_dir, [piece], stride=1, gaps=[])
    url = f"sqlite:///{tmp_path / 'cat.db'}"
    with Catalog(url) as cat:
        maintenance.scan(cat, tmp_path / "lens")
        export_run(run_dir, tmp_path / "exp", catalog=cat)
        whole = chunk(run_dir, list(range(10, 20)), (10, 20), name=(10, 20))
        manifest(run_dir, [whole], stride=1, gaps=[])
        export_run(run_dir, tmp_path / "exp", catalog=cat)
    parts = sorted(
        p.relative_to(tmp_path / "exp").as_posix() for p in (tmp_path / "exp").rglob("*.parquet")
    )
    assert parts == [
        f"run_id={RUN_ID}/field=t.temp/part-0000000010-0000000020.parquet",
        f"run_id={RUN_ID}/ticks/part-0000000010-0000000020.parquet",
    ]
    with connect(url, roots=[tmp_path / "exp"]) as s:
        ticks = s.execute("SELECT tick FROM ticks ORDER BY tick").fetchall()
        per_tick = s.execute(
            "SELECT count(*) FROM fields GROUP BY tick HAVING count(*) != 6"
        ).fetchall()
    assert [t for (t,) in ticks] == list(range(10, 20))
    assert per_tick == []
