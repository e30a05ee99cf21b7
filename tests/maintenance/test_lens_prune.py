"""Lens retention (issue 13): rules count chunk windows, the dry run shows their tick
ranges, and pruned chunks read as pruned (``lens load``), their Parquet exports gone
(files and rows, so ``lens sql`` no longer answers from them) — also while the run's own
writer keeps rewriting the lens manifest, in this process or another."""

from __future__ import annotations

import json
import subprocess
import sys
import threading
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from continuum import layout
from continuum.catalog.retention.rules import Item, KeepLast, KeepWithin, MaxBytes, plan_windows
from continuum.lens.manifest import LensManifest, record_pruned
from tests.cli.conftest import catalog_url, invoke, ok, ok_json, run_json

SIZE = 10  # --lens-chunk-size


def spans(lens_run: Path) -> list[tuple[int, int]]:
    found = (layout.parse_lens_chunk_name(p.name) for p in lens_run.iterdir())
    return sorted(s for s in found if s is not None)


def windows(found: list[tuple[int, int]]) -> dict[tuple[int, int], int]:
    """window -> how many files it is in."""
    out: dict[tuple[int, int], int] = {}
    for start, _ in found:
        w = (start - start % SIZE, start - start % SIZE + SIZE)
        out[w] = out.get(w, 0) + 1
    return out


def exported(root: Path) -> set[tuple[int, int]]:
    """The chunk ranges some Parquet part under ``root`` was exported for."""
    out = set()
    for part in root.rglob("part-*.parquet"):
        m = layout.PART_NAME_RE.match(part.name)
        assert m is not None
        out.add((int(m["start"]), int(m["end"])))
    return out


def sql(url: str, root: Path, query: str) -> list[dict[str, Any]]:
    rows: list[dict[str, Any]] = ok_json(
        "lens", "sql", query, "--export-dir", root, "--format", "json", "--catalog", url
    )
    return rows


