"""The per-resolution cells table: (sample, face, i, j, lat, lon), computed once in numpy.

Why a table, not SQL expressions per row: a ``lat``/``lon`` predicate on positions derived
per row costs trigonometry on every row scanned (the band query on terra ``large``: 7.4 s),
while a join on ``sample`` with a 393,216-row table puts the predicate on the small side,
and DuckDB pushes the build side's sample range into the Parquet scan (row groups of a
sample-major file outside it are skipped). The same join made the time slice ~15x slower
when DuckDB kept it for queries not reading positions (measured: plain selections keep the
join), so the views are routed (:mod:`continuum.sql.routing`): the join only for
statements that read positions.

Positions are :class:`continuum.topology.CubedSphere`'s own (``columns._cell_columns``):
the same numbers as the lens API, not a second implementation of the projection.
"""

from __future__ import annotations

import duckdb
import numpy as np

from continuum.sql.columns import _cell_columns
from continuum.topology import CubedSphere


def cells_table(n: int) -> str:
    """The name of resolution ``n``'s cells table in a session."""
    return f"_cells_{int(n)}"


def cell_columns(n: int) -> dict[str, np.ndarray]:
    """(sample, face, i, j, lat, lon) of every cell at resolution ``n``, by sample."""
    topo = CubedSphere(n)
    cols = {"sample": np.arange(topo.n_cells, dtype=np.int32)}
    cols.update(_cell_columns(topo, cols["sample"]))
    return cols


def load_cells(con: duckdb.DuckDBPyConnection, n: int) -> str:
    """Create resolution ``n``'s cells table (once per session) and return its name.

    ``sample`` is a PRIMARY KEY: the rows are unique by sample, which DuckDB may use.
    """
    name = cells_table(n)
    if con.execute(
        "SELECT count(*) FROM duckdb_tables() WHERE table_name = ?", [name]
    ).fetchone() != (0,):
        return name
    con.execute(
        f"CREATE TABLE {name} (sample INTEGER PRIMARY KEY, face TINYINT, i SMALLINT, "
        "j SMALLINT, lat DOUBLE, lon DOUBLE)"
    )
    con.register("_cells_rows", cell_columns(n))
    try:
        con.execute(
            f"INSERT INTO {name} SELECT sample, face, i, j, lat, lon FROM _cells_rows "
            "ORDER BY sample"
        )
    finally:
        con.unregister("_cells_rows")
    return name
