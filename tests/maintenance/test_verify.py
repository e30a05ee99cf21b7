"""``catalog verify``: deleted, damaged and unlisted files are found, and --repair settles them."""

from __future__ import annotations

import json
import shutil
from datetime import timedelta
from pathlib import Path

from click.testing import CliRunner

from continuum import maintenance
from continuum.catalog import Catalog
from continuum.catalog.db import utcnow
from continuum.cli import cli


def verify(url: str, *extra: str) -> tuple[int, dict]:
    """``catalog verify`` through the Python API: (the CLI's exit code, its JSON)."""
    run_id = extra[extra.index("--run") + 1] if "--run" in extra else None
    with Catalog(url) as cat:
        report = maintenance.verify(cat, run_id, repair="--repair" in extra)
    return (0 if report.clean else 1), {**report.to_dict(), "clean": report.clean}


def recorded_run(url: str, root: Path) -> tuple[str, Path]:
    args = ["run", "terra", "--scenario", "tiny", "--steps", "400", "--checkpoint-dir", str(root)]
    args += ["--checkpoint-stride", "100", "--catalog", url, "--json"]
    result = CliRunner().invoke(cli, args)
    assert result.exit_code == 0, result.output
    out = json.loads(result.stdout)
    return out["run_id"], Path(out["checkpoint_dir"])


def flip_byte(path: Path, offset: int) -> None:
    data = bytearray(path.read_bytes())
    data[offset] ^= 0xFF
    path.write_bytes(bytes(data))


def test_verify_finds_damage_and_repair_makes_it_clean(tmp_path, catalog_url):
    run_id, run_dir = recorded_run(catalog_url, tmp_path / "ckpt")
    assert verify(catalog_url) == (0, verify(catalog_url)[1])
    (run_dir / "checkpoint_0000000100.ckpt").unlink()
    flip_byte(run_dir / "checkpoint_0000000200.ckpt", -100)  # inside the payload
    shutil.copy(run_dir / "checkpoint_0000000300.ckpt", run_dir / "checkpoint_0000000350.ckpt")
    (run_dir / ".checkpoint_0000000500.ckpt.tmp-999999999-0123abcd").write_bytes(b"half")

    code, report = verify(catalog_url)
    assert code == 1 and not report["clean"]
    kinds = {(p["kind"], p["tick"]) for p in report["problems"]}
    assert kinds == {("missing", 100), ("corrupt", 200), ("orphan", 350), ("temp", None)}

    code, report = verify(catalog_url, "--repair")
    assert code == 0 and all(p["repaired"] for p in report["problems"])
    code, report = verify(catalog_url)
    assert (code, report["problems"], report["checkpoints"]) == (0, [], 5)
    with Catalog(catalog_url) as cat:
        states = {c.tick: c.state for c in cat.checkpoints.list(run_id)}
        actions = {a.action for a in cat.audit.list(run_id)}
    assert states == {
        100: "missing",
        200: "corrupt",
        300: "committed",
        350: "corrupt",
        400: "committed",
    }
    assert {"checkpoint-missing", "checkpoint-corrupt"} <= actions
    assert (run_dir / "checkpoint_0000000350.ckpt").exists()  # never deleted, only recorded


def test_repair_records_a_verified_orphan_and_finishes_prunes(tmp_path, catalog_url):
    run_id, run_dir = recorded_run(catalog_url, tmp_path / "ckpt")
    with Catalog(catalog_url) as cat:
        for tick in (100, 200):
            cat.checkpoints.mark(run_id, tick, "deleting")  # prune killed mid-way
        (run_dir / "checkpoint_0000000100.ckpt").unlink()
        cat.checkpoints.record(
            run_id,
            tick=500,
            sim_time=0.0,
            path=run_dir / "checkpoint_0000000500.ckpt",
            bytes_on_disk=0,
            created_at=utcnow() - timedelta(hours=2),
        )  # a pending row whose write never happened
        lost = run_dir / "checkpoint_0000000300.ckpt"
        cat.checkpoints.mark(run_id, 300, "missing")
    code, report = verify(catalog_url, "--run", run_id)
    kinds = sorted((p["kind"], p["tick"]) for p in report["problems"])
    assert code == 1
    assert kinds == [
        ("interrupted-prune", 100),
        ("interrupted-prune", 200),
        ("missing", 500),
        ("settled", 300),
    ]
    assert verify(catalog_url, "--repair")[0] == 0
    with Catalog(catalog_url) as cat:
        states = {c.tick: c.state for c in cat.checkpoints.list(run_id)}
    assert states == {
        100: "pruned",
        200: "pruned",
        300: "committed",
        400: "committed",
        500: "missing",
    }
    assert not (run_dir / "checkpoint_0000000200.ckpt").exists() and lost.exists()
    assert verify(catalog_url)[0] == 0
