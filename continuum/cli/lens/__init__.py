"""``continuum lens``: captured field frames from the command line.

Owns the ``lens`` click group and which commands it holds; each module below imports
``continuum.cli._output`` and, only when a command runs, the lens, SQL and catalog
packages (never this package, so there is no cycle):

- ``frames``: load, query, history, plot, compact (reading lens run dirs)
- ``export``: lens chunks to Parquet
- ``sql``: one SELECT over the exports and the catalog

Must not import numpy or duckdb at import time.
"""

from __future__ import annotations

import click

from continuum.cli._output import Group
from continuum.cli.lens import export, frames, sql


@click.group(cls=Group)
def lens() -> None:
    """Inspect, query and plot lens snapshots (captured field frames).

    \b
    Examples:
      continuum lens load lens/20260101_120000_ab12cd34
      continuum lens query atmosphere.temperature --tick 500 --position 1,0,0 --lens-dir lens
      continuum lens history surface.elevation --position 0,0,1 --format csv
      continuum lens plot atmosphere.temperature --tick 500 --output map.png
    """


for _module in (frames, export, sql):
    for _command in _module.COMMANDS:
        lens.add_command(_command)

__all__ = ["lens"]
