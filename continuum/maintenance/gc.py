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

import logging
import os
import stat
import time
from dataclasses import dataclass
from datetime import timedelta
from typing import NamedTuple

from continuum import layout
from continuum.catalog import Catalog
from continuum.catalog.records import _Record
from continuum.errors import LayoutError
from continuum.maintenance.export_files import (
    PartFile,
    Removed,
    is_part_temp,
    part_files,
    remove_files,
    run_dirs,
)

TEMP_AGE = timedelta(hours=1)
log = logging.getLogger("continuum.maintenance")


@dataclass(frozen=True, slots=True)
class StrayFile(_Record):
    """A file in a known run directory that the catalog does not account for."""

    run_id: str
    path: str
    kind: str  # temp | checkpoint | export (a Parquet file of a run the catalog removed)
    bytes: int
    deleted: bool = False


class _Found(NamedTuple):
    """A stray and where deletion finds it: ``name`` in ``root/dirs`` (by descriptor)."""

    stray: StrayFile
    file: PartFile


def _strays_in(
    run_id: str,
    directory: str,
    referenced: set[str],
    checkpoints_too: bool,
    older: float,
    warnings: list[str],
) -> list[_Found]:
    out: list[_Found] = []
    try:
        root, name = layout.split_run_dir(directory, run_id)
        with layout.ConfinedDir(root, name) as folder:
            entries = folder.entries()
    except LayoutError as exc:  # a crafted row, or a run directory replaced by a link
        warnings.append(f"skipped run {run_id}: {exc}")
        return out
    except OSError:
        return out
    for file, st in entries:
        if not stat.S_ISREG(st.st_mode):
            continue
        path = os.path.join(root, name, file)
        final = layout.temp_final_name(file)
        where = PartFile(root, (name,), file, st.st_size, st.st_mtime)
        if final is not None and layout.is_run_file_name(final) and st.st_mtime < older:
            out.append(_Found(StrayFile(run_id, path, "temp", st.st_size), where))
        elif (
            checkpoints_too
            and layout.checkpoint_tick(file) is not None
            and os.path.normpath(path) not in referenced
        ):
            out.append(_Found(StrayFile(run_id, path, "checkpoint", st.st_size), where))
    return out


def _export_strays(catalog: Catalog, older: float, warnings: list[str]) -> list[_Found]:
    roots = catalog.exports.roots()
    removed = catalog.audit.removed_run_ids() if roots else set()
    out = []
    for root in roots:
        for run_id, trees in run_dirs(root, warnings).items():
            for f in (f for tree in trees for f in part_files(tree, warnings)):
                if run_id in removed:
                    out.append(_Found(StrayFile(run_id, f.path, "export", f.size), f))
                elif is_part_temp(f.name) and f.mtime < older:
                    out.append(_Found(StrayFile(run_id, f.path, "temp", f.size), f))
    return out


def _find(catalog: Catalog, temp_age: timedelta, warnings: list[str]) -> list[_Found]:
    catalog.liveness.mark_stale_crashed()
    older = time.time() - temp_age.total_seconds()
    referenced = catalog.checkpoints.live_paths()
    found = _export_strays(catalog, older, warnings)
    for run in catalog.runs.directories():
        if run.checkpoint_dir:
            idle = run.status != "running"
            found += _strays_in(run.run_id, run.checkpoint_dir, referenced, idle, older, warnings)
        if run.lens_dir:
            found += _strays_in(run.run_id, run.lens_dir, referenced, False, older, warnings)
    return found


def _warn(warnings: list[str], into: list[str] | None) -> None:
    """Each distinct warning once: into ``into`` when given, else logged."""
    for w in dict.fromkeys(warnings):
        if into is not None:
            into.append(w)
        else:
            log.warning("catalog gc: %s", w)


def find_strays(
    catalog: Catalog, temp_age: timedelta = TEMP_AGE, warnings: list[str] | None = None
) -> list[StrayFile]:
    """Stray files in known run directories and export roots. A run directory (or an
    export directory) that is a symbolic link, or a row naming a directory that is not
    ``{root}/{run_id}``, is skipped with one warning (into ``warnings``, else logged):
    gc never looks through a link."""
    seen: list[str] = []
    found = [f.stray for f in _find(catalog, temp_age, seen)]
    _warn(seen, warnings)
    return found


def gc(
    catalog: Catalog,
    *,
    delete: bool = False,
    temp_age: timedelta = TEMP_AGE,
    warnings: list[str] | None = None,
) -> list[StrayFile]:
    """Stray files (see the module docstring); with ``delete``, unlink (and log) them.

    Each file is unlinked by name in its directory opened without following a link
    (:class:`continuum.layout.ConfinedDir`); a directory that became a link meanwhile is
    refused (audit ``gc-refused``), its files reported as not deleted. Skipped
    directories are warnings (into ``warnings`` when given, else logged), one each.
    """
    seen: list[str] = []
    found = _find(catalog, temp_age, seen)
    if not delete:
        _warn(seen, warnings)
        return [f.stray for f in found]
    out = []
    for f in found:
        removed = Removed()
        if remove_files([f.file], removed):
            catalog.audit.record(
                "gc-deleted", run_id=f.stray.run_id, path=f.stray.path, detail=f.stray.kind
            )
            out.append(
                StrayFile(*(f.stray.run_id, f.stray.path, f.stray.kind, f.stray.bytes), True)
            )
            continue
        for why in removed.errors:
            seen.append(why)
            catalog.audit.record("gc-refused", run_id=f.stray.run_id, path=f.stray.path, detail=why)
        out.append(f.stray)
    _warn(seen, warnings)
    return out
