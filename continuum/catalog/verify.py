"""``catalog verify``: does every file the catalog lists exist, intact, as recorded?

Checkpoints are checked here and lens chunks, the same way, in
``verify_lens.py`` (its mixin, ``LensVerifyOps``, is part of ``Catalog``); both
report :class:`Problem`\\ s into one :class:`VerifyReport`.

For each checkpoint row in state committed, pending, deleting, missing or
corrupt: the file must exist, have the recorded size and payload checksum,
and pass the container's full verification (every frame decoded and
checksummed). Each known run's directory is also searched for files no row
lists: checkpoint files (orphans) and temporaries left by a crashed atomic
write. One :class:`Problem` per finding; ``repair=True`` settles each through
the checkpoint state machine (whose moves are audit-logged):

    row, file gone              committed/corrupt -> missing
                                pending older than an hour -> missing
                                deleting -> pruned   (finishes an interrupted prune)
    row deleting, file present  file unlinked, -> pruned
    file fails verification     -> corrupt
    file intact, as recorded    pending/missing/corrupt -> committed
    file intact, not as recorded (size or checksum differ: it was rewritten)
                                re-recorded committed, as ``catalog scan`` would
    orphan checkpoint file      recorded: committed if it verifies and its header
                                names this run and the tick in its name, else corrupt
    stray temporary             deleted when its writer (pid in its name) is gone
                                on this host; a live writer's temporary is no problem

Known-bad rows that are still bad (``missing`` without a file, ``corrupt``
with a bad file) are not problems: the catalog already says so, and a
verify after ``--repair`` is clean. Pending rows younger than an hour are
skipped (their write may be in progress). A file that no row references is
never deleted; temporaries are the one exception, because by the atomic-write
protocol (``continuum.blobs.atomic``) a temporary never became a checkpoint.
"""

from __future__ import annotations

import dataclasses
import os
import re
import socket
from collections.abc import Callable
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import Connection, select

from continuum.catalog._base import CatalogBase, require_run, utcnow
from continuum.catalog.checkpoints import checkpoints_of
from continuum.catalog.lens_chunks import lens_chunks_of
from continuum.catalog.liveness import pid_alive
from continuum.catalog.models import runs
from continuum.catalog.records import CheckpointRecord, LensChunkRecord, _Record

PENDING_GRACE = timedelta(hours=1)
CHECKED_STATES = frozenset({"committed", "pending", "deleting", "missing", "corrupt"})
CHECKPOINT_NAME = re.compile(r"^checkpoint_(\d{10,})\.ckpt$")
TEMP_NAME = re.compile(r"^\..+\.tmp-(?P<pid>[0-9]+)-[0-9a-f]{8}$")  # blobs.atomic.TEMP_NAME_RE


@dataclass(frozen=True, slots=True)
class Problem(_Record):
    """One finding; ``repaired`` says what ``--repair`` did about it (None: nothing).

    ``blob`` is ``checkpoint`` (``tick`` names it) or ``lens`` (a lens chunk:
    ``ticks`` is its first and last tick, as its row records them; a temporary
    in the lens directory has neither).
    """

    kind: str  # missing | corrupt | changed | settled | interrupted-prune | orphan | temp
    run_id: str
    tick: int | None
    path: str
    detail: str
    repaired: str | None = None
    blob: str = "checkpoint"  # checkpoint | lens
    ticks: tuple[int, int] | None = None  # lens chunks: (first tick, last tick)

    def line(self) -> str:
        if self.blob == "lens":
            lo, hi = self.ticks or (None, None)
            what = " lens" if self.ticks is None else f" lens chunk ticks {lo}-{hi}"
        else:
            what = "" if self.tick is None else f" tick {self.tick}"
        done = f" -> {self.repaired}" if self.repaired else ""
        return f"{self.kind}: run {self.run_id}{what}: {self.path}: {self.detail}{done}"


@dataclass(frozen=True, slots=True)
class VerifyReport(_Record):
    """What ``Catalog.verify`` checked and found."""

    runs: int
    checkpoints: int
    problems: tuple[Problem, ...]
    lens_chunks: int = 0

    @property
    def clean(self) -> bool:
        """True when nothing is left to fix (no problems, or all repaired)."""
        return all(p.repaired for p in self.problems)


@dataclass(frozen=True, slots=True)
class _Run:
    run_id: str
    checkpoint_dir: str | None
    host: str | None
    rows: tuple[CheckpointRecord, ...]
    lens_dir: str | None = None
    lens_rows: tuple[LensChunkRecord, ...] = ()


@dataclass(frozen=True, slots=True)
class _FileCheck:
    """A checkpoint file fully verified: its header, or why it is bad."""

    size: int
    header: Any | None  # continuum.checkpoint.CheckpointHeader
    error: str | None


