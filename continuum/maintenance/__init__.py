"""Maintenance: whatever needs both the catalog and the files it indexes.

Owns: ``scan`` (index run directories written without the catalog, from manifests
and file headers), ``verify`` (every row against its file, every file against the
rows, one walker with an adapter per blob kind, ``--repair``), ``gc`` (stray files in
known directories), ``rm`` (a whole run, its exports too) and ``prune`` (retention: the
catalog's prune, then lens chunk windows, their exports and lens manifests).

Sits above :mod:`continuum.catalog` and the format packages (:mod:`continuum.checkpoint`,
:mod:`continuum.lens`): it may import both; neither may import it. Paths come from
:mod:`continuum.layout`; catalog rows change only through the catalog's parts.
"""

from continuum.maintenance.gc import StrayFile, gc
from continuum.maintenance.prune import prune
from continuum.maintenance.rm import remove_run
from continuum.maintenance.scan import ScanReport, scan
from continuum.maintenance.verify import verify
from continuum.maintenance.walker import Problem, VerifyReport

__all__ = [
    "Problem",
    "ScanReport",
    "StrayFile",
    "VerifyReport",
    "gc",
    "prune",
    "remove_run",
    "scan",
    "verify",
]
