"""``catalog verify`` over lens chunks: real runs, real chunk files, SQLite and PostgreSQL.

Each test runs tiny terra with ``--lens-chunk-size 100`` through the CLI, damages what a
crash or a bad disk would, and checks that verify finds it, ``--repair`` settles it and a
second verify is clean. Chunk rows are taken from the catalog, not assumed: frames the
lens writer drops under load narrow a chunk's recorded ticks (never its window).
"""

from __future__ import annotations

import shutil
from datetime import timedelta
from pathlib import Path

import pytest

from continuum import maintenance
from continuum.catalog import Catalog
from continuum.catalog.db import utcnow
from continuum.errors import BlobStateError
from continuum.layout import lens_chunk_name
from continuum.lens.format import ChunkFile, LensIdentity, write_chunk
from tests.conftest import chunks, file_of, lens_run

DEAD_PID = 999999999  # no such process: its temporaries are a crashed writer's


def verify(url: str, *extra: str) -> tuple[int, dict]:
    """``catalog verify`` through the Python API: (the CLI's exit code, its JSON)."""
    run_id = extra[extra.index("--run") + 1] if "--run" in extra else None
    with Catalog(url) as cat:
        report = maintenance.verify(cat, run_id, repair="--repair" in extra)
    return (0 if report.clean else 1), {**report.to_dict(), "clean": report.clean}


def found(report: dict) -> set[tuple[str, str, tuple[int, int] | None]]:
    return {
        (p["kind"], p["blob"], None if p["ticks"] is None else tuple(p["ticks"]))
        for p in report["problems"]
    }


def flip_byte(path: Path, offset: int) -> None:
    data = bytearray(path.read_bytes())
    data[offset] ^= 0xFF
    path.write_bytes(bytes(data))


def test_verify_finds_damaged_lens_chunks_and_repair_settles_them(tmp_path, catalog_url):
    run_id, lens_dir = lens_run(catalog_url, tmp_path / "lens", 350)
    code, report = verify(catalog_url)
    assert (code, report["problems"], report["lens_chunks"]) == (0, [], 4)
    gone, flipped, pruning, restored = chunks(catalog_url, run_id)
    assert [c.path for c in (gone, flipped, pruning, restored)] == [
        lens_chunk_name(0, 100),
        lens_chunk_name(100, 200),
        lens_chunk_name(200, 300),
        lens_chunk_name(300, 400),  # the window; the file holds ticks [300, 351)
    ]
    file_of(lens_dir, gone).unlink()
    flip_byte(file_of(lens_dir, flipped), -100)  # inside the payload
    backup = tmp_path / "backup.lens"
    shutil.copy(file_of(lens_dir, restored), backup)
    with Catalog(catalog_url) as cat:
        cat.lens_chunks.mark(run_id, pruning.chunk_id, "deleting")  # prune killed mid-way
        cat.lens_chunks.mark(run_id, restored.chunk_id, "deleting")
        file_of(lens_dir, restored).unlink()
        cat.lens_chunks.mark(run_id, restored.chunk_id, "pruned")
    shutil.copy(backup, file_of(lens_dir, restored))  # pruned, then restored from a backup
    temp = lens_dir / f".{lens_chunk_name(400, 500)}.tmp-{DEAD_PID}-0123abcd"
    temp.write_bytes(b"half a chunk")

    code, report = verify(catalog_url)
    assert code == 1 and not report["clean"]
    assert found(report) == {
        ("missing", "lens", (gone.start_tick, gone.end_tick)),
        ("corrupt", "lens", (flipped.start_tick, flipped.end_tick)),
        ("interrupted-prune", "lens", (pruning.start_tick, pruning.end_tick)),
        ("orphan", "lens", (300, 400)),  # the window its name gives (it holds [300, 351))
        ("temp", "lens", None),
    }
    assert all(p["repaired"] is None for p in report["problems"])
    assert file_of(lens_dir, pruning).exists() and temp.exists()  # a plain verify changes nothing

    code, report = verify(catalog_url, "--repair")
    assert code == 0 and report["clean"] and all(p["repaired"] for p in report["problems"])
    assert {p["kind"]: p["repaired"] for p in report["problems"]} == {
        "missing": "marked missing",
        "corrupt": "marked corrupt",
        "interrupted-prune": "file deleted, marked pruned",
        "orphan": "recorded committed",
        "temp": "deleted",
    }
    code, report = verify(catalog_url)
    assert (code, report["problems"], report["lens_chunks"]) == (0, [], 3)

    after = {c.path: c for c in chunks(catalog_url, run_id)}
    assert {p: c.state for p, c in after.items()} == {
        gone.path: "missing",
        flipped.path: "corrupt",
        pruning.path: "pruned",
        restored.path: "committed",
    }
    # the restored file is recorded as the lens writer recorded it
    readopted = after[restored.path]
    assert (readopted.start_tick, readopted.end_tick, readopted.frames, readopted.bytes) == (
        restored.start_tick,
        restored.end_tick,
        restored.frames,
        restored.bytes,
    )
    assert readopted.checksum == restored.checksum and readopted.fields == restored.fields
    assert not file_of(lens_dir, pruning).exists() and not temp.exists()
    assert file_of(lens_dir, flipped).exists()  # a corrupt file is kept: only its row says so
    with Catalog(catalog_url) as cat:
        audit = cat.audit.list(run_id)
    actions = {a.action for a in audit}
    assert {"lens-chunk-missing", "lens-chunk-corrupt", "lens-chunk-pruned"} <= actions
    entry = next(a for a in audit if a.action == "lens-chunk-missing")
    assert entry.path == gone.path and entry.detail.startswith(
        f"ticks [{gone.start_tick}, {gone.end_tick}); catalog verify:"
    )


