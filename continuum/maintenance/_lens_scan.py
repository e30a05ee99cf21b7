"""``catalog scan`` of lens run directories: chunk rows from chunk file headers.

A lens directory (``{lens_dir}/{run_id}/``, see :mod:`continuum.layout`) is known by
its chunk files or by a lens manifest. Each chunk file's header gives the row the
lens writer would have recorded (first and last frame, frames, fields, size, payload
checksum); payloads are never decoded (``catalog verify`` does that). A file whose
header cannot be read, or names another run, is reported and not recorded — the
catalog does not adopt lens files it cannot vouch for, as ``verify`` does not.
"""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

from continuum import layout
from continuum.catalog import ScannedChunk, ScannedLens
from continuum.errors import ContinuumError
from continuum.lens.format import ChunkFile
from continuum.lens.manifest import LensManifest


def is_lens_dir(path: Path) -> bool:
    """A directory holding lens chunk files or a lens manifest."""
    try:
        names = (p.name for p in path.iterdir() if not p.is_symlink() and p.is_file())
        if any(layout.is_lens_file_name(n) for n in names):
            return True
    except OSError:  # unreadable: not ours to index (scan reports what it could read)
        return False
    try:
        return LensManifest.read(path) is not None
    except (OSError, ContinuumError):
        return False


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
    if not layout.is_run_id(run_dir.name):
        warnings.append(f"skipped {run_dir}: {run_dir.name!r} is not a run id")
        return None
    chunks, identities, times = [], [], []
    try:
        entries = sorted(run_dir.iterdir())
    except OSError as exc:
        warnings.append(f"skipped {run_dir}: {exc.strerror or exc}")
        return None
    for path in entries:
        span = layout.parse_lens_chunk_name(path.name)
        if span is None or path.is_symlink() or not path.is_file():
            continue  # a link is not a chunk this directory holds: never read through it
        try:
            with ChunkFile(path) as chunk:
                h = chunk.header
        except (ContinuumError, OSError) as exc:
            warnings.append(f"skipped {path}: {str(exc).splitlines()[0]}")
            continue
        start, end = h.tick_range  # inside the window the name gives (files are named by it)
        if h.identity.run_id != run_dir.name or not span[0] <= start <= end <= span[1]:
            warnings.append(f"skipped {path}: its header names another run or tick range")
            continue
        first, end = h.frame_span
        chunks.append(
            ScannedChunk(
                str(path),
                first,
                end,
                h.frames,
                tuple(h.fields),
                path.stat().st_size,
                h.checksum,
            )
        )
        identities.append(h.identity)
        times.append(_created(h.created_at, path))
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
