"""Verify's adapter for lens chunks: how a chunk file is checked and adopted.

A chunk file passes when it decodes whole (:class:`continuum.lens.format.ChunkFile`
``verify``: footer, payload checksum, every frame, ticks increasing inside the
header's range) and its header names the row's run and a tick range (``tick_range``,
the ticks the file is authoritative for) covering the row's ticks; a file in
another's place is as wrong as a damaged one. What a row records of an intact, right
file is its size, checksum (the container header's payload checksum), frame count
and first..last tick; when those differ the file was rewritten.

``lens_snapshot_full.lens`` (``lens compact``, ``--lens-full``) is a copy of the
chunks, not one the catalog indexes, and is left alone unless a row lists it. An
orphan chunk is recorded ``committed`` by ``--repair`` only if it verifies, its header
names this run and the tick range in its name, and no listed chunk of the run overlaps
it; otherwise it is left in place, unrecorded (the catalog did not write it and does
not adopt it, and it is never deleted), and every verify reports it until someone
moves it away.
"""

from __future__ import annotations

from datetime import datetime
from pathlib import Path

from continuum import layout
from continuum.catalog import Catalog, LensChunkRecord, RunDirs
from continuum.catalog.records import span_text
from continuum.errors import ContinuumError
from continuum.lens.format import ChunkFile, ChunkHeader
from continuum.maintenance.folders import Location, name_of, stored
from continuum.maintenance.walker import FileCheck, Problem, RunFiles, done, reason

BLOB = "lens"


def check_chunk(path: Location) -> FileCheck[ChunkHeader]:
    """Size, header and full verification of one chunk file (decodes every frame,
    streamed: memory stays within one frame, whatever the header declares); an
    ``s3://`` object is read by ranged GETs, checked the same (:mod:`continuum.lens.remote`)."""
    try:
        size = _size(path)
    except (ContinuumError, OSError) as exc:
        return FileCheck(0, None, reason(exc, path))
    try:
        with ChunkFile(path) as chunk:
            chunk.verify()
            return FileCheck(size, chunk.header, None)
    except (ContinuumError, OSError, ValueError) as exc:
        return FileCheck(size, None, reason(exc, path))


def _size(path: Location) -> int:
    if isinstance(path, str) and layout.is_object_url(path):
        from continuum.lens.remote import remote_object

        obj = remote_object(path)
        assert obj is not None
        return obj.size
    return Path(path).stat().st_size


def _span(lo: int, hi: int) -> str:
    return f"ticks {span_text(lo, hi)}"


def _wrong_file(header: ChunkHeader, run_id: str, ticks: tuple[int, int]) -> str | None:
    """Why the file is not the chunk of ``run_id`` covering ``ticks``, or None if it is."""
    lo, hi = header.tick_range
    if header.identity.run_id != run_id or not lo <= ticks[0] <= ticks[1] <= hi:
        found = f"{_span(lo, hi)} of run {header.identity.run_id or '(none)'}"
        return f"header holds {found}, expected {_span(*ticks)} of run {run_id}"
    return None


def _not_adoptable(
    run_id: str, f: FileCheck, span: tuple[int, int], live: list[LensChunkRecord]
) -> str | None:
    """Why an orphan chunk file must not be recorded for ``run_id``, or None if it may."""
    if f.error is not None:
        return f.error
    h = f.intact
    lo, hi = h.tick_range  # inside the window the file's name gives
    if h.identity.run_id != run_id or not span[0] <= lo <= hi <= span[1]:
        found = f"{_span(lo, hi)} of run {h.identity.run_id or '(none)'}"
        return f"its header holds {found}, its name says {_span(*span)} of run {run_id}"
    for other in live:
        if other.start_tick < hi and other.end_tick > lo:
            return f"{_span(other.start_tick, other.end_tick)} already have a row for {other.path}"
    return None


class LensBlobs:
    """The lens chunk rows of each run, and the files in its lens directory."""

    blob = BLOB

    def __init__(self, catalog: Catalog) -> None:
        self.catalog = catalog

    def files(self, run: RunDirs) -> RunFiles:
        rows = tuple(self.catalog.lens_chunks.list(run.run_id))
        return RunFiles(run.run_id, run.lens_dir, run.host, rows)

    def path_of(self, run: RunFiles, row: LensChunkRecord) -> Location:
        where = layout.resolve_under(run.directory, row.path)
        return where if layout.is_object_url(where) else Path(where)

    def created_at(self, row: LensChunkRecord) -> datetime:
        return row.created_at

    def check(self, run: RunFiles, row: LensChunkRecord, path: Location) -> FileCheck:
        f = check_chunk(path)
        if f.error is None:
            wrong = _wrong_file(f.intact, run.run_id, (row.start_tick, row.end_tick))
            if wrong is not None:
                return FileCheck(f.size, None, wrong)
        return f

    def differences(self, row: LensChunkRecord, f: FileCheck) -> list[str]:
        h = f.intact
        out = []
        if f.size != row.bytes:
            out.append(f"size {row.bytes} -> {f.size}")
        if row.checksum is not None and row.checksum != h.checksum:
            out.append(f"checksum {row.checksum} -> {h.checksum}")
        if row.frames != h.frames:
            out.append(f"frames {row.frames} -> {h.frames}")
        ticks = h.frame_span
        if (row.start_tick, row.end_tick) != ticks:
            out.append(f"{_span(row.start_tick, row.end_tick)} -> {span_text(*ticks)}")
        return out

    def mark(self, row: LensChunkRecord, state: str, why: str) -> object:
        return self.catalog.lens_chunks.mark(row.run_id, row.chunk_id, state, detail=why)

    def record_intact(self, run_id: str, path: Location, f: FileCheck) -> LensChunkRecord:
        """Record a verified file as the lens writer's recorder would (by path: a row
        with the same stored path is replaced)."""
        h = f.intact
        first, last = h.frame_span
        return self.catalog.lens_chunks.record(
            run_id,
            start_tick=first,
            end_tick=last,
            frames=h.frames,
            fields=list(h.fields),
            path=path,
            bytes=f.size,
            checksum=h.checksum,
            state="committed",
        )

    def problem(self, run: RunFiles, row: LensChunkRecord, kind: str, detail: str) -> Problem:
        ticks = (row.start_tick, row.end_tick)
        path = str(self.path_of(run, row))
        return Problem(kind, run.run_id, None, path, detail, blob=BLOB, ticks=ticks)

    def is_blob_name(self, name: str) -> bool:
        return layout.parse_lens_chunk_name(name) is not None

    def orphan(self, run: RunFiles, loc: Location, repair: bool) -> Problem:
        span = layout.parse_lens_chunk_name(name_of(loc))
        assert span is not None  # the walker only passes chunk names
        lo, hi = span
        detail = "lens chunk file no row lists"
        problem = Problem("orphan", run.run_id, None, str(loc), detail, blob=BLOB, ticks=(lo, hi))
        live = [r for r in run.rows if r.state != "pruned"]
        f = check_chunk(loc)
        why = _not_adoptable(run.run_id, f, span, live)
        if why is not None:
            more = "left in place, unrecorded" if repair else "--repair will leave it"
            return done(problem, None, f"; {more}: {why}")
        if not repair:
            return problem
        self.record_intact(run.run_id, stored(loc), f)
        return done(problem, "recorded committed")
