"""Every writer a run feeds fails on its own: the run completes, the summary says what failed.

Issue 12, class 6: the Parquet exporter and the catalog callbacks run on writer threads
too; whatever they raise is counted and logged once, the run ends with ``failures`` in
its summary (and a ``run-failures`` audit entry), and nothing waits for a dead thread.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from continuum.catalog import Catalog
from continuum.errors import ContinuumError

from .conftest import run


def test_exports_that_fail_are_counted_and_the_run_goes_on(tmp_path, catalog_url):
    blocker = tmp_path / "export"
    blocker.write_text("a file where the export directory should be")
    summary = run(
        steps=12,
        lens_dir=tmp_path / "lens",
        lens_chunk_size=5,
        lens_export_dir=blocker,
        catalog=catalog_url,
    )
    assert summary["tick"] == 12 and summary["lens_chunks"] == 3
    assert summary["failures"] == {"parquet_exports": 3}
    assert blocker.read_text().startswith("a file")  # untouched
    with Catalog(catalog_url) as cat:
        record = cat.runs.get(summary["run_id"])
        (entry,) = [a for a in cat.audit.list(summary["run_id"]) if a.action == "run-failures"]
    assert record.status == "completed" and entry.detail == "parquet_exports 3"


def test_a_catalog_callback_that_raises_anything_is_counted(tmp_path, catalog_url, monkeypatch):
    """Not a CatalogError (a bug in the catalog layer): the writers go on all the same."""
    from continuum.catalog.blob_rows import Checkpoints, LensChunks

    def broken(self, *args, **kwargs):
        raise RuntimeError("a bug in the catalog")

    monkeypatch.setattr(Checkpoints, "record", broken)
    monkeypatch.setattr(LensChunks, "record", broken)
    summary = run(
        steps=20,
        checkpoint_dir=tmp_path / "ckpt",
        checkpoint_stride=5,
        queue_depth=50,
        lens_dir=tmp_path / "lens",
        lens_chunk_size=10,
        catalog=catalog_url,
    )
    assert summary["checkpoints_written"] == 4 and summary["lens_chunks"] == 3  # ..., [20, 21)
    # per checkpoint: its pending row and its committed row; per chunk: its row
    assert summary["failures"] == {"catalog": 4 * 2 + 3}
    assert len(list(Path(summary["checkpoint_dir"]).glob("checkpoint_*.ckpt"))) == 4


def test_a_malformed_checkpoint_manifest_on_resume_is_one_line(tmp_path):
    """A manifest that loads but holds a number where its segments belong: refused before
    the loop with one line naming it (the JSON decoders may refuse it earlier still)."""
    first = run(steps=20, checkpoint_dir=tmp_path, checkpoint_stride=10, no_catalog=True)
    manifest = Path(first["checkpoint_dir"]) / "manifest.json"
    data = json.loads(manifest.read_text())
    manifest.write_text(json.dumps({**data, "segments": 5, "dropped_checkpoints": "x"}))
    before = manifest.read_bytes()
    with pytest.raises(ContinuumError) as info:
        run(steps=5, checkpoint_dir=tmp_path, resume=True, seed=None, no_catalog=True)
    message = str(info.value)
    assert "\n" not in message and str(manifest) in message
    assert manifest.read_bytes() == before  # nothing half-written