def test_repair_settles_rows_and_rerecords_rewritten_chunks(tmp_path, catalog_url):
    run_id, lens_dir = lens_run(catalog_url, tmp_path / "lens", 450)
    settled, finished, changed, displaced, kept = chunks(catalog_url, run_id)
    never = lens_dir / lens_chunk_name(900, 1000)
    young = lens_dir / lens_chunk_name(1000, 1100)
    with Catalog(catalog_url) as cat:
        cat.lens_chunks.mark(run_id, settled.chunk_id, "missing")  # e.g. a disk came back
        cat.lens_chunks.mark(run_id, finished.chunk_id, "deleting")
        file_of(lens_dir, finished).unlink()  # prune killed after its unlink
        values = {f: getattr(changed, f) for f in ("start_tick", "end_tick", "frames", "fields")}
        cat.lens_chunks.record(
            run_id, **values, path=file_of(lens_dir, changed), bytes=1, checksum="00" * 16
        )
        for path, age in ((never, timedelta(hours=2)), (young, timedelta(0))):
            cat.lens_chunks.record(
                run_id,
                start_tick=int(path.name[14:24]),
                end_tick=int(path.name[25:35]),
                frames=0,
                fields=[],
                path=path,
                bytes=0,
                checksum=None,
                state="pending",
                created_at=utcnow() - age,
            )  # pending rows whose writes never happened (the young one may still)
    # another chunk of the run in this one's place: intact, but not the file the row lists
    shutil.copy(file_of(lens_dir, kept), file_of(lens_dir, displaced))

    code, report = verify(catalog_url, "--run", run_id)
    assert code == 1 and report["lens_chunks"] == 7
    assert found(report) == {
        ("settled", "lens", (settled.start_tick, settled.end_tick)),
        ("interrupted-prune", "lens", (finished.start_tick, finished.end_tick)),
        ("changed", "lens", (changed.start_tick, changed.end_tick)),
        ("corrupt", "lens", (displaced.start_tick, displaced.end_tick)),
        ("missing", "lens", (900, 1000)),
    }
    details = {p["kind"]: p["detail"] for p in report["problems"]}
    assert f"size 1 -> {changed.bytes}" in details["changed"]
    assert (
        f"run {run_id}" in details["corrupt"] and "header holds ticks [400, " in details["corrupt"]
    )

    assert verify(catalog_url, "--repair")[0] == 0
    code, report = verify(catalog_url)
    assert (code, report["problems"]) == (0, [])
    states = {c.path: c.state for c in chunks(catalog_url, run_id)}
    assert states == {
        settled.path: "committed",
        finished.path: "pruned",
        changed.path: "committed",
        displaced.path: "corrupt",
        kept.path: "committed",
        never.name: "missing",
        young.name: "pending",
    }
    rerecorded = next(c for c in chunks(catalog_url, run_id) if c.path == changed.path)
    assert (rerecorded.bytes, rerecorded.checksum) == (changed.bytes, changed.checksum)


