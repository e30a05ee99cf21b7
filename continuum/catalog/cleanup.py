"""``catalog gc`` (files no row references) and ``catalog rm`` (a whole run).

gc looks only inside directories the catalog knows (runs' checkpoint and lens
directories) and only at this project's own file names: temporaries of the
atomic-write protocol (``.NAME.tmp-PID-XXXXXXXX``) older than an hour, whose
final name is a checkpoint, lens chunk, manifest or ``latest``; and checkpoint
files (``checkpoint_##########.ckpt``) that no live row references, in runs
that are not running. Anything else is never touched. gc is dry by default;
``catalog scan`` is the way to adopt stray checkpoints instead of deleting them.

gc also looks in the export roots the catalog knows, for Parquet files
(``part-*.parquet``) of runs it removed, and stale export temporaries.

rm deletes a run's files through the prune protocol (rows to ``deleting``,
unlink, rows to ``pruned``), its Parquet exports (see ``export_files.py``: the
SQL views read every run under a root, so they must go), then its manifests,
``latest`` link and empty directories, then its rows (cascading) and its run
policy. It refuses a live
run, a run with branches, or one with pinned checkpoints, unless forced.
"""

from __future__ import annotations

import contextlib
import os
import re
import time
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from sqlalchemy import Connection, delete, func, select

from continuum.catalog._base import require_run
from continuum.catalog.audit import add_audit
from continuum.catalog.export_files import (
    PART_TEMP,
    Removed,
    part_files,
    remove_tree,
    run_dirs,
    run_trees,
)
from continuum.catalog.liveness import LivenessOps
from continuum.catalog.models import (
    audit_log,
    checkpoints,
    parquet_exports,
    retention_policies,
    runs,
)
from continuum.catalog.planning import KINDS
from continuum.catalog.prune import PruneOps, PruneReport, rows_in
from continuum.catalog.records import _Record
from continuum.errors import CatalogError

TEMP_AGE = timedelta(hours=1)
CHECKPOINT_NAME = re.compile(r"^checkpoint_\d{10,}\.ckpt$")
_OWN_FINAL = re.compile(
    r"^(checkpoint_\d{10,}\.ckpt|lens_snapshot_.+\.lens|manifest\.json|latest)$"
)
_LIVE_ROW_STATES = ("pending", "committed", "deleting", "missing", "corrupt")
_RM_STATES = ("pending", "committed", "missing", "corrupt")


@dataclass(frozen=True, slots=True)
class StrayFile(_Record):
    """A file in a known run directory that the catalog does not account for."""

    run_id: str
    path: str
    kind: str  # temp | checkpoint | export (a Parquet file of a run the catalog removed)
    bytes: int
    deleted: bool = False


def _temp_final(name: str) -> str | None:
    from continuum.blobs.atomic import TEMP_NAME_RE  # imports numpy: only when gc runs

    m = TEMP_NAME_RE.match(name)
    return m["final"] if m else None


def _strays_in(
    run_id: str, directory: str, referenced: set[str], checkpoints_too: bool, older: float
) -> list[StrayFile]:
    out = []
    try:
        entries = list(os.scandir(directory))
    except OSError:
        return out
    for e in entries:
        if not e.is_file(follow_symlinks=False):
            continue
        st = e.stat(follow_symlinks=False)
        final = _temp_final(e.name)
        if final is not None and _OWN_FINAL.match(final) and st.st_mtime < older:
            out.append(StrayFile(run_id, e.path, "temp", st.st_size))
        elif checkpoints_too and CHECKPOINT_NAME.match(e.name) and e.path not in referenced:
            out.append(StrayFile(run_id, e.path, "checkpoint", st.st_size))
    return out


def _referenced(conn: Connection) -> set[str]:
    """Absolute paths of every checkpoint row that still claims its file."""
    stmt = (
        select(runs.c.checkpoint_dir, checkpoints.c.path)
        .join(runs, runs.c.run_id == checkpoints.c.run_id)
        .where(checkpoints.c.state.in_(_LIVE_ROW_STATES))
    )
    return {os.path.normpath(os.path.join(d or "", p)) for d, p in conn.execute(stmt)}


