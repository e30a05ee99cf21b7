"""Fixtures shared by the lens tests: one captured run and its frames straight from the runtime.

Plain helpers (tiny runs, reference frames, frame comparisons) stay in ``helpers.py``
because the CLI tests import them too; what is a fixture lives here, once.
"""

from __future__ import annotations

import shutil
from collections.abc import Callable
from pathlib import Path

import pytest

from continuum.lens import FieldLens
from continuum.lens import format as lens_format

from .helpers import CHUNK, STEPS, STRIDE, reference, run, run_dir


@pytest.fixture(scope="session")
def lens_run(tmp_path_factory) -> Path:
    """A lens run dir of a tiny terra run (STEPS, STRIDE, CHUNK above)."""
    root = tmp_path_factory.mktemp("store")
    summary = run(steps=STEPS, lens_dir=root, lens_stride=STRIDE, lens_chunk_size=CHUNK)
    return run_dir(summary)


@pytest.fixture(scope="session")
def expected() -> FieldLens:
    """The frames :func:`lens_run` captured, observed straight from the runtime."""
    return reference(STEPS, stride=STRIDE)


@pytest.fixture
def opened(monkeypatch) -> list[str]:
    """Names of the chunk files opened from now on."""
    names: list[str] = []
    real = lens_format.ChunkFile.__init__

    def spy(self, path, **kw):
        names.append(Path(path).name)
        real(self, path, **kw)

    monkeypatch.setattr(lens_format.ChunkFile, "__init__", spy)
    return names


@pytest.fixture
def copy_run(lens_run: Path, tmp_path: Path) -> Callable[[], Path]:
    """A function returning a private copy of :func:`lens_run` to damage."""

    def copy() -> Path:
        target = tmp_path / lens_run.name
        shutil.copytree(lens_run, target)
        return target

    return copy
