"""What a run feeds from outside the tick loop: checkpoint writer, lens, exporter, catalog."""

from __future__ import annotations

import os
import socket
import time
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

from continuum.blobs import now_iso
from continuum.checkpoint import (
    CheckpointWriter,
    Committed,
    Manifest,
    RunIdentity,
    checkpoint_files,
    latest_target,
)
from continuum.runner.prepare import Prepared
from continuum.runner.request import RunRequest
from continuum.runtime import State

if TYPE_CHECKING:  # imported lazily below: scipy (lens) and sqlalchemy (catalog) are slow
    from continuum.lens import LensCapture
    from continuum.runner.recorder import RunRecorder


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
                "ir_hash": p.ir_hash,
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


def keep_last(run_dir: Path, n: int) -> Callable[[Committed], None]:
    """``--keep-checkpoints`` without a catalog: after each commit keep the newest ``n`` files.

    With a catalog the same option is a keep-last-N retention policy applied through the
    catalog's crash-safe prune (``continuum.catalog.prune.retention_callback``) instead.
    ``latest``'s target is never deleted.
    """

    def prune(_: Committed) -> None:
        keep = set(checkpoint_files(run_dir)[-n:]) | {latest_target(run_dir)}
        for path in checkpoint_files(run_dir):
            if path not in keep:
                path.unlink(missing_ok=True)

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


def open_recorder(p: Prepared, req: RunRequest) -> RunRecorder:
    from continuum.runner.recorder import RunRecorder

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
        from continuum.catalog import retention_callback

        after_commit.append(retention_callback(recorder.catalog, p.run_id, req.keep_checkpoints))
    elif req.keep_checkpoints:
        after_commit.append(keep_last(p.run_dir, req.keep_checkpoints))
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
    return LensCapture(p.sim, config, p.run_id, ir_hash=p.ir_hash, on_seal=on_seal)


def open_exporter(req: RunRequest, recorder: RunRecorder | None, on_seal: list) -> Any:
    """``--lens-export-dir``: a thread exporting each sealed chunk to Parquet (duckdb)."""
    if req.lens_export_dir is None:
        return None
    from continuum.sql import LiveExporter

    exporter = LiveExporter(Path(req.lens_export_dir), recorder.catalog if recorder else None)
    on_seal.append(exporter)
    return exporter
