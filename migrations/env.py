"""Alembic environment of the Continuum run catalog.

Two ways in:

- from Continuum (``continuum catalog migrate``, or any first use of a catalog):
  ``continuum.catalog.db.schema`` passes an open connection that already holds the
  migration lock inside a transaction, in ``config.attributes["connection"]``;
- from a checkout, ``alembic upgrade head`` with the top-level ``alembic.ini``:
  the URL comes from ``-x url=...``, else ``sqlalchemy.url`` in the ini, else
  the catalog's usual resolution (``CONTINUUM_CATALOG``, then the default file),
  and the same lock is taken here.

This directory ships in the wheel as ``continuum/_migrations`` (a symlink in
the source tree), so an installed Continuum can migrate without a checkout.
"""

from __future__ import annotations

from logging.config import fileConfig
from typing import Any, Literal

from alembic import context
from sqlalchemy import Connection

from continuum.catalog.db import schema
from continuum.catalog.db.engine import create_catalog_engine
from continuum.catalog.db.location import resolve_url
from continuum.catalog.db.models import UTCDateTime, metadata

config = context.config
target_metadata = metadata


def render_item(type_: str, obj: Any, autogen_context: Any) -> str | Literal[False]:
    """Render the catalog's column types as plain SQLAlchemy types in new revisions."""
    if type_ == "type" and isinstance(obj, UTCDateTime):
        return "sa.DateTime(timezone=True)"
    return False


def configure(**kwargs: Any) -> None:
    context.configure(
        target_metadata=target_metadata,
        render_item=render_item,
        compare_type=True,
        **kwargs,
    )


def run_on(connection: Connection) -> None:
    configure(connection=connection, render_as_batch=connection.dialect.name == "sqlite")
    with context.begin_transaction():
        context.run_migrations()


def cli_url() -> str:
    explicit = context.get_x_argument(as_dictionary=True).get("url")
    return resolve_url(explicit or config.get_main_option("sqlalchemy.url") or None)


def main() -> None:
    connection = config.attributes.get("connection")
    if connection is not None:
        run_on(connection)
        return
    if config.config_file_name is not None:
        fileConfig(config.config_file_name, disable_existing_loggers=False)
    if context.is_offline_mode():
        configure(url=cli_url(), literal_binds=True)
        with context.begin_transaction():
            context.run_migrations()
        return
    engine = create_catalog_engine(cli_url())
    try:
        with schema.migration_connection(engine) as conn:
            run_on(conn)
    finally:
        engine.dispose()


main()
