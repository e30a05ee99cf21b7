"""The background checkpoint writer: lost checkpoint > blocked simulation.

The tick loop calls :meth:`CheckpointWriter.submit` with a State snapshot
(a shallow copy: State arrays are immutable) and returns at once. A bounded
queue (default depth 3) feeds one writer thread; when it is full the request
is dropped, a warning is logged and the drop is counted in the manifest.

Per checkpoint, on the writer thread: compress + write to a temp file, fsync,
rename, fsync the directory (``continuum.blobs``), then move ``latest``, then
tell the ``on_commit`` callbacks (catalog record, retention). A failed write
(ENOSPC, permissions...) leaves no partial file, is logged and counted, and
the run goes on; so does a failing callback.
"""

from __future__ import annotations

import logging
import queue
import threading
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from continuum import layout
from continuum.blobs import replace_symlink
from continuum.checkpoint.directory import Manifest
from continuum.checkpoint.format import RunIdentity, write_checkpoint
from continuum.runtime import State

log = logging.getLogger("continuum.checkpoint")

DEFAULT_QUEUE_DEPTH = 3


@dataclass(frozen=True)
class Committed:
    """A checkpoint that is durable on disk and pointed to by ``latest``."""

    path: Path
    tick: int
    sim_time: float
    era: str
    raw_bytes: int
    disk_bytes: int
    checksum: str


CommitCallback = Callable[[Committed], None]
BeginCallback = Callable[[int, Path], None]  # (tick, final path), before the file is written


class CheckpointWriter:
    """One background thread writing checkpoints of one run directory."""

    def __init__(
        self,
        manifest: Manifest,
        identity: RunIdentity,
        *,
        depth: int = DEFAULT_QUEUE_DEPTH,
        level: int = 3,
        on_commit: list[CommitCallback] | None = None,
        on_begin: list[BeginCallback] | None = None,
        on_fail: list[BeginCallback] | None = None,
    ) -> None:
        self.manifest = manifest
        self.run_dir = manifest.run_dir
        self.identity = identity
        self.level = level
        self.on_commit = list(on_commit or [])
        self.on_begin = list(on_begin or [])
        self.on_fail = list(on_fail or [])
        self.written = self.dropped = self.failed = 0
        # counts of earlier segments of the run, so the manifest holds run totals
        self.base_dropped = int(manifest.data.get("dropped_checkpoints", 0))
        self.base_failed = int(manifest.data.get("failed_checkpoints", 0))
        self.last_tick: int | None = None
        self._queue: queue.Queue[State | None] = queue.Queue(maxsize=depth)
        self._thread = threading.Thread(target=self._loop, name="checkpoint-writer", daemon=True)
        self._thread.start()

    def submit(self, snapshot: State, wait: bool = False) -> bool:
        """Hand a snapshot over without waiting; False (and counted) if the queue is full.

        ``wait=True`` is for the final checkpoint, after the tick loop has ended.
        """
        if wait:
            self._queue.put(snapshot)
            self.last_tick = snapshot.tick
            return True
        try:
            self._queue.put_nowait(snapshot)
        except queue.Full:
            self.dropped += 1
            if self.dropped & (self.dropped - 1) == 0:  # 1st, 2nd, 4th, 8th...: no log flood
                log.warning(
                    "checkpoint at tick %d dropped: writer queue full (%d dropped so far)",
                    snapshot.tick,
                    self.dropped,
                )
            return False  # the count reaches the manifest from the writer thread, not from here
        self.last_tick = snapshot.tick
        return True

    def close(self) -> None:
        """Write what is queued, then stop the thread (the end of a run may wait)."""
        self._queue.put(None)
        self._thread.join()
        self._record_counts()

    def _record_counts(self) -> None:
        counts = {
            "dropped_checkpoints": self.base_dropped + self.dropped,
            "failed_checkpoints": self.base_failed + self.failed,
        }
        if any(self.manifest.data.get(k) != v for k, v in counts.items()):
            self.manifest.update(**counts)  # rewrite (and fsync) only when something changed

    def _loop(self) -> None:
        while (snapshot := self._queue.get()) is not None:
            self._write(snapshot)

    def _write(self, snapshot: State) -> None:
        path = layout.checkpoint_path(self.run_dir, snapshot.tick)
        self._notify(self.on_begin, snapshot.tick, path)
        try:
            info = write_checkpoint(path, snapshot, self.identity, level=self.level)
            replace_symlink(layout.latest_path(self.run_dir), path.name)
        except OSError as exc:
            self.failed += 1
            log.warning("checkpoint at tick %d failed and was not written: %s", snapshot.tick, exc)
            self._record_counts()
            self._notify(self.on_fail, snapshot.tick, path)
            return
        self.written += 1
        self._record_counts()
        committed = Committed(
            path,
            snapshot.tick,
            snapshot.sim_time,
            snapshot.era,
            info.raw_bytes,
            info.disk_bytes,
            info.payload_checksum,
        )
        self._notify(self.on_commit, committed)

    def _notify(self, callbacks: list[Callable], *args: object) -> None:
        for callback in callbacks:
            try:
                callback(*args)
            except Exception as exc:  # a catalog or retention failure must not stop writing
                log.warning("checkpoint writer callback failed: %s", exc)
