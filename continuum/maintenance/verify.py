"""``catalog verify``: does every file the catalog lists exist, intact, as recorded?

One walker (``walker.py``) for every kind of blob; what differs between checkpoints
and lens chunks (how a file is checked, what a row records, how an orphan is adopted)
is a small adapter per kind (``_checkpoint_blobs.py``, ``_lens_blobs.py``). Findings
are :class:`Problem`\\ s in one :class:`VerifyReport`.

For each row in state committed, pending, deleting, missing or corrupt: the file
must exist, have the recorded size and checksum, and pass the container's full
verification (every frame decoded and checksummed), and its header must name the
row's run and ticks. Each known run's directories are also searched for files no
row lists (orphans) and temporaries left by a crashed atomic write. ``repair=True``
settles each finding through the blob state machine (whose moves are audit-logged):

    row, file gone              committed/corrupt -> missing
                                pending older than an hour -> missing
                                deleting -> pruned   (finishes an interrupted prune)
    row deleting, file present  file unlinked, -> pruned
    file fails verification     -> corrupt
    file intact, as recorded    pending/missing/corrupt -> committed
    file intact, not as recorded (it was rewritten)
                                re-recorded committed, as ``catalog scan`` would
    orphan file                 per kind (see the adapters)
    lens gap the files show     recorded (``unrecorded-gap``), as ``catalog scan`` does
    and the catalog lacks
    stray temporary             deleted when its writer (pid in its name) is gone
                                on this host; a live writer's temporary is no problem
    incomplete multipart upload aborted (object storage: a writer killed mid-PUT),
                                once its run is not running or it is an hour old

With ``repair``, a crashed run's tick range is then settled against its rows as they
now stand (``Runs.settle_ticks``: each crashed segment ends at its newest committed
checkpoint), so a checkpoint adopted or re-committed here moves the range too.

Known-bad rows that are still bad (``missing`` without a file, ``corrupt`` with a
bad file) are not problems: the catalog already says so, and a verify after
``--repair`` is clean. Pending rows younger than an hour are skipped (their write may
be in progress). A file that no row references is never deleted; temporaries are the
one exception, because by the atomic-write protocol a temporary never became a blob.
"""

from __future__ import annotations

from collections.abc import Callable

from continuum.catalog import Catalog
from continuum.maintenance._checkpoint_blobs import CheckpointBlobs
from continuum.maintenance._lens_blobs import LensBlobs
from continuum.maintenance._lens_scan import gap_problems
from continuum.maintenance.walker import (
    BlobAdapter,
    Problem,
    VerifyReport,
    Walker,
    upload_problems,
)


def verify(
    catalog: Catalog,
    run_id: str | None = None,
    *,
    repair: bool = False,
    on_run: Callable[[int, int], None] | None = None,
) -> VerifyReport:
    """Check every run (or one) — its checkpoints, then its lens chunks; with ``repair``,
    settle what was found. ``on_run(done, total)``: called before the first run and after
    each (a progress bar's feed)."""
    runs = catalog.runs.directories()
    if run_id is not None:
        catalog.runs.get(run_id)  # RunNotFoundError for an unknown run
        runs = [r for r in runs if r.run_id == run_id]
    kinds: tuple[BlobAdapter, ...] = (CheckpointBlobs(catalog), LensBlobs(catalog))
    problems: list[Problem] = []
    checked = {kind.blob: 0 for kind in kinds}
    if on_run is not None:
        on_run(0, len(runs))
    for done, run in enumerate(runs, 1):
        for kind in kinds:
            count, found = Walker(kind, repair).run(kind.files(run))
            checked[kind.blob] += count
            problems += found
        problems += upload_problems(run, repair)
        if run.lens_dir:
            problems += gap_problems(catalog, run.run_id, run.lens_dir, repair, problems)
        if repair and run.status == "crashed":
            catalog.runs.settle_ticks(run.run_id)
        if on_run is not None:
            on_run(done, len(runs))
    return VerifyReport(len(runs), checked["checkpoint"], tuple(problems), checked["lens"])
