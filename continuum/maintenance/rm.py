"""``catalog rm``: delete a run as a whole — files, exports, manifests, rows, policy.

The run's blob files go through the prune protocol (rows to ``deleting``, unlink, rows
to ``pruned``), then its Parquet exports (the SQL views read every run under a root,
so they must go), then its manifests, ``latest`` link and empty directories, then its
rows (cascading) and its run policy, with audit entries. A crash at any point leaves
what ``catalog rm`` again (or ``catalog verify --repair``) finishes. A live run, a run
with branches, or one with pinned checkpoints is refused unless forced.
"""

from __future__ import annotations

import contextlib
import os

from continuum import layout
from continuum.catalog import KINDS, Catalog, PruneReport, RunRecord
from continuum.errors import CatalogError
from continuum.maintenance.export_files import Removed, remove_tree, run_trees

_RM_STATES = ("pending", "committed", "missing", "corrupt")


def remove_run(catalog: Catalog, run_id: str, *, force: bool = False) -> PruneReport:
    """Delete ``run_id`` (see the module docstring); its prune report."""
    catalog.liveness.mark_crashed_if_stale(run_id)
    run = catalog.runs.check_removable(run_id, force=force)
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
        for tree in run_trees(root, run_id):
            remove_tree(tree, removed)
    report.deleted += removed.files
    report.bytes_freed += removed.bytes
    report.errors += removed.errors
    return removed


def _remove_dirs(run: RunRecord) -> None:
    """The run's manifests and ``latest`` link, then its directories if now empty."""
    for directory in (run.checkpoint_dir, run.lens_dir):
        if not directory:
            continue
        for path in (layout.manifest_path(directory), layout.latest_path(directory)):
            with contextlib.suppress(OSError):
                os.unlink(path)
        with contextlib.suppress(OSError):  # not empty: files the catalog didn't write stay
            os.rmdir(directory)
