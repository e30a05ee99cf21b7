"""Issue 12, classes 3 and 4 through the CLI: symlinked directories and crafted identifiers
against ``catalog rm``, ``catalog prune``, ``catalog gc --delete``, ``catalog scan`` and
``run --resume-run``. Whatever the catalog's rows or the files say, files outside every
root stay exactly as they were: listed and checksummed before and after.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import time
from pathlib import Path

import pytest
from sqlalchemy import insert, update

from continuum.catalog import Catalog, RetentionRules
from continuum.catalog.db import new_id, utcnow
from continuum.catalog.db.models import checkpoints, runs
from continuum.catalog.retention import prune
from tests.cli.conftest import assert_one_line_error, invoke, ok, run_json
from tests.conftest import make_run, name, states


def snapshot(directory: Path) -> dict[str, str]:
    """Every entry under ``directory`` (links not followed): its sha256, or its link target."""
    out = {}
    for top, dirs, files in os.walk(directory):
        for entry in dirs + files:
            path = Path(top, entry)
            key = str(path.relative_to(directory))
            if path.is_symlink():
                out[key] = "-> " + os.readlink(path)
            elif path.is_file():
                out[key] = hashlib.sha256(path.read_bytes()).hexdigest()
            else:
                out[key] = "dir"
    return out


@pytest.fixture
def victim(tmp_path: Path) -> Path:
    """A directory outside every root, holding files with this project's own names."""
    v = tmp_path / "victim"
    v.mkdir()
    for t in range(0, 50):
        (v / name(t)).write_bytes(b"precious %d" % t)
    (v / "manifest.json").write_text('{"run_id": "victim"}')
    (v / "latest").symlink_to(name(49))
    (v / f".{name(99)}.tmp-999999-0123abcd").write_bytes(b"old temp")
    (v / "lens_snapshot_0000000000-0000000100.lens").write_bytes(b"lens")
    for sub in ("field=a.b", "ticks"):
        (v / sub).mkdir()
        (v / sub / "part-0000000000-0000000010.parquet").write_bytes(b"parquet")
    old = time.time() - 7200
    os.utime(v / f".{name(99)}.tmp-999999-0123abcd", (old, old))
    return v


def linked_run(cat: Catalog, root: Path, victim: Path, ticks) -> str:
    """A run whose checkpoint directory was replaced by a link to ``victim`` (its rows
    name files ``victim`` holds too)."""
    run, d = make_run(cat, root, ticks)
    shutil.rmtree(d)
    d.symlink_to(victim, target_is_directory=True)
    return run.run_id


def test_rm_refuses_a_symlinked_run_directory_and_touches_nothing(catalog, tmp_path, victim):
    before = snapshot(victim)
    run_id = linked_run(catalog, tmp_path / "ckpt", victim, [1, 2, 3])
    for force in ([], ["--force"]):
        result = invoke("catalog", "rm", run_id, "--yes", *force, "--catalog", catalog.url)
        assert_one_line_error(result, "not removed", "symbolic link", run_id)
    assert snapshot(victim) == before
    assert states(catalog, run_id) == {1: "committed", 2: "committed", 3: "committed"}


@pytest.mark.parametrize("batch", [5000, 7], ids=["in-process", "helper-process"])
def test_prune_skips_a_symlinked_run_directory_with_one_line(
    catalog, tmp_path, victim, monkeypatch, batch
):
    monkeypatch.setattr(prune, "BATCH", batch)  # 7: the unlink worker process does the work
    before = snapshot(victim)
    run_id = linked_run(catalog, tmp_path / "ckpt", victim, range(40))
    real, real_dir = make_run(catalog, tmp_path / "ckpt", range(40))
    catalog.policies.set("global", None, RetentionRules(keep_last=2))

    result = invoke("catalog", "prune", "--all", "--catalog", catalog.url)

    assert result.exit_code == 0, result.output
    warnings = [line for line in result.stderr.splitlines() if line.startswith("warning:")]
    assert len(warnings) == 1 and "symbolic link" in warnings[0], result.stderr
    assert snapshot(victim) == before
    assert set(states(catalog, run_id).values()) == {"committed"}
    assert sorted(p.name for p in real_dir.glob("checkpoint_*")) == [name(38), name(39)]
    refused = [e for e in catalog.audit.list(run_id, limit=100) if e.action.endswith("-refused")]
    assert refused and "symbolic link" in refused[0].detail


def test_gc_delete_never_looks_through_a_symlinked_run_directory(catalog, tmp_path, victim):
    before = snapshot(victim)
    run_id = linked_run(catalog, tmp_path / "ckpt", victim, [1, 2])
    result = invoke("catalog", "gc", "--delete", "--catalog", catalog.url)
    assert result.exit_code == 0, result.output
    assert "0 stray files" in result.stdout
    assert run_id in result.stderr and "symbolic link" in result.stderr
    assert snapshot(victim) == before


