"""One invocation of ``continuum run``: start or resume, step, checkpoint, report.

Decisions written down here because DESIGN.md leaves them open:

- Checkpoints are written when ``checkpoint_dir`` is given, and always when
  resuming (into the run directory the run continues in). ``--resume`` without
  ``--checkpoint-dir`` looks under ``./checkpoints``, as in the seed document.
- Triggers: tick divisible by the stride (so files land on round ticks across
  resumes) or ``interval`` wall seconds since the last one; plus a final one.
- Resuming continues *in place* (same run_id, a new segment in the manifest)
  when the checkpoint is the newest of its run and world, scenario and seed
  are unchanged. Anything else — another scenario, a forced resume under a
  changed world, an older checkpoint — is a **branch**: a new run_id whose
  manifest names the parent run and checkpoint. That way a run's directory
  never holds two timelines.
- A resume keeps the checkpoint's seed; a different ``--seed`` is refused.
"""

from __future__ import annotations

import logging
import os
import socket
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from continuum.checkpoint import (
    CheckpointWriter,
    Committed,
    Loaded,
    Manifest,
    RunIdentity,
    check_shapes,
    checkpoint_files,
    latest_target,
    load_file,
    load_newest_intact,
    newest_run_dir,
    tick_of,
    validate,
)
from continuum.checkpoint.layout import now_iso
from continuum.errors import CheckpointError, ResumeMismatchError, WorldError
from continuum.runtime import Simulation, State, new_run_id
from continuum.world import Program, WorldIR, compile_world, ir_hash, load_scenario, load_world

if TYPE_CHECKING:  # imported lazily below: scipy (lens) and sqlalchemy (catalog) are slow
    from continuum.lens import LensCapture
    from continuum.recorder import RunRecorder

log = logging.getLogger("continuum.run")

DEFAULT_CHECKPOINT_DIR = Path("checkpoints")


@dataclass
class RunRequest:
    world: str
    steps: int = 1000
    seed: int | None = None
    scenario: str | None = None
    checkpoint_dir: Path | None = None
    checkpoint_stride: int = 1000
    checkpoint_interval: float | None = None
    keep_checkpoints: int | None = None
    resume: bool = False
    checkpoint_path: Path | None = None
    force_resume: bool = False
    queue_depth: int = 3
    lens_dir: Path | None = None
    lens_stride: int = 1
    lens_fields: str | None = None  # "a.b,c.d" or "all"/None (every field)
    lens_chunk_size: int = 1000
    lens_full: bool = False
    lens_export_dir: Path | None = None  # export each sealed chunk to Parquet here
    catalog: str | None = None  # URL; None: CONTINUUM_CATALOG or the default SQLite file
    no_catalog: bool = False
    resume_run: str | None = None


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
        from continuum.recorder import checkpoint_of_run

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


def open_manifest(p: Prepared, req: RunRequest) -> Manifest:
    """Load the run's manifest (in place) or create it (new run or branch)."""
    assert p.run_dir is not None
    if p.loaded is not None and p.branch_of is None:
        manifest = Manifest.load(p.run_dir)
    else:
        parent = None
        if p.branch_of is not None:
            parent = {
                "run_id": p.branch_of[0],
                "tick": p.branch_of[1],
                "checkpoint": p.loaded.header.path.name,
            }
        manifest = Manifest.create(
            p.run_dir,
            {
                "run_id": p.run_id,
                "world": p.ir.name,
                "ir_hash": ir_hash(p.ir),
                "scenario": p.program.scenario.name,
                "scenario_hash": p.program.scenario.hash,
                "seed": p.sim.seed,
                "parent": parent,
                "signals": [d.signal.name for d in p.program.declarations],
                "fields": sorted(p.program.fields),
            },
        )
    manifest.update(
        checkpoint_stride=req.checkpoint_stride, checkpoint_interval=req.checkpoint_interval
    )
    return manifest


def keep_last(run_dir: Path, n: int, recorder: RunRecorder | None) -> Callable[[Committed], None]:
    """After each commit, delete all but the newest ``n`` checkpoints (never ``latest``).

    With a catalog, each deletion is crash-safe: the row goes to ``deleting``
    (refused for pinned rows, which are then kept), the file is unlinked, the
    row goes to ``pruned``.
    """

    def prune(_: Committed) -> None:
        keep = set(checkpoint_files(run_dir)[-n:]) | {latest_target(run_dir)}
        for path in checkpoint_files(run_dir):
            if path in keep:
                continue
            tick = tick_of(path.name)
            if recorder is not None and not recorder.mark(tick, "deleting"):
                continue
            path.unlink(missing_ok=True)
            if recorder is not None:
                recorder.mark(tick, "pruned")

    return prune


class Trigger:
    """Tick-loop observer deciding when to hand a snapshot to the writer."""

    def __init__(self, writer: CheckpointWriter, stride: int, interval: float | None) -> None:
        self.writer, self.stride, self.interval = writer, stride, interval
        self.last = time.monotonic()

    def __call__(self, state: State) -> None:
        due_time = self.interval is not None and time.monotonic() - self.last >= self.interval
        if state.tick % self.stride == 0 or due_time:
            self.writer.submit(state.snapshot())
            self.last = time.monotonic()


