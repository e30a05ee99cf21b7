"""The ``continuum`` command line.

Owns argument parsing, output formatting (tables, ``--json``, progress bars) and
the translation of ``ContinuumError`` into one line on stderr with a non-zero
exit. It holds no domain logic: every command calls a package's public API.

    main.py        the root group: lazily imported subcommands, one-line errors
    _output.py     shared options (--json, --catalog), escaped lines and tables, strict JSON,
                   times, byte sizes
    run.py         continuum run
    checkpoint.py  continuum checkpoint inspect|list|verify|diff
    catalog/       continuum catalog ... (runs, retention, maintenance, migrate)
    lens/          continuum lens ... (frames, export, sql)

Subcommands are imported lazily so ``continuum catalog list`` never loads numpy
or duckdb; no module here imports numpy or duckdb at import time.
"""

from continuum.cli.main import cli, main

__all__ = ["cli", "main"]
