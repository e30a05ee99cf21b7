"""Start or resume: the world, what is resumed (``resolve``), the state the run starts from.

Preparing only reads. A new run's id is drawn and its directory's path chosen here, but
the directory is made by ``outputs`` once the catalog has accepted the run. What can be
told now is refused now, before the catalog is asked: a new run's checkpoint or lens
directory that could not be made, a resumed run's directory that cannot be written
(read-only, immutable, not ours). A full disk cannot be told in advance; ``outputs``
says it in one line when the first write fails.
"""

from __future__ import annotations

import errno
import os
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path

from continuum import layout
from continuum.checkpoint import Loaded, check_shapes
from continuum.checkpoint.remote import RemoteRun
from continuum.errors import CheckpointError, ContinuumError, LensError
from continuum.runner.request import RunRequest
from continuum.runner.resolve import Mode, Resume, resolve
from continuum.runtime import Simulation, State
from continuum.world import Program, WorldIR, ir_hash, load_world


@dataclass
class Prepared:
    """A run ready to step: where it starts and where it will write."""

    ir: WorldIR
    resume: Resume
    sim: Simulation
    state: State
    run_id: str
    run_dir: Path | None  # None: no checkpoints here; made only when the run opens its outputs
    remote: RemoteRun | None = None  # checkpoints on object storage: the run's prefix

    @property
    def checkpoints_at(self) -> str | None:
        """Where the run's checkpoints go: its directory or its ``s3://`` prefix, or None."""
        if self.remote is not None:
            return self.remote.url
        return str(self.run_dir) if self.run_dir is not None else None

    @property
    def program(self) -> Program:
        return self.resume.program

    @property
    def loaded(self) -> Loaded | None:
        return self.resume.loaded

    @property
    def branch_of(self) -> tuple[str, int] | None:
        """(parent run id, tick) of a branch, else None."""
        return self.resume.parent

    @property
    def is_new(self) -> bool:
        """Whether the run gets a new directory and manifest (a fresh run or a branch)."""
        return self.resume.mode is not Mode.IN_PLACE

    @cached_property
    def ir_hash(self) -> str:
        """The world's IR hash, computed once for the manifest, summary, catalog and lens."""
        return ir_hash(self.ir)


def prepare(req: RunRequest) -> Prepared:
    """Load the world, decide what is resumed and build the starting state; writes nothing."""
    ir = load_world(req.world)
    resume = resolve(req, ir)
    if resume.loaded is None:
        sim = Simulation(resume.program, req.seed or 0)
        state = sim.initial_state()
    else:
        sim = Simulation(resume.program, resume.loaded.header.seed)
        check_shapes(resume.loaded.header, sim.counts)
        state = resume.loaded.state
        sim.check_resumed(state)
    run_dir: Path | None
    remote: RemoteRun | None = None
    if resume.mode is Mode.IN_PLACE and resume.remote is not None:
        assert resume.run_id is not None
        run_id, run_dir, remote = resume.run_id, None, resume.remote
        remote.store.check()  # endpoint, bucket, credentials: one line now, not at tick N
    elif resume.mode is Mode.IN_PLACE:
        assert resume.run_id is not None and resume.run_dir is not None
        _check_writable(resume.run_dir, "checkpoint", CheckpointError)
        run_id, run_dir = resume.run_id, resume.run_dir
    elif layout.is_object_url(resume.root):
        run_id, run_dir = layout.new_run_id(), None
        remote = RemoteRun(str(resume.root), run_id)
        remote.store.check()
    else:
        run_id, run_dir = _new_run(None if resume.root is None else Path(resume.root))
    if layout.is_object_url(req.lens_dir):  # endpoint, bucket, credentials: one line now
        from continuum.blobs.storage import open_store

        open_store(str(req.lens_dir)).check()
    elif req.lens_dir is not None:
        _check_lens_dir(layout.run_dir(Path(req.lens_dir), run_id))
    return Prepared(ir, resume, sim, state, run_id, run_dir, remote)


def _check_lens_dir(run_dir: Path) -> None:
    """The lens run dir: written if it exists (a resume in place), else made."""
    if os.path.isdir(run_dir):
        _check_writable(run_dir, "lens", LensError)
    else:
        _check_creatable(run_dir, "lens", LensError)


def _check_writable(run_dir: Path, what: str, error: type[ContinuumError]) -> None:
    """Refuse now a directory a resume could not write to (``os.access`` sees a read-only
    mount and an immutable directory even as root)."""
    if os.access(run_dir, os.W_OK | os.X_OK):
        return
    code = errno.EROFS if _read_only_mount(run_dir) else errno.EACCES
    raise error(
        f"cannot write {what} directory {run_dir}: {os.strerror(code)}; "
        "make it writable, then run again"
    )


def _read_only_mount(path: Path) -> bool:
    try:
        return bool(os.statvfs(path).f_flag & os.ST_RDONLY)
    except OSError:
        return False


def _new_run(root: Path | None) -> tuple[str, Path | None]:
    """A new run id and, under ``root``, the path of its directory (free now, not made)."""
    while True:
        run_id = layout.new_run_id()
        if root is None:
            return run_id, None
        run_dir = layout.run_dir(root, run_id)
        if not os.path.lexists(run_dir):
            _check_creatable(run_dir, "checkpoint", CheckpointError)
            return run_id, run_dir
        # two runs in one second drew the same suffix: draw again


def _check_creatable(run_dir: Path, what: str, error: type[ContinuumError]) -> None:
    """Refuse now, before the catalog is asked, a directory that could not be made later."""
    first, existing = run_dir, run_dir.parent
    while not existing.exists() and existing != existing.parent:
        first, existing = existing, existing.parent
    problem: OSError
    if not existing.is_dir():  # a file in the way: what mkdir(parents=True) would say
        problem = NotADirectoryError(errno.ENOTDIR, os.strerror(errno.ENOTDIR), str(run_dir))
    elif not os.access(existing, os.W_OK | os.X_OK):
        code = errno.EROFS if _read_only_mount(existing) else errno.EACCES
        problem = OSError(code, os.strerror(code), str(first))
    else:
        return
    raise error(f"cannot create {what} directory {run_dir}: {problem}")
