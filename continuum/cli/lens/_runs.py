"""The one place the lens commands ask the catalog something: where a run's lens dir is."""

from __future__ import annotations


def lens_dir_of(run_id: str, catalog_url: str | None) -> str | None:
    """The lens dir the catalog recorded for ``run_id`` (None: it captured no lens data)."""
    from continuum.catalog import Catalog

    with Catalog(catalog_url) as cat:
        return cat.runs.get(run_id).lens_dir
