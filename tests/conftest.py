"""Shared fixtures: copies of the bundled world to edit, and a CLI runner."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest
from click.testing import CliRunner

from continuum.world.loader import BUNDLED

TERRA = BUNDLED / "terra"


@pytest.fixture(scope="session", autouse=True)
def private_catalog(tmp_path_factory: pytest.TempPathFactory) -> str:
    """Every test (and every subprocess it starts) uses a private SQLite catalog.

    Without this, runs under test would land in the user's own catalog under
    ~/.local/share/continuum. Tests that need their own catalog pass --catalog.
    """
    home = tmp_path_factory.mktemp("xdg")
    url = f"sqlite:///{home / 'catalog.db'}"
    os.environ["XDG_DATA_HOME"] = str(home)
    os.environ["CONTINUUM_CATALOG"] = url
    return url


@pytest.fixture
def terra_dir(tmp_path: Path) -> Path:
    """A private, editable copy of the bundled terra world."""
    target = tmp_path / "terra"
    shutil.copytree(TERRA, target)
    return target


@pytest.fixture
def runner() -> CliRunner:
    return CliRunner()
