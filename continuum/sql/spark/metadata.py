"""What the Spark views need from the files' footers, read as the DuckDB session reads it.

Spark has no reader of a Parquet file's key-value metadata, and the views depend on it:
a cell field's resolution (``derived_columns``, ``resolution``) and stored ``columns``
pick each file's select list, the ticks files' ``stride`` spaces the gap rows, and the
``units`` / ``time_units`` / ``signal_units`` fill ``field_units`` and ``signal_units``.
So these come from :mod:`continuum.sql.session`'s own functions on a private in-memory
DuckDB connection (one footer per run and field directory, the newest part's) — one rule
for both engines, not a second reading of the same metadata that could drift. That
connection opens no file but the parts :func:`continuum.sql.roots.list_files` listed
(each a regular file inside an export root) and reads only their footers, plus the ticks
files' ``tick`` column when a run's files predate the ``stride`` key.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import duckdb

from continuum.sql.errors import translate
from continuum.sql.roots import Files
from continuum.sql.session import _file_layout, _footers, _parquet, _strides, load_units

#: (resolution whose cell positions are derived or None, the stored columns) of a file.
Layout = tuple[int | None, tuple[str, ...]]
Units = list[tuple[str, str, str | None, str | None]]


@dataclass(frozen=True)
class Metadata:
    """The footers' facts the Spark views are built from."""

    by_time: dict[Path, Layout]  # each field directory's layout, time-major files
    by_sample: dict[Path, Layout]  # the same for the files ``fields_by_sample`` reads
    strides: dict[str, int]  # run id -> capture stride, of the runs with ticks files
    field_units: Units  # (run_id, field, units, time_units)
    signal_units: Units  # (run_id, signal, units, time_units)


def read_metadata(files: Files) -> Metadata:
    """The :class:`Metadata` of ``files`` (see the module docstring)."""
    with duckdb.connect(":memory:") as con, translate("reading the exports' metadata"):
        by_time = _footers(con, files.by_time)
        by_sample = _footers(con, files.by_sample)
        if files.ticks:  # the fallback for files without a stride reads their ticks
            con.execute(f"CREATE VIEW ticks AS SELECT run_id, tick FROM {_parquet(files.ticks)}")
        strides = _strides(con, files.ticks)
        load_units(con, by_time, _footers(con, files.signals))
        units = {
            t: con.execute(f"SELECT * FROM {t} ORDER BY ALL").fetchall()
            for t in ("field_units", "signal_units")
        }
    return Metadata(
        by_time={d: _file_layout(m) for d, m in by_time.items()},
        by_sample={d: _file_layout(m) for d, m in by_sample.items()},
        strides=strides,
        field_units=units["field_units"],
        signal_units=units["signal_units"],
    )
