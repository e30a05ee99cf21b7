"""The background checkpoint writer: lost checkpoint > blocked simulation.

The tick loop calls :meth:`CheckpointWriter.submit` with a State snapshot
(a shallow copy: State arrays are immutable) and returns at once. A bounded
queue (default depth 3) feeds one writer thread; when it is full the request
is dropped, a warning is logged and the drop is counted in the manifest.

Per checkpoint, on the writer thread: compress + write to a temp file, fsync,
rename, fsync the directory (``continuum.blobs``), then move ``latest``, then
tell the ``on_commit`` callbacks (catalog record, retention). On object storage
(``remote``, :mod:`continuum.checkpoint.remote`) the checkpoint is encoded in memory,
PUT whole and checked instead, and there is no ``latest`` to move: the ``on_commit``
callback that marks the catalog row ``committed`` is the commit. Uploads run on this
thread like disk writes, so the tick loop never waits on the network. A failed write
(ENOSPC, EROFS, permissions... or a bug) leaves no partial file, is logged and
counted, and the run goes on; so does a failed ``latest`` move (resume finds the
newest file without it), a manifest that cannot be rewritten (its counts stay in
memory and reach the summary) and a failing callback. The thread survives all of
them (:class:`continuum.blobs.worker.Worker`), and no wait on it is forever: the
final ``submit(wait=True)`` and :meth:`CheckpointWriter.close` give up on a thread
that is gone. :attr:`CheckpointWriter.failures` holds the counts by kind.

Test-only fault injection (:data:`continuum.blobs.worker.KILL_AFTER_ENV`): with
``CONTINUUM_TEST_KILL_AFTER=rename:TICK`` in its environment the writer SIGKILLs its
own process right after the checkpoint of TICK is renamed into place, before
``latest`` moves and before any ``on_commit`` callback (the catalog row is still
``pending``): the crash window that resume must reconcile (issue 12, class 10;
``tests/runner/test_kill_resume.py``); on object storage ``rename`` is right after the
object is PUT and checked, and ``put:TICK`` right before the PUT. Never set it outside tests.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from continuum import layout
from continuum.blobs import replace_symlink
from continuum.blobs.worker import Failures, Worker, describe, kill_point
from continuum.checkpoint.directory import Manifest
from continuum.checkpoint.format import RunIdentity, write_checkpoint
from continuum.checkpoint.remote import RemoteRun
from continuum.runtime import State

log = logging.getLogger("continuum.checkpoint")

DEFAULT_QUEUE_DEPTH = 3

# Failure kinds (``CheckpointWriter.failures``, the run summary's ``failures``)
WRITE = "checkpoints"  # a checkpoint not written
MANIFEST, LATEST, CALLBACK = "checkpoint_manifest", "checkpoint_latest", "checkpoint_callbacks"


@dataclass(frozen=True)
class Committed:
    """A checkpoint that is durable on disk and pointed to by ``latest`` (or, on object
    storage, whole and checked: ``path`` is then its ``s3://`` URL)."""

    path: Path | str
    tick: int
    sim_time: float
    era: str
    raw_bytes: int
    disk_bytes: int
    checksum: str


CommitCallback = Callable[[Committed], None]
# (tick, final path or object URL), before the file is written
BeginCallback = Callable[[int, Path | str], None]


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
        remote: RemoteRun | None = None,
    ) -> None:
        self.manifest = manifest
        self.run_dir = manifest.run_dir
        self.remote = remote
        self.identity = identity
        self.level = level
        self.on_commit = list(on_commit or [])
        self.on_begin = list(on_begin or [])
        self.on_fail = list(on_fail or [])
        self.written = self.dropped = 0
        self.failures = Failures(log)
        # counts of earlier segments of the run, so the manifest holds run totals
        self.base_dropped = _count(manifest, "dropped_checkpoints")
        self.base_failed = _count(manifest, "failed_checkpoints")
        self.last_tick: int | None = None
        self._worker: Worker[State] = Worker(
            "checkpoint-writer", self._write, depth=depth, on_error=self._unexpected
        )

    @property
    def failed(self) -> int:
        """Checkpoints of this segment that were not written."""
        return self.failures[WRITE]

    @property
    def queued(self) -> int:
        """Snapshots waiting for the writer thread (read from any thread: ``continuum ctl``)."""
        return self._worker.pending

    def submit(self, snapshot: State, wait: bool = False) -> bool:
        """Hand a snapshot over without waiting; False (and counted) if the queue is full.

        ``wait=True`` is for the final checkpoint, after the tick loop has ended: it
        waits for room while the writer thread lives, and gives up (counted as a
        failed checkpoint) if it is gone.
        """
        if wait:
            if not self._worker.put(snapshot):
                self._gone(snapshot.tick)
                return False
            self.last_tick = snapshot.tick
            return True
        if not self._worker.offer(snapshot):
            if not self._worker.alive:
                self._gone(snapshot.tick)
                return False
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
        """Write what is queued, then stop the thread (the end of a run may wait).

        Returns once the thread is done, or at once if it is gone; never raises for
        a manifest that cannot be rewritten (that is counted).
        """
        self._worker.finish()
        self._record_counts()

    def end_segment(self, **changes: object) -> None:
        """Close the manifest's open segment; a manifest that cannot be rewritten is counted."""
        try:
            self.manifest.end_segment(**changes)
        except Exception as exc:
            where = self._manifest_where()
            self.failures.add(MANIFEST, f"{where}: segment not recorded: {describe(exc)}")

    def _gone(self, tick: int) -> None:
        self.failures.add(
            WRITE, f"checkpoint at tick {tick} was not written: the writer thread has stopped"
        )

    def _record_counts(self) -> None:
        counts = {
            "dropped_checkpoints": self.base_dropped + self.dropped,
            "failed_checkpoints": self.base_failed + self.failed,
        }
        if all(self.manifest.data.get(k) == v for k, v in counts.items()):
            return  # rewrite (and fsync) only when something changed
        try:
            self.manifest.update(**counts)
        except Exception as exc:  # a full or read-only disk: the counts still reach the summary
            where = self._manifest_where()
            self.failures.add(MANIFEST, f"{where} was not updated: {describe(exc)}")

    def _manifest_where(self) -> str:
        where = getattr(self.manifest, "where", None)
        return where if isinstance(where, str) else str(layout.manifest_path(self.run_dir))

    def _write(self, snapshot: State) -> None:
        tick = snapshot.tick
        remote = self.remote
        path: Path | str
        path = (
            layout.checkpoint_path(self.run_dir, tick)
            if remote is None
            else (remote.checkpoint_url(tick))
        )
        self._notify(self.on_begin, tick, path)
        try:
            if remote is None:
                info = write_checkpoint(Path(path), snapshot, self.identity, level=self.level)
            else:
                kill_point("put", tick)  # test-only: see the module docstring
                info = remote.write_checkpoint(tick, snapshot, self.identity, level=self.level)
        except Exception as exc:  # ENOSPC, EROFS... or a bug: no partial file either way
            message = f"checkpoint at tick {tick} failed and was not written: {describe(exc)}"
            self.failures.add(WRITE, message)
            self._record_counts()
            self._notify(self.on_fail, tick, path)
            return
        kill_point("rename", tick)  # test-only: see the module docstring
        self.written += 1
        if remote is None:
            self._move_latest(Path(path))
        self._record_counts()
        committed = Committed(
            path,
            tick,
            snapshot.sim_time,
            snapshot.era,
            info.raw_bytes,
            info.disk_bytes,
            info.payload_checksum,
        )
        self._notify(self.on_commit, committed)

    def _move_latest(self, path: Path) -> None:
        """Point ``latest`` at the new file; if that fails, resume finds the file anyway."""
        try:
            replace_symlink(layout.latest_path(self.run_dir), path.name)
        except Exception as exc:
            link = layout.latest_path(self.run_dir)
            self.failures.add(LATEST, f"{link} still names an older checkpoint: {describe(exc)}")

    def _unexpected(self, snapshot: State, exc: Exception) -> None:
        """What escaped :meth:`_write` (a bug): counted as a checkpoint not written."""
        self.failures.add(WRITE, f"checkpoint at tick {snapshot.tick} failed: {describe(exc)}")

    def _notify(self, callbacks: list[Callable], *args: object) -> None:
        for callback in callbacks:
            try:
                callback(*args)
            except Exception as exc:  # a catalog or retention failure must not stop writing
                self.failures.add(CALLBACK, f"checkpoint writer callback failed: {describe(exc)}")


def _count(manifest: Manifest, key: str) -> int:
    """A count an earlier segment left in the manifest (0 if it is not a count)."""
    value = manifest.data.get(key, 0)
    return value if isinstance(value, int) and not isinstance(value, bool) and value >= 0 else 0
