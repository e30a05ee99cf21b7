"""``continuum catalog migrate``: create or upgrade the catalog's schema (Alembic)."""

from __future__ import annotations

import click

from continuum.catalog import migrate_catalog
from continuum.cli._output import catalog_option, echo_done, echo_json, json_option, quiet_option


@click.command("migrate")
@json_option
@quiet_option
@catalog_option
def migrate(as_json: bool, catalog_url: str | None) -> None:
    """Create the catalog schema, or upgrade it to this version's newest revision.

    \b
    Example:
      continuum catalog migrate --catalog postgresql://me@db-host/continuum
    """
    where, before, after = migrate_catalog(catalog_url)
    if as_json:
        echo_json({"catalog": where, "before": before, "after": after}, indent=None)
    elif before == after:
        echo_done(f"catalog {where} is at revision {after}; nothing to do")
    else:
        echo_done(f"catalog {where} upgraded from {before or 'empty'} to {after}")


COMMANDS = (migrate,)
