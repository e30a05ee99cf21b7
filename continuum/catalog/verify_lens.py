"""``catalog verify`` for lens chunks: the checkpoint rules of ``verify.py``, per chunk.

For each lens_chunks row in state committed, pending (older than the same
hour's grace), deleting, missing or corrupt, the file must exist, have the
recorded size (``bytes``) and checksum (when recorded: the recorder stores the
container header's payload checksum, xxh3_128 hex), and pass full verification
(:class:`continuum.lens.format.ChunkFile` ``read_all``: footer, payload
checksum, every frame decoded, the arrays matching the header, ticks increasing
inside the header's range). Its header must name the row's run, and a tick
range (``tick_range``, the ticks the file is authoritative for) that covers
the row's ticks; a file that fails any of this is ``corrupt`` — a file in
another's place is as wrong as a damaged one. What the row records of an
intact, right file is its size, checksum, frame count and first..last tick
(the recorder's ``start_tick``/``end_tick``); when those differ the file was
rewritten, and ``--repair`` re-records it as the recorder would.

The run's lens directory is searched too, for chunk files no row lists (names
``lens_snapshot_{start:010}-{end:010}.lens``, see ``continuum.lens.manifest``)
and temporaries of the atomic-write protocol. ``lens_snapshot_full.lens``
(``lens compact``, ``--lens-full``) is a copy of the chunks, not one the
catalog indexes, and is left alone unless a row lists it. ``repair=True``:

    row, file gone              committed/corrupt -> missing
                                pending older than an hour -> missing
                                deleting -> pruned   (finishes an interrupted prune)
    row deleting, file present  file unlinked, -> pruned
    file fails verification     -> corrupt
    file intact, as recorded    pending/missing/corrupt -> committed
    file intact, not as recorded
                                re-recorded committed
    orphan chunk file           recorded committed if it verifies, its header names
                                this run and the tick range in its name, and no
                                listed chunk of the run overlaps it; else left in
                                place, unrecorded (verify says why, with or
                                without --repair)
    stray temporary             as in the checkpoint directory (``verify.check_temp``)

State moves go through ``mark_lens_chunk_state`` (the checkpoint state machine;
moves into missing, corrupt, deleting and pruned are audit-logged). Unlike a
bad orphan checkpoint, a bad orphan chunk is not recorded ``corrupt``: the
catalog did not write it and does not adopt it, and it is never deleted, so it
is reported by every verify until someone moves it away.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from continuum.catalog._base import CatalogBase, utcnow
from continuum.catalog.records import LensChunkRecord
from continuum.catalog.verify import (
    CHECKED_STATES,
    PENDING_GRACE,
    TEMP_NAME,
    Marker,
    Problem,
    _Run,
    check_temp,
    done,
    finish_prune,
    reason,
    settle,
)

BLOB = "lens"


@dataclass(frozen=True, slots=True)
class _ChunkCheck:
    """A lens chunk file fully verified: its header, or why it is bad."""

    size: int
    header: Any | None  # continuum.lens.format.ChunkHeader
    error: str | None


def check_chunk(path: Path) -> _ChunkCheck:
    """Size, header and full verification of one chunk file (decodes every frame)."""
    from continuum.errors import ContinuumError
    from continuum.lens.format import ChunkFile

    size = path.stat().st_size
    try:
        with ChunkFile(path) as chunk:
            chunk.read_all()
            return _ChunkCheck(size, chunk.header, None)
    except (ContinuumError, OSError, ValueError) as exc:
        return _ChunkCheck(size, None, reason(exc, path))


def recorded_range(header: Any) -> tuple[int, int]:
    """The (start_tick, end_tick) a row records for a chunk: its first and last frame
    (what the recorder stores), or its authoritative range if it holds no frame."""
    if header.frames and header.first_tick is not None and header.last_tick is not None:
        return int(header.first_tick), int(header.last_tick)
    lo, hi = header.tick_range
    return lo, max(lo, hi - 1)


def _span(lo: int, hi: int) -> str:
    """An authoritative [lo, hi) range as the inclusive ticks it covers."""
    return f"ticks {lo}-{hi - 1}" if hi > lo else f"no ticks (range [{lo}, {hi}))"


def _wrong_file(header: Any, run_id: str, ticks: tuple[int, int]) -> str | None:
    """Why the file is not the chunk of ``run_id`` covering ``ticks``, or None if it is."""
    lo, hi = header.tick_range
    if header.identity.run_id != run_id or not lo <= ticks[0] <= ticks[1] < hi:
        found = f"{_span(lo, hi)} of run {header.identity.run_id or '(none)'}"
        return f"header holds {found}, expected ticks {ticks[0]}-{ticks[1]} of run {run_id}"
    return None


def _differences(row: LensChunkRecord, f: _ChunkCheck) -> list[str]:
    """What the row records differently from the intact file (empty: as recorded)."""
    h = f.header
    out = []
    if f.size != row.bytes:
        out.append(f"size {row.bytes} -> {f.size}")
    if row.checksum is not None and row.checksum != h.checksum:
        out.append(f"checksum {row.checksum} -> {h.checksum}")
    if row.frames != h.frames:
        out.append(f"frames {row.frames} -> {h.frames}")
    ticks = recorded_range(h)
    if (row.start_tick, row.end_tick) != ticks:
        out.append(f"ticks {row.start_tick}-{row.end_tick} -> {ticks[0]}-{ticks[1]}")
    return out


def resolved(run: _Run, row: LensChunkRecord) -> str:
    """The file a row names: its path under the run's lens_dir unless absolute."""
    return os.path.join(run.lens_dir, row.path) if run.lens_dir else row.path


