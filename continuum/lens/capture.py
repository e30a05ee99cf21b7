"""Lens capture on ``continuum run``: the tick-loop observer.

On a tick the lens captures (``tick % stride == 0``) the observer evaluates the
requested fields with ``Simulation.observe`` — fields are computed *only* then — reads
the global signals, and hands both to the :class:`ChunkWriter` thread. It never
mutates the State (observe only reads it; State arrays are read-only) and never waits
on the writer, so a run with the lens on ends with the same ``state_hash`` as without.

**Resume.** The lens run dir is ``{lens_dir}/{run_id}``: a resume in place appends to
its own dir, a branch starts a new one (:func:`continuum.layout.run_dir`). Chunk files
tile time without overlapping (see :mod:`continuum.lens.manifest`); ``covered`` is the
end of the last chunk already on disk, and this segment captures tick ``t`` only if
``t >= max(covered, start tick)``:

- normal resume (the last segment sealed up to its last tick + 1 = the checkpoint's
  tick + 1): capture continues at the next tick, no gap, no duplicate;
- the lens ran ahead of the checkpoint (a crash after a chunk was sealed, before the
  next checkpoint): ticks already on disk are not captured twice;
- the lens fell behind (frames buffered in memory lost in a crash): the missing range
  is recorded under ``gaps`` in the manifest and logged; capture restarts at the
  resumed tick.

**Failures.** Before the loop (:meth:`LensCapture.start`) a lens directory or manifest
that cannot be written (a full disk, a read-only directory) or a manifest holding what
it should not is one :class:`~continuum.errors.LensError` naming the file, and the run
does not start. After it, nothing of the lens stops the run: the writer counts and
logs its failures, :meth:`LensCapture.close` never waits for a stage that is gone and
counts a manifest it cannot rewrite, and :meth:`LensCapture.summary` reports them.
"""

from __future__ import annotations

import contextlib
import logging
import os
import socket
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from continuum import layout
from continuum.blobs import now_iso
from continuum.blobs.worker import describe, start_failure
from continuum.errors import LensError
from continuum.lens.format import DEFAULT_LEVEL, LensIdentity
from continuum.lens.manifest import LensManifest
from continuum.lens.store import LensStore
from continuum.lens.writer import (
    DEFAULT_MAX_CHUNK_BYTES,
    DEFAULT_QUEUE_DEPTH,
    MANIFEST,
    Captured,
    ChunkWriter,
    SealCallback,
)
from continuum.runtime import Simulation, State

log = logging.getLogger("continuum.lens")

DEFAULT_CHUNK_SIZE = 1000


@dataclass(frozen=True)
class CaptureConfig:
    """What ``--lens-*`` asks for. ``fields=None`` captures every field of the world."""

    lens_dir: Path
    stride: int = 1
    fields: tuple[str, ...] | None = None
    chunk_size: int = DEFAULT_CHUNK_SIZE
    full: bool = False
    queue_depth: int = DEFAULT_QUEUE_DEPTH
    max_chunk_bytes: int = DEFAULT_MAX_CHUNK_BYTES
    level: int = DEFAULT_LEVEL
    shuffle: bool = True  # byte-shuffle float arrays before zstd (see scripts/bench_lens.py)
    signals: bool = True

    def __post_init__(self) -> None:
        if self.stride < 1 or self.chunk_size < 1 or self.queue_depth < 1:
            raise LensError(
                f"Expected a lens stride, chunk size and queue depth >= 1, got "
                f"{self.stride}, {self.chunk_size} and {self.queue_depth} instead"
            )


def parse_fields(spec: str | None) -> tuple[str, ...] | None:
    """``"all"`` (or None) -> None; ``"a.b, c.d"`` -> ``("a.b", "c.d")``."""
    if spec is None or spec.strip() == "all":
        return None
    names = tuple(dict.fromkeys(n.strip() for n in spec.split(",") if n.strip()))
    if not names:
        raise LensError(f"Expected --lens-fields 'all' or 'a.b,c.d', got {spec!r} instead")
    return names


def covered_end(run_dir: Path) -> int | None:
    """End of the last chunk file in ``run_dir`` (from names only), None if there is none."""
    if not run_dir.is_dir():
        return None
    ends = [span[1] for p in run_dir.iterdir() if (span := layout.parse_lens_chunk_name(p.name))]
    return max(ends, default=None)


