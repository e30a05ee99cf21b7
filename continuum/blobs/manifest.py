"""A run directory's manifest: a JSON document changed under a lock, saved atomically.

Checkpoint and lens run directories both keep one; they share these mechanics
(lock, segments, ``updated_at``, atomic rewrite) and add their own fields.
"""

from __future__ import annotations

import json
import threading
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from continuum.blobs.atomic import atomic_write
from continuum.layout import manifest_path


def now_iso() -> str:
    """UTC now, ISO 8601 with milliseconds: the timestamp format of every manifest."""
    return datetime.now(UTC).isoformat(timespec="milliseconds")


class JsonManifest:
    """``layout.manifest_path(run_dir)``, rewritten whole (temp, fsync, rename) on each change."""

    def __init__(self, run_dir: Path, data: dict[str, Any]) -> None:
        self.run_dir = run_dir
        self.data = data
        self._lock = threading.Lock()

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
        write_manifest(self.run_dir, self.data)


def manifest_bytes(data: dict[str, Any]) -> bytes:
    """Stamp ``updated_at`` and serialise ``data`` the one way (sorted keys, two-space indent)."""
    data["updated_at"] = now_iso()
    return (json.dumps(data, indent=2, sort_keys=True) + "\n").encode("utf-8")


def write_manifest(run_dir: Path, data: dict[str, Any]) -> None:
    """Stamp ``updated_at`` and rewrite ``run_dir``'s manifest atomically, for a caller
    already holding what serialises it."""
    atomic_write(manifest_path(run_dir), manifest_bytes(data))
