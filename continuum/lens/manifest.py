"""A lens run directory's names and its ``manifest.json``.

    {lens_dir}/{run_id}/
      manifest.json                                run identity, chunks, segments, drops
      lens_snapshot_0000000000-0000010000.lens     chunk files, [start, end) in the name
      lens_snapshot_full.lens                      optional: every frame in one file

**Chunk windows and names.** Chunks follow fixed windows of ``chunk_size`` ticks,
``[k * C, (k + 1) * C)``. A file covers a half-open tick range inside one window and is
named by it, ``lens_snapshot_{start:010}-{end:010}.lens``; the ranges of a run's files
never overlap, so names never collide, and sorting names sorts time. A window sealed
whole is named by the window (``0000000000-0000010000`` for ticks [0, 10000)). A window
is sealed in *pieces* when a segment ends inside it (the piece ends at the segment's last
tick + 1: ``0000010000-0000012346`` if the run stopped at tick 12345) or when its frames
outgrow the writer's memory budget (the piece ends after its last frame). The next piece
starts where the previous one ended (a resumed run writes ``0000012346-0000020000``).

A file is authoritative for its whole range: a tick in it that the file does not hold
was not captured (off-stride, or dropped). The manifest is an index rewritten atomically
after each chunk; the files and their headers stay the truth (a chunk written just before
a crash, but not yet listed, is still found by :mod:`continuum.lens.store`).
"""

from __future__ import annotations

import json
import logging
import re
from pathlib import Path
from typing import Any

from continuum.blobs.manifest import JsonManifest
from continuum.errors import LensError
from continuum.layout import MANIFEST

log = logging.getLogger("continuum.lens")

MANIFEST_FORMAT = "continuum.lens.manifest"
MANIFEST_VERSION = 1
FULL_NAME = "lens_snapshot_full.lens"
_CHUNK_RE = re.compile(r"^lens_snapshot_(?P<start>[0-9]{10,})-(?P<end>[0-9]{10,})\.lens$")


def chunk_name(start: int, end: int) -> str:
    """``lens_snapshot_0000000000-0000010000.lens`` for ticks [start, end)."""
    return f"lens_snapshot_{start:010d}-{end:010d}.lens"


def parse_chunk_name(name: str) -> tuple[int, int] | None:
    """The [start, end) of a chunk file name, or None if ``name`` is not one."""
    match = _CHUNK_RE.match(name)
    if match is None:
        return None
    start, end = int(match["start"]), int(match["end"])
    return (start, end) if start < end else None


def window_of(tick: int, chunk_size: int) -> tuple[int, int]:
    """The chunk window [k * C, (k + 1) * C) holding ``tick``."""
    start = tick - tick % chunk_size
    return start, start + chunk_size


def is_lens_run_dir(path: Path) -> bool:
    """A directory holding a lens manifest or chunk files."""
    if not path.is_dir():
        return False
    if (path / MANIFEST).is_file():
        return True
    return any(parse_chunk_name(p.name) for p in path.iterdir())


class LensManifest(JsonManifest):
    """``manifest.json`` of one lens run dir: chunks, segments, gaps."""

    @classmethod
    def read(cls, run_dir: Path) -> dict[str, Any] | None:
        """The manifest's data, None if there is none; an unreadable one is a LensError."""
        path = run_dir / MANIFEST
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
        except FileNotFoundError:
            return None
        except (OSError, ValueError) as exc:
            raise LensError(f"{path}: unreadable lens manifest ({exc})") from None
        if not isinstance(data, dict) or data.get("format") != MANIFEST_FORMAT:
            raise LensError(f"{path}: not a Continuum lens manifest")
        if not isinstance(data.get("chunks"), list):
            raise LensError(f"{path}: lens manifest without a chunk list")
        return data

    @classmethod
    def open(cls, run_dir: Path, identity: dict[str, Any]) -> LensManifest:
        """Load the run's manifest (a resumed run) or start one; ``identity`` is merged in.

        An unreadable manifest is replaced (logged): chunks are still found from their
        files, and a lens must not stop a run.
        """
        try:
            run_dir.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise LensError(f"cannot create lens directory {run_dir}: {exc}") from None
        try:
            data = cls.read(run_dir)
        except LensError as exc:
            log.warning("%s; starting a new manifest", exc)
            data = None
        base = {
            "format": MANIFEST_FORMAT,
            "manifest_version": MANIFEST_VERSION,
            "chunks": [],
            "segments": [],
            "gaps": [],
            "dropped_frames": 0,
            "failed_chunks": 0,
            "full": None,
        }
        manifest = cls(run_dir, {**base, **(data or {}), **identity})
        manifest.save()
        return manifest

    def add_chunk(self, entry: dict[str, Any]) -> None:
        with self._lock:
            chunks = [c for c in self.data["chunks"] if c.get("name") != entry["name"]]
            chunks.append(entry)
            self.data["chunks"] = sorted(chunks, key=lambda c: c["tick_range"])
            self._save_locked()
