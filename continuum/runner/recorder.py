"""Recording one run's life in the catalog, never from the tick loop.

What is recorded, and from which thread:

- before the loop (main thread): the run (new run or branch, with parent) or a
  new segment (resume in place); an unreachable catalog fails the run here,
  before anything is written. A new run or branch records its parameters: its
  scenario's overrides (:func:`scenario_params`) and the user's ``--param``, and
  its ``--tag`` labels. A resume in place keeps the run's parameters (a ``--param``
  that differs is refused, see ``catalog.runs``) and adds its tags;
- per checkpoint (writer thread): a ``pending`` row before the file is
  written, ``committed`` with sizes and checksum after the atomic rename, and
  the run's tick range advanced to it (a SIGKILLed run shows how far it got);
- every ``HEARTBEAT_S`` (heartbeat thread): heartbeat + last tick, so a run
  killed with SIGKILL shows as ``crashed`` once its heartbeat is stale;
- after the loop (main thread): status, last tick, dropped checkpoints.

Once the run is going, a catalog failure — whatever it raises — is counted and
logged and the run goes on: the catalog is an index that ``catalog scan`` can
rebuild, the simulation is not. The counts of everything that failed in the run
reach the catalog at the end as one ``run-failures`` audit entry.

A resume first settles the rows the resumed run's dead segment left pending
(:mod:`continuum.runner.reconcile`); a run still running elsewhere is not
continued in place.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

from continuum import layout
from continuum.blobs.worker import Failures, describe
from continuum.catalog import Catalog
from continuum.catalog.records import ParamValue, parse_value
from continuum.checkpoint import Committed
from continuum.errors import InvalidFilterError, RunNotFoundError
from continuum.runner.prepare import Prepared
from continuum.runner.reconcile import refuse_if_running, settle_dead_run
from continuum.runner.request import RunRequest

if TYPE_CHECKING:
    from continuum.lens import RecordedGap, SealedChunk
    from continuum.lens.compaction import Compacted, CopyWritten
    from continuum.world import Scenario, WorldIR

log = logging.getLogger("continuum.catalog")

HEARTBEAT_S = 10.0


class RunRecorder:
    """The catalog side of one process running one run."""

    def __init__(self, catalog: Catalog, run_id: str) -> None:
        self.catalog = catalog
        self.run_id = run_id
        self.failures = Failures(log)
        self._stop = threading.Event()
        self._heartbeat: threading.Thread | None = None

    @classmethod
    def open(cls, p: Prepared, req: RunRequest) -> RunRecorder:
        """Register the run (or its new segment); errors here stop the run before it starts."""
        catalog = Catalog(req.catalog)
        recorder = cls(catalog, p.run_id)
        try:
            recorder._register(p, req)
        except BaseException:
            catalog.close()
            raise
        return recorder

    def _register(self, p: Prepared, req: RunRequest) -> None:
        check_user_params(p.ir, req.params)
        resumed = p.loaded.header if p.loaded else None
        if resumed is not None:
            self._settle(resumed.identity.run_id, in_place=not p.is_new, params=req.params)
        if resumed is not None and not p.is_new:
            try:
                self.catalog.runs.start_segment(
                    self.run_id,
                    start_tick=p.state.tick,
                    resumed_from_tick=resumed.tick,
                    resumed_from_path=resumed.where,
                    params=req.params,
                    tags=req.tags,
                )
                return
            except RunNotFoundError:
                pass  # written with the catalog off or elsewhere: register it now
        parent = p.branch_of
        if parent is not None and not self._known(parent[0]):
            log.warning(
                "parent run %s is not in this catalog; lineage kept in the manifest", parent[0]
            )
            parent = None
        self.catalog.runs.register(
            run_id=self.run_id,
            world=p.ir.name,
            ir_hash=p.ir_hash,
            seed=p.sim.seed,
            world_version=p.ir.version,
            scenario=p.program.scenario.name,
            scenario_hash=p.program.scenario.hash,
            first_tick=p.state.tick,
            steps=req.steps,
            checkpoint_dir=(
                p.remote.url if p.remote else p.run_dir.resolve() if p.run_dir else None
            ),
            lens_dir=_lens_run_dir(req.lens_dir, self.run_id),
            parent_run_id=parent[0] if parent else None,
            parent_checkpoint_tick=parent[1] if parent else None,
            params={**scenario_params(p.program.scenario), **req.params},
            tags=req.tags,
        )

    def _settle(self, run_id: str, *, in_place: bool, params: dict[str, ParamValue]) -> None:
        """Settle the resumed run's dead segment; refuse to continue a live run in place,
        or with a ``--param`` it was not started with (before anything is settled)."""
        try:
            if in_place:
                self.catalog.runs.check_params(run_id, params)
            run = settle_dead_run(self.catalog, run_id)
        except RunNotFoundError:
            return  # written with the catalog off or elsewhere: nothing to settle
        if in_place:
            refuse_if_running(run)

    def _known(self, run_id: str) -> bool:
        try:
            self.catalog.runs.get(run_id)
        except RunNotFoundError:
            return False
        return True

    def pending(self, tick: int, path: Path | str) -> None:
        """Writer thread, before the file exists: a row retention will never delete."""
        self._safely(
            f"checkpoint {tick}",
            lambda: self.catalog.checkpoints.record(
                self.run_id,
                tick=tick,
                sim_time=0.0,
                path=_stored(path),
                bytes_on_disk=0,
                state="pending",
            ),
        )

    def failed(self, tick: int, path: Path | str) -> None:
        """Writer thread: the write failed and left no file; the row must not claim one."""
        self.mark(tick, "missing")

    def mark(self, tick: int, state: str) -> bool:
        try:
            self.catalog.checkpoints.mark(self.run_id, tick, state)
        except Exception as exc:
            self.failures.add(
                "catalog", f"catalog: checkpoint {tick} cannot become {state}: {describe(exc)}"
            )
            return False
        return True

    def committed(self, c: Committed) -> None:
        """Writer thread, after rename + fsync: the row says what is on disk, and the
        run's range (and this segment's) reaches the checkpoint."""

        def op() -> None:
            self.catalog.checkpoints.record(
                self.run_id,
                tick=c.tick,
                sim_time=c.sim_time,
                era=c.era,
                path=_stored(c.path),
                bytes_on_disk=c.disk_bytes,
                raw_bytes=c.raw_bytes,
                checksum=c.checksum,
                state="committed",
            )
            self.catalog.runs.advance(self.run_id, c.tick)

        self._safely(f"checkpoint {c.tick}", op)

    def lens_chunk(self, chunk: SealedChunk) -> None:
        """Lens writer thread: a sealed chunk file, durable on disk."""
        self._safely(
            f"lens chunk {chunk.path.name}",
            lambda: self.catalog.lens_chunks.record(
                self.run_id,
                start_tick=chunk.first_tick,
                end_tick=chunk.last_tick + 1,  # half-open: [first frame, last frame + 1)
                frames=chunk.frames,
                fields=list(chunk.fields),
                path=chunk.location or chunk.path.resolve(),
                bytes=chunk.bytes,
                checksum=chunk.checksum,
            ),
        )

    def lens_chunk_pending(self, chunk: SealedChunk) -> None:
        """Lens writer thread, before a chunk's put to object storage: its row is pending
        until :meth:`lens_chunk` commits it (the row is the commit point, not the object)."""
        self._safely(
            f"lens chunk {chunk.path.name}",
            lambda: self.catalog.lens_chunks.record(
                self.run_id,
                start_tick=chunk.first_tick,
                end_tick=chunk.last_tick + 1,
                frames=chunk.frames,
                fields=list(chunk.fields),
                path=chunk.where,
                bytes=0,
                checksum=None,
                state="pending",
            ),
        )

    def lens_copies(self, done: Compacted) -> None:
        """The by-sample compactor's thread: copies written and removed by one pass."""
        copies = self.catalog.lens_copies
        for c in done.written:

            def record(c: CopyWritten = c) -> object:
                return copies.record(
                    self.run_id,
                    start_tick=c.start,
                    end_tick=c.end,
                    frames=c.frames,
                    path=c.location or str(c.path.resolve()),
                    bytes=c.bytes,
                    checksum=c.checksum,
                )

            self._safely(f"lens copy {c.path.name}", record)
        if done.removed:
            gone = done.removed_at or [str(p.resolve()) for p in done.removed]
            self._safely("lens copies removed", lambda: copies.forget(self.run_id, gone))

    def lens_gap(self, gap: RecordedGap) -> None:
        """Lens writer thread (or its start): ticks the lens should hold and does not."""
        self._safely(
            f"lens gap [{gap.start}, {gap.end})",
            lambda: self.catalog.record_lens_gap(gap.run_id, gap.start, gap.end, gap.cause),
        )

    def control_path(self, path: Path) -> None:
        """Main thread, before the loop: where the run's control socket is (``runs.finish``
        clears it at the end, whatever the ending)."""
        self._safely("control path", lambda: self.catalog.runs.set_control_path(self.run_id, path))

    def stopped_by(self, reason: str, tick: int) -> None:
        """Main thread, after the loop: why the run stopped (SIGINT, SIGTERM or ctl)."""
        self._safely(
            "stop reason",
            lambda: self.catalog.audit.record(
                "run-stopped", run_id=self.run_id, tick=tick, detail=reason
            ),
        )

    def start_heartbeat(self, tick_of: Callable[[], int]) -> None:
        def beat() -> None:
            while not self._stop.wait(HEARTBEAT_S):
                self._safely(
                    "heartbeat",
                    lambda: self.catalog.runs.heartbeat(self.run_id, last_tick=tick_of()),
                )

        self._heartbeat = threading.Thread(target=beat, name="catalog-heartbeat", daemon=True)
        self._heartbeat.start()

    def finish(
        self, status: str, last_tick: int, dropped: int, failures: dict[str, int] | None = None
    ) -> None:
        """End the run's row (and segment); ``failures`` (kind -> count) become an audit entry."""
        self._stop.set()
        if self._heartbeat is not None:
            self._heartbeat.join()
        self._safely(
            "end of run",
            lambda: self.catalog.runs.finish(
                self.run_id, status=status, last_tick=last_tick, dropped_checkpoints=dropped
            ),
        )
        if failures:
            detail = ", ".join(f"{kind} {n}" for kind, n in sorted(failures.items()))
            self._safely(
                "what failed",
                lambda: self.catalog.audit.record(
                    "run-failures", run_id=self.run_id, tick=last_tick, detail=detail
                ),
            )
        self.catalog.close()

    def _safely(self, what: str, op: Callable[[], object]) -> None:
        """Run one catalog operation; any failure is counted and logged, never raised."""
        try:
            op()
        except Exception as exc:
            self.failures.add("catalog", f"catalog: could not record {what}: {describe(exc)}")


