"""The ``continuum`` command line.

Owns argument parsing, output formatting (tables, ``--json``, progress bars) and
the translation of ``ContinuumError`` into one line on stderr with a non-zero
exit. It holds no domain logic: every command calls a package's public API.
Subcommands are imported lazily so ``continuum catalog list`` never loads numpy.
"""

from continuum.cli.main import cli, main

__all__ = ["cli", "main"]