def test_symlinked_directories_inside_an_export_root_are_not_followed(catalog, tmp_path, victim):
    """``field=F`` and ``ticks`` below a real ``run_id=R``, ``by_sample``, and a removed
    run's ``run_id=R`` itself, each a link to the victim: rm refuses with one line, gc
    --delete skips them with a warning each."""
    before = snapshot(victim)
    exp = tmp_path / "exp"
    run, _ = make_run(catalog, tmp_path / "ckpt", [1])
    gone, _ = make_run(catalog, tmp_path / "ckpt", [1])
    for r in (run, gone):
        catalog.exports.record(
            r.run_id, fields=["a.b"], start_tick=0, end_tick=10, path=exp, rows=1, bytes=1
        )
    ok(
        "catalog", "rm", gone.run_id, "--yes", "--catalog", catalog.url
    )  # gc's: exports of removed runs
    (exp / f"run_id={run.run_id}").mkdir(parents=True)
    (exp / f"run_id={run.run_id}" / "field=a.b").symlink_to(victim / "field=a.b")
    (exp / f"run_id={run.run_id}" / "ticks").symlink_to(victim / "ticks")
    (exp / "by_sample").symlink_to(victim, target_is_directory=True)
    (exp / f"run_id={gone.run_id}").symlink_to(victim, target_is_directory=True)

    result = invoke("catalog", "rm", run.run_id, "--yes", "--catalog", catalog.url)
    assert_one_line_error(result, "not removed", "symbolic link")
    assert snapshot(victim) == before

    result = invoke("catalog", "gc", "--delete", "--catalog", catalog.url)
    assert result.exit_code == 0, result.output
    assert "0 stray files" in result.stdout
    assert f"run_id={gone.run_id} is a symbolic link" in result.stderr
    assert "by_sample is a symbolic link" in result.stderr
    assert snapshot(victim) == before


def _crafted_run(
    cat: Catalog, tmp: Path, run_id: str, checkpoint_dir: str, paths: list[str]
) -> None:
    """A run and checkpoint rows inserted directly through SQL, as a hostile or broken
    catalog would hold them (no API check on the way in)."""
    make_run(cat, tmp / "other", [])  # the world row the run's row points at
    now = utcnow()
    row = dict(run_id=run_id, world="terra", ir_hash="ab", seed=1, status="completed")
    row |= dict(heartbeat_at=now, started_at=now, ended_at=now, first_tick=0, last_tick=9)
    row |= dict(checkpoint_dir=checkpoint_dir, dropped_checkpoints=0)
    cat.db.write(lambda c: c.execute(insert(runs).values(**row)))
    rows = [
        dict(id=new_id(), run_id=run_id, tick=t, sim_time=0.0, path=p, bytes_on_disk=10)
        | dict(created_at=now, state="committed", pinned=False)
        for t, p in enumerate(paths)
    ]
    cat.db.write(lambda c: c.execute(insert(checkpoints), rows))


@pytest.mark.parametrize(
    ("run_id", "where", "paths"),
    [
        ("../victim", "{tmp}/ckpt/../victim", ["{n0}", "{n1}"]),  # a climbing run id
        ("crafted1", "{tmp}/victim", ["{n0}", "{n1}"]),  # a directory not named for its run
        ("crafted2", "{tmp}/ckpt/crafted2", ["../../victim/{n0}", "{tmp}/victim/{n1}"]),
        ("crafted3", "{tmp}/ckpt/crafted3", ["manifest.json", "../victim/latest"]),
    ],
    ids=["run-id", "run-dir", "climbing-paths", "not-our-names"],
)
def test_crafted_catalog_rows_delete_nothing_outside(
    catalog, tmp_path, victim, run_id, where, paths
):
    before = snapshot(victim)
    fill = {"tmp": str(tmp_path), "n0": name(0), "n1": name(1)}
    (tmp_path / "ckpt" / "crafted2").mkdir(parents=True)
    (tmp_path / "ckpt" / "crafted3").mkdir(parents=True)
    _crafted_run(catalog, tmp_path, run_id, where.format(**fill), [p.format(**fill) for p in paths])
    catalog.policies.set("global", None, RetentionRules(keep_last=1))

    pruned = invoke("catalog", "prune", "--all", "--catalog", catalog.url)
    assert pruned.exit_code == 0 and "Traceback" not in pruned.output, pruned.output
    assert "left in place" in pruned.stderr
    gc = invoke("catalog", "gc", "--delete", "--catalog", catalog.url)
    # a row whose path climbs claims nothing; gc goes on for the other runs
    assert gc.exit_code == 0 and "Traceback" not in gc.output, gc.output
    if ".." not in "".join(paths):
        assert f"skipped run {run_id}" in gc.stderr, gc.output
    rm = invoke("catalog", "rm", run_id, "--force", "--yes", "--catalog", catalog.url)
    assert_one_line_error(rm, "not removed")
    assert snapshot(victim) == before


