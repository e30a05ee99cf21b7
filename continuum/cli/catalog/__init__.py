"""``continuum catalog``: the run catalog from the command line.

Owns the ``catalog`` click group and which commands it holds; each module below holds
commands of one kind and imports only ``continuum.catalog`` and ``continuum.cli._output``
(never this package, so there is no cycle):

- ``runs``: list, show, search, tag (reading and labelling runs)
- ``retention``: policy set/show/clear, pin, unpin, prune (what is kept)
- ``maintenance``: scan, verify, gc, rm, log (the catalog against the files)
- ``migrate``: the schema

Must not import numpy or duckdb: ``continuum catalog list`` starts fast.
"""

from __future__ import annotations

import click

from continuum.cli._output import Group
from continuum.cli.catalog import maintenance, migrate, retention, runs


@click.group("catalog", cls=Group)
def catalog() -> None:
    """Find runs and checkpoints in the SQL run catalog.

    \b
    Example:
      continuum catalog list --limit 20
      continuum catalog search --world terra --param 'thermal.k>1e-4' --json
    """


for _module in (runs, retention, maintenance, migrate):
    for _command in _module.COMMANDS:
        catalog.add_command(_command)

__all__ = ["catalog"]