class CleanupOps(PruneOps, LivenessOps):
    """Garbage collection of stray files and deletion of whole runs."""

    def gc(self, *, delete: bool = False, temp_age: timedelta = TEMP_AGE) -> list[StrayFile]:
        """Stray files in known run directories; with ``delete``, unlink (and log) them."""
        self.mark_stale_runs_crashed()
        older = time.time() - temp_age.total_seconds()

        def op(conn: Connection) -> list[StrayFile]:
            referenced = _referenced(conn)
            found = _export_strays(conn, older)
            for rid, status, ckpt_dir, lens_dir in conn.execute(
                select(runs.c.run_id, runs.c.status, runs.c.checkpoint_dir, runs.c.lens_dir)
            ):
                if ckpt_dir:
                    found += _strays_in(rid, ckpt_dir, referenced, status != "running", older)
                if lens_dir:
                    found += _strays_in(rid, lens_dir, referenced, False, older)
            return found

        found = self._read(op)
        return [self._gc_one(s) for s in found] if delete else found

    def _gc_one(self, stray: StrayFile) -> StrayFile:
        try:
            os.unlink(stray.path)
        except OSError:  # gone meanwhile, or not ours to delete: reported as not deleted
            return stray
        self._write(
            lambda c: add_audit(
                c, "gc-deleted", run_id=stray.run_id, path=stray.path, detail=stray.kind
            )
        )
        return StrayFile(stray.run_id, stray.path, stray.kind, stray.bytes, True)

    def remove_run(self, run_id: str, *, force: bool = False) -> PruneReport:
        """Delete a run as a whole: files (crash-safe), manifests, rows, policy."""
        self.mark_crashed_if_stale(run_id)
        run = self._read(lambda conn: _check_removable(conn, run_id, force))
        report = PruneReport(finished=self.finish_deleting([run_id]))
        for kind in KINDS:
            rows = self._read(lambda c, k=kind: rows_in(c, k, _RM_STATES, [run_id], "catalog rm"))
            self.delete_rows(kind, rows, report, (_RM_STATES, False))
        exported = self._remove_exports(run_id, report)
        if report.errors:
            raise CatalogError(f"run {run_id!r} not removed: {report.errors[0]}")
        _remove_dirs(run)

        def op(conn: Connection) -> None:
            conn.execute(delete(runs).where(runs.c.run_id == run_id))
            mine = (retention_policies.c.scope == "run", retention_policies.c.scope_key == run_id)
            conn.execute(delete(retention_policies).where(*mine))
            if exported.files:
                what = f"{exported.files} Parquet files ({exported.bytes} bytes)"
                add_audit(conn, "export-deleted", run_id=run_id, detail=what)
            add_audit(conn, "run-deleted", run_id=run_id, detail=f"{report.deleted} files")

        self._write(op)
        return report

    def _remove_exports(self, run_id: str, report: PruneReport) -> Removed:
        """The run's Parquet files under every root it was exported to (before its rows:
        a crash in between leaves rows naming a root, and ``rm`` again finishes)."""
        stmt = select(parquet_exports.c.path).where(parquet_exports.c.run_id == run_id)
        roots = self._read(lambda conn: sorted(set(conn.scalars(stmt))))
        removed = Removed()
        for root in roots:
            for tree in run_trees(root, run_id):
                remove_tree(tree, removed)
        report.deleted += removed.files
        report.bytes_freed += removed.bytes
        report.errors += removed.errors
        return removed


def _export_strays(conn: Connection, older: float) -> list[StrayFile]:
    """In the export roots the catalog knows: Parquet files of runs it removed (the audit
    log says so; an export of a run it never recorded is not its to delete), and export
    temporaries older than ``older``."""
    roots = sorted(set(conn.scalars(select(parquet_exports.c.path))))
    removed = set()
    if roots:
        gone = select(audit_log.c.run_id).where(audit_log.c.action == "run-deleted")
        removed = set(conn.scalars(gone)) - set(conn.scalars(select(runs.c.run_id)))
    out = []
    for root in roots:
        for run_id, trees in run_dirs(root).items():
            for e in (e for tree in trees for e in part_files(tree)):
                st = e.stat(follow_symlinks=False)
                if run_id in removed:
                    out.append(StrayFile(run_id, e.path, "export", st.st_size))
                elif PART_TEMP.match(e.name) and st.st_mtime < older:
                    out.append(StrayFile(run_id, e.path, "temp", st.st_size))
    return out


def _check_removable(conn: Connection, run_id: str, force: bool) -> Any:
    run = require_run(conn, run_id)
    if force:
        return run
    if run.status == "running":
        raise CatalogError(
            f"run {run_id!r} is running (pid {run.pid} on {run.host}); stop it, or pass --force"
        )
    kids = conn.scalar(select(func.count()).where(runs.c.parent_run_id == run_id))
    if kids:
        raise CatalogError(f"run {run_id!r} has {kids} branch(es); pass --force to remove it")
    pinned = conn.scalar(
        select(func.count()).where(checkpoints.c.run_id == run_id, checkpoints.c.pinned)
    )
    if pinned:
        raise CatalogError(f"run {run_id!r} has {pinned} pinned checkpoint(s); unpin or --force")
    return run


def _remove_dirs(run: Any) -> None:
    """The run's manifests and ``latest`` link, then its directories if now empty."""
    for directory in (run.checkpoint_dir, run.lens_dir):
        if not directory:
            continue
        for name in ("manifest.json", "latest"):
            with contextlib.suppress(OSError):
                os.unlink(os.path.join(directory, name))
        with contextlib.suppress(OSError):  # not empty: files the catalog didn't write stay
            os.rmdir(directory)
