"""Bundled example worlds, resolvable by name (``continuum run terra``)."""
