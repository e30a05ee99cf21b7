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
from continuum.catalog.lens_gaps import Gap, merge_gap
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


#: chunk rows whose file retention removed on purpose: their ticks are no gap
_PRUNED = ("pruned", "deleting")


def unpruned_gaps(
    catalog: Catalog,
    run_id: str,
    run_dir: Path,
    warnings: list[str],
    explained: tuple[str, ...] = _PRUNED,
    also: list[tuple[int, int]] | None = None,
) -> list[Gap]:
    """The gaps of ``run_id``'s lens run dir, without the ticks of chunk rows in a state
    of ``explained``: by default pruned ones (a file retention deleted leaves a hole in
    the files that is not a gap: the lens captured those ticks, the run's policy let them
    go), and without ``also`` (tick ranges explained otherwise)."""
    rows = catalog.lens_chunks.list(run_id)
    pruned = [(c.start_tick, c.end_tick) for c in rows if c.state in explained]
    pruned += also or []
    out = []
    for start, end, cause in lens_dir_gaps(run_dir, warnings):
        pieces = [(start, end)]
        if cause == "missing":  # a writer's cause stands: those ticks were never captured
            for p0, p1 in pruned:
                pieces = [
                    (a, b)
                    for s0, s1 in pieces
                    for a, b in ((s0, min(s1, p0)), (max(s0, p1), s1))
                    if a < b
                ]
        out += [(a, b, cause) for a, b in pieces]
    return out


def record_lens_gaps(catalog: Catalog, run_id: str, run_dir: Path, warnings: list[str]) -> int:
    """Record the gaps of ``run_id``'s lens run dir in the catalog; returns how many."""
    gaps = unpruned_gaps(catalog, run_id, run_dir, warnings)
    if gaps:
        catalog.lens_gaps.record_many(run_id, gaps)
    return len(gaps)


#: what verify leaves to the chunk rows: a hole where a row says its file is pruned,
#: missing, corrupt or not written yet is that row's finding, not a second one
_NOT_COMMITTED = (*_PRUNED, "missing", "corrupt", "pending")


def _readable(lens_dir: str) -> Path | None:
    """A run's lens dir to derive gaps from: an ``s3://`` one through a view of its names
    (:mod:`continuum.lens.remote`; None when it holds nothing or cannot be listed)."""
    if not layout.is_object_url(lens_dir):
        return Path(lens_dir)
    from continuum.lens.remote import remote_view

    try:
        return remote_view(lens_dir)
    except ContinuumError:
        return None


def gap_problems(
    catalog: Catalog, run_id: str, lens_dir: str, repair: bool, found: list[Problem]
) -> list[Problem]:
    """``catalog verify``: each gap of the run's lens dir the catalog does not record (as
    recording it would leave it) is a problem; ``repair`` records it. Holes where a chunk
    row is not committed (see :data:`_NOT_COMMITTED`), or where verify ``found`` a
    problem with a chunk (a file gone, corrupt, another chunk's copy), are left to
    that finding."""
    run_dir = _readable(lens_dir)
    warnings: list[str] = []
    if run_dir is None or not run_dir.is_dir():
        return []  # its chunks' rows already say missing
    bad = [p.ticks for p in found if p.blob == "lens" and p.run_id == run_id and p.ticks]
    derived = unpruned_gaps(catalog, run_id, run_dir, warnings, _NOT_COMMITTED, bad)
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
