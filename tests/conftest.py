"""Shared fixtures: copies of the bundled world to edit, and a CLI runner."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from click.testing import CliRunner

from continuum.world.loader import BUNDLED

TERRA = BUNDLED / "terra"


@pytest.fixture
def terra_dir(tmp_path: Path) -> Path:
    """A private, editable copy of the bundled terra world."""
    target = tmp_path / "terra"
    shutil.copytree(TERRA, target)
    return target


@pytest.fixture
def runner() -> CliRunner:
    return CliRunner()
