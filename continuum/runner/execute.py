"""The run itself: wire the outputs, step the simulation, close everything, report."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from contextlib import ExitStack
from pathlib import Path
from typing import TYPE_CHECKING, Any

from continuum.blobs import now_iso
from continuum.blobs.worker import Failures, describe
from continuum.runner.live import open_control
from continuum.runner.outputs import (
    Trigger,
    abandon_checkpointing,
    open_checkpointing,
    open_exporter,
    open_lens,
    open_recorder,
    run_identity,
)
from continuum.runner.prepare import Prepared, prepare
from continuum.runner.request import RunRequest
from continuum.runner.stop import StopSignals, step, stopped
from continuum.runtime import State

log = logging.getLogger("continuum.run")

if TYPE_CHECKING:
    from continuum.checkpoint import CheckpointWriter, Committed, Manifest
    from continuum.lens import GapCallback, LensCapture, SealCallback
    from continuum.lens.compaction import CopyCallback
    from continuum.runner.recorder import RunRecorder
    from continuum.sql import LiveExporter


def execute(req: RunRequest, on_tick: Callable[[State], None] | None = None) -> dict[str, Any]:
    """Run the request to its last tick, or until SIGINT/SIGTERM stops it, and return the
    summary ``continuum run`` prints.

    Everything that can refuse the run does so before anything is written: ``prepare``
    decides what is resumed and only reads, the lens checks its fields, and the catalog
    accepts the run (or stops it with one error) before the outputs make a directory.

    Once the loop runs, nothing the outputs do stops it or hangs its end: each writer
    counts its failures, each closes without waiting for a thread that is gone, and
    each step of the teardown runs whatever the one before it did. The summary's
    ``failures`` (kind -> count, empty when all went well) says what failed; the
    catalog gets the same as a ``run-failures`` audit entry.

    A stop (:mod:`continuum.runner.stop`) ends the loop between two ticks and closes
    everything as the end of the run does, with status ``stopped``; the summary's
    ``stopped`` says where, the checkpoint and the command that resumes the run.

    While the loop runs, the run answers on its control channel
    (:mod:`continuum.runner.live`): opened once the writers run, its commands taken
    between ticks, closed (socket removed) as soon as the loop ends.
    """
    with StopSignals() as stop:
        return _execute(req, on_tick, stop)


def _execute(
    req: RunRequest, on_tick: Callable[[State], None] | None, stop: StopSignals
) -> dict[str, Any]:
    p = prepare(req)
    stop.tick_of = lambda: p.state.tick
    start_tick = p.state.tick
    on_seal: list[SealCallback] = []  # filled before lens.start(), which hands it to the writer
    on_gap: list[GapCallback] = []
    on_copy: list[CopyCallback] = []
    # a bad --lens-fields fails here; the lens writes at start()
    lens = open_lens(p, req, on_seal, on_gap, on_copy)
    recorder = None if req.no_catalog else open_recorder(p, req)
    if recorder is not None:
        on_seal.append(recorder.lens_chunk)
        if lens is not None:  # object storage: the chunk's row is pending until its put
            lens.on_begin.append(recorder.lens_chunk_pending)
        on_gap.append(recorder.lens_gap)
        on_copy.append(recorder.lens_copies)
    exporter, checkpointing = _open_outputs(p, req, lens, recorder, on_seal)
    writer = checkpointing[1] if checkpointing else None
    newest = _Newest(p)
    if writer is not None:
        writer.on_commit.append(newest)
    trigger = Trigger(writer, req.checkpoint_stride, req.checkpoint_interval) if writer else None
    observers = [o for o in (trigger, lens, on_tick) if o is not None]
    if recorder is not None:
        recorder.start_heartbeat(lambda: p.state.tick)
    control = open_control(
        p,
        end_tick=start_tick + req.steps,
        writer=writer,
        lens=lens,
        stop=stop,
        recorder=recorder,
        last_checkpoint=lambda: newest.checkpoint[0] if newest.checkpoint else None,
    )
    started, status, elapsed = time.perf_counter(), "failed", 0.0
    try:
        finished = step(p, req.steps, _fan_out(observers), stop, control)
        stop.ending = True
        if control is not None:  # no tick boundary is left to take a command at
            control.close("completed its last tick" if finished else "stopping")
        elapsed = time.perf_counter() - started
        _final_checkpoint(p, writer, newest)
        status = "completed" if finished else "stopped"
    finally:
        stop.ending = True
        teardown = Failures(log)
        tick = p.state.tick
        if control is not None:
            _step(teardown, "control channel", lambda: control.close(status))
        reason = stop.reason if status == "stopped" else None

        def close_checkpoints(w: CheckpointWriter) -> None:
            w.close()
            why = {"stopped_by": reason} if reason else {}
            w.end_segment(end_tick=tick, ended_at=now_iso(), status=status, **why)

        # in this order: the last lens chunk is exported, then the catalog hears of it all
        if lens is not None:
            _step(teardown, "lens", lambda: lens.close(tick, status))
        if exporter is not None:
            _step(teardown, "parquet exporter", exporter.close)
        if writer is not None:
            _step(teardown, "checkpoint writer", lambda: close_checkpoints(writer))
        if recorder is not None:
            failed = failures(writer, lens, exporter, recorder, teardown)
            dropped = writer.dropped if writer else 0
            if reason is not None:
                _step(teardown, "catalog", lambda: recorder.stopped_by(reason, tick))
            _step(teardown, "catalog", lambda: recorder.finish(status, tick, dropped, failed))
    summary = {
        **_summary(p, elapsed, writer, p.state.tick - start_tick),
        "status": status,
        **(lens.summary(p.state.tick - start_tick) if lens else {}),
        "failures": failures(writer, lens, exporter, recorder, teardown),
    }
    if status == "stopped":
        assert stop.signum is not None
        recorded = recorder is not None and not recorder.failures["catalog"]
        end = start_tick + req.steps
        info = stopped(p, req, stop.signum, newest.checkpoint, recorded, end, stop.reason)
        summary["stopped"] = info.to_dict()
    return summary


class _Newest:
    """The newest checkpoint of the run on disk: committed by this process (a writer
    callback, read once the writer is closed) or, resumed in place, the one resumed from."""

    def __init__(self, p: Prepared) -> None:
        self.checkpoint: tuple[int, Path | str] | None = None
        if p.loaded is not None and not p.is_new:
            header = p.loaded.header
            self.checkpoint = (header.tick, header.url or header.path)

    def __call__(self, committed: Committed) -> None:
        self.checkpoint = (committed.tick, committed.path)


def _final_checkpoint(p: Prepared, writer: CheckpointWriter | None, newest: _Newest) -> None:
    """The run's last checkpoint, unless one at its tick is already queued or on disk (the
    stride's, or the one a resume in place started from: it is not written twice)."""
    if writer is None:
        return
    done = writer.last_tick
    if done is None and newest.checkpoint is not None:
        done = newest.checkpoint[0]
    if done != p.state.tick:
        writer.submit(p.state.snapshot(), wait=True)


