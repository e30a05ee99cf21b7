"""Start or resume: the world, what is resumed (``resolve``), the state the run starts from.

Preparing only reads. A new run's id is drawn and its directory's path chosen here, but
the directory is made by ``outputs`` once the catalog has accepted the run.
"""

from __future__ import annotations

import errno
import os
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path

from continuum import layout
from continuum.checkpoint import Loaded, check_shapes
from continuum.errors import CheckpointError
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
    run_dir: Path | None  # None: no checkpoints; made only when the run opens its outputs

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
    if resume.mode is Mode.IN_PLACE:
        assert resume.run_id is not None
        return Prepared(ir, resume, sim, state, resume.run_id, resume.run_dir)
    run_id, run_dir = _new_run(resume.root)
    return Prepared(ir, resume, sim, state, run_id, run_dir)


def _new_run(root: Path | None) -> tuple[str, Path | None]:
    """A new run id and, under ``root``, the path of its directory (free now, not made)."""
    while True:
        run_id = layout.new_run_id()
        if root is None:
            return run_id, None
        run_dir = layout.run_dir(root, run_id)
        if not os.path.lexists(run_dir):
            _check_creatable(run_dir)
            return run_id, run_dir
        # two runs in one second drew the same suffix: draw again


def _check_creatable(run_dir: Path) -> None:
    """Refuse now, before the catalog is asked, a directory that could not be made later."""
    first, existing = run_dir, run_dir.parent
    while not existing.exists() and existing != existing.parent:
        first, existing = existing, existing.parent
    problem: OSError
    if not existing.is_dir():  # a file in the way: what mkdir(parents=True) would say
        problem = NotADirectoryError(errno.ENOTDIR, os.strerror(errno.ENOTDIR), str(run_dir))
    elif not os.access(existing, os.W_OK | os.X_OK):
        problem = PermissionError(errno.EACCES, os.strerror(errno.EACCES), str(first))
    else:
        return
    raise CheckpointError(f"cannot create checkpoint directory {run_dir}: {problem}")