class LensVerifyOps(CatalogBase):
    """``verify``'s lens half: rows and files of each run's lens directory."""

    def _check_lens_run(self, run: _Run, repair: bool) -> tuple[int, list[Problem]]:
        """(lens chunk rows checked, problems) for one run."""
        problems: list[Problem] = []
        checked = 0
        for row in run.lens_rows:
            if row.state in CHECKED_STATES:
                checked += 1
                found = self._check_chunk_row(run, row, repair)
                problems += [found] if found else []
        return checked, problems + self._check_lens_dir(run, repair)

    # -- rows -------------------------------------------------------------

    def _check_chunk_row(self, run: _Run, row: LensChunkRecord, repair: bool) -> Problem | None:
        if row.state == "pending" and utcnow() - row.created_at < PENDING_GRACE:
            return None  # its write may still be in progress
        path = Path(resolved(run, row))
        if not path.is_file():
            return self._chunk_gone(run, row, repair)
        if row.state == "deleting":
            return self._finish_chunk_prune(run, row, path, repair)
        f = check_chunk(path)
        error = f.error or _wrong_file(f.header, run.run_id, (row.start_tick, row.end_tick))
        if error is not None:
            if row.state == "corrupt":
                return None
            return self._settle_chunk(run, row, "corrupt", "corrupt", error, repair)
        if changed := _differences(row, f):
            return self._rerecord_chunk(run, row, path, f, changed, repair)
        if row.state == "committed":
            return None
        detail = f"{row.state} row, but the file is intact as recorded"
        return self._settle_chunk(run, row, "settled", "committed", detail, repair)

    def _chunk_gone(self, run: _Run, row: LensChunkRecord, repair: bool) -> Problem | None:
        if row.state == "missing":
            return None
        if row.state == "deleting":
            detail = "interrupted prune (file already deleted)"
            return self._settle_chunk(run, row, "interrupted-prune", "pruned", detail, repair)
        detail = f"{row.state} row, no file"
        return self._settle_chunk(run, row, "missing", "missing", detail, repair)

    def _finish_chunk_prune(
        self, run: _Run, row: LensChunkRecord, path: Path, repair: bool
    ) -> Problem:
        return finish_prune(_problem(run, row, "", ""), path, self._chunk_marker(run, row), repair)

    def _settle_chunk(
        self, run: _Run, row: LensChunkRecord, kind: str, state: str, detail: str, repair: bool
    ) -> Problem:
        problem = _problem(run, row, kind, detail)
        return settle(problem, state, self._chunk_marker(run, row), repair)

    def _chunk_marker(self, run: _Run, row: LensChunkRecord) -> Marker:
        return lambda state, why: self.mark_lens_chunk_state(
            run.run_id, row.chunk_id, state, detail=why
        )

    def _rerecord_chunk(
        self,
        run: _Run,
        row: LensChunkRecord,
        path: Path,
        f: _ChunkCheck,
        changed: list[str],
        repair: bool,
    ) -> Problem:
        detail = f"intact file differs from its row ({', '.join(changed)})"
        problem = _problem(run, row, "changed", detail)
        if not repair:
            return problem
        self._record_intact_chunk(run.run_id, path, f)  # the row's own path: it is replaced
        return done(problem, "re-recorded committed")

    # -- files no row lists ----------------------------------------------

    def _check_lens_dir(self, run: _Run, repair: bool) -> list[Problem]:
        from continuum.lens.manifest import parse_chunk_name

        directory = Path(run.lens_dir) if run.lens_dir else None
        if directory is None or not directory.is_dir():
            return []
        live = [r for r in run.lens_rows if r.state != "pruned"]
        listed = {os.path.realpath(resolved(run, r)) for r in live}
        out: list[Problem] = []
        for entry in sorted(directory.iterdir()):
            span = parse_chunk_name(entry.name)
            if span and entry.is_file() and os.path.realpath(entry) not in listed:
                out.append(self._chunk_orphan(run, entry, span, live, repair))
            elif (temp := TEMP_NAME.match(entry.name)) and entry.is_file():
                found = check_temp(run, entry, int(temp.group("pid")), repair, BLOB)
                out += [found] if found else []
        return out

    def _chunk_orphan(
        self,
        run: _Run,
        path: Path,
        span: tuple[int, int],
        live: list[LensChunkRecord],
        repair: bool,
    ) -> Problem:
        lo, hi = span
        detail = "lens chunk file no row lists"
        problem = Problem(
            "orphan", run.run_id, None, str(path), detail, blob=BLOB, ticks=(lo, hi - 1)
        )
        f = check_chunk(path)
        why = _not_adoptable(run.run_id, f, span, live)
        if why is not None:
            more = "left in place, unrecorded" if repair else "--repair will leave it"
            return done(problem, None, f"; {more}: {why}")
        if not repair:
            return problem
        self._record_intact_chunk(run.run_id, path.resolve(), f)
        return done(problem, "recorded committed")

    def _record_intact_chunk(self, run_id: str, path: Path, f: _ChunkCheck) -> LensChunkRecord:
        """Record a verified file as the lens writer's recorder would (by path: a row
        with the same stored path is replaced)."""
        h = f.header
        first, last = recorded_range(h)
        return self.record_lens_chunk(
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


def _not_adoptable(
    run_id: str, f: _ChunkCheck, span: tuple[int, int], live: list[LensChunkRecord]
) -> str | None:
    """Why an orphan chunk file must not be recorded for ``run_id``, or None if it may:
    it must verify, its header must name the run and the range in its name, and no
    listed chunk of the run may hold any of its ticks."""
    if f.error is not None:
        return f.error
    h, (lo, hi) = f.header, span
    if h.identity.run_id != run_id or tuple(h.tick_range) != span:
        found = f"{_span(*h.tick_range)} of run {h.identity.run_id or '(none)'}"
        return f"its header holds {found}, its name says {_span(lo, hi)} of run {run_id}"
    for other in live:
        if other.start_tick < hi and other.end_tick >= lo:
            return f"ticks {other.start_tick}-{other.end_tick} already have a row for {other.path}"
    return None


def _problem(run: _Run, row: LensChunkRecord, kind: str, detail: str) -> Problem:
    ticks = (row.start_tick, row.end_tick)
    return Problem(kind, run.run_id, None, resolved(run, row), detail, blob=BLOB, ticks=ticks)
