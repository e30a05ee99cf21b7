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

import numpy as np

from continuum import layout
from continuum.blobs import now_iso
from continuum.blobs.worker import describe, start_failure
from continuum.errors import LensError
from continuum.lens.compaction import Compactor, CopyCallback
from continuum.lens.format import (
    DEFAULT_LEVEL,
    ChunkData,
    ChunkFile,
    ChunkHeader,
    LensIdentity,
    read_chunk_header,
    world_units,
)
from continuum.lens.gaps import missing_in
from continuum.lens.manifest import LensManifest, chunk_entry, merge_gaps, window_of
from continuum.lens.mirror import LensMirror, remote_root
from continuum.lens.store import LensStore
from continuum.lens.writer import (
    DROPPED,
    LOST,
    MANIFEST,
    Captured,
    ChunkWriter,
    GapCallback,
    OnFull,
    RecordedGap,
    SealCallback,
)
from continuum.runtime import FieldFrame, Simulation, State

log = logging.getLogger("continuum.lens")

DEFAULT_CHUNK_SIZE = 1000
CHUNK_SIZES = (1000, 500, 200, 100, 50, 20, 10, 5, 2, 1)
DEFAULT_MEMORY = 1 << 30
MIN_MEMORY = 1 << 20
#: windows a budget must hold at once: filling, encoding, and (smaller) on its way to disk
WINDOWS_IN_MEMORY = 3


@dataclass(frozen=True)
class CaptureConfig:
    """What ``--lens-*`` asks for. ``fields=None`` captures every field of the world;
    ``chunk_size=None`` picks one (:func:`choose_chunk_size`); ``memory=None`` is
    :func:`default_memory`."""

    lens_dir: Path | str  # a str only for object storage (s3://..., lens.mirror)
    stride: int = 1
    fields: tuple[str, ...] | None = None
    chunk_size: int | None = None
    full: bool = False
    memory: int | None = None
    on_full: OnFull = OnFull.WAIT
    level: int = DEFAULT_LEVEL
    shuffle: bool = True  # byte-shuffle float arrays before zstd (see scripts/bench_lens.py)
    signals: bool = True
    #: write the run's by-sample copies (continuum.lens.compaction) on a thread of their own
    by_sample: bool = True

    def __post_init__(self) -> None:
        if self.stride < 1 or (self.chunk_size is not None and self.chunk_size < 1):
            raise LensError(
                f"Expected a lens stride and chunk size >= 1, got {self.stride} and "
                f"{self.chunk_size} instead"
            )
        if self.memory is not None and self.memory < MIN_MEMORY:
            raise LensError(
                f"Expected a lens memory budget of at least {_size(MIN_MEMORY)}, got "
                f"{_size(self.memory)} instead"
            )


