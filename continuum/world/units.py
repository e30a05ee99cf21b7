"""Units: the text a world may declare for a signal, a member, a field and its time.

A unit is a label for people (plots, ``lens query``, Parquet metadata, SQL), never a
quantity the engine converts: ``units = "K"`` on a declaration changes no value, so it
is left out of the IR hash (see :mod:`continuum.world.hashing`) and a world that adds
or corrects its units still resumes its checkpoints.

Accepted: 1 to :data:`MAX_UNITS_CHARS` characters, every one printable
(:meth:`str.isprintable`: no control characters, no line or paragraph separators, no
unprintable format characters; the ASCII space is allowed inside), no leading or
trailing space. Any script: ``"K"``, ``"m/s"``, ``"W m-2"``, ``"°C"``, ``"µm"``,
``"m s⁻¹"``. The same rule checks every unit a lens header claims
(:mod:`continuum.lens.format`), so what a world could not declare a file cannot inject
into a terminal or a plot either.
"""

from __future__ import annotations

from continuum.world.limits import shown

MAX_UNITS_CHARS = 32
"""Longest unit text: far above any real unit (``kg m-2 s-1`` is 10), short enough for
a table column and a plot label."""

UNITS = "units"
"""Key of a signal, member or field table: the unit of its values."""

TIME_UNITS = "time_units"
"""Key of the ``[world]`` table: the unit of ``dt`` and ``sim_time`` (e.g. ``years``)."""


def units_problem(value: object) -> str | None:
    """Why ``value`` is not an acceptable unit text, or None if it is."""
    if not isinstance(value, str):
        return f"expected a string such as 'K' or 'm/s', got {shown(value)}"
    if not value:
        return "expected a unit such as 'K' or 'm/s', got an empty string (leave the key out)"
    if len(value) > MAX_UNITS_CHARS:
        return f"expected at most {MAX_UNITS_CHARS} characters, got {len(value)}"
    if not value.isprintable():
        return f"expected printable characters only (no control characters), got {shown(value)}"
    if value != value.strip():
        return f"expected no leading or trailing space, got {shown(value)}"
    return None


def check_units(value: object) -> str:
    """``value`` if it is an acceptable unit text, else ``ValueError`` saying why."""
    problem = units_problem(value)
    if problem is not None:
        raise ValueError(problem)
    assert isinstance(value, str)
    return value
