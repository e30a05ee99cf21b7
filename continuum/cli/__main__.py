"""``python -m continuum.cli`` is the ``continuum`` command."""

from continuum.cli import main

main()