def test_lens_prune_counts_windows_and_pruned_chunks_read_as_pruned(tmp_path: Path) -> None:
    url = catalog_url(tmp_path)
    ex, lens = tmp_path / "ex", tmp_path / "lens"
    common = (
        "--checkpoint-dir", tmp_path / "ck", "--checkpoint-stride", "5", "--catalog", url,
        "--lens-dir", lens, "--lens-chunk-size", SIZE, "--lens-export-dir", ex,
    )  # fmt: skip
    rid = run_json(*common, "--steps", "25")["run_id"]
    # resumed in place inside window [20, 30): its files (pieces, or one file rewritten whole)
    # and their exports (one per piece written) are all of that one window
    run_json(*common, "--steps", "20", "--resume-run", rid)
    d = lens / rid
    before = spans(d)
    by_window = windows(before)
    assert list(by_window) == [(0, 10), (10, 20), (20, 30), (30, 40), (40, 50)]
    assert set(windows(sorted(exported(ex)))) == set(by_window)

    out = ok("catalog", "policy", "set", "--run", rid, "--lens-keep-last", "2", "--catalog", url)
    assert "lens-keep-last=2" in out
    dry = ok_json("catalog", "prune", "--run", rid, "--dry-run", "--json", "--catalog", url)
    (plan,) = [r for r in dry["runs"] if r["kind"] == "lens-chunk"]
    assert plan["kept"] == [
        {"ticks": [30, 40], "files": 1, "rules": ["keep-last"]},
        {"ticks": [40, 50], "files": 1, "rules": ["keep-last"]},
    ]
    gone = [w for w in by_window if w[0] < 30]
    assert [(tuple(x["ticks"]), x["files"]) for x in plan["delete"]] == [
        (w, by_window[w]) for w in gone
    ]
    text = ok("catalog", "prune", "--run", rid, "--dry-run", "--catalog", url)
    assert "lens chunk windows" in text and "keep 2, delete 3" in text
    rows = [line.split() for line in text.splitlines() if line.strip().startswith("delete")]
    lens_rows = [r for r in rows if "-" in r[1]]  # tick ranges, e.g. 0-9 (checkpoints: ticks)
    assert [r[1] for r in lens_rows] == ["0-9", "10-19", "20-29"]
    exports_before = exported(ex)
    assert spans(d) == before and exported(ex) == exports_before  # a dry run deletes nothing

    report = ok_json("catalog", "prune", "--run", rid, "--json", "--catalog", url)
    pruned = [s for s in before if s[0] < 30]
    assert report["deleted"] == len(pruned) and report["errors"] == []
    assert report["export_files_removed"] > 0
    assert spans(d) == [s for s in before if s[0] >= 30]
    loaded = ok_json("lens", "load", d, "--json")
    assert loaded["missing_chunks"] == [] and loaded["gaps"] == []  # pruned, not missing
    assert loaded["missing_ticks"] == 0
    assert [c["name"] for c in loaded["pruned_chunks"]] == [
        layout.lens_chunk_name(*s) for s in pruned
    ]
    for c, (lo, hi) in zip(loaded["pruned_chunks"], pruned, strict=True):
        assert lo <= c["tick_range"][0] < c["tick_range"][1] <= hi  # the ticks it held
    # every field, ticks and signals part of the pruned windows is gone, the others stay
    assert exported(ex) == {s for s in exports_before if s[0] >= 30}
    assert sql(url, ex, "SELECT min(tick) AS t FROM fields") == [{"t": 30}]
    assert sql(url, ex, "SELECT min(tick) AS t FROM ticks") == [{"t": 30}]
    left = sql(url, ex, "SELECT min(start_tick) AS t FROM parquet_exports")
    assert left == [{"t": 30}]
    assert invoke("catalog", "verify", "--catalog", url).exit_code == 0  # nothing looks damaged
    again = ok_json("catalog", "prune", "--run", rid, "--json", "--catalog", url)
    assert (again["deleted"], again["export_files_removed"]) == (0, 0)

    # the policy applies in the run's next segment too, on its writer thread, while its lens
    # writer rewrites the manifest after every chunk: nothing pruned may come back as missing
    run_json(*common, "--steps", "30", "--resume-run", rid)
    mid = ok_json("lens", "load", d, "--json")
    assert mid["missing_chunks"] == []
    assert len(mid["pruned_chunks"]) > len(pruned)  # the writer thread pruned some already
    ok("catalog", "prune", "--run", rid, "--catalog", url)
    after = spans(d)
    assert list(windows(after)) == [(60, 70), (70, 80)]
    loaded = ok_json("lens", "load", d, "--json")
    assert loaded["missing_chunks"] == [] and loaded["gaps"] == []  # pruned, not missing
    assert loaded["missing_ticks"] == 0
    names = {layout.lens_chunk_name(*s) for s in after}
    listed = json.loads(layout.manifest_path(d).read_text())
    assert {c["name"] for c in listed["chunks"]} == names  # present files only
    assert {c["name"] for c in loaded["pruned_chunks"]} == {
        e["name"] for e in listed["pruned"]
    } and not names & {e["name"] for e in listed["pruned"]}
    assert set(windows(sorted(exported(ex)))) == set(windows(after))


NOW = datetime(2026, 3, 10, 12, 0, tzinfo=UTC)


def piece(start: int, end: int, size: int = 10, hours_old: float = 0.0) -> Item:
    return Item(f"id{start}", end, NOW - timedelta(hours=hours_old), size, False, "", start)


