"""Before a run is resumed: settle what its dead segment left ``pending`` (issue 12, class 10).

The checkpoint writer records a checkpoint ``pending`` before its rename and
``committed`` after. A process killed in between leaves an intact newest file
behind a ``pending`` row, and ``catalog verify`` leaves pending rows alone for an
hour (their write may be in progress) — so ``--resume-run``, which trusts committed
rows, resumed from an older tick and made a branch. Likewise a lens chunk renamed
into place just before a kill has a file and no row.

When a run is resumed its previous segment is known to be dead: liveness has judged
the run (its process gone on this host, or its heartbeat stale elsewhere) and it is
no longer ``running``. So its rows are settled at once, by ``catalog verify``'s own
rules and state machine (:mod:`continuum.maintenance.walker`, moves audit-logged),
only without the grace period: a pending row whose file exists and verifies is
re-recorded ``committed`` with what the file holds; one whose file is missing
becomes ``missing``, one whose file is bad ``corrupt`` (only where the run's directory
is visible from here: another host's disk is not judged; object storage always is).
Files of the run's directories that no row lists are adopted as verify adopts them, and
temporaries of the dead writer are removed. Committed rows are not re-verified (that is
``catalog verify``'s job; resuming must stay cheap). Then the run's tick range is
settled against what is now committed (``Runs.settle_ticks``): each crashed segment
ends at its newest committed checkpoint, and the run's range at the furthest of them,
so the new segment extends a truthful range.

A run that is still ``running`` is left alone: its writer may be mid-write. Two
processes resuming the same dead run at the same instant both pass this check; the
catalog has no lease to take yet (``runs.start_segment`` is unconditional).

It imports the catalog and maintenance (sqlalchemy): import it only when the catalog
is asked.
"""

from __future__ import annotations

import logging
import os
from datetime import datetime

from continuum import layout
from continuum.blobs.worker import describe
from continuum.catalog import Catalog, CheckpointRecord, LensChunkRecord, RunDirs, RunRecord
from continuum.errors import CatalogConflictError, LayoutError
from continuum.maintenance._checkpoint_blobs import CheckpointBlobs
from continuum.maintenance._lens_blobs import LensBlobs
from continuum.maintenance.walker import PENDING_GRACE, Walker

log = logging.getLogger("continuum.catalog")


def settle_dead_run(catalog: Catalog, run_id: str) -> RunRecord:
    """The run, after settling its pending rows and unlisted files if it is not running.

    ``RunNotFoundError`` if the catalog does not know the run.
    """
    catalog.liveness.mark_crashed_if_stale(run_id)
    run = catalog.runs.get(run_id)
    if run.status == "running":
        return run
    dirs = RunDirs(run.run_id, run.status, run.checkpoint_dir, run.lens_dir, run.host)
    for adapter in _adapters(catalog):
        try:
            _settle(adapter, dirs)
        except LayoutError:  # the run's directory is not safe to touch: nor to resume in
            raise
        except Exception as exc:  # the index stays as it was; resuming must not fail for it
            log.warning(
                "could not settle the %s rows of run %s (%s); `continuum catalog verify "
                "--repair` will",
                adapter.blob,
                run_id,
                describe(exc),
            )
    return catalog.runs.settle_ticks(run_id)


def _settle(adapter: _DeadCheckpoints | _DeadLensChunks, dirs: RunDirs) -> None:
    files = adapter.files(dirs)
    if not files.directory:
        return
    if not layout.is_object_url(files.directory) and not os.path.isdir(files.directory):
        return  # not visible from here (another host's disk): its files cannot be judged
    walker = Walker(adapter, repair=True)
    found = [walker.row(files, row) for row in files.rows if row.state == "pending"]
    found += walker.directory(files)
    for problem in found:
        if problem is not None:
            log.info("resume of run %s: %s", dirs.run_id, problem.line())


def refuse_if_running(run: RunRecord) -> None:
    """A run still running cannot be continued in place: its process still writes there."""
    if run.status == "running":
        where = f"process {run.pid} on {run.host}" if run.pid else "another process"
        raise CatalogConflictError(
            f"run {run.run_id} is still running ({where}); wait for it to end or stop it, "
            "then resume it"
        )


def _adapters(catalog: Catalog) -> tuple[_DeadCheckpoints, _DeadLensChunks]:
    return _DeadCheckpoints(catalog), _DeadLensChunks(catalog)


# The walker skips pending rows younger than its grace period; a dead writer's rows
# have none left, so their age is shifted past it (the only difference from verify).


class _DeadCheckpoints(CheckpointBlobs):
    def created_at(self, row: CheckpointRecord) -> datetime:
        return super().created_at(row) - PENDING_GRACE


class _DeadLensChunks(LensBlobs):
    def created_at(self, row: LensChunkRecord) -> datetime:
        return super().created_at(row) - PENDING_GRACE
