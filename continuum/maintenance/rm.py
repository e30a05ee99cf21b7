"""``catalog rm``: delete a run as a whole — files, exports, manifests, rows, policy.

The run's blob files go through the prune protocol (rows to ``deleting``, unlink, rows
to ``pruned``), then its Parquet exports (the SQL views read every run under a root,
so they must go), then its manifests, ``latest`` link and empty directories, then its
rows (cascading) and its run policy, with audit entries. A crash at any point leaves
what ``catalog rm`` again (or ``catalog verify --repair``) finishes. A live run, a run
with branches, or one with pinned checkpoints is refused unless forced.

On object storage (``s3://bucket/prefix/{run_id}``) the same order holds; the run's
prefix is checked lexically (a key is one of this project's names directly under it) and
only its own keys are deleted.

Nothing below a root is followed: a run directory that is a symbolic link (or a row
naming a directory that is not ``{root}/{run_id}``) refuses the whole removal up front
with one line, before any row moves; files are unlinked by name in directories opened
without following links (:class:`continuum.layout.ConfinedDir`), so a swap after the
check cannot redirect a deletion either (those files are then reported, and kept).
"""

from __future__ import annotations

import contextlib

from continuum import layout
from continuum.catalog import KINDS, Catalog, PruneReport, RunRecord
from continuum.errors import CatalogError, LayoutError
from continuum.maintenance.export_files import (
    Removed,
    remove_remote_run,
    remove_tree,
    run_trees,
)
from continuum.maintenance.folders import ObjectFolder

_RM_STATES = ("pending", "committed", "missing", "corrupt")


def remove_run(catalog: Catalog, run_id: str, *, force: bool = False) -> PruneReport:
    """Delete ``run_id`` (see the module docstring); its prune report."""
    catalog.liveness.mark_crashed_if_stale(run_id)
    run = catalog.runs.check_removable(run_id, force=force)
    _check_dirs(run)
    retention = catalog.retention
    report = PruneReport(finished=retention.finish_deleting([run_id]))
    for kind in KINDS:
        rows = retention.rows_in(kind, _RM_STATES, [run_id], "catalog rm")
        retention.delete_rows(kind, rows, report, (_RM_STATES, False))
    exported = _remove_exports(catalog, run_id, report)
    if report.errors:
        raise CatalogError(f"run {run_id!r} not removed: {report.errors[0]}")
    _remove_dirs(run)
    audit = []
    if exported.files:
        audit.append(("export-deleted", f"{exported.files} Parquet files ({exported.bytes} bytes)"))
    audit.append(("run-deleted", f"{report.deleted} files"))
    catalog.runs.delete(run_id, audit)
    return report


def _remove_exports(catalog: Catalog, run_id: str, report: PruneReport) -> Removed:
    """The run's Parquet files under every root it was exported to (before its rows:
    a crash in between leaves rows naming a root, and ``rm`` again finishes)."""
    removed = Removed()
    for root in catalog.exports.roots_of(run_id):
        if layout.is_object_url(root):
            remove_remote_run(root, run_id, removed)
            continue
        for tree in run_trees(root, run_id):
            remove_tree(tree, removed)
    report.deleted += removed.files
    report.bytes_freed += removed.bytes
    report.errors += removed.errors
    return removed


def _dirs(run: RunRecord) -> list[tuple[str, str]]:
    return [layout.split_run_dir(d, run.run_id) for d in (run.checkpoint_dir, run.lens_dir) if d]


def _check_dirs(run: RunRecord) -> None:
    """Refuse (one line, nothing moved yet) a run whose directories are not plainly its own."""
    try:
        for root, name in _dirs(run):
            if not layout.is_object_url(root):  # a prefix has no links: lexical is the proof
                layout.confine(root, name)  # the root may be a link; the run directory may not
    except LayoutError as exc:
        raise CatalogError(
            f"run {run.run_id!r} not removed: {exc}; fix or remove that directory by hand, "
            "then run catalog rm again"
        ) from None


def _remove_dirs(run: RunRecord) -> None:
    """The run's manifests, ``latest`` link and by-sample copies (derived from its chunks,
    gone with them), then its directories if now empty."""
    for root, name in _dirs(run):
        if layout.is_object_url(root):
            _remove_prefix(root, name)
            continue
        with contextlib.suppress(OSError, LayoutError), layout.ConfinedDir(root, name) as folder:
            copies = [n for n, _ in folder.entries() if layout.parse_lens_by_sample_name(n)]
            for file in (layout.MANIFEST, layout.LATEST, *copies):
                with contextlib.suppress(OSError):
                    folder.unlink(file)
        with contextlib.suppress(OSError, LayoutError), layout.ConfinedDir(root) as parent:
            parent.rmdir(name)  # not empty: files the catalog didn't write stay


def _remove_prefix(root: str, run_id: str) -> None:
    """A run prefix on object storage: its derived manifest and by-sample copies (there is
    no ``latest`` and no directory to remove), and the multipart uploads of blob names its
    killed writers left directly under it (billed parts no listing shows); any other key
    under it stays."""
    from continuum.blobs.storage import open_store  # s3fs: only for a run on object storage

    with contextlib.suppress(OSError, LayoutError):
        store = open_store(root)
        for key in store.list(run_id):
            name = key[len(run_id) + 1 :]
            if name == layout.MANIFEST or layout.parse_lens_by_sample_name(name):
                store.delete(layout.check_key(key, run_id))
        folder = ObjectFolder(run_id, layout.object_child(root, run_id))
        for upload in folder.uploads():  # ours only: a stranger's stays, as its objects do
            folder.abort(upload)
