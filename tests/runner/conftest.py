"""Helpers for runner tests: tiny-terra requests, real runs, and snapshots of what is on disk."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from continuum.runner import RunRequest, execute

#: A PostgreSQL URL on a port nothing listens on: the catalog cannot be reached.
UNREACHABLE_PG = "postgresql+psycopg://nobody@127.0.0.1:1/none"


def request(**kw: Any) -> RunRequest:
    """A tiny-terra request (seed 11, 100 steps) with ``kw`` on top."""
    options: dict[str, Any] = {"world": "terra", "scenario": "tiny", "seed": 11, "steps": 100}
    options.update(kw)
    return RunRequest(**options)


def run(**kw: Any) -> dict[str, Any]:
    """Execute a tiny-terra run and return its summary."""
    return execute(request(**kw))


def tree(root: Path) -> dict[str, tuple[int, int] | str]:
    """Every entry under ``root``: files as (size, mtime_ns), links as their target."""
    if not root.exists():
        return {}
    found: dict[str, tuple[int, int] | str] = {}
    for path in sorted(root.rglob("*")):
        key = str(path.relative_to(root))
        if path.is_symlink():
            found[key] = str(path.readlink())
        elif path.is_file():
            stat = path.stat()
            found[key] = (stat.st_size, stat.st_mtime_ns)
        else:
            found[key] = "dir"
    return found


@pytest.fixture
def catalog_url(tmp_path: Path) -> str:
    """A private SQLite catalog for one test."""
    return f"sqlite:///{tmp_path / 'catalog.db'}"