def _step(teardown: Failures, what: str, close: Callable[[], None]) -> None:
    """One step of the teardown: a failure (a bug: each close counts its own) is counted."""
    try:
        close()
    except Exception as exc:
        teardown.add("teardown", f"closing the {what} failed: {describe(exc)}")


def failures(
    writer: CheckpointWriter | None,
    lens: LensCapture | None,
    exporter: LiveExporter | None,
    recorder: RunRecorder | None,
    teardown: Failures,
) -> dict[str, int]:
    """What failed in this run, by kind (``checkpoints``, ``lens_manifest``, ``catalog``...)."""
    found: dict[str, int] = dict(teardown.counts)
    if writer is not None:
        found.update(writer.failures.counts)
    if lens is not None:
        found.update(lens.failures)
    if exporter is not None:
        found.update(exporter.failures.counts)
    if recorder is not None:
        found.update(recorder.failures.counts)
    return {kind: n for kind, n in sorted(found.items()) if n}


def _open_outputs(
    p: Prepared,
    req: RunRequest,
    lens: LensCapture | None,
    recorder: RunRecorder | None,
    on_seal: list[SealCallback],
) -> tuple[LiveExporter | None, tuple[Manifest, CheckpointWriter] | None]:
    """Make the run's directories and start its writers, now that the catalog accepted it.

    A failure here closes what was opened, takes back a new run's directory and
    records the run as failed, then propagates (one line: a ``ContinuumError``).
    """
    with ExitStack() as undo:
        if recorder is not None:
            undo.callback(recorder.finish, "failed", p.state.tick, 0)
        exporter = open_exporter(req, recorder, on_seal) if lens is not None else None
        if exporter is not None:
            undo.callback(exporter.close)
        checkpointing = open_checkpointing(p, req, recorder)
        if checkpointing is not None:
            undo.callback(abandon_checkpointing, p, *checkpointing)
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
    p: Prepared, elapsed: float, writer: CheckpointWriter | None, ticks: int
) -> dict[str, Any]:
    return {
        **run_identity(p),
        "tick": p.state.tick,
        "sim_time": p.state.sim_time,
        "time_units": p.ir.time_units,  # the unit of sim_time (None: the world says none)
        "era": p.state.era,
        "state_hash": p.state.state_hash(),
        "ticks_per_s": round(ticks / elapsed, 3) if elapsed > 0 else None,
        "checkpoint_dir": p.checkpoints_at,
        "checkpoints_written": writer.written if writer else 0,
        "checkpoints_dropped": writer.dropped if writer else 0,
        "checkpoints_failed": writer.failed if writer else 0,
        "resumed_from": p.resume.checkpoint_where,
        "parent_run": p.branch_of[0] if p.branch_of else None,
    }
