"""A run's retention on its checkpoint writer thread: the run's policy, after each commit.

Kept apart from :mod:`continuum.runner.outputs` so that a run pays for what its policy
needs only: the catalog's prune for checkpoints; the lens manifest and export steps of
:mod:`continuum.maintenance.prune` (which import the lens package) only once the policy
has lens rules.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import TYPE_CHECKING

from continuum.errors import CatalogError

if TYPE_CHECKING:
    from continuum.catalog import Catalog

log = logging.getLogger("continuum.checkpoint")


def retention_callback(
    catalog: Catalog, run_id: str, keep_last: int | None = None
) -> Callable[[object], None]:
    """A commit callback applying the run's policy as it stands (``catalog policy set``
    may change it while the run goes on); with ``keep_last`` (``--keep-checkpoints N``)
    keep-last N is first merged into the run's policy, its other rules kept.

    A failing prune is logged, never raised into the writer: the run goes on, and the
    next commit's prune (or ``catalog prune``) finishes what this one left.
    """
    from continuum.catalog import RetentionRules

    if keep_last is not None:
        try:
            catalog.policies.set("run", run_id, RetentionRules(keep_last=keep_last), merge=True)
        except CatalogError as exc:  # its checkpoints are kept until a prune
            log.warning(
                "catalog: could not set keep-last %d for run %s: %s", keep_last, run_id, exc
            )
    sizes: dict[str, int] = {}

    def apply(_committed: object) -> None:
        try:
            policy = catalog.policies.effective(run_id)
            r = policy.rules if policy is not None else None
            lens = r is not None and any((r.lens_keep_last, r.lens_keep_within_s, r.lens_max_bytes))
            if lens and not sizes:  # read until the run's lens manifest names one
                from continuum.maintenance.prune import chunk_sizes

                sizes.update(chunk_sizes(catalog, [run_id]))
            report = catalog.retention.prune([run_id], chunk_sizes=sizes)
            if any(kind == "lens-chunk" and p.delete for kind, p in report.plans):
                from continuum.maintenance.prune import settle_pruned_chunks

                settle_pruned_chunks(catalog, run_id, report)
        except CatalogError as exc:
            log.warning("retention of run %s: %s", run_id, exc)
            return
        for error in report.errors:
            log.warning("retention of run %s: %s", run_id, error)

    return apply
