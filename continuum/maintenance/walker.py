"""The verify walker: one pass over a run's rows and directory, for any blob kind.

What differs between kinds is a :class:`BlobAdapter`; what a finding is and how it
is settled (the table in :mod:`continuum.maintenance.verify`) is here, once.
"""

from __future__ import annotations

import dataclasses
import socket
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any, Generic, Protocol, TypeVar

from continuum import layout
from continuum.catalog import RunDirs, pid_alive
from continuum.catalog.db import utcnow
from continuum.catalog.records import _Record, span_text
from continuum.maintenance.folders import (
    Folder,
    LocalFolder,
    Location,
    folder_of,
    name_of,
    upload_blob,
)

PENDING_GRACE = timedelta(hours=1)
CHECKED_STATES = frozenset({"committed", "pending", "deleting", "missing", "corrupt"})


@dataclass(frozen=True, slots=True)
class Problem(_Record):
    """One finding; ``repaired`` says what ``--repair`` did about it (None: nothing).

    ``blob`` is ``checkpoint`` (``tick`` names it) or ``lens`` (a lens chunk:
    ``ticks`` is its half-open range ``[start, end)``, as its row records it; a
    temporary in the lens directory has neither).
    """

    kind: str  # missing | corrupt | changed | settled | interrupted-prune | orphan | temp | upload
    run_id: str
    tick: int | None
    path: str
    detail: str
    repaired: str | None = None
    blob: str = "checkpoint"  # checkpoint | lens
    ticks: tuple[int, int] | None = None  # lens chunks: [start, end)

    def line(self) -> str:
        if self.blob == "lens":
            what = " lens" if self.ticks is None else f" lens chunk ticks {span_text(*self.ticks)}"
        else:
            what = "" if self.tick is None else f" tick {self.tick}"
        done = f" -> {self.repaired}" if self.repaired else ""
        return f"{self.kind}: run {self.run_id}{what}: {self.path}: {self.detail}{done}"


@dataclass(frozen=True, slots=True)
class VerifyReport(_Record):
    """What :func:`verify` checked and found."""

    runs: int
    checkpoints: int
    problems: tuple[Problem, ...]
    lens_chunks: int = 0

    @property
    def clean(self) -> bool:
        """True when nothing is left to fix (no problems, or all repaired)."""
        return all(p.repaired for p in self.problems)


@dataclass(frozen=True, slots=True)
class RunFiles:
    """One run as verify sees it: where its files are, and the rows of one kind."""

    run_id: str
    directory: str | None
    host: str | None
    rows: tuple[Any, ...]


H = TypeVar("H")


@dataclass(frozen=True, slots=True)
class FileCheck(Generic[H]):
    """A blob file fully verified: its header, or why it is bad (then ``header`` is None)."""

    size: int
    header: H | None
    error: str | None

    @property
    def intact(self) -> H:
        """The header of a file that passed (callers check ``error`` first)."""
        if self.header is None:
            raise ValueError(f"no header: {self.error}")
        return self.header


class BlobAdapter(Protocol):
    """What the walker needs to know of one kind of blob."""

    blob: str  # "checkpoint" | "lens": Problem.blob

    def files(self, run: RunDirs) -> RunFiles: ...
    def path_of(self, run: RunFiles, row: Any) -> Location: ...
    def created_at(self, row: Any) -> datetime: ...
    def check(self, run: RunFiles, row: Any, path: Location) -> FileCheck: ...
    def differences(self, row: Any, f: FileCheck) -> list[str]: ...
    def mark(self, row: Any, state: str, why: str) -> object: ...
    def record_intact(self, run_id: str, path: Location, f: FileCheck) -> object: ...
    def problem(self, run: RunFiles, row: Any, kind: str, detail: str) -> Problem: ...
    def is_blob_name(self, name: str) -> bool: ...
    def orphan(self, run: RunFiles, path: Location, repair: bool) -> Problem: ...


def reason(exc: BaseException, path: Location) -> str:
    """The first line of ``exc``'s message, without the path the Problem names anyway."""
    text = (str(exc).splitlines() or [type(exc).__name__])[0]
    return text.removeprefix(f"{path}: ") or type(exc).__name__


def done(problem: Problem, repaired: str | None, more: str = "") -> Problem:
    """``problem`` with what ``--repair`` did (None: nothing) and ``more`` detail."""
    return dataclasses.replace(problem, detail=problem.detail + more, repaired=repaired)


Marker = Callable[[str, str], object]  # (new state, audit detail): moves one row


def unlink_in_run_dir(run: RunFiles, path: Path) -> str | None:
    """Unlink ``path`` only as a file directly in ``run``'s own directory ``{root}/{run_id}``,
    opened without following a link (:class:`continuum.layout.ConfinedDir`); None when
    done (or already gone), else why it was left in place (one line)."""
    return LocalFolder(run.run_id, run.directory).unlink(path)


def settle(problem: Problem, state: str, mark: Marker, repair: bool) -> Problem:
    """``problem``; with ``repair``, its row moved to ``state`` (audit-logged by ``mark``)."""
    if not repair:
        return problem
    mark(state, f"catalog verify: {problem.detail}")
    return done(problem, f"marked {state}")