def execute(req: RunRequest, on_tick: Callable[[State], None] | None = None) -> dict[str, Any]:
    """Run the request to completion and return the summary ``continuum run`` prints."""
    p = prepare(req)
    on_seal: list = []  # filled before lens.start(), which hands it to the chunk writer
    lens = open_lens(p, req, on_seal)  # before anything starts: a bad --lens-fields fails here
    recorder = None if req.no_catalog else _open_recorder(p, req)
    if recorder is not None:
        on_seal.append(recorder.lens_chunk)
    exporter = open_exporter(req, recorder, on_seal) if lens is not None else None
    manifest, writer = open_checkpointing(p, req, recorder)
    if lens is not None:
        lens.start(p.state)
    trigger = Trigger(writer, req.checkpoint_stride, req.checkpoint_interval) if writer else None
    observers = [o for o in (trigger, lens, on_tick) if o is not None]
    if recorder is not None:
        recorder.start_heartbeat(lambda: p.state.tick)
    started, status = time.perf_counter(), "failed"
    try:
        p.sim.run(p.state, req.steps, observer=_fan_out(observers))
        elapsed = time.perf_counter() - started
        if writer is not None and writer.last_tick != p.state.tick:
            writer.submit(p.state.snapshot(), wait=True)
        status = "completed"
    finally:
        if lens is not None:
            lens.close(p.state.tick, status)
        if exporter is not None:
            exporter.close()
        if writer is not None:
            writer.close()
            manifest.end_segment(end_tick=p.state.tick, ended_at=now_iso(), status=status)
        if recorder is not None:
            recorder.finish(status, p.state.tick, writer.dropped if writer else 0)
    return {**_summary(p, req, elapsed, writer), **(lens.summary() if lens else {})}


def _open_recorder(p: Prepared, req: RunRequest) -> RunRecorder:
    from continuum.recorder import RunRecorder

    return RunRecorder.open(p, req)


def open_checkpointing(
    p: Prepared, req: RunRequest, recorder: RunRecorder | None
) -> tuple[Manifest | None, CheckpointWriter | None]:
    """The run's manifest (with a new segment) and its background writer, if it checkpoints."""
    if p.run_dir is None:
        return None, None
    manifest = open_manifest(p, req)
    after_commit = [recorder.committed] if recorder else []
    if req.keep_checkpoints and recorder is not None:  # a catalog policy, applied per commit
        from continuum.catalog.prune import retention_callback

        after_commit.append(retention_callback(recorder.catalog, p.run_id, req.keep_checkpoints))
    elif req.keep_checkpoints:
        after_commit.append(keep_last(p.run_dir, req.keep_checkpoints, None))
    writer = CheckpointWriter(
        manifest,
        RunIdentity.of(p.program, p.run_id),
        depth=req.queue_depth,
        on_commit=after_commit,
        on_begin=[recorder.pending] if recorder else [],
        on_fail=[recorder.failed] if recorder else [],
    )
    manifest.start_segment(
        {
            "started_at": now_iso(),
            "host": socket.gethostname(),
            "pid": os.getpid(),
            "resumed_from": p.loaded.header.path.name if p.loaded else None,
            "start_tick": p.state.tick,
            "status": "running",
        }
    )
    return manifest, writer


def open_lens(p: Prepared, req: RunRequest, on_seal: list | None = None) -> LensCapture | None:
    """Lens capture into ``{lens_dir}/{run_id}``: a resume in place appends to it."""
    if req.lens_dir is None:
        return None
    from continuum.lens import CaptureConfig, LensCapture, parse_fields

    config = CaptureConfig(
        Path(req.lens_dir),
        req.lens_stride,
        parse_fields(req.lens_fields),
        req.lens_chunk_size,
        req.lens_full,
    )
    return LensCapture(p.sim, config, p.run_id, ir_hash=ir_hash(p.ir), on_seal=on_seal)


def open_exporter(req: RunRequest, recorder: RunRecorder | None, on_seal: list) -> Any:
    """``--lens-export-dir``: a thread exporting each sealed chunk to Parquet (duckdb)."""
    if req.lens_export_dir is None:
        return None
    from continuum.sql import LiveExporter

    exporter = LiveExporter(Path(req.lens_export_dir), recorder.catalog if recorder else None)
    on_seal.append(exporter)
    return exporter


def _fan_out(observers: list[Callable[[State], None]]) -> Callable[[State], None] | None:
    if not observers:
        return None
    if len(observers) == 1:
        return observers[0]

    def each(state: State) -> None:
        for observer in observers:
            observer(state)

    return each


def _summary(p: Prepared, req: RunRequest, elapsed: float, writer) -> dict[str, Any]:
    return {
        "run_id": p.run_id,
        "world": p.ir.name,
        "ir_hash": ir_hash(p.ir),
        "scenario": p.program.scenario.name,
        "scenario_hash": p.program.scenario.hash,
        "seed": p.sim.seed,
        "tick": p.state.tick,
        "sim_time": p.state.sim_time,
        "era": p.state.era,
        "state_hash": p.state.state_hash(),
        "ticks_per_s": round(req.steps / elapsed, 3) if elapsed > 0 else None,
        "checkpoint_dir": str(p.run_dir) if p.run_dir else None,
        "checkpoints_written": writer.written if writer else 0,
        "checkpoints_dropped": writer.dropped if writer else 0,
        "checkpoints_failed": writer.failed if writer else 0,
        "resumed_from": str(p.loaded.header.path) if p.loaded else None,
        "parent_run": p.branch_of[0] if p.branch_of else None,
    }
