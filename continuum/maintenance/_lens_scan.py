"""``catalog scan`` of lens run directories: chunk rows from chunk file headers.

A lens directory (``{lens_dir}/{run_id}/``, see :mod:`continuum.layout`) is known by
its chunk files or by a lens manifest. Each chunk file's header gives the row the
lens writer would have recorded (first and last frame, frames, fields, size, payload
checksum); payloads are never decoded (``catalog verify`` does that). A file whose
header cannot be read, names another run, or holds a tick range outside the window its
name gives is reported and not recorded — the catalog does not adopt lens files it
cannot vouch for, as ``verify`` does not. A file whose range another file's contains (a
piece a merged window file replaced, left by a crash) is superseded: not recorded.

Lens gaps (:func:`lens_dir_gaps`) are derived as ``continuum lens load`` lists them
(:attr:`continuum.lens.LensStore.gaps`: holes in the files, with the manifest's causes),
so a run killed before any catalog write still gets them from a scan.
"""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

from continuum import layout
from continuum.catalog import Catalog, ScannedChunk, ScannedLens
from continuum.catalog.lens_gaps import merge_gap
from continuum.catalog.records import span_text
from continuum.errors import ContinuumError
from continuum.lens.format import ChunkFile
from continuum.lens.manifest import LensManifest
from continuum.lens.store import ChunkRef, LensStore, drop_superseded
from continuum.maintenance.walker import Problem


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
    found: list[tuple[ChunkRef, ScannedChunk]] = []
    identities, times = [], []
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
        lo, hi = h.tick_range
        if h.identity.run_id != run_dir.name or not span[0] <= lo <= hi <= span[1]:
            warnings.append(f"skipped {path}: its header names another run or tick range")
            continue
        first, end = h.frame_span
        ref = ChunkRef(path.name, path, lo, hi, h.frames, None, None, None, None, (), 0, None, None)
        found.append(
            (
                ref,
                ScannedChunk(
                    str(path),
                    first,
                    end,
                    h.frames,
                    tuple(h.fields),
                    path.stat().st_size,
                    h.checksum,
                ),
            )
        )
        identities.append(h.identity)
        times.append(_created(h.created_at, path))
    kept, superseded = drop_superseded([ref for ref, _ in found])
    for name in superseded:
        warnings.append(f"skipped {run_dir / name}: superseded by a chunk whose range holds it")
    chunks = [c for ref, c in found if ref.name not in superseded]
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


def lens_dir_gaps(run_dir: Path, warnings: list[str]) -> list[tuple[int, int, str]]:
    """The gaps of one lens run dir as ``(start, end, cause)``; none (and a warning) when
    the directory cannot be read as a lens store (an unreadable manifest)."""
    try:
        with LensStore(run_dir) as store:
            return [(g.start, g.end, g.cause) for g in store.gaps]
    except (ContinuumError, OSError) as exc:
        warnings.append(f"lens gaps of {run_dir} not derived: {str(exc).splitlines()[0]}")
        return []


def record_lens_gaps(catalog: Catalog, run_id: str, run_dir: Path, warnings: list[str]) -> int:
    """Record the gaps of ``run_id``'s lens run dir in the catalog; returns how many."""
    gaps = lens_dir_gaps(run_dir, warnings)
    if gaps:
        catalog.lens_gaps.record_many(run_id, gaps)
    return len(gaps)


def gap_problems(catalog: Catalog, run_id: str, lens_dir: str, repair: bool) -> list[Problem]:
    """``catalog verify``: each gap of the run's lens dir the catalog does not record (as
    recording it would leave it) is a problem; ``repair`` records it."""
    run_dir = Path(lens_dir)
    warnings: list[str] = []
    if not run_dir.is_dir():
        return []  # its chunks' rows already say missing
    derived = lens_dir_gaps(run_dir, warnings)
    recorded = [(g.start_tick, g.end_tick, g.cause) for g in catalog.lens_gaps.list(run_id)]
    problems = []
    for gap in derived:
        if merge_gap(recorded, gap) == recorded:
            continue
        if repair:
            catalog.lens_gaps.record(run_id, *gap)
            recorded = merge_gap(recorded, gap)
        problems.append(
            Problem(
                "unrecorded-gap",
                run_id,
                None,
                lens_dir,
                f"lens gap {span_text(gap[0], gap[1])} ({gap[2]}) is not in the catalog",
                "recorded" if repair else None,
                blob="lens",
            )
        )
    return problems
