"""``Catalog``: one catalog URL, its parts reached by name.

Each part owns one concern and holds the same :class:`~continuum.catalog.db.Database`:

    catalog.runs          register, segments, heartbeat, finish, tags, params, get
    catalog.liveness      marking runs whose process died as crashed
    catalog.search        list, find (filters, keyset pages), show (with lineage)
    catalog.checkpoints   checkpoint rows: record, mark (the blob state machine), pin, list
    catalog.lens_chunks   lens chunk rows: the same state machine
    catalog.lens_gaps     lens gap rows: ticks the lens meant to capture and no file holds
    catalog.lens_copies   a run's current by-sample copies of its lens chunks
    catalog.exports       Parquet export rows, and the tables ``lens sql`` reads
    catalog.policies      retention policies per run, world or globally
    catalog.retention     plan and prune (crash-safe), and the deletes ``catalog rm`` uses
    catalog.audit         the append-only audit log
    catalog.imports       rows for run directories ``catalog scan`` read

Parts never call each other's methods except through a constructor argument (search
asks liveness first), so a method is found by its part's name.
"""

from __future__ import annotations

from datetime import timedelta

from continuum.catalog.audit import Audit
from continuum.catalog.blob_rows import Checkpoints, LensChunks
from continuum.catalog.db import Database, create_catalog_engine, describe_url, resolve_url, schema
from continuum.catalog.db.errors import retry_if_locked, translate_errors
from continuum.catalog.exports import Exports
from continuum.catalog.imports import Imports
from continuum.catalog.lens_copies import LensCopies
from continuum.catalog.lens_gaps import LensGapRecord, LensGaps
from continuum.catalog.liveness import DEFAULT_STALE_AFTER, Liveness
from continuum.catalog.retention import Policies, Retention
from continuum.catalog.runs import Runs
from continuum.catalog.search import Search


class Catalog:
    """The run catalog at ``url`` (see :func:`continuum.catalog.resolve_url`).

    Opening checks the schema revision with one query and, unless
    ``auto_migrate=False``, upgrades an older schema under a lock. Thread-safe:
    each operation is its own short transaction. Close it (or use ``with``).

    Example::

        with Catalog("sqlite:////tmp/catalog.db") as cat:
            run = cat.runs.register(world="terra", ir_hash="ab12...", seed=7)
            cat.checkpoints.record(run.run_id, tick=1000, sim_time=1e9, path=p, bytes_on_disk=n)
            cat.checkpoints.mark(run.run_id, 1000, "committed")
            cat.runs.finish(run.run_id, status="completed", last_tick=2000)
    """

    def __init__(
        self,
        url: str | None = None,
        *,
        auto_migrate: bool = True,
        stale_after: timedelta = DEFAULT_STALE_AFTER,
        check_local_pids: bool = True,
    ) -> None:
        self.db = db = Database(url, auto_migrate=auto_migrate)
        self.liveness = Liveness(db, stale_after, check_local_pids)
        self.runs = Runs(db)
        self.search = Search(db, self.liveness)
        self.checkpoints = Checkpoints(db)
        self.lens_chunks = LensChunks(db)
        self.lens_gaps = LensGaps(db)
        self.lens_copies = LensCopies(db)
        self.exports = Exports(db)
        self.policies = Policies(db)
        self.retention = Retention(db)
        self.audit = Audit(db)
        self.imports = Imports(db)

    def record_lens_gap(self, run_id: str, start: int, end: int, cause: str) -> list[LensGapRecord]:
        """Record ticks ``[start, end)`` of ``run_id``'s lens as a gap of ``cause``
        (dropped, failed, lost or missing): :meth:`LensGaps.record`, the lens writer's
        ``on_gap`` callback. Idempotent; merges with the run's recorded gaps."""
        return self.lens_gaps.record(run_id, start, end, cause)

    @property
    def url(self) -> str:
        return self.db.url

    @property
    def where(self) -> str:
        """The URL as messages show it (password hidden)."""
        return self.db.where

    @property
    def dialect(self) -> str:
        """``sqlite`` or ``postgresql``."""
        return self.db.dialect

    def migrate(self) -> tuple[str | None, str | None]:
        """Upgrade to the newest revision; returns (revision before, revision after)."""
        return self.db.migrate()

    def revision(self) -> str | None:
        """The schema revision the catalog is at."""
        return self.db.revision()

    def close(self) -> None:
        """Release pooled connections."""
        self.db.close()

    def __enter__(self) -> Catalog:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"Catalog({self.where!r})"


def migrate_catalog(url: str | None = None) -> tuple[str, str | None, str | None]:
    """Create or upgrade the schema at ``url``: (catalog shown, revision before, after).

    Unlike opening a :class:`Catalog`, this reports what it did; a schema
    newer than this code is refused with ``CatalogSchemaError``.
    """
    resolved = resolve_url(url)
    where = describe_url(resolved)
    engine = create_catalog_engine(resolved)
    try:
        with translate_errors(where):
            before, after = retry_if_locked(lambda: schema.upgrade(engine, where))
    finally:
        engine.dispose()
    return where, before, after