def default_memory() -> int:
    """The lens memory budget without ``--lens-memory``: 1 GiB, or an eighth of RAM when
    that is less (the simulation and the OS's page cache need the rest)."""
    try:
        ram = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    except (ValueError, OSError, AttributeError):
        return DEFAULT_MEMORY
    return max(MIN_MEMORY, min(DEFAULT_MEMORY, ram // 8))


def window_frames(chunk_size: int, stride: int) -> int:
    """Frames a full window holds (at most; multiples of ``stride`` in a window)."""
    return -(-chunk_size // stride)


def choose_chunk_size(frame_bytes: int, stride: int, memory: int) -> int:
    """The largest of 1000, 500, 200, 100, 50, ... 1 ticks whose windows fit the budget.

    A window fits when :data:`WINDOWS_IN_MEMORY` of them do: the one filling, the one
    encoding, and the encoded blob on its way to disk. So the bundled world keeps 1000
    ticks per file, and a 256x256-per-face world gets windows it can hold.
    """
    for size in CHUNK_SIZES:
        if window_frames(size, stride) * frame_bytes * WINDOWS_IN_MEMORY <= memory:
            return size
    return 1


def check_chunk_size(
    chunk_size: int, frame_bytes: int, stride: int, memory: int, *, resumed: bool = False
) -> None:
    """Refuse windows the budget cannot hold (a window that outgrew it could never be
    sealed), saying which sizes or budget would do."""
    need = window_frames(chunk_size, stride) * frame_bytes * WINDOWS_IN_MEMORY
    if need > memory and resumed:
        raise LensError(
            f"this run's lens windows are {chunk_size} ticks: {_size(need)} of lens memory "
            f"(filling, encoding and writing one at a time), more than the budget of "
            f"{_size(memory)}; resume with --lens-memory {-(-need // (1 << 20))}M or more"
        )
    if need > memory:
        fits = choose_chunk_size(frame_bytes, stride, memory)
        raise LensError(
            f"--lens-chunk-size {chunk_size}: a window of {window_frames(chunk_size, stride)} "
            f"frames of {_size(frame_bytes)} needs {_size(need)} of lens memory (filling, "
            f"encoding and writing one at a time), more than the budget of {_size(memory)}; "
            f"pass --lens-chunk-size {fits} or less, or a larger --lens-memory"
        )


def _size(n: int) -> str:
    for unit, scale in (("GiB", 1 << 30), ("MiB", 1 << 20), ("KiB", 1 << 10)):
        if n >= scale:
            return f"{n / scale:.1f} {unit}"
    return f"{n} B"


def parse_fields(spec: str | None) -> tuple[str, ...] | None:
    """``"all"`` (or None) -> None; ``"a.b, c.d"`` -> ``("a.b", "c.d")``."""
    if spec is None or spec.strip() == "all":
        return None
    names = tuple(dict.fromkeys(n.strip() for n in spec.split(",") if n.strip()))
    if not names:
        raise LensError(f"Expected --lens-fields 'all' or 'a.b,c.d', got {spec!r} instead")
    return names


def covered_end(run_dir: Path) -> int | None:
    """End of the tick range the run's last chunk file is authoritative for (None: no file).

    Files are named by window, so the end comes from the last window's header (read,
    not decoded); an unreadable one is a ``LensError`` naming it.
    """
    last = _last_chunk(run_dir)
    return None if last is None else _read_header(last).tick_range[1]


def _last_chunk(run_dir: Path) -> Path | None:
    if not run_dir.is_dir():
        return None
    named = [(span, p) for p in run_dir.iterdir() if (span := layout.parse_lens_chunk_name(p.name))]
    return max(named)[1] if named else None


def _read_header(path: Path) -> ChunkHeader:
    try:
        return read_chunk_header(path)
    except (LensError, OSError) as exc:
        raise LensError(
            f"{path}: the run's last lens chunk is unreadable ({describe(exc)}); move it away "
            "(or run continuum catalog verify --repair), then resume"
        ) from None


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
        on_gap: list[GapCallback] | None = None,
        on_copy: list[CopyCallback] | None = None,
    ) -> None:
        self.sim, self.config = sim, config
        self.names = _field_names(sim, config.fields)
        self.signal_names = _global_signals(sim) if config.signals else []
        ir = sim.program.ir
        self.identity = LensIdentity(
            run_id,
            ir.name,
            sim.seed,
            ir_hash,
            config.stride,
            sim.topology.spec(),
            **world_units(ir),
        )
        root = remote_root(config.lens_dir)
        #: the run's objects on ``s3://`` and the staging dir standing in for them locally
        self.mirror = LensMirror(root, run_id) if root is not None else None
        self.run_dir = (
            self.mirror.run_dir if self.mirror else layout.run_dir(config.lens_dir, run_id)
        )
        #: told of each chunk before its put to object storage (the catalog's pending row)
        self.on_begin: list[SealCallback] = []
        self.memory = config.memory or default_memory()
        self.chunk_size = config.chunk_size or DEFAULT_CHUNK_SIZE
        self._manifest: LensManifest | None = None
        self.floor = 0
        self.writer: ChunkWriter | None = None
        self._open = False
        self._on_seal = on_seal if on_seal is not None else []
        self.compactor: Compactor | None = None
        self._on_copy = on_copy if on_copy is not None else []
        self._on_gap = on_gap if on_gap is not None else []  # filled until start()
        self._first: tuple[int, list[FieldFrame]] | None = None

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
            "chunk_size": self.chunk_size,
            "fields": list(self.names),
            "signals": list(self.signal_names),
        }

    def start(self, state: State) -> None:
        """Begin a segment at ``state`` (captured too, if due and not on disk yet).

        Settles the window size, reads back the window the last segment ended in, and
        opens the manifest: anything unusable is one ``LensError`` naming it, before the
        loop starts.
        """
        first = self.check(state)
        covered = covered_end(self.run_dir)
        self.floor = state.tick if covered is None else max(covered, state.tick)
        resumed = self._resumed_window(covered)
        made = not self.run_dir.exists()
        try:
            found = self._adopt_unlisted()
            lost = self._open_segment(state, covered)
        except Exception as exc:
            if self.mirror is not None:
                self.mirror.close()
            if made:  # nothing half-made: the directory this start made goes again
                with contextlib.suppress(OSError):
                    layout.manifest_path(self.run_dir).unlink(missing_ok=True)
                    self.run_dir.rmdir()
            raise start_failure(
                LensError, "lens", self.run_dir, layout.manifest_path(self.run_dir), exc
            ) from None
        if self.config.by_sample:
            on_copy = [self.mirror.after_copies(self._on_copy)] if self.mirror else self._on_copy
            self.compactor = Compactor(self.run_dir, on_copy)
            self._on_seal.append(self.compactor.notify)
        self.writer = ChunkWriter(
            self.manifest,
            self.identity,
            chunk_size=self.chunk_size,
            next_start=self.floor,
            memory=self.memory,
            on_full=self.config.on_full,
            resumed=resumed,
            level=self.config.level,
            shuffle=self.config.shuffle,
            on_seal=self._on_seal,
            on_gap=self._on_gap,
            on_begin=self.on_begin,
            mirror=self.mirror,
        )
        # every gap the manifest lists (the ones found now among them) goes to the catalog
        # again, idempotent there: a killed segment may have recorded some it missed
        self.writer.count_gaps([*found, *([lost] if lost else [])])
        self.writer.announce_gaps(self.manifest.data["gaps"], new=False)
        if self.mirror is not None:  # the derived manifest object: a live run shows in the bucket
            try:
                self.mirror.push_manifest()
            except OSError as exc:
                self.writer.failures.add(MANIFEST, f"{self.mirror.url}: {describe(exc)}")
        self._first = None  # the frames that sized the windows: submitted below, not kept
        self._open = True
        if not state.tick % self.config.stride and state.tick >= self.floor:
            self.writer.submit(
                self._captured(state.tick, state.sim_time, first, self._signals(state))
            )

    def check(self, state: State) -> list[FieldFrame]:
        """Settle the window size for a segment starting at ``state`` and return its frames
        (observed once: they size the windows). Writes nothing; a window the budget cannot
        hold is a ``LensError`` — called before the run is recorded anywhere."""
        if self.mirror is not None:
            self.mirror.pull()  # a run continued in place: its chunk size, its last window
        if self._first is None or self._first[0] != state.tick:
            frames = self._observe(state)
            self._settle_chunk_size(frames)
            self._first = (state.tick, frames)
        return self._first[1]

    def _observe(self, state: State) -> list[FieldFrame]:
        return self.sim.observe(state, self.names)

    def _captured(
        self, tick: int, sim_time: float, frames: list[FieldFrame], signals: dict[str, np.ndarray]
    ) -> Captured:
        return Captured.of(tick, sim_time, frames, signals, shared=self.sim.topology.centres)

    def _signals(self, state: State) -> dict[str, np.ndarray]:
        return {name: state.current[name] for name in self.signal_names}

    def _settle_chunk_size(self, frames: list[FieldFrame]) -> None:
        """The run's window size: its manifest's on a resume (windows never move), else
        the flag's (checked against the budget) or the largest that fits."""
        frame_bytes = self._captured(0, 0.0, frames, {}).nbytes
        try:
            recorded = (LensManifest.read(self.run_dir) or {}).get("chunk_size")
        except LensError:  # replaced (and logged) when the manifest is opened
            recorded = None
        asked = self.config.chunk_size
        if isinstance(recorded, int) and recorded >= 1:
            if asked is not None and asked != recorded:
                raise LensError(
                    f"{self.run_dir}: this run's lens windows are {recorded} ticks; resume "
                    f"with --lens-chunk-size {recorded} (or without it), not {asked}"
                )
            self.chunk_size = recorded
            check_chunk_size(recorded, frame_bytes, self.config.stride, self.memory, resumed=True)
        elif asked is not None:
            check_chunk_size(asked, frame_bytes, self.config.stride, self.memory)
            self.chunk_size = asked
        else:
            self.chunk_size = choose_chunk_size(frame_bytes, self.config.stride, self.memory)

    def _resumed_window(self, covered: int | None) -> tuple[int, ChunkData] | None:
        """The frames of the window a previous segment ended in, to rewrite it whole."""
        last = _last_chunk(self.run_dir)
        if covered is None or last is None or covered % self.chunk_size == 0:
            return None
        window = window_of(covered - 1, self.chunk_size)
        if layout.parse_lens_chunk_name(last.name) != window or self.floor > window[1]:
            return None  # an older version's piece, or a window this segment skips
        header = _read_header(last)
        try:
            with ChunkFile(last) as chunk:
                return header.tick_range[0], chunk.read_all()
        except (LensError, OSError) as exc:
            raise LensError(
                f"{last}: cannot read the lens window to continue ({describe(exc)}); move "
                "it away, then resume"
            ) from None

    def _adopt_unlisted(self) -> list[list[int | str]]:
        """List the chunk files a killed segment committed but did not list (a SIGKILL
        between a file's rename and its manifest entry), with the gaps they hold: ticks of
        their range they lack were dropped. Files are the truth; the manifest catches up.
        Only files not listed, and the last one (a rewritten window), are read. Returns the
        gaps found, for the catalog."""
        listed = {
            c.get("name"): c.get("checksum")
            for c in self.manifest.data["chunks"]
            if isinstance(c, dict)
        }
        last, found = _last_chunk(self.run_dir), []
        for path in sorted(
            p for p in self.run_dir.iterdir() if layout.parse_lens_chunk_name(p.name)
        ):
            if path.name in listed and path != last:
                continue
            try:
                with ChunkFile(path) as chunk:
                    header, ticks = chunk.header, chunk.ticks()
            except (LensError, OSError):
                continue  # damage is the store's and verify's to report
            if listed.get(path.name) == header.checksum:
                continue
            gaps = holes(header.tick_range, ticks, self.config.stride)
            self.manifest.add_chunk(chunk_entry(header), gaps=gaps)
            found += gaps
            log.info("lens: listed %s, committed before the last run stopped", path.name)
        return found

    def _open_segment(self, state: State, covered: int | None) -> list[int | str] | None:
        """The manifest (made or loaded), any gap before ``state`` and a new segment, the
        last two in one rewrite (no writer thread yet: the data is this thread's alone).
        Returns the gap recorded, if any."""
        data = self.manifest.data
        lost: list[int | str] | None = None
        if covered is not None and covered < state.tick:
            log.warning(
                "lens frames of ticks [%d, %d) were lost (not sealed before the run stopped); "
                "recorded as a gap",
                covered,
                state.tick,
            )
            lost = [covered, state.tick, LOST]
            data["gaps"] = merge_gaps([*data["gaps"], lost])
        self.manifest.start_segment(
            {
                "started_at": now_iso(),
                "host": socket.gethostname(),
                "pid": os.getpid(),
                "start_tick": state.tick,
                "capture_from": self.floor,
                "status": "running",
                "on_full": str(self.config.on_full),
            }
        )
        return lost

    def __call__(self, state: State) -> None:
        """The tick observer: observe and hand over, only on ticks the lens captures."""
        tick, writer = state.tick, self.writer
        if tick % self.config.stride or tick < self.floor or not self._open or writer is None:
            return
        frames, signals = self._observe(state), self._signals(state)
        writer.submit(self._captured(tick, state.sim_time, frames, signals))

    def flush(self, tick: int) -> tuple[int, int] | None:
        """Seal the window holding ``tick`` now, as a partial chunk (``continuum ctl
        flush``): the window ``[start, end)`` it belongs to, or None when the lens is not
        capturing (closed, its writer gone). Never waits (:meth:`ChunkWriter.flush`)."""
        writer = self.writer
        if writer is None or not self._open or not writer.flush(tick):
            return None
        return window_of(tick, self.chunk_size)

    @property
    def queued(self) -> int:
        """Frames waiting for the lens writer's buffer stage."""
        return self.writer.queued if self.writer else 0

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
                wait_s=round(writer.wait_s, 3),
                chunks=sorted({s.path.name for s in writer.sealed}),
            )
        except Exception as exc:  # a full or read-only disk at the end: the run is done
            where = layout.manifest_path(self.run_dir)
            writer.failures.add(MANIFEST, f"{where}: segment not recorded: {describe(exc)}")
        if writer.waits:
            log.info(
                "lens: the tick loop waited %.1f s for the lens writer (%d ticks); a larger "
                "--lens-memory or --lens-stride waits less, --lens-on-full drop never",
                writer.wait_s,
                writer.waits,
            )
        if self.config.full:
            self._write_full()
        if self.compactor is not None:
            self.compactor.close()
            for line in self.compactor.failures:
                writer.failures.add("lens_by_sample", line)
        if self.mirror is not None:
            self._close_mirror(self.mirror, writer)

    def _close_mirror(self, mirror: LensMirror, writer: ChunkWriter) -> None:
        """The segment's last manifest (and the full snapshot) into the bucket."""
        full = layout.lens_full_path(self.run_dir)
        try:
            if self.config.full and full.is_file():
                mirror.put(full, [full.read_bytes()])
        except OSError as exc:
            writer.failures.add(
                "lens_full", f"{mirror.location(full)} not written: {describe(exc)}"
            )
        try:
            mirror.push_manifest()
        except OSError as exc:
            where = mirror.location(layout.manifest_path(self.run_dir))
            writer.failures.add(MANIFEST, f"{where}: segment not recorded: {describe(exc)}")
        # the staging dir stays until the capture is let go (the live exporter reads the
        # last chunk from it after this close): LensMirror removes it then, or at exit

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

    @property
    def gaps(self) -> list[RecordedGap]:
        """The gaps this segment recorded."""
        return list(self.writer.gaps) if self.writer else []

    def summary(self, ticks: int = 0) -> dict[str, Any]:
        """Lens figures for the run summary (``ticks``: the segment's, for per-tick waits)."""
        writer = self.writer
        wait_ms = writer.wait_s * 1e3 if writer else 0.0
        return {
            "lens_dir": self.mirror.url if self.mirror else str(self.run_dir),
            "lens_frames": writer.frames_written if writer else 0,
            "lens_chunks": len({s.path for s in writer.sealed}) if writer else 0,
            "lens_chunk_size": self.chunk_size,
            "lens_dropped": writer.dropped if writer else 0,
            "lens_failed": writer.failed if writer else 0,
            "lens_missing_ticks": writer.missing_ticks if writer else 0,
            "lens_wait_ms": round(wait_ms, 1),
            "lens_wait_ms_per_tick": round(wait_ms / ticks, 3) if ticks else 0.0,
            "lens_fast_chunks": writer.fast_chunks if writer else 0,
            "lens_memory": self.memory,
            "lens_by_sample_files": len(self.compactor.written) if self.compactor else 0,
            # frames only the chunks hold yet (continuum lens compact --by-sample copies them)
            "lens_by_sample_pending": self.compactor.pending if self.compactor else 0,
        }


def holes(tick_range: tuple[int, int], ticks: np.ndarray, stride: int) -> list[list[int | str]]:
    """``[start, end, "dropped"]`` for the stride ticks of ``tick_range`` not in ``ticks``."""
    return [[a, b, DROPPED] for a, b in missing_in(tick_range, ticks, stride)]


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
