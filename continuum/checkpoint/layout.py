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
import threading
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from continuum.blobs import atomic_write
from continuum.checkpoint.format import tick_of
from continuum.errors import CheckpointError

MANIFEST = "manifest.json"
LATEST = "latest"
MANIFEST_VERSION = 1


def now_iso() -> str:
    return datetime.now(UTC).isoformat(timespec="milliseconds")


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


class Manifest:
    """``manifest.json`` of one run: loaded, changed under a lock, saved atomically."""

    def __init__(self, run_dir: Path, data: dict[str, Any]) -> None:
        self.run_dir = run_dir
        self.data = data
        self._lock = threading.Lock()

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

    def update(self, **changes: Any) -> None:
        with self._lock:
            self.data.update(changes)
            self._save_locked()

    def start_segment(self, segment: dict[str, Any]) -> None:
        with self._lock:
            self.data.setdefault("segments", []).append(segment)
            self._save_locked()

    def end_segment(self, **changes: Any) -> None:
        with self._lock:
            self.data["segments"][-1].update(changes)
            self._save_locked()

    def save(self) -> None:
        with self._lock:
            self._save_locked()

    def _save_locked(self) -> None:
        self.data["updated_at"] = now_iso()
        text = json.dumps(self.data, indent=2, sort_keys=True) + "\n"
        atomic_write(self.run_dir / MANIFEST, text.encode("utf-8"))