class Walker:
    """Verify the rows and the directory of one kind of blob, run by run."""

    def __init__(self, adapter: BlobAdapter, repair: bool) -> None:
        self.a = adapter
        self.repair = repair
        self._folders: dict[tuple[str, str | None], Folder] = {}

    def folder(self, run: RunFiles) -> Folder:
        """Where ``run``'s blobs are: its directory, or its prefix on object storage."""
        key = (run.run_id, run.directory)
        if key not in self._folders:
            self._folders[key] = folder_of(run.run_id, run.directory)
        return self._folders[key]

    def run(self, run: RunFiles) -> tuple[int, list[Problem]]:
        """(rows checked, problems) for one run."""
        checked, problems = 0, []
        for row in run.rows:
            if row.state in CHECKED_STATES:
                checked += 1
                found = self.row(run, row)
                problems += [found] if found else []
        return checked, problems + self.directory(run)

    # -- rows -------------------------------------------------------------

    def row(self, run: RunFiles, row: Any) -> Problem | None:
        if row.state == "pending" and utcnow() - self.a.created_at(row) < PENDING_GRACE:
            return None  # its write may still be in progress
        path = self.a.path_of(run, row)
        if not self.folder(run).exists(path):
            return self.gone(run, row)
        if row.state == "deleting":
            return self.finish_prune(run, row, path)
        f = self.a.check(run, row, path)
        if f.error is not None:
            if row.state == "corrupt":
                return None
            return self.settle(run, row, "corrupt", "corrupt", f.error)
        if changed := self.a.differences(row, f):
            return self.rerecord(run, row, path, f, changed)
        if row.state == "committed":
            return None
        detail = f"{row.state} row, but the file is intact as recorded"
        return self.settle(run, row, "settled", "committed", detail)

    def gone(self, run: RunFiles, row: Any) -> Problem | None:
        if row.state == "missing":
            return None
        if row.state == "deleting":
            detail = "interrupted prune (file already deleted)"
            return self.settle(run, row, "interrupted-prune", "pruned", detail)
        return self.settle(run, row, "missing", "missing", f"{row.state} row, no file")

    def settle(self, run: RunFiles, row: Any, kind: str, state: str, detail: str) -> Problem:
        problem = self.a.problem(run, row, kind, detail)
        return settle(problem, state, lambda s, why: self.a.mark(row, s, why), self.repair)

    def finish_prune(self, run: RunFiles, row: Any, path: Location) -> Problem:
        """A ``deleting`` row whose file is still there (an interrupted prune): with
        ``repair``, the file deleted and the row ``pruned``."""
        detail = "deleting row, file still there"
        problem = self.a.problem(run, row, "interrupted-prune", detail)
        if not self.repair:
            return problem
        if (why := self.folder(run).unlink(path)) is not None:
            return done(problem, None, f"; {why}")
        self.a.mark(row, "pruned", "catalog verify")
        return done(problem, "file deleted, marked pruned")

    def rerecord(
        self, run: RunFiles, row: Any, path: Location, f: FileCheck, changed: Sequence[str]
    ) -> Problem:
        detail = f"intact file differs from its row ({', '.join(changed)})"
        problem = self.a.problem(run, row, "changed", detail)
        if not self.repair:
            return problem
        self.a.record_intact(run.run_id, path, f)
        return done(problem, "re-recorded committed")

    # -- files no row lists ----------------------------------------------

    def directory(self, run: RunFiles) -> list[Problem]:
        folder = self.folder(run)
        entries = folder.entries()
        if not entries:
            return []
        live = [r for r in run.rows if r.state != "pruned"]
        listed = {folder.identity(self.a.path_of(run, r)) for r in live}
        out: list[Problem] = []
        for entry in entries:
            name = name_of(entry)
            if self.a.is_blob_name(name) and folder.identity(entry) not in listed:
                out.append(self.a.orphan(run, entry, self.repair))
            elif isinstance(entry, Path) and (pid := layout.temp_pid(name)) is not None:
                found = check_temp(run, entry, pid, self.repair, self.a.blob)
                out += [found] if found else []
        return out


def upload_problems(run: RunDirs, repair: bool) -> list[Problem]:
    """Incomplete multipart uploads under the run's prefixes on object storage (its
    checkpoint and lens dirs, each once, even when they are one prefix): what a writer
    killed mid-PUT leaves, billed and never listed (only ours: ``Folder.uploads``); a
    problem once the run is not running or the upload is older than a pending row's
    grace; ``repair`` aborts it."""
    out: list[Problem] = []
    for directory in dict.fromkeys(d for d in (run.checkpoint_dir, run.lens_dir) if d):
        folder = folder_of(run.run_id, directory)
        for upload in folder.uploads():
            if run.status == "running" and utcnow() - upload.initiated < PENDING_GRACE:
                continue  # a write that may be in progress
            detail = "incomplete multipart upload left by a crashed write"
            where = folder.location(upload)
            blob = upload_blob(name_of(upload.key)) or "checkpoint"
            problem = Problem("upload", run.run_id, None, where, detail, blob=blob)
            if not repair:
                out.append(problem)
            elif (why := folder.abort(upload)) is not None:
                out.append(done(problem, None, f"; {why}"))
            else:
                out.append(done(problem, "aborted"))
    return out


def check_temp(run: RunFiles, path: Path, pid: int, repair: bool, blob: str) -> Problem | None:
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
    if (why := unlink_in_run_dir(run, path)) is not None:
        return done(problem, None, f"; {why}")
    return done(problem, "deleted")
