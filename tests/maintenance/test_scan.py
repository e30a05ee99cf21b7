"""``catalog scan``: checkpoint directories become the records a live run would have made."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from continuum import maintenance
from continuum.catalog import Catalog
from continuum.cli import cli

RUN_FIELDS = [
    "run_id",
    "world",
    "ir_hash",
    "seed",
    "scenario",
    "scenario_hash",
    "status",
    "first_tick",
    "last_tick",
    "steps",
    "checkpoint_dir",
    "parent_run_id",
    "parent_checkpoint_tick",
    "dropped_checkpoints",
    "host",
]
CKPT_FIELDS = [
    "tick",
    "sim_time",
    "era",
    "path",
    "bytes_on_disk",
    "raw_bytes",
    "checksum",
    "state",
    "pinned",
]
SEG_FIELDS = ["ordinal", "start_tick", "end_tick", "status", "host"]


def cli_ok(*args: str) -> str:
    result = CliRunner().invoke(cli, [str(a) for a in args])
    assert result.exit_code == 0, result.output
    return result.stdout


def make_tree(root: Path, catalog: list[str]) -> dict[str, str]:
    """A run (300 ticks), its resume (+100) and a branch at 300 with resolution 8."""
    common = ["--checkpoint-dir", root, "--checkpoint-stride", "100", "--json", *catalog]
    first = json.loads(cli_ok("run", "terra", "--scenario", "tiny", "--steps", "300", *common))
    cli_ok("run", "terra", "--steps", "100", "--resume", *common)
    hot = root.parent / f"{root.name}-hot.toml"
    hot.write_text("[topology]\nresolution = 8\n")
    start = Path(first["checkpoint_dir"]) / "checkpoint_0000000300.ckpt"
    branch = json.loads(
        cli_ok(
            "run", "terra", "--steps", "50", "--checkpoint-path", start, "--scenario", hot, *common
        )
    )
    return {"first": first["run_id"], "branch": branch["run_id"]}


@pytest.fixture(scope="module")
def live(tmp_path_factory: pytest.TempPathFactory) -> tuple[str, Path, dict[str, str]]:
    """A tree recorded live into its own SQLite catalog."""
    base = tmp_path_factory.mktemp("live")
    url = f"sqlite:///{base / 'live.db'}"
    return url, base / "ckpt", make_tree(base / "ckpt", ["--catalog", url])


def snapshot(cat: Catalog, run_id: str) -> dict:
    d = cat.search.show(run_id)
    return {
        "run": {k: getattr(d.run, k) for k in RUN_FIELDS},
        "segments": [{k: getattr(s, k) for k in SEG_FIELDS} for s in d.segments],
        "checkpoints": [{k: getattr(c, k) for k in CKPT_FIELDS} for c in d.checkpoints],
    }


def test_scan_reproduces_live_records_and_is_idempotent(live, catalog):
    url, root, ids = live
    first = maintenance.scan(catalog, root)
    assert sorted(r.action for r in first.runs) == ["added", "added"]
    assert not first.warnings
    with Catalog(url) as recorded:
        expected = {rid: snapshot(recorded, rid) for rid in ids.values()}
    assert {rid: snapshot(catalog, rid) for rid in ids.values()} == expected
    branch = expected[ids["branch"]]["run"]
    assert (branch["parent_run_id"], branch["parent_checkpoint_tick"]) == (ids["first"], 300)
    assert [c["tick"] for c in expected[ids["first"]]["checkpoints"]] == [100, 200, 300, 400]

    again = maintenance.scan(catalog, root)
    assert [r.action for r in again.runs] == ["unchanged", "unchanged"]
    assert {rid: snapshot(catalog, rid) for rid in ids.values()} == expected


def test_scan_of_a_run_written_without_catalog(tmp_path, catalog_url):
    ids = make_tree(tmp_path / "ckpt", ["--no-catalog"])
    out = json.loads(
        cli_ok("catalog", "scan", tmp_path / "ckpt", "--catalog", catalog_url, "--json")
    )
    assert sorted(r["checkpoints_added"] for r in out["runs"]) == [1, 4]
    with Catalog(catalog_url) as cat:
        run = cat.search.show(ids["first"])
        child = cat.search.show(ids["branch"])
    assert (run.run.status, run.run.first_tick, run.run.last_tick) == ("completed", 0, 400)
    assert [s.start_tick for s in run.segments] == [0, 300]
    assert all(c.state == "committed" and c.checksum for c in run.checkpoints)
    assert [c.era for c in run.checkpoints][0] == "formation"
    assert (child.run.parent_run_id, child.run.first_tick, child.run.last_tick) == (
        ids["first"],
        300,
        350,
    )
    assert [c.run_id for c in run.children] == [ids["branch"]]
    again = cli_ok("catalog", "scan", tmp_path / "ckpt", "--catalog", catalog_url)
    assert again.count("unchanged") == 2


def test_scan_one_run_dir_adds_new_files_and_flags_bad_headers(tmp_path, sqlite_url):
    ids = make_tree(tmp_path / "ckpt", ["--no-catalog"])
    run_dir = tmp_path / "ckpt" / ids["first"]
    with Catalog(sqlite_url) as cat:
        assert len(maintenance.scan(cat, run_dir).runs) == 1
        (run_dir / "checkpoint_0000000200.ckpt").unlink()
        bad = run_dir / "checkpoint_0000000500.ckpt"
        bad.write_bytes(b"not a checkpoint")
        report = maintenance.scan(cat, run_dir)
        assert report.runs[0].checkpoints_added == 1 and len(report.runs[0].corrupt) == 1
        states = {c.tick: c.state for c in cat.checkpoints.list(ids["first"])}
        assert states[500] == "corrupt" and states[200] == "committed"  # verify's job
        assert maintenance.scan(cat, run_dir).runs[0].action == "unchanged"


CHUNK_FIELDS = ["start_tick", "end_tick", "frames", "fields", "path", "bytes", "checksum", "state"]


def chunk_rows(cat: Catalog, run_id: str) -> list[dict]:
    return [{k: getattr(c, k) for k in CHUNK_FIELDS} for c in cat.lens_chunks.list(run_id)]


def test_scan_indexes_lens_directories_as_the_live_writer_would(tmp_path):
    """A run's lens directory scanned into a fresh catalog gives the rows its live writer
    recorded; a run written without a catalog is indexed whole; a second scan changes
    nothing. (Each run's own files are compared: under load the lens may still drop a
    frame, which would make two runs' chunks differ — issue 13 makes the lens lossless.)"""
    live_url = f"sqlite:///{tmp_path / 'live.db'}"
    args = ["run", "terra", "--scenario", "tiny", "--steps", "250", "--lens-chunk-size", "100"]
    live = json.loads(cli_ok(*args, "--lens-dir", tmp_path / "a", "--catalog", live_url, "--json"))
    dark = json.loads(cli_ok(*args, "--lens-dir", tmp_path / "b", "--no-catalog", "--json"))
    with Catalog(live_url) as cat:
        expected = chunk_rows(cat, live["run_id"])
    assert len(expected) == 3  # [0, 100), [100, 200), [200, 251)

    with Catalog(f"sqlite:///{tmp_path / 'rescanned.db'}") as cat:
        maintenance.scan(cat, tmp_path / "a")
        assert chunk_rows(cat, live["run_id"]) == expected
    with Catalog(f"sqlite:///{tmp_path / 'scanned.db'}") as cat:
        report = maintenance.scan(cat, tmp_path / "b")
        assert [(s.run_id, s.action, s.chunks_added) for s in report.lens_runs] == [
            (dark["run_id"], "added", 3)
        ]
        run = cat.runs.get(dark["run_id"])
        assert (run.world, run.seed, run.lens_dir) == ("terra", 0, str(tmp_path / "b" / run.run_id))
        spans = [(c["start_tick"], c["end_tick"], c["state"]) for c in chunk_rows(cat, run.run_id)]
        assert spans == [(c["start_tick"], c["end_tick"], c["state"]) for c in expected]
        again = maintenance.scan(cat, tmp_path / "b" / dark["run_id"])
        assert [(s.action, s.chunks_added, s.chunks_updated) for s in again.lens_runs] == [
            ("unchanged", 0, 0)
        ]


def test_scan_gives_a_known_run_its_lens_directory(tmp_path, catalog):
    """Checkpoints scanned first, then the lens root: one run, both directories."""
    common = ["run", "terra", "--scenario", "tiny", "--steps", "200", "--no-catalog", "--json"]
    out = json.loads(
        cli_ok(*common, "--checkpoint-dir", tmp_path / "ckpt", "--lens-dir", tmp_path / "lens")
    )
    maintenance.scan(catalog, tmp_path / "ckpt")
    assert catalog.runs.get(out["run_id"]).lens_dir is None
    report = maintenance.scan(catalog, tmp_path / "lens")
    assert [(s.run_id, s.action) for s in report.lens_runs] == [(out["run_id"], "updated")]
    run = catalog.runs.get(out["run_id"])
    assert run.lens_dir == str(tmp_path / "lens" / out["run_id"])
    assert run.checkpoint_dir == str(tmp_path / "ckpt" / out["run_id"])
    assert [c.state for c in catalog.lens_chunks.list(run.run_id)] == ["committed"]  # one window


def test_scan_gives_a_run_known_by_its_lens_its_checkpoint_directory(tmp_path, catalog):
    """The other order: the lens root first, then the checkpoints — the run gets its
    checkpoint directory, its checkpoints verify, and it resumes from the catalog."""
    common = ["run", "terra", "--scenario", "tiny", "--steps", "20", "--no-catalog", "--json"]
    out = json.loads(
        cli_ok(
            *common,
            "--checkpoint-dir",
            tmp_path / "ckpt",
            "--checkpoint-stride",
            "10",
            "--lens-dir",
            tmp_path / "lens",
        )  # fmt: skip
    )
    maintenance.scan(catalog, tmp_path / "lens")
    assert catalog.runs.get(out["run_id"]).checkpoint_dir is None
    report = maintenance.scan(catalog, tmp_path / "ckpt")
    assert [(s.run_id, s.action, s.checkpoints_added) for s in report.runs] == [
        (out["run_id"], "updated", 2)
    ]
    run = catalog.runs.get(out["run_id"])
    assert run.checkpoint_dir == str(tmp_path / "ckpt" / out["run_id"])
    assert not maintenance.verify(catalog, out["run_id"]).problems
