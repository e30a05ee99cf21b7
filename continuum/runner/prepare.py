"""Start or resume: load the world and the checkpoint, decide in place vs branch."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path

from continuum.checkpoint import (
    Loaded,
    RunIdentity,
    check_shapes,
    load_file,
    load_newest_intact,
    newest_run_dir,
    validate,
)
from continuum.errors import CheckpointError, ResumeMismatchError, WorldError
from continuum.runner.request import RunRequest
from continuum.runtime import Simulation, State, new_run_id
from continuum.world import (
    Program,
    WorldIR,
    compile_world,
    ir_hash,
    load_scenario,
    load_world,
)

log = logging.getLogger("continuum.run")

DEFAULT_CHECKPOINT_DIR = Path("checkpoints")


@dataclass
class Prepared:
    """A run ready to step: where it starts and where it writes."""

    ir: WorldIR
    program: Program
    sim: Simulation
    state: State
    run_id: str
    run_dir: Path | None
    loaded: Loaded | None
    branch_of: tuple[str, int] | None  # (parent run_id, tick)

    @cached_property
    def ir_hash(self) -> str:
        """The world's IR hash, computed once for the manifest, summary, catalog and lens."""
        return ir_hash(self.ir)


def prepare(req: RunRequest) -> Prepared:
    """Load the world, and the checkpoint to resume from if any; validate them."""
    ir = load_world(req.world)
    loaded = _find_checkpoint(req, ir)
    if loaded is None:
        program = compile_world(ir, load_scenario(ir, req.scenario))
        sim = Simulation(program, req.seed or 0)
        run_id, run_dir = _new_run_dir(req.checkpoint_dir)
        return Prepared(ir, program, sim, sim.initial_state(), run_id, run_dir, None, None)
    header = loaded.header
    if req.seed is not None and req.seed != header.seed:
        raise ResumeMismatchError(
            f"{header.path}: the checkpoint's seed is {header.seed}; a "
            f"resume keeps it (drop --seed {req.seed})"
        )
    program = compile_world(ir, _scenario_for(ir, req, header.identity.scenario))
    problems = validate(header, RunIdentity.of(program, header.identity.run_id), req.force_resume)
    for problem in problems:
        log.warning("resuming despite: %s", problem)
    sim = Simulation(program, header.seed)
    check_shapes(header, sim.counts)
    in_place = (
        loaded.newest_in_run
        and not problems
        and program.scenario.hash == header.identity.scenario_hash
        and (header.path.parent / "manifest.json").is_file()
    )
    if in_place:
        return Prepared(
            ir, program, sim, loaded.state, header.identity.run_id, header.path.parent, loaded, None
        )
    run_id, run_dir = _new_run_dir(req.checkpoint_dir or header.path.parent.parent)
    return Prepared(
        ir,
        program,
        sim,
        loaded.state,
        run_id,
        run_dir,
        loaded,
        (header.identity.run_id, header.tick),
    )


def _find_checkpoint(req: RunRequest, ir: WorldIR) -> Loaded | None:
    if req.checkpoint_path is not None:
        return load_file(Path(req.checkpoint_path))
    if req.resume_run is not None:
        from continuum.runner.recorder import checkpoint_of_run

        return load_file(checkpoint_of_run(req.catalog, req.resume_run))
    if req.resume:
        return load_newest_intact(
            newest_run_dir(req.checkpoint_dir or DEFAULT_CHECKPOINT_DIR, ir.name)
        )
    return None


def _scenario_for(ir: WorldIR, req: RunRequest, saved: str):
    if req.scenario is not None:
        return load_scenario(ir, req.scenario)
    if saved == "default":
        return load_scenario(ir, None)
    try:
        return load_scenario(ir, saved)
    except WorldError as exc:
        raise ResumeMismatchError(
            f"the checkpoint ran under scenario {saved!r}, which cannot be "
            f"loaded now ({exc}); pass --scenario"
        ) from None


def _new_run_dir(checkpoint_dir: Path | None) -> tuple[str, Path | None]:
    if checkpoint_dir is None:
        return new_run_id(), None
    checkpoint_dir = Path(checkpoint_dir)
    while True:
        run_id = new_run_id()
        run_dir = checkpoint_dir / run_id
        try:
            run_dir.mkdir(parents=True, exist_ok=False)
        except FileExistsError:
            continue  # two runs in one second drew the same suffix: draw again
        except OSError as exc:
            raise CheckpointError(f"cannot create checkpoint directory {run_dir}: {exc}") from None
        return run_id, run_dir
