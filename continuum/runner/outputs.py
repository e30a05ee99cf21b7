"""What a run feeds from outside the tick loop: checkpoint writer, lens, exporter, catalog.

Opening them is the first write of a run. A directory or manifest that cannot be
written then (a full disk, a read-only directory on resume) is one ``CheckpointError``
naming the directory and what to do, and what this open made is taken back: a new
run's directory is removed again, a resumed run's manifest is left as it was (every
manifest write is atomic).
"""

from __future__ import annotations

import contextlib
import logging
import os
import socket
import time
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

from continuum import layout
from continuum.blobs import now_iso
from continuum.blobs.worker import describe, start_failure
from continuum.checkpoint import (
    CheckpointWriter,
    Committed,
    Manifest,
    RemoteManifest,
    RunIdentity,
    checkpoint_files,
    latest_target,
    read_remote_manifest,
)
from continuum.checkpoint.directory import MANIFEST_VERSION
from continuum.errors import CheckpointError, LayoutError
from continuum.runner.prepare import Prepared
from continuum.runner.request import RunRequest
from continuum.runtime import State

log = logging.getLogger("continuum.checkpoint")

if TYPE_CHECKING:  # imported lazily below: scipy (lens) and sqlalchemy (catalog) are slow
    from continuum.lens import GapCallback, LensCapture, SealCallback
    from continuum.lens.compaction import CopyCallback
    from continuum.runner.recorder import RunRecorder
    from continuum.sql import LiveExporter


#: The manifest key of a run's keep-last (``--keep-checkpoints``).
KEEP_CHECKPOINTS = "keep_checkpoints"


def open_manifest(p: Prepared, req: RunRequest, segment: dict[str, Any] | None = None) -> Manifest:
    """Load the run's manifest (in place) or make its directory and manifest (new run, branch).

    With ``segment``, it is started in the same rewrite as the run's settings: a resumed
    run's manifest is rewritten once, or (if anything fails) not at all.
    """
    if p.remote is not None:
        return _remote_manifest(p, req, segment)
    run_dir = p.run_dir
    assert run_dir is not None
    if p.is_new:
        _make_run_dir(run_dir)  # a CheckpointError here made nothing
    settings: dict[str, Any] = {
        "checkpoint_stride": req.checkpoint_stride,
        "checkpoint_interval": req.checkpoint_interval,
    }
    if req.keep_checkpoints:  # a property of the run: later segments apply it too
        settings[KEEP_CHECKPOINTS] = req.keep_checkpoints
    try:
        manifest = Manifest.create(run_dir, _identity(p)) if p.is_new else Manifest.load(run_dir)
        if segment is None:
            manifest.update(**settings)
        else:  # no writer thread yet: the data is this thread's alone
            manifest.data.update(settings)
            manifest.start_segment(segment)
    except Exception as exc:
        if p.is_new:
            discard_run_dir(run_dir)  # made just now: nothing else is in it
        raise start_failure(
            CheckpointError, "checkpoint", run_dir, layout.manifest_path(run_dir), exc
        ) from None
    return manifest


def _settings(req: RunRequest) -> dict[str, Any]:
    settings: dict[str, Any] = {
        "checkpoint_stride": req.checkpoint_stride,
        "checkpoint_interval": req.checkpoint_interval,
    }
    if req.keep_checkpoints:  # a property of the run: later segments apply it too
        settings[KEEP_CHECKPOINTS] = req.keep_checkpoints
    return settings


def _remote_manifest(
    p: Prepared, req: RunRequest, segment: dict[str, Any] | None
) -> RemoteManifest:
    """The run's manifest object on object storage: derived, for people and other tools.

    A run continued in place takes its segments and counts from the object as the last
    segment left it, when it is there and readable; nothing decides by it (the catalog
    does), so a missing or unreadable one starts over from the run's identity.
    """
    assert p.remote is not None
    data: dict[str, Any] | None = None
    if not p.is_new:
        data = read_remote_manifest(p.remote)
    if data is None:
        data = {
            "manifest_version": MANIFEST_VERSION,
            **_identity(p),
            "segments": [],
            "dropped_checkpoints": 0,
            "failed_checkpoints": 0,
        }
    manifest = RemoteManifest(p.remote, data)
    manifest.data.update(_settings(req))
    try:
        if segment is None:
            manifest.save()
        else:
            manifest.start_segment(segment)
    except Exception as exc:
        raise start_failure(
            CheckpointError, "checkpoint", p.remote.url, manifest.where, exc
        ) from None
    return manifest