def _checkpointed(tmp_path: Path, url: str) -> tuple[str, Path]:
    summary = run_json(
        "--steps", "4", "--checkpoint-dir", tmp_path / "ckpt", "--checkpoint-stride", "2",
        "--catalog", url,
    )  # fmt: skip
    return summary["run_id"], Path(summary["checkpoint_dir"])


def test_resume_run_refuses_a_catalog_path_that_climbs_out(tmp_path, catalog_url):
    run_id, run_dir = _checkpointed(tmp_path, catalog_url)
    victim = tmp_path / "victim"
    victim.mkdir()
    newest = max(run_dir.glob("checkpoint_*.ckpt"))
    shutil.copy(newest, victim / newest.name)  # a genuine checkpoint, outside the run dir
    before = snapshot(victim)
    with Catalog(catalog_url) as cat:
        stmt = update(checkpoints).where(checkpoints.c.run_id == run_id)
        cat.db.write(lambda c: c.execute(stmt.values(path=f"../../victim/{newest.name}")))
    result = invoke(
        "run", "terra", "--resume-run", run_id, "--steps", "2", "--catalog", catalog_url
    )
    assert_one_line_error(result, "not a plain file name")
    assert snapshot(victim) == before


def test_scan_refuses_a_crafted_manifest_run_id_with_one_line(tmp_path, catalog_url):
    root = tmp_path / "ckpt"
    _, run_dir = _checkpointed(tmp_path, f"sqlite:///{tmp_path / 'first.db'}")
    for bad, dirname in (("../../victim", "evil"), ("other_run", "mismatch")):
        crafted = root / dirname
        shutil.copytree(run_dir, crafted, symlinks=True)
        manifest = json.loads((crafted / "manifest.json").read_text())
        (crafted / "manifest.json").write_text(json.dumps(manifest | {"run_id": bad}))
    (root / "linked").symlink_to(run_dir, target_is_directory=True)

    result = invoke("catalog", "scan", root, "--json", "--catalog", catalog_url)

    assert result.exit_code == 0, result.output
    report = json.loads(result.stdout)
    assert [r["run_id"] for r in report["runs"]] == [run_dir.name]
    warnings = report["warnings"]
    assert any("evil/manifest.json" in w and "run_id" in w for w in warnings), warnings
    assert all("../../victim" not in w for w in warnings)  # a foreign value is not echoed
    assert any("mismatch/manifest.json" in w and "its directory" in w for w in warnings)
    assert any("linked" in w and "symbolic link" in w for w in warnings)
    with Catalog(catalog_url) as cat:
        assert [r.run_id for r in cat.search.list().runs] == [run_dir.name]


def _crafted_chunk(tmp_path: Path, run_id: str | None = None, field: str | None = None) -> Path:
    """A lens run directory holding one re-encoded chunk (valid checksums) whose header
    names ``run_id`` or a field ``field``: what a hostile file would say."""
    from dataclasses import replace

    from continuum.lens.format import ChunkFile, write_chunk
    from tests.conftest import lens_run

    _, lens_dir = lens_run(f"sqlite:///{tmp_path / 'lens.db'}", tmp_path / "lens", 100)
    source = min(lens_dir.glob("lens_snapshot_*.lens"))
    with ChunkFile(source) as chunk:
        data, h = chunk.read_all(), chunk.header
    if field is not None:
        first = next(iter(data.fields))
        data.fields = {field: data.fields[first]}
    crafted = tmp_path / "crafted" / "run1"
    crafted.mkdir(parents=True)
    identity = replace(h.identity, run_id=run_id or h.identity.run_id)
    write_chunk(crafted / source.name, data, identity, tick_range=tuple(h.tick_range))
    return crafted


