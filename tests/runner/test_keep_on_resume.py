"""``--keep-checkpoints`` is a property of the run: a later segment resumed without the flag
keeps applying it, with a catalog (its run policy) and without one (its manifest)."""

from __future__ import annotations

from pathlib import Path

import pytest

from continuum import layout
from continuum.catalog import Catalog
from tests.cli.conftest import catalog_url, run_json

STEP = ("--scenario", "tiny", "--checkpoint-stride", "1", "--steps", "8")


def files(run_dir: Path) -> list[int]:
    return sorted(t for p in run_dir.iterdir() if (t := layout.checkpoint_tick(p.name)) is not None)


@pytest.mark.parametrize("catalog", [True, False], ids=["catalog", "no-catalog"])
def test_a_resumed_segment_keeps_the_runs_keep_last(tmp_path: Path, catalog: bool) -> None:
    url = catalog_url(tmp_path)
    where = ("--catalog", url) if catalog else ("--no-catalog",)
    first = run_json(
        "--checkpoint-dir", tmp_path / "ck", "--keep-checkpoints", "3", *STEP, *where
    )  # fmt: skip
    run_dir = Path(first["checkpoint_dir"])
    # the newest three written (at stride 1 the writer may drop some; the final one is waited for)
    assert len(files(run_dir)) <= 3 and files(run_dir)[-1] == 8
    for _ in range(2):  # resumed twice, never saying --keep-checkpoints again
        resume = ("--resume-run", first["run_id"]) if catalog else ("--resume",)
        again = run_json("--checkpoint-dir", tmp_path / "ck", *resume, *STEP, *where)
        assert again["run_id"] == first["run_id"]
    kept = files(run_dir)  # without the run's keep-last: 3 + up to 16 more
    # one rule with a catalog and without: the checkpoints resumed from (8, 16) are not kept
    assert len(kept) <= 3 and kept[-1] == 24, kept
    if not catalog:
        return
    with Catalog(url) as cat:
        rows = cat.checkpoints.list(first["run_id"])
        assert [c.tick for c in rows if c.state == "committed"] == kept
        policy = cat.policies.get("run", first["run_id"])
        assert policy is not None and policy.rules.keep_last == 3
