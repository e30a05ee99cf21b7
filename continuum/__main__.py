"""``python -m continuum`` is the ``continuum`` command."""

from continuum.cli import main

main()
