"""A run's manifest: saved whole where ``layout`` says, every change, no temporary left."""

from __future__ import annotations

import json
import os
from datetime import datetime
from pathlib import Path

from continuum import layout
from continuum.blobs import JsonManifest, now_iso


def test_saves_at_the_layout_path_on_every_change(tmp_path: Path) -> None:
    manifest = JsonManifest(tmp_path, {"run_id": "r1"})
    manifest.save()
    path = layout.manifest_path(tmp_path)
    assert json.loads(path.read_text())["run_id"] == "r1"
    manifest.update(steps=10)
    manifest.start_segment({"start_tick": 0})
    manifest.end_segment(end_tick=10)
    data = json.loads(path.read_text())
    assert data["steps"] == 10 and data["segments"] == [{"start_tick": 0, "end_tick": 10}]
    assert datetime.fromisoformat(data["updated_at"]).tzinfo is not None
    assert os.listdir(tmp_path) == [layout.MANIFEST]  # no temporary left behind


def test_now_iso_is_utc_with_milliseconds() -> None:
    stamp = datetime.fromisoformat(now_iso())
    assert stamp.utcoffset() is not None and stamp.utcoffset().total_seconds() == 0
    assert len(now_iso().split(".")[1]) == len("123+00:00")
