"""Helpers for checkpoint tests: real runs of tiny terra writing real files."""

from __future__ import annotations

from pathlib import Path

import pytest

from continuum.runner import RunRequest, execute


def run(tmp: Path | None = None, **kw) -> dict:
    """Execute a tiny-terra run; ``tmp`` becomes the checkpoint dir when given."""
    options = {"world": "terra", "scenario": "tiny", "seed": 11, "steps": 100}
    options.update(kw)
    if tmp is not None:
        options.setdefault("checkpoint_dir", tmp)
    return execute(RunRequest(**options))


@pytest.fixture(scope="session")
def straight_2000() -> str:
    return run(steps=2000)["state_hash"]