class LensCapture:
    """Observer of one run segment: ``start(state)``, then called per tick, then ``close``."""

    def __init__(
        self,
        sim: Simulation,
        config: CaptureConfig,
        run_id: str,
        *,
        ir_hash: str | None = None,
        on_seal: list[SealCallback] | None = None,
    ) -> None:
        self.sim, self.config = sim, config
        self.names = _field_names(sim, config.fields)
        self.signal_names = _global_signals(sim) if config.signals else []
        self.identity = LensIdentity(
            run_id, sim.program.ir.name, sim.seed, ir_hash, config.stride, sim.topology.spec()
        )
        self.run_dir = layout.run_dir(config.lens_dir, run_id)
        self.covered = covered_end(self.run_dir)
        self._manifest: LensManifest | None = None
        self.floor = 0
        self.writer: ChunkWriter | None = None
        self._open = False
        self._on_seal = on_seal

    @property
    def manifest(self) -> LensManifest:
        """Opened (and the run dir made) on first use, in start(): constructing writes nothing."""
        if self._manifest is None:
            self._manifest = LensManifest.open(self.run_dir, self._manifest_identity())
        return self._manifest

    def _manifest_identity(self) -> dict[str, Any]:
        ident = self.identity
        return {
            "run_id": ident.run_id,
            "world": ident.world,
            "seed": ident.seed,
            "ir_hash": ident.ir_hash,
            "topology": ident.topology,
            "stride": self.config.stride,
            "chunk_size": self.config.chunk_size,
            "fields": list(self.names),
            "signals": list(self.signal_names),
        }

    def start(self, state: State) -> None:
        """Begin a segment at ``state`` (captured too, if due and not on disk yet).

        A manifest that cannot be written or used is one ``LensError`` naming it.
        """
        self.floor = state.tick if self.covered is None else max(self.covered, state.tick)
        made = not self.run_dir.exists()
        try:
            self._open_segment(state)
        except Exception as exc:
            if made:  # nothing half-made: the directory this start made goes again
                with contextlib.suppress(OSError):
                    layout.manifest_path(self.run_dir).unlink(missing_ok=True)
                    self.run_dir.rmdir()
            raise start_failure(
                LensError, "lens", self.run_dir, layout.manifest_path(self.run_dir), exc
            ) from None
        self.writer = ChunkWriter(
            self.manifest,
            self.identity,
            chunk_size=self.config.chunk_size,
            next_start=self.floor,
            max_chunk_bytes=self.config.max_chunk_bytes,
            level=self.config.level,
            shuffle=self.config.shuffle,
            depth=self.config.queue_depth,
            on_seal=self._on_seal,
        )
        self._open = True
        self(state)

    def _open_segment(self, state: State) -> None:
        """The manifest (made or loaded), any gap before ``state`` and a new segment, the
        last two in one rewrite (no writer thread yet: the data is this thread's alone)."""
        data = self.manifest.data
        if self.covered is not None and self.covered < state.tick:
            log.warning(
                "lens frames of ticks [%d, %d) were lost (not sealed before the run stopped)",
                self.covered,
                state.tick,
            )
            data["gaps"] = [*data["gaps"], [self.covered, state.tick]]
        self.manifest.start_segment(
            {
                "started_at": now_iso(),
                "host": socket.gethostname(),
                "pid": os.getpid(),
                "start_tick": state.tick,
                "capture_from": self.floor,
                "status": "running",
            }
        )

    def __call__(self, state: State) -> None:
        """The tick observer: observe and hand over, only on ticks the lens captures."""
        tick, writer = state.tick, self.writer
        if tick % self.config.stride or tick < self.floor or not self._open or writer is None:
            return
        frames = self.sim.observe(state, self.names)
        signals = {name: state.current[name] for name in self.signal_names}
        writer.submit(Captured(tick, state.sim_time, frames, signals))

    def close(self, final_tick: int, status: str = "completed") -> None:
        """Seal what is buffered, record the segment, and write the full file if asked.

        Never raises for the lens's own failures: they are counted in the summary.
        """
        writer = self.writer
        if writer is None or not self._open:
            return
        self._open = False
        writer.close(final_tick)
        data = self.manifest.data
        try:
            self.manifest.update(
                dropped_frames=_count(data, "dropped_frames") + writer.dropped,
                failed_chunks=_count(data, "failed_chunks") + writer.failed,
            )
            self.manifest.end_segment(
                end_tick=final_tick,
                ended_at=now_iso(),
                status=status,
                frames=writer.frames_written,
                dropped=writer.dropped,
                chunks=[s.path.name for s in writer.sealed],
            )
        except Exception as exc:  # a full or read-only disk at the end: the run is done
            where = layout.manifest_path(self.run_dir)
            writer.failures.add(MANIFEST, f"{where}: segment not recorded: {describe(exc)}")
        if self.config.full:
            self._write_full()

    def _write_full(self) -> None:
        try:
            with LensStore(self.run_dir) as store:
                store.compact()
        except Exception as exc:
            assert self.writer is not None
            self.writer.failures.add(
                "lens_full", f"{layout.LENS_FULL_NAME} was not written: {describe(exc)}"
            )

    @property
    def failures(self) -> dict[str, int]:
        """What failed in this segment, by kind (empty when nothing did)."""
        return dict(self.writer.failures.counts) if self.writer else {}

    def summary(self) -> dict[str, Any]:
        """Lens figures for the run summary."""
        writer = self.writer
        return {
            "lens_dir": str(self.run_dir),
            "lens_frames": writer.frames_written if writer else 0,
            "lens_chunks": len(writer.sealed) if writer else 0,
            "lens_dropped": writer.dropped if writer else 0,
            "lens_failed": writer.failed if writer else 0,
        }


def _count(data: dict[str, Any], key: str) -> int:
    """A count an earlier segment left in the manifest (0 if it is not a count)."""
    value = data.get(key, 0)
    return value if isinstance(value, int) and not isinstance(value, bool) and value >= 0 else 0


def _field_names(sim: Simulation, wanted: tuple[str, ...] | None) -> list[str]:
    fields = sorted(sim.program.fields)
    if wanted is None:
        return fields
    unknown = [n for n in wanted if n not in sim.program.fields]
    if unknown:
        raise LensError(
            f"unknown lens field(s) {', '.join(unknown)}; world {sim.program.ir.name!r} "
            f"has: {', '.join(fields) or 'none'} (or 'all')"
        )
    return sorted(wanted)


def _global_signals(sim: Simulation) -> list[str]:
    return sorted(d.signal.name for d in sim.program.declarations if d.signal.entity is None)