def check_file(path: Path, run_id: str, tick: int) -> _FileCheck:
    """Header, size and full payload verification of one file (decompresses it)."""
    from continuum.blobs import ContainerReader
    from continuum.checkpoint import inspect_checkpoint
    from continuum.checkpoint.format import KIND
    from continuum.errors import BlobError, CheckpointCorruptError, CheckpointError

    size = path.stat().st_size
    try:
        header = inspect_checkpoint(path)
        with ContainerReader(path, KIND, error_cls=CheckpointCorruptError) as reader:
            reader.verify()
    except (CheckpointError, BlobError, OSError) as exc:
        return _FileCheck(size, None, reason(exc, path))
    if header.tick != tick or header.identity.run_id != run_id:
        found = f"tick {header.tick} of run {header.identity.run_id}"
        return _FileCheck(size, None, f"header holds {found}, expected tick {tick} of run {run_id}")
    return _FileCheck(size, header, None)


def reason(exc: BaseException, path: Path) -> str:
    """The first line of ``exc``'s message, without the path the Problem names anyway."""
    text = (str(exc).splitlines() or [type(exc).__name__])[0]
    return text.removeprefix(f"{path}: ") or type(exc).__name__


def _targets(conn: Connection, run_id: str | None) -> list[_Run]:
    rows = [require_run(conn, run_id)] if run_id else conn.execute(select(runs)).all()
    return [
        _Run(
            r.run_id,
            r.checkpoint_dir,
            r.host,
            tuple(checkpoints_of(conn, r.run_id)),
            r.lens_dir,
            tuple(lens_chunks_of(conn, r.run_id)),
        )
        for r in sorted(rows, key=lambda r: (r.started_at, r.run_id))
    ]


def _as_recorded(row: CheckpointRecord, f: _FileCheck) -> bool:
    return f.size == row.bytes_on_disk and f.header.payload_checksum == row.checksum


class VerifyOps(CatalogBase):
    """Checking (and repairing) the catalog against the files (see the module docstring).

    ``verify`` also checks each run's lens chunks through ``_check_lens_run``,
    which ``LensVerifyOps`` (``verify_lens.py``) provides beside this mixin.
    """

    def verify(self, run_id: str | None = None, *, repair: bool = False) -> VerifyReport:
        """Check every run (or one); with ``repair``, settle what was found."""
        targets = self._read(lambda conn: _targets(conn, run_id))
        problems: list[Problem] = []
        checked = lens_checked = 0
        for run in targets:
            for row in run.rows:
                if row.state in CHECKED_STATES:
                    checked += 1
                    found = self._check_row(run, row, repair)
                    problems += [found] if found else []
            problems += self._check_dir(run, repair)
            lens_count, lens_problems = self._check_lens_run(run, repair)  # LensVerifyOps
            lens_checked += lens_count
            problems += lens_problems
        return VerifyReport(len(targets), checked, tuple(problems), lens_checked)

    # -- rows -------------------------------------------------------------

    def _check_row(self, run: _Run, row: CheckpointRecord, repair: bool) -> Problem | None:
        if row.state == "pending" and utcnow() - row.created_at < PENDING_GRACE:
            return None  # its write may still be in progress
        path = Path(row.resolved_path)
        if not path.is_file():
            return self._gone(row, repair)
        if row.state == "deleting":
            return self._finish_prune(row, path, repair)
        f = check_file(path, run.run_id, row.tick)
        if f.error is not None:
            if row.state == "corrupt":
                return None
            return self._settle(row, "corrupt", "corrupt", f.error, repair)
        if not _as_recorded(row, f):
            return self._rerecord(row, path, f, repair)
        if row.state == "committed":
            return None
        detail = f"{row.state} row, but the file is intact as recorded"
        return self._settle(row, "settled", "committed", detail, repair)

    def _gone(self, row: CheckpointRecord, repair: bool) -> Problem | None:
        if row.state == "missing":
            return None
        if row.state == "deleting":
            detail = "interrupted prune (file already deleted)"
            return self._settle(row, "interrupted-prune", "pruned", detail, repair)
        return self._settle(row, "missing", "missing", f"{row.state} row, no file", repair)

    def _finish_prune(self, row: CheckpointRecord, path: Path, repair: bool) -> Problem:
        return finish_prune(_problem(row, "", ""), path, self._marker(row), repair)

    def _settle(
        self, row: CheckpointRecord, kind: str, state: str, detail: str, repair: bool
    ) -> Problem:
        return settle(_problem(row, kind, detail), state, self._marker(row), repair)

    def _marker(self, row: CheckpointRecord) -> Marker:
        return lambda state, why: self.mark_checkpoint_state(
            row.run_id, row.tick, state, detail=why
        )

    def _rerecord(self, row: CheckpointRecord, path: Path, f: _FileCheck, repair: bool) -> Problem:
        size, checksum = (
            f"{row.bytes_on_disk} -> {f.size}",
            f"{row.checksum} -> {f.header.payload_checksum}",
        )
        problem = _problem(
            row, "changed", f"intact file differs from its row (size {size}, checksum {checksum})"
        )
        if not repair:
            return problem
        self._record_intact(row.run_id, path, f)
        return done(problem, "re-recorded committed")

    # -- files no row lists ----------------------------------------------

    def _check_dir(self, run: _Run, repair: bool) -> list[Problem]:
        directory = Path(run.checkpoint_dir) if run.checkpoint_dir else None
        if directory is None or not directory.is_dir():
            return []
        listed = {os.path.abspath(r.resolved_path) for r in run.rows if r.state != "pruned"}
        by_tick = {r.tick: r for r in run.rows}
        out: list[Problem] = []
        for entry in sorted(directory.iterdir()):
            name = CHECKPOINT_NAME.match(entry.name)
            if name and entry.is_file() and os.path.abspath(entry) not in listed:
                out.append(self._orphan(run, entry, int(name.group(1)), by_tick, repair))
            elif (temp := TEMP_NAME.match(entry.name)) and entry.is_file():
                found = check_temp(run, entry, int(temp.group("pid")), repair)
                out += [found] if found else []
        return out

    def _orphan(
        self, run: _Run, path: Path, tick: int, by_tick: dict[int, CheckpointRecord], repair: bool
    ) -> Problem:
        problem = Problem("orphan", run.run_id, tick, str(path), "checkpoint file no row lists")
        other = by_tick.get(tick)
        if not repair:
            return problem
        if other is not None and other.state != "pruned":
            return done(problem, None, f"; tick {tick} already has a row for {other.path}")
        f = check_file(path, run.run_id, tick)
        if f.error is None:
            self._record_intact(run.run_id, path, f)
            return done(problem, "recorded committed")
        self.record_checkpoint(
            run.run_id, tick=tick, sim_time=0.0, path=path.resolve(), bytes_on_disk=f.size
        )
        detail = f"catalog verify: orphan file is bad: {f.error}"
        self.mark_checkpoint_state(run.run_id, tick, "corrupt", detail=detail)
        return done(problem, f"recorded corrupt ({f.error})")

    def _record_intact(self, run_id: str, path: Path, f: _FileCheck) -> CheckpointRecord:
        h = f.header
        return self.record_checkpoint(
            run_id,
            tick=h.tick,
            sim_time=h.sim_time,
            era=h.era,
            path=path.resolve(),
            bytes_on_disk=f.size,
            raw_bytes=h.raw_bytes,
            checksum=h.payload_checksum,
            state="committed",
        )