def _make_run_dir(run_dir: Path) -> Path:
    """A new run's directory, made only now (the catalog, if any, has accepted the run)."""
    try:
        run_dir.mkdir(parents=True, exist_ok=False)
    except FileExistsError:
        raise CheckpointError(
            f"cannot create checkpoint directory {run_dir}: another run took it; run again"
        ) from None
    except OSError as exc:
        raise CheckpointError(
            f"cannot create checkpoint directory {run_dir}: {describe(exc)}; "
            "free space there or make its parent writable, then run again"
        ) from None
    return run_dir


def run_identity(p: Prepared) -> dict[str, Any]:
    """What identifies a run wherever it is written down: the manifest and the summary."""
    return {
        "run_id": p.run_id,
        "world": p.ir.name,
        "ir_hash": p.ir_hash,
        "scenario": p.program.scenario.name,
        "scenario_hash": p.program.scenario.hash,
        "seed": p.sim.seed,
    }


def _identity(p: Prepared) -> dict[str, Any]:
    """What a new run's manifest says about it (and, for a branch, its parent)."""
    parent = None
    if p.branch_of is not None:
        assert p.resume.checkpoint is not None
        run_id, tick = p.branch_of
        parent = {"run_id": run_id, "tick": tick, "checkpoint": p.resume.checkpoint.name}
    return {
        **run_identity(p),
        "parent": parent,
        "signals": [d.signal.name for d in p.program.declarations],
        "fields": sorted(p.program.fields),
    }


def keep_last(run_dir: Path, n: int) -> Callable[[Committed], None]:
    """``--keep-checkpoints`` without a catalog: after each commit keep the newest ``n`` files.

    With a catalog the same option is a keep-last-N retention policy applied through the
    catalog's crash-safe prune (``continuum.runner.retention.retention_callback``) instead.
    ``latest``'s target is never deleted; the checkpoint a segment resumed from is not
    kept for that alone, as with a catalog. Files are unlinked by name in the run directory
    opened without following a link (:class:`continuum.layout.ConfinedDir`): a run
    directory that is a symbolic link is refused with one warning, its files kept.
    """

    def prune(_: Committed) -> None:
        keep = set(checkpoint_files(run_dir)[-n:]) | {latest_target(run_dir)}
        doomed = [p.name for p in checkpoint_files(run_dir) if p not in keep]
        if not doomed:
            return
        try:
            with layout.ConfinedDir(run_dir.parent, run_dir.name) as folder:
                for name in doomed:
                    with contextlib.suppress(FileNotFoundError):
                        folder.unlink(name)
        except (LayoutError, OSError) as exc:
            log.warning("--keep-checkpoints: %s", exc)

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
) -> tuple[Manifest, CheckpointWriter] | None:
    """The run's manifest (with a new segment) and its background writer, if it checkpoints."""
    if p.run_dir is None and p.remote is None:
        return None
    segment = {
        "started_at": now_iso(),
        "host": socket.gethostname(),
        "pid": os.getpid(),
        "resumed_from": p.resume.checkpoint.name if p.resume.checkpoint else None,
        "start_tick": p.state.tick,
        "status": "running",
    }
    manifest = open_manifest(p, req, segment)
    writer = CheckpointWriter(
        manifest,
        RunIdentity.of(p.program, p.run_id),
        depth=req.queue_depth,
        on_commit=_after_commit(p, req, manifest, recorder),
        on_begin=[recorder.pending] if recorder else [],
        on_fail=[recorder.failed] if recorder else [],
        remote=p.remote,
    )
    return manifest, writer


def discard_run_dir(run_dir: Path) -> None:
    """Take back a new run's directory that holds nothing but its manifest (best effort)."""
    with contextlib.suppress(OSError):
        layout.manifest_path(run_dir).unlink(missing_ok=True)
        run_dir.rmdir()


