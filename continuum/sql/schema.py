"""The field views' columns and the SQL that derives cell positions: names and text only.

Kept apart from :mod:`continuum.sql.columns` (which builds numpy columns for an export) so
that opening a session imports neither numpy nor the lens: ``continuum lens sql`` pays
for them only when a statement reads positions (measured: numpy alone is ~130 ms of a
~0.5 s ``SELECT 1``).
"""

from __future__ import annotations

#: Column order and DuckDB types of the field views (``fields``, ``fields_by_sample``).
SCHEMA = {
    "tick": "BIGINT",
    "sim_time": "DOUBLE",
    "sample": "INTEGER",
    "face": "TINYINT",
    "i": "SMALLINT",
    "j": "SMALLINT",
    "lat": "DOUBLE",
    "lon": "DOUBLE",
    "value": "DOUBLE",
    "vx": "DOUBLE",
    "vy": "DOUBLE",
    "vz": "DOUBLE",
}
POSITIONS = ("face", "i", "j", "lat", "lon")
VECTOR = ("vx", "vy", "vz")


#: Integer division of each SQL engine the views are built on (the rest of the formula's
#: SQL — CASE, CAST, tan, asin, atan2, degrees, least, greatest — is common to both).
INTEGER_DIVISION = {"duckdb": "//", "spark": "div"}


def cell_position_sql(n: int, dialect: str = "duckdb") -> dict[str, str]:
    """SQL expressions of face, i, j, lat, lon of cell ``sample`` at resolution ``n``.

    The cubed-sphere centre of cell ``f*n*n + i*n + j``: ``a = tan(-pi/4 + (i + 0.5) *
    (pi/2) / n)``, ``b`` likewise from ``j``, point ``normal + a e1 + b e2`` in the face
    frames of ``continuum.topology._faces`` (+X: (1, a, b); -X: (-1, -a, b); +Y: (b, 1, a);
    -Y: (b, -1, -a); +Z: (a, b, 1); -Z: (-a, b, -1)), then lat = asin(z / |p|) and
    lon = atan2(y, x) in degrees. DuckDB evaluates them only for queries that read them.
    ``dialect``: ``duckdb`` or ``spark`` (:mod:`continuum.sql.spark`: the same formula, so
    both engines derive the same columns).
    """
    div = INTEGER_DIVISION[dialect]
    face = f"(sample {div} {n * n})"
    i, j = f"(sample {div} {n} % {n})", f"(sample % {n})"
    a, b = "_cell_a", "_cell_b"  # tangents, computed once below (see cell_tangent_sql)

    def pick(*options: str) -> str:
        arms = " ".join(f"WHEN {f} THEN {o}" for f, o in enumerate(options))
        return f"(CASE {face} {arms} END)"

    x = pick("1.0", "-1.0", b, b, a, f"-{a}")
    y = pick(a, f"-{a}", "1.0", "-1.0", b, b)
    z = pick(b, b, a, f"-{a}", "1.0", "-1.0")
    norm = f"sqrt(1.0 + {a} * {a} + {b} * {b})"
    return {
        "face": f"CAST({face} AS TINYINT)",
        "i": f"CAST({i} AS SMALLINT)",
        "j": f"CAST({j} AS SMALLINT)",
        "lat": f"degrees(asin(least(greatest({z} / {norm}, -1.0), 1.0)))",
        "lon": f"degrees(atan2({y}, {x}))",
    }


def cell_tangent_sql(n: int, dialect: str = "duckdb") -> str:
    """``SELECT`` items ``_cell_a, _cell_b`` that :func:`cell_position_sql` reads.

    Named once in an inner query rather than repeated in every CASE arm: the repeated
    expression tree cost ~10 ms of planning per query on the view (measured).
    """
    return ", ".join(f"{e} AS {name}" for name, e in cell_tangents(n, dialect).items())


def cell_tangents(n: int, dialect: str = "duckdb") -> dict[str, str]:
    """The expressions of :func:`cell_tangent_sql`'s items, by name."""
    step, div = f"(pi() / 2 / {n})", INTEGER_DIVISION[dialect]
    a, b = (
        f"tan(-pi() / 4 + ({k} + 0.5) * {step})"
        for k in (f"(sample {div} {n} % {n})", f"(sample % {n})")
    )
    return {"_cell_a": a, "_cell_b": b}