def test_orphans_that_cannot_be_adopted_are_left_in_place_and_said_why(tmp_path, sqlite_url):
    run_id, lens_dir = lens_run(sqlite_url, tmp_path / "lens", 150)
    first = chunks(sqlite_url, run_id)[0]
    with ChunkFile(file_of(lens_dir, first)) as f:
        data, identity = f.read_all(), f.header.identity
    garbage = lens_dir / lens_chunk_name(900, 1000)
    garbage.write_bytes(b"not a lens chunk")
    misnamed = lens_dir / lens_chunk_name(700, 800)
    shutil.copy(file_of(lens_dir, first), misnamed)
    overlapping = lens_dir / lens_chunk_name(0, 200)  # ticks a listed chunk already holds
    write_chunk(overlapping, data, identity, tick_range=(0, 200))
    foreign = lens_dir / lens_chunk_name(0, 1000)  # another run's chunk
    other = LensIdentity(**{**vars(identity), "run_id": "20260101_000000_other"})
    write_chunk(foreign, data, other, tick_range=(0, 1000))

    for extra in ((), ("--repair",)):
        code, report = verify(sqlite_url, *extra)
        assert code == 1 and not report["clean"]
        problems = {Path(p["path"]).name: p for p in report["problems"]}
        assert set(problems) == {f.name for f in (garbage, misnamed, overlapping, foreign)}
        assert {p["kind"] for p in problems.values()} == {"orphan"}
        assert all(p["repaired"] is None for p in problems.values())
        said = "left in place, unrecorded: " if extra else "--repair will leave it: "
        why = {name: p["detail"].split(said, 1)[1] for name, p in problems.items()}
        assert why[garbage.name].startswith("not a Continuum LENS file")
        assert why[misnamed.name] == (
            f"its header holds ticks [0, 100) of run {run_id}, its name says ticks [700, 800) "
            f"of run {run_id}"
        )
        assert why[overlapping.name].startswith(
            f"ticks [{first.start_tick}, {first.end_tick}) already have a row for {first.path}"
        )
        assert "of run 20260101_000000_other" in why[foreign.name]
    assert all(f.exists() for f in (garbage, misnamed, overlapping, foreign))
    assert [c.path for c in chunks(sqlite_url, run_id)] == [
        lens_chunk_name(0, 100),
        lens_chunk_name(100, 200),  # the window; the file holds ticks [100, 151)
    ]


def test_mark_lens_chunk_state_follows_the_checkpoint_rules(catalog):
    run = catalog.runs.register(world="terra", ir_hash="cd" * 32, seed=1, lens_dir="/lens/r")
    chunk = catalog.lens_chunks.record(
        run.run_id,
        start_tick=0,
        end_tick=100,
        frames=100,
        fields=["a.b"],
        path="/lens/r/" + lens_chunk_name(0, 100),
        bytes=10,
        checksum=None,
    )
    moved = catalog.lens_chunks.mark(run.run_id, chunk.chunk_id, "deleting", detail="test")
    assert moved.state == "deleting" and moved.path == lens_chunk_name(0, 100)
    assert catalog.lens_chunks.mark(run.run_id, chunk.chunk_id, "deleting") == moved
    catalog.lens_chunks.mark(run.run_id, chunk.chunk_id, "pruned")
    with pytest.raises(BlobStateError, match="is pruned; it cannot become committed"):
        catalog.lens_chunks.mark(run.run_id, chunk.chunk_id, "committed")
    with pytest.raises(BlobStateError, match="has no lens chunk 'nope'"):
        catalog.lens_chunks.mark(run.run_id, "nope", "missing")
    with pytest.raises(BlobStateError, match="unknown checkpoint state"):
        catalog.lens_chunks.mark(run.run_id, chunk.chunk_id, "gone")
    entries = [(a.action, a.tick, a.detail) for a in catalog.audit.list(run.run_id)]
    assert sorted(entries) == [
        ("lens-chunk-deleting", 100, "ticks [0, 100); test"),
        ("lens-chunk-pruned", 100, "ticks [0, 100)"),
    ]