def abandon_checkpointing(p: Prepared, manifest: Manifest, writer: CheckpointWriter) -> None:
    """The run stopped before its loop: stop the writer, close the segment, take back a new dir."""
    writer.close()
    writer.end_segment(end_tick=p.state.tick, ended_at=now_iso(), status="failed")
    if p.is_new and p.remote is not None:
        with contextlib.suppress(OSError):  # best effort, as for a directory
            p.remote.store.delete(p.remote.key(layout.MANIFEST))
    elif p.is_new:
        discard_run_dir(manifest.run_dir)


def _after_commit(
    p: Prepared, req: RunRequest, manifest: Manifest, recorder: RunRecorder | None
) -> list[Callable[[Committed], None]]:
    """Catalog record, then the run's keep-last: a catalog policy, or here without one.

    Keep-last is a property of the run, not of one command: ``--keep-checkpoints N`` is
    written into the run's manifest (and, with a catalog, merged into its run policy), and
    a later segment resumed without the flag applies it still. With a catalog its run
    policy is the truth (``catalog policy set --run`` may have changed it since) and is
    applied whole, lens rules too (:mod:`continuum.runner.retention`); a branch is another
    run and starts without one. With or without a catalog, the checkpoints a segment
    resumed from (or a branch started from) are not kept for that alone: keep-last N
    means N files (see :mod:`continuum.catalog.retention.planning`).
    """
    callbacks: list[Callable[[Committed], None]] = [recorder.committed] if recorder else []
    saved = manifest.data.get(KEEP_CHECKPOINTS)
    keep = req.keep_checkpoints or (saved if isinstance(saved, int) and saved >= 1 else None)
    if recorder is not None:
        from continuum.runner.retention import retention_callback

        has_policy = recorder.catalog.policies.get("run", p.run_id) is not None
        if req.keep_checkpoints or (keep and not has_policy):
            callbacks.append(retention_callback(recorder.catalog, p.run_id, keep))
        elif has_policy:
            callbacks.append(retention_callback(recorder.catalog, p.run_id))
    elif keep:
        callbacks.append(keep_last(manifest.run_dir, keep))
    return callbacks


def open_lens(
    p: Prepared,
    req: RunRequest,
    on_seal: list[SealCallback] | None = None,
    on_gap: list[GapCallback] | None = None,
    on_copy: list[CopyCallback] | None = None,
) -> LensCapture | None:
    """Lens capture into ``{lens_dir}/{run_id}`` (a resume in place appends to it).

    Checks ``--lens-fields`` now and writes nothing: the directory and its manifest are
    made when the capture starts, after the catalog has accepted the run. The callback
    lists are handed to the writer at start, so they may be filled until then.
    """
    if req.lens_dir is None:
        return None
    from continuum.lens import CaptureConfig, LensCapture, OnFull, parse_fields

    config = CaptureConfig(
        req.lens_dir if layout.is_object_url(req.lens_dir) else Path(req.lens_dir),
        req.lens_stride,
        parse_fields(req.lens_fields),
        req.lens_chunk_size,
        req.lens_full,
        memory=req.lens_memory,
        on_full=OnFull(req.lens_on_full),
        by_sample=req.lens_by_sample,
    )
    lens = LensCapture(
        p.sim, config, p.run_id, ir_hash=p.ir_hash, on_seal=on_seal, on_gap=on_gap, on_copy=on_copy
    )
    lens.check(p.state)  # windows that cannot fit the budget: refused before any record
    return lens


def open_exporter(
    req: RunRequest, recorder: RunRecorder | None, on_seal: list[SealCallback]
) -> LiveExporter | None:
    """``--lens-export-dir``: a thread exporting each sealed chunk to Parquet (duckdb)."""
    if req.lens_export_dir is None:
        return None
    from continuum.sql import LiveExporter

    root = req.lens_export_dir  # a directory, or an s3:// URL (kept a str)
    exporter = LiveExporter(
        root if layout.is_object_url(root) else Path(root), recorder.catalog if recorder else None
    )
    on_seal.append(exporter)
    return exporter