def _stored(path: Path | str) -> Path | str:
    """What a blob row records: an object URL as it is, a file by its resolved path."""
    return path if isinstance(path, str) else path.resolve()


def scenario_params(scenario: Scenario) -> dict[str, ParamValue]:
    """What a scenario overrides, as parameters a search can compare.

    ``[config]`` constants under their own key (numbers: ``thermal.core_cooling``),
    the ``[topology]`` resolution as ``topology.resolution`` (an int), each
    ``[initial]`` value as ``initial.SIGNAL``: a number when its expression is a plain
    number, else the expression's text. The default scenario overrides nothing.
    """
    params: dict[str, ParamValue] = dict(scenario.config)
    if scenario.resolution is not None:
        params["topology.resolution"] = scenario.resolution
    for key, expr in scenario.initial:
        params[f"initial.{key}"] = parse_value(expr.source.strip())
    return params


def check_user_params(ir: WorldIR, params: dict[str, ParamValue]) -> None:
    """Refuse a ``--param`` that names what the world or a scenario sets.

    ``--param`` only labels a run; it changes nothing in it. A key that is one of the
    world's config constants (or ``topology.resolution``, ``initial.*``) would read
    as if it had set that value, so it is refused, pointing at scenarios, whose
    overrides are recorded under those keys.
    """
    for key in params:
        if key in ir.config_dict or key == "topology.resolution" or key.startswith("initial."):
            raise InvalidFilterError(
                f"--param {key}: that is a setting of world {ir.name!r}, and --param only "
                "labels a run (it changes nothing in it); set it in a scenario "
                "(--scenario), whose overrides the catalog records as parameters"
            )


def _lens_run_dir(lens_dir: Path | str | None, run_id: str) -> Path | str | None:
    """The run's lens dir as the runs row records it: a resolved path, or an ``s3://`` URL."""
    if lens_dir is None:
        return None
    if layout.is_object_url(lens_dir):
        return layout.object_child(str(lens_dir), run_id)
    return layout.run_dir(lens_dir, run_id).resolve()