def test_windows_not_files_are_what_lens_rules_count() -> None:
    # [20, 30) was written in two pieces; [40, 41) is a one-frame piece of the live window
    its = [piece(0, 10), piece(10, 20), piece(20, 26), piece(26, 30), piece(30, 40), piece(40, 41)]
    plan = plan_windows("r", its, [KeepLast(2)], SIZE)
    assert [w for w, _, _ in plan.kept_windows()] == [(30, 40), (40, 50)]
    assert [(w, len(f)) for w, f, _ in plan.deleted_windows()] == [
        ((0, 10), 1), ((10, 20), 1), ((20, 30), 2)
    ]  # fmt: skip
    assert plan.to_dict()["delete"][-1] == {"ticks": [20, 30], "files": 2, "bytes": 20}
    three = plan_windows("r", its, [KeepLast(3)], SIZE)
    assert sorted(i.key for i, _ in three.kept) == ["id20", "id26", "id30", "id40"]
    # a window's size is its files' together; its age its newest file's
    assert [w for w, _, _ in plan_windows("r", its, [MaxBytes(30)], SIZE).kept_windows()] == [
        (30, 40),
        (40, 50),
    ]
    aged = [piece(0, 10, hours_old=5), piece(10, 16, hours_old=5), piece(16, 20, hours_old=1)]
    within = plan_windows("r", aged, [KeepWithin(timedelta(hours=2), NOW)], SIZE)
    assert [w for w, _, _ in within.kept_windows()] == [(10, 20)]
    # no known chunk size (no lens manifest): each file is its own window
    per_file = plan_windows("r", its, [KeepLast(2)], None)
    assert [w for w, _, _ in per_file.kept_windows()] == [(30, 40), (40, 41)]


def _writer_manifest(d: Path, n: int) -> LensManifest:
    m = LensManifest.open(d, {"chunk_size": SIZE})
    for lo in range(0, n * SIZE, SIZE):
        name = layout.lens_chunk_name(lo, lo + SIZE)
        m.add_chunk({"name": name, "tick_range": [lo, lo + SIZE], "bytes": 1, "frames": 1})
    return m


def test_a_live_writers_manifest_rewrite_keeps_what_a_prune_recorded(tmp_path: Path) -> None:
    d = tmp_path / "lensrun"
    writer = _writer_manifest(d, 4)  # the live writer's copy lists chunks 0-3
    assert record_pruned(d, [(layout.lens_chunk_name(0, 10), (0, 10))]) == [
        layout.lens_chunk_name(0, 10)
    ]
    writer.add_chunk({"name": layout.lens_chunk_name(40, 50), "tick_range": [40, 50], "bytes": 1})
    on_disk = json.loads(layout.manifest_path(d).read_text())
    assert [c["tick_range"] for c in on_disk["chunks"]] == [[10, 20], [20, 30], [30, 40], [40, 50]]
    assert [(e["name"], e["tick_range"], e["frames"]) for e in on_disk["pruned"]] == [
        (layout.lens_chunk_name(0, 10), [0, 10], 1)
    ]
    assert record_pruned(d, [(layout.lens_chunk_name(0, 10), (0, 10))]) == []  # idempotent
    assert record_pruned(d, [("../manifest.json", (0, 10))]) == []  # not a chunk name


PRUNER = """
import sys
from pathlib import Path
from continuum import layout
from continuum.lens.manifest import record_pruned
d = Path(sys.argv[1])
for k in range(int(sys.argv[2])):
    name = layout.lens_chunk_name(k * 10, k * 10 + 10)
    assert record_pruned(d, [(name, (k * 10, k * 10 + 10))]) == [name]
"""


def test_prunes_from_another_process_racing_the_writer_are_all_kept(tmp_path: Path) -> None:
    d = tmp_path / "lensrun"
    n_old, n_new = 40, 80
    writer = _writer_manifest(d, n_old)
    pruner = subprocess.Popen([sys.executable, "-c", PRUNER, str(d), str(n_old)])
    errors: list[BaseException] = []

    def write_more() -> None:
        try:
            for k in range(n_old, n_old + n_new):
                lo = k * SIZE
                name = layout.lens_chunk_name(lo, lo + SIZE)
                writer.add_chunk({"name": name, "tick_range": [lo, lo + SIZE], "bytes": 1})
        except BaseException as exc:  # reported below, in the test's thread
            errors.append(exc)

    thread = threading.Thread(target=write_more)
    thread.start()
    assert pruner.wait(timeout=120) == 0
    thread.join(timeout=120)
    assert not errors
    writer.save()  # one more rewrite from the writer's memory, after the last prune
    on_disk = json.loads(layout.manifest_path(d).read_text())
    assert len(on_disk["pruned"]) == n_old
    assert [c["tick_range"][0] // SIZE for c in on_disk["chunks"]] == list(
        range(n_old, n_old + n_new)
    )
