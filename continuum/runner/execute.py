"""The run itself: wire the outputs, step the simulation, close everything, report."""

from __future__ import annotations

import time
from collections.abc import Callable
from contextlib import ExitStack
from typing import TYPE_CHECKING, Any

from continuum.blobs import now_iso
from continuum.runner.outputs import (
    Trigger,
    open_checkpointing,
    open_exporter,
    open_lens,
    open_recorder,
    run_identity,
)
from continuum.runner.prepare import Prepared, prepare
from continuum.runner.request import RunRequest
from continuum.runtime import State

if TYPE_CHECKING:
    from continuum.checkpoint import CheckpointWriter, Manifest
    from continuum.lens import LensCapture, SealCallback
    from continuum.runner.recorder import RunRecorder
    from continuum.sql import LiveExporter


def execute(req: RunRequest, on_tick: Callable[[State], None] | None = None) -> dict[str, Any]:
    """Run the request to completion and return the summary ``continuum run`` prints.

    Everything that can refuse the run does so before anything is written: ``prepare``
    decides what is resumed and only reads, the lens checks its fields, and the catalog
    accepts the run (or stops it with one error) before the outputs make a directory.
    """
    p = prepare(req)
    on_seal: list[SealCallback] = []  # filled before lens.start(), which hands it to the writer
    lens = open_lens(p, req, on_seal)  # a bad --lens-fields fails here; it writes at start()
    recorder = None if req.no_catalog else open_recorder(p, req)
    if recorder is not None:
        on_seal.append(recorder.lens_chunk)
    exporter, checkpointing = _open_outputs(p, req, lens, recorder, on_seal)
    manifest, writer = checkpointing or (None, None)
    trigger = Trigger(writer, req.checkpoint_stride, req.checkpoint_interval) if writer else None
    observers = [o for o in (trigger, lens, on_tick) if o is not None]
    if recorder is not None:
        recorder.start_heartbeat(lambda: p.state.tick)
    started, status, elapsed = time.perf_counter(), "failed", 0.0
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
        if manifest is not None and writer is not None:
            writer.close()
            manifest.end_segment(end_tick=p.state.tick, ended_at=now_iso(), status=status)
        if recorder is not None:
            recorder.finish(status, p.state.tick, writer.dropped if writer else 0)
    return {**_summary(p, req, elapsed, writer), **(lens.summary() if lens else {})}


def _open_outputs(
    p: Prepared,
    req: RunRequest,
    lens: LensCapture | None,
    recorder: RunRecorder | None,
    on_seal: list[SealCallback],
) -> tuple[LiveExporter | None, tuple[Manifest, CheckpointWriter] | None]:
    """Make the run's directories and start its writers, now that the catalog accepted it.

    A failure here closes what was opened and records the run as failed, then propagates.
    """
    with ExitStack() as undo:
        if recorder is not None:
            undo.callback(recorder.finish, "failed", p.state.tick, 0)
        exporter = open_exporter(req, recorder, on_seal) if lens is not None else None
        if exporter is not None:
            undo.callback(exporter.close)
        checkpointing = open_checkpointing(p, req, recorder)
        if checkpointing is not None:
            undo.callback(checkpointing[1].close)
        if lens is not None:
            lens.start(p.state)
        undo.pop_all()
    return exporter, checkpointing


def _fan_out(observers: list[Callable[[State], None]]) -> Callable[[State], None] | None:
    if not observers:
        return None
    if len(observers) == 1:
        return observers[0]

    def each(state: State) -> None:
        for observer in observers:
            observer(state)

    return each


def _summary(
    p: Prepared, req: RunRequest, elapsed: float, writer: CheckpointWriter | None
) -> dict[str, Any]:
    return {
        **run_identity(p),
        "tick": p.state.tick,
        "sim_time": p.state.sim_time,
        "era": p.state.era,
        "state_hash": p.state.state_hash(),
        "ticks_per_s": round(req.steps / elapsed, 3) if elapsed > 0 else None,
        "checkpoint_dir": str(p.run_dir) if p.run_dir else None,
        "checkpoints_written": writer.written if writer else 0,
        "checkpoints_dropped": writer.dropped if writer else 0,
        "checkpoints_failed": writer.failed if writer else 0,
        "resumed_from": str(p.resume.checkpoint) if p.resume.checkpoint else None,
        "parent_run": p.branch_of[0] if p.branch_of else None,
    }