def check_temp(
    run: _Run, path: Path, pid: int, repair: bool, blob: str = "checkpoint"
) -> Problem | None:
    """A temporary of the atomic-write protocol in one of ``run``'s directories.

    No problem while its writer (the pid in its name) is alive on this host;
    else deleted by ``repair`` — unless the run's writer ran on another host,
    where only a verify there can tell whether it is still writing.
    """
    local = run.host in (None, socket.gethostname())
    if local and pid_alive(pid):
        return None  # a write in progress
    detail = "temporary left by a crashed write"
    problem = Problem("temp", run.run_id, None, str(path), detail, blob=blob)
    if not repair:
        return problem
    if not local:
        return done(problem, None, f"; its writer ran on {run.host}, verify there")
    path.unlink(missing_ok=True)
    return done(problem, "deleted")


def _problem(row: CheckpointRecord, kind: str, detail: str) -> Problem:
    return Problem(kind, row.run_id, row.tick, row.resolved_path, detail)


Marker = Callable[[str, str], object]  # (new state, audit detail): moves one row


def settle(problem: Problem, state: str, mark: Marker, repair: bool) -> Problem:
    """``problem``; with ``repair``, its row moved to ``state`` (audit-logged by ``mark``)."""
    if not repair:
        return problem
    mark(state, f"catalog verify: {problem.detail}")
    return done(problem, f"marked {state}")


def finish_prune(problem: Problem, path: Path, mark: Marker, repair: bool) -> Problem:
    """A ``deleting`` row whose file is still there (an interrupted prune): with ``repair``,
    the file deleted and the row ``pruned``. ``problem`` names the row; kind and detail
    are set here."""
    problem = dataclasses.replace(
        problem, kind="interrupted-prune", detail="deleting row, file still there"
    )
    if not repair:
        return problem
    path.unlink(missing_ok=True)
    mark("pruned", "catalog verify")
    return done(problem, "file deleted, marked pruned")


def done(problem: Problem, repaired: str | None, more: str = "") -> Problem:
    """``problem`` with what ``--repair`` did (None: nothing) and ``more`` detail."""
    return dataclasses.replace(problem, detail=problem.detail + more, repaired=repaired)
