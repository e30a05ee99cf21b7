"""``catalog scan`` of lens run directories: chunk rows from chunk file headers.

A lens directory (``{lens_dir}/{run_id}/``, see :mod:`continuum.layout`) is known by
its chunk files or by a lens manifest. Each chunk file's header gives the row the
lens writer would have recorded (first and last frame, frames, fields, size, payload
checksum); payloads are never decoded (``catalog verify`` does that). A file whose
header cannot be read, or names another run, is reported and not recorded — the
catalog does not adopt lens files it cannot vouch for, as ``verify`` does not.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path

from continuum import layout
from continuum.catalog import ScannedChunk, ScannedLens
from continuum.errors import ContinuumError
from continuum.lens.format import ChunkFile

LENS_MANIFEST_FORMAT = "continuum.lens.manifest"


def is_lens_dir(path: Path) -> bool:
    """A directory holding lens chunk files or a lens manifest."""
    if any(layout.is_lens_file_name(p.name) for p in path.iterdir() if p.is_file()):
        return True
    try:
        data = json.loads(layout.manifest_path(path).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return False
    return isinstance(data, dict) and data.get("format") == LENS_MANIFEST_FORMAT


def _created(text: str | None, path: Path) -> datetime:
    try:
        at = datetime.fromisoformat(text) if text else None
    except ValueError:
        at = None
    if at is None:
        return datetime.fromtimestamp(path.stat().st_mtime, UTC)
    return at.replace(tzinfo=UTC) if at.tzinfo is None else at.astimezone(UTC)


def read_lens_dir(run_dir: Path, warnings: list[str]) -> ScannedLens | None:
    """The chunks of one lens directory (None, with a warning, if it names no run)."""
    run_dir = run_dir.resolve()
    chunks, identities, times = [], [], []
    for path in sorted(run_dir.iterdir()):
        span = layout.parse_lens_chunk_name(path.name)
        if span is None or not path.is_file():
            continue
        try:
            with ChunkFile(path) as chunk:
                h = chunk.header
        except (ContinuumError, OSError) as exc:
            warnings.append(f"skipped {path}: {str(exc).splitlines()[0]}")
            continue
        if h.identity.run_id != run_dir.name or tuple(h.tick_range) != span:
            warnings.append(f"skipped {path}: its header names another run or tick range")
            continue
        first, end = span  # [first frame, last frame + 1), or the file's range if empty
        if h.frames and h.first_tick is not None and h.last_tick is not None:
            first, end = h.first_tick, h.last_tick + 1
        chunks.append(
            ScannedChunk(
                str(path),
                int(first),
                int(end),
                h.frames,
                tuple(h.fields),
                path.stat().st_size,
                h.checksum,
            )
        )
        identities.append(h.identity)
        times.append(_created(h.created_at, path))
    if not layout.is_run_id(run_dir.name):
        warnings.append(f"skipped {run_dir}: {run_dir.name!r} is not a run id")
        return None
    ident = identities[0] if identities else None
    started = min(times) if times else _created(None, run_dir)
    return ScannedLens(
        run_dir.name,
        str(run_dir),
        ident.world if ident else None,
        ident.ir_hash if ident else None,
        ident.seed if ident else None,
        started,
        tuple(chunks),
    )
