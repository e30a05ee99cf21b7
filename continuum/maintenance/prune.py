"""``catalog prune`` and a run's own retention: the catalog's prune, and what it cannot do.

The catalog's prune (:meth:`continuum.catalog.Retention.prune`) moves rows and unlinks
files; it reads no lens manifest and touches no export root. Lens chunks need three more
things, done here:

- **Windows.** Lens rules count chunk windows ``[kC, (k+1)C)`` of the run's chunk size,
  which only the lens manifest knows: it is read here and handed to the planner (a run
  whose manifest is gone or unreadable plans each file as its own window).
- **Exports go with their chunk.** A pruned chunk's Parquet parts (every field, ``ticks``
  and ``signals``, both layouts, under every root the run was exported to; parts are
  named by the chunk's tick range) are unlinked and its ``parquet_exports`` rows dropped,
  so ``lens sql`` no longer answers from data retention deleted.
- **Pruned, not missing.** The chunk is then recorded as pruned in the lens manifest
  (:func:`continuum.lens.manifest.record_pruned`), so ``lens load`` lists it under
  ``pruned_chunks`` with its tick range instead of ``missing_chunks``.

Order and crashes: rows and chunk files first (the catalog's crash-safe protocol), then
exports, then the manifest. Every step after the first is idempotent and keyed by the
catalog's ``pruned`` rows, so a crash in between is finished by the next prune of that
run that deletes lens chunks, or by any ``catalog prune`` naming it (which always settles
every pruned chunk of the runs it chose against their manifests).
"""

from __future__ import annotations

import logging
import os
from collections.abc import Callable, Sequence
from pathlib import Path

from continuum import layout
from continuum.catalog import Catalog, LensChunkRecord, PruneReport
from continuum.errors import LensError
from continuum.maintenance.export_files import (
    Removed,
    part_files,
    remove_files,
    remove_remote_run,
    run_trees,
)

log = logging.getLogger("continuum.catalog")

LENS = "lens-chunk"


def prune(
    catalog: Catalog,
    run_ids: Sequence[str] | None = None,
    world: str | None = None,
    *,
    dry_run: bool = False,
    settle_all: bool = True,
    on_rows: Callable[[int, int], None] | None = None,
) -> PruneReport:
    """Apply the retention policies to the chosen runs (all by default); see the module.

    ``settle_all``: afterwards settle every pruned lens chunk of the chosen runs (exports,
    manifest), not only those this prune deleted (the writer thread's per-commit prune
    passes False: it only settles what it pruned). ``on_rows(done, total)``: the files
    deleted so far of those planned (a progress bar's feed).
    """
    sizes = chunk_sizes(catalog, run_ids)
    report = catalog.retention.prune(
        run_ids, world, dry_run=dry_run, chunk_sizes=sizes, on_rows=on_rows
    )
    if dry_run:
        return report
    pruned = {p.run_id for kind, p in report.plans if kind == LENS and p.delete}
    chosen = {p.run_id for kind, p in report.plans if kind == LENS} if settle_all else set()
    if settle_all and run_ids is not None:
        chosen |= set(run_ids)
    for run_id in sorted(pruned | chosen):
        settle_pruned_chunks(catalog, run_id, report, recheck=settle_all)
    return report


def chunk_sizes(catalog: Catalog, run_ids: Sequence[str] | None) -> dict[str, int]:
    """run_id -> the lens chunk size its lens manifest names (runs with a lens dir)."""
    from continuum.lens.manifest import LensManifest  # the lens package: only when needed

    wanted = None if run_ids is None else set(run_ids)
    out: dict[str, int] = {}
    for run in catalog.runs.directories():
        if run.lens_dir is None or (wanted is not None and run.run_id not in wanted):
            continue
        try:
            data = LensManifest.read(Path(run.lens_dir))
        except LensError as exc:
            log.warning("%s; its lens chunks are pruned file by file", exc)
            continue
        size = (data or {}).get("chunk_size")
        if isinstance(size, int) and size >= 1:
            out[run.run_id] = size
    return out


def settle_pruned_chunks(
    catalog: Catalog, run_id: str, report: PruneReport, *, recheck: bool = False
) -> int:
    """Remove the exports of ``run_id``'s pruned lens chunks that its lens manifest does not
    record as pruned yet, then record them there; the chunks newly recorded.

    The manifest's ``pruned`` list is what is settled: a chunk is recorded only once its
    exports are gone, so a crash or an export part that could not be removed (reported
    in ``report.errors``) leaves it to the next prune. ``recheck`` (``catalog prune``):
    look for exports of every pruned chunk, settled or not, so that a part an exporter
    wrote after its chunk was settled does not outlive it.
    """
    from continuum.lens.manifest import pruned_names, record_pruned

    run = catalog.runs.get(run_id)
    if run.lens_dir is None:
        return 0
    # an s3:// lens dir: its manifest object (lens.manifest reads and rewrites it there)
    lens_dir = run.lens_dir if layout.is_object_url(run.lens_dir) else Path(run.lens_dir)
    try:
        done = pruned_names(lens_dir)
    except LensError as exc:
        report.errors.append(f"lens manifest of run {run_id}: {exc}")
        return 0
    gone = [c for c in catalog.lens_chunks.list(run_id) if c.state == "pruned"]
    todo = [c for c in gone if os.path.basename(c.path) not in done]
    if not todo and not (recheck and gone):
        return 0
    spans = sorted({covered(c) for c in (gone if recheck else todo)})
    removed = remove_exports(catalog, run_id, spans)
    report.errors += [e for e in removed.errors if e not in report.errors]
    report.export_files += removed.files
    report.export_bytes += removed.bytes
    if removed.errors:  # a part left behind: rows and manifest stay, the next prune retries
        return 0
    catalog.exports.forget(run_id, spans)
    names = [(os.path.basename(c.path), (c.start_tick, c.end_tick)) for c in todo]
    try:
        return len(record_pruned(lens_dir, names))
    except OSError as exc:
        report.errors.append(f"lens manifest of run {run_id}: {exc}")
        return 0


def covered(c: LensChunkRecord) -> tuple[int, int]:
    """The ticks a pruned chunk file stood for: its row's range and its name's together.

    A window rewritten whole by a later segment (one file, its name the window) may have
    been exported before in a piece (``part-...20-...26``): that part lies inside the
    file's range too, and goes with it.
    """
    named = layout.parse_lens_chunk_name(os.path.basename(c.path))
    lo, hi = c.start_tick, c.end_tick
    return (min(lo, named[0]), max(hi, named[1])) if named else (lo, hi)


def _inside(name: str, spans: Sequence[tuple[int, int]]) -> bool:
    m = layout.PART_NAME_RE.match(name)
    if m is None:  # a write temporary: left to catalog gc
        return False
    start, end = int(m["start"]), int(m["end"])
    return any(lo <= start and end <= hi for lo, hi in spans)


def remove_exports(catalog: Catalog, run_id: str, spans: Sequence[tuple[int, int]]) -> Removed:
    """Unlink ``run_id``'s Parquet parts whose tick range lies inside one of ``spans``
    (every field, ``ticks``, ``signals``, both layouts) under its export roots."""
    removed = Removed()
    for root in catalog.exports.roots_of(run_id):
        if layout.is_object_url(root):
            remove_remote_run(root, run_id, removed, keep=lambda name: not _inside(name, spans))
            continue
        for tree in run_trees(root, run_id):
            mine = [f for f in part_files(tree, removed.errors) if _inside(f.name, spans)]
            remove_files(mine, removed)
    return removed
