"""``catalog gc``: files in known directories that no row accounts for.

gc looks only inside directories the catalog knows (runs' checkpoint and lens
directories) and only at this project's own file names (:mod:`continuum.layout`):
temporaries of the atomic-write protocol older than an hour, whose final name is a
checkpoint, lens chunk, manifest or ``latest``; and checkpoint files that no live row
references, in runs that are not running. Anything else is never touched. gc is dry
by default; ``catalog scan`` is the way to adopt stray checkpoints instead.

gc also looks in the export roots the catalog knows, for Parquet parts of runs the
audit log says ``catalog rm`` removed (an export of a run the catalog never recorded
is not its to delete), and stale export temporaries.
"""

from __future__ import annotations

import os
import time
from dataclasses import dataclass
from datetime import timedelta

from continuum import layout
from continuum.catalog import Catalog
from continuum.catalog.records import _Record
from continuum.maintenance.export_files import is_part_temp, part_files, run_dirs

TEMP_AGE = timedelta(hours=1)


@dataclass(frozen=True, slots=True)
class StrayFile(_Record):
    """A file in a known run directory that the catalog does not account for."""

    run_id: str
    path: str
    kind: str  # temp | checkpoint | export (a Parquet file of a run the catalog removed)
    bytes: int
    deleted: bool = False


def _strays_in(
    run_id: str, directory: str, referenced: set[str], checkpoints_too: bool, older: float
) -> list[StrayFile]:
    out: list[StrayFile] = []
    try:
        entries = list(os.scandir(directory))
    except OSError:
        return out
    for e in entries:
        if not e.is_file(follow_symlinks=False):
            continue
        st = e.stat(follow_symlinks=False)
        final = layout.temp_final_name(e.name)
        if final is not None and layout.is_run_file_name(final) and st.st_mtime < older:
            out.append(StrayFile(run_id, e.path, "temp", st.st_size))
        elif (
            checkpoints_too
            and layout.checkpoint_tick(e.name) is not None
            and os.path.normpath(e.path) not in referenced
        ):
            out.append(StrayFile(run_id, e.path, "checkpoint", st.st_size))
    return out


def _export_strays(catalog: Catalog, older: float) -> list[StrayFile]:
    roots = catalog.exports.roots()
    removed = catalog.audit.removed_run_ids() if roots else set()
    out = []
    for root in roots:
        for run_id, trees in run_dirs(root).items():
            for e in (e for tree in trees for e in part_files(tree)):
                st = e.stat(follow_symlinks=False)
                if run_id in removed:
                    out.append(StrayFile(run_id, e.path, "export", st.st_size))
                elif is_part_temp(e.name) and st.st_mtime < older:
                    out.append(StrayFile(run_id, e.path, "temp", st.st_size))
    return out


def find_strays(catalog: Catalog, temp_age: timedelta = TEMP_AGE) -> list[StrayFile]:
    """Stray files in known run directories and export roots."""
    catalog.liveness.mark_stale_crashed()
    older = time.time() - temp_age.total_seconds()
    referenced = catalog.checkpoints.live_paths()
    found = _export_strays(catalog, older)
    for run in catalog.runs.directories():
        if run.checkpoint_dir:
            idle = run.status != "running"
            found += _strays_in(run.run_id, run.checkpoint_dir, referenced, idle, older)
        if run.lens_dir:
            found += _strays_in(run.run_id, run.lens_dir, referenced, False, older)
    return found


def gc(
    catalog: Catalog, *, delete: bool = False, temp_age: timedelta = TEMP_AGE
) -> list[StrayFile]:
    """Stray files (see the module docstring); with ``delete``, unlink (and log) them."""
    found = find_strays(catalog, temp_age)
    return [_delete(catalog, s) for s in found] if delete else found


def _delete(catalog: Catalog, stray: StrayFile) -> StrayFile:
    try:
        os.unlink(stray.path)
    except OSError:  # gone meanwhile, or not ours to delete: reported as not deleted
        return stray
    catalog.audit.record("gc-deleted", run_id=stray.run_id, path=stray.path, detail=stray.kind)
    return StrayFile(stray.run_id, stray.path, stray.kind, stray.bytes, True)
