"""``Catalog``: one object holding the engine, with every operation as a method.

The methods live with their concern (``runs``, ``checkpoints``, ``lens_chunks``,
``liveness``, ``search``, ``audit``, ``scan``, ``verify``, ``verify_lens``); this
class only puts them together, so callers write ``catalog.record_checkpoint(...)``
and modules stay short.
"""

from __future__ import annotations

from continuum.catalog import schema
from continuum.catalog._errors import retry_if_locked, translate_errors
from continuum.catalog.audit import AuditOps
from continuum.catalog.checkpoints import CheckpointOps
from continuum.catalog.cleanup import CleanupOps
from continuum.catalog.engine import create_catalog_engine, describe_url, resolve_url
from continuum.catalog.exports import ExportOps
from continuum.catalog.lens_chunks import LensChunkOps
from continuum.catalog.policies import PolicyOps
from continuum.catalog.runs import RunOps
from continuum.catalog.scan import ScanOps
from continuum.catalog.search import SearchOps
from continuum.catalog.verify import VerifyOps
from continuum.catalog.verify_lens import LensVerifyOps


class Catalog(
    RunOps,
    CheckpointOps,
    LensChunkOps,
    SearchOps,
    AuditOps,
    ScanOps,
    VerifyOps,
    LensVerifyOps,
    PolicyOps,
    CleanupOps,
    ExportOps,
):
    """The run catalog at ``url`` (see :func:`continuum.catalog.resolve_url`).

    Opening checks the schema revision with one query and, unless
    ``auto_migrate=False``, upgrades an older schema under a lock. Thread-safe:
    each operation is its own short transaction. Close it (or use ``with``).

    Example::

        with Catalog("sqlite:////tmp/catalog.db") as cat:
            run = cat.register_run(world="terra", ir_hash="ab12...", seed=7)
            cat.record_checkpoint(run.run_id, tick=1000, sim_time=1e9, path=p, bytes_on_disk=n)
            cat.mark_checkpoint_state(run.run_id, 1000, "committed")
            cat.finish_run(run.run_id, status="completed", last_tick=2000)
    """

    def migrate(self) -> tuple[str | None, str | None]:
        """Upgrade to the newest revision; returns (revision before, revision after)."""
        with translate_errors(self.where):
            return retry_if_locked(lambda: schema.upgrade(self._engine, self.where))

    def revision(self) -> str | None:
        """The schema revision the catalog is at."""

        def read() -> str | None:
            with self._engine.connect() as conn:
                return schema.read_revision(conn)

        with translate_errors(self.where):
            return retry_if_locked(read)


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
