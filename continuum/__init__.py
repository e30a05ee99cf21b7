"""Continuum: a deterministic simulation engine and its persistence layer.

Packages (each owns one concern; see its docstring for what it must not touch):

- ``continuum.world``      world directory -> typed IR -> canonical bytes -> IR hash
- ``continuum.topology``   cubed-sphere geometry shared by runtime and lens
- ``continuum.runtime``    State and the deterministic tick loop
- ``continuum.blobs``      atomic writes and the checksummed container of .ckpt/.lens files
- ``continuum.checkpoint`` checkpoint format, background writer, resume
- ``continuum.lens``       field capture, chunk files, reconstruction, queries
- ``continuum.catalog``    SQL run catalog (SQLAlchemy + Alembic)
- ``continuum.sql``        DuckDB over Parquet exports + catalog tables
- ``continuum.cli``        the ``continuum`` command

Importing ``continuum`` itself is cheap: it loads nothing heavy.
"""

from continuum.errors import ContinuumError

__version__ = "0.1.0"
__all__ = ["ContinuumError", "__version__"]