@pytest.mark.parametrize(
    "crafted", [{"run_id": "../../victim"}, {"field": "a/../../../victim"}], ids=["run-id", "field"]
)
def test_lens_export_of_a_crafted_chunk_writes_nothing_outside(tmp_path, victim, crafted):
    source = _crafted_chunk(tmp_path, **crafted)
    before = snapshot(tmp_path)
    out = tmp_path / "exp" / "deep"
    result = invoke("lens", "export", source, "--output", out, "--no-catalog")
    assert result.exit_code == 1 and "Traceback" not in result.output, result.output
    # refused where the header is decoded (layout's grammar there), before any path is built
    assert result.stderr.count("\n") == 1 and "nothing exported" in result.stderr, result.stderr
    after = snapshot(tmp_path)  # nothing written or changed anywhere but under --output
    assert {k: v for k, v in after.items() if not k.startswith("exp")} == before


def _recrafted(run_dir: Path, **identity: str) -> Path:
    """The run's newest checkpoint re-encoded (valid checksums) with ``identity`` changed,
    written over itself: what a hostile file would say."""
    from dataclasses import replace

    from continuum.checkpoint.format import read_checkpoint, write_checkpoint

    newest = max(run_dir.glob("checkpoint_*.ckpt"))
    header, state = read_checkpoint(newest)
    write_checkpoint(newest, state, replace(header.identity, **identity))
    return newest


def test_resume_of_a_checkpoint_naming_a_climbing_run_id_writes_nothing_outside(
    tmp_path, catalog_url
):
    _, run_dir = _checkpointed(tmp_path, catalog_url)
    crafted = _recrafted(run_dir, run_id="../../victim")
    before = snapshot(tmp_path)
    result = invoke(
        "run", "terra", "--checkpoint-path", crafted, "--steps", "2", "--catalog", catalog_url,
        "--lens-dir", tmp_path / "lens", "--lens-export-dir", tmp_path / "exp",
    )  # fmt: skip
    assert_one_line_error(result, "$.run_id")  # refused as its header is decoded
    after = snapshot(tmp_path)
    assert {k: v for k, v in after.items() if not k.startswith("cat")} == {
        k: v for k, v in before.items() if not k.startswith("cat")
    }


def test_resume_run_refuses_a_symlinked_run_directory(tmp_path, catalog_url):
    run_id, run_dir = _checkpointed(tmp_path, catalog_url)
    victim = tmp_path / "victim"
    run_dir.rename(victim)
    run_dir.symlink_to(victim, target_is_directory=True)
    before = snapshot(victim)
    result = invoke(
        "run", "terra", "--resume-run", run_id, "--steps", "2", "--catalog", catalog_url
    )
    assert_one_line_error(result, "symbolic link")
    assert snapshot(victim) == before


@pytest.mark.parametrize("where", ["absolute", "climbing", "cwd"])
def test_resume_never_opens_a_checkpoints_scenario_as_a_path(
    tmp_path, catalog_url, monkeypatch, where
):
    _, run_dir = _checkpointed(tmp_path, catalog_url)
    from tests.conftest import TERRA

    outside = tmp_path / "outside.toml"  # the run's own scenario, copied outside the world
    shutil.copy(TERRA / "scenarios" / "tiny.toml", outside)
    monkeypatch.chdir(tmp_path)  # "outside.toml" names a file here, never a scenario
    saved = {"absolute": str(outside), "climbing": "../outside.toml", "cwd": "outside.toml"}
    crafted = _recrafted(run_dir, scenario=saved[where])
    result = invoke("run", "terra", "--checkpoint-path", crafted, "--steps", "2", "--json")
    assert result.exit_code == 1 and "scenario" in result.stderr, result.output
    assert "Traceback" not in result.output


def test_lens_export_never_writes_through_a_planted_link(tmp_path, victim):
    from tests.conftest import lens_run

    run_id, lens_dir = lens_run(f"sqlite:///{tmp_path / 'lens.db'}", tmp_path / "lens", 20)
    out = tmp_path / "exp"
    out.mkdir()
    (out / f"run_id={run_id}").symlink_to(victim, target_is_directory=True)
    before = snapshot(victim)
    result = invoke("lens", "export", lens_dir, "--output", out, "--no-catalog")
    assert result.exit_code == 1 and "symbolic link" in result.stderr, result.output
    assert snapshot(victim) == before


def test_verify_repair_never_deletes_through_a_symlinked_run_directory(catalog, tmp_path, victim):
    before = snapshot(victim)
    run_id = linked_run(catalog, tmp_path / "ckpt", victim, [1, 2, 3])
    mine = checkpoints.c.run_id == run_id
    catalog.db.write(lambda c: c.execute(update(checkpoints).where(mine).values(state="deleting")))
    result = invoke("catalog", "verify", "--repair", "--catalog", catalog.url)
    assert "Traceback" not in result.output, result.output
    assert "symbolic link" in result.output and "left in place" in result.output, result.output
    assert snapshot(victim) == before
    assert set(states(catalog, run_id).values()) == {"deleting"}  # not marked pruned
