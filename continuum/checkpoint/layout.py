"""The on-disk layout of a run's checkpoints, and its manifest.

    {checkpoint_dir}/{run_id}/
      manifest.json                 run metadata, segments, dropped count
      checkpoint_0000001000.ckpt
      latest -> checkpoint_0000001000.ckpt   (relative: the directory can move)

The manifest is rewritten atomically; the checkpoint files and their headers
remain the truth about what exists (the manifest never lists them).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from continuum.blobs.manifest import JsonManifest
from continuum.checkpoint.format import tick_of
from continuum.errors import CheckpointError
from continuum.layout import MANIFEST

LATEST = "latest"
MANIFEST_VERSION = 1


def checkpoint_files(run_dir: Path) -> list[Path]:
    """The run's checkpoint files, oldest first (by the tick in their name)."""
    if not run_dir.is_dir():
        return []
    found = [(tick_of(p.name), p) for p in run_dir.iterdir() if p.is_file()]
    return [p for tick, p in sorted((t, p) for t, p in found if t is not None)]


def latest_target(run_dir: Path) -> Path | None:
    """Where ``latest`` points (it may dangle), or None without a link."""
    link = run_dir / LATEST
    if not link.is_symlink():
        return None
    return run_dir / Path(link.readlink()).name


class Manifest(JsonManifest):
    """``manifest.json`` of one checkpoint run directory."""

    @classmethod
    def load(cls, run_dir: Path) -> Manifest:
        path = run_dir / MANIFEST
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
        except FileNotFoundError:
            raise CheckpointError(
                f"{path}: missing; is {run_dir} a checkpoint run directory?"
            ) from None
        except (OSError, ValueError) as exc:
            raise CheckpointError(f"{path}: unreadable manifest ({exc})") from None
        if not isinstance(data, dict) or "run_id" not in data:
            raise CheckpointError(f"{path}: not a Continuum checkpoint manifest")
        return cls(run_dir, data)

    @classmethod
    def create(cls, run_dir: Path, data: dict[str, Any]) -> Manifest:
        run_dir.mkdir(parents=True, exist_ok=True)
        manifest = cls(
            run_dir,
            {
                "manifest_version": MANIFEST_VERSION,
                **data,
                "segments": [],
                "dropped_checkpoints": 0,
                "failed_checkpoints": 0,
            },
        )
        manifest.save()
        return manifest
