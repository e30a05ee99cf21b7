"""A checkpoint that brings NaN or infinity into a signal the world keeps finite is refused
on resume, before the tick loop sees it (issue 12: headers and payloads are not believed)."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest

from continuum.checkpoint.format import read_checkpoint, write_checkpoint
from tests.cli.conftest import assert_one_line_error, invoke, run_json


@pytest.mark.parametrize("bad", [np.nan, np.inf])
def test_a_resumed_nan_is_one_line_naming_the_signal(tmp_path: Path, bad: float) -> None:
    summary = run_json(
        "--steps", "4", "--checkpoint-dir", tmp_path / "ckpt", "--checkpoint-stride", "2",
        "--no-catalog",
    )  # fmt: skip
    newest = max(Path(summary["checkpoint_dir"]).glob("checkpoint_*.ckpt"))
    header, state = read_checkpoint(newest)
    name = next(n for n, a in sorted(state.current.items()) if a.size > 1)
    poisoned = np.array(state.current[name], copy=True)
    poisoned.flat[0] = bad
    write_checkpoint(
        newest, replace(state, current={**state.current, name: poisoned}), header.identity
    )

    result = invoke("run", "terra", "--checkpoint-path", newest, "--steps", "2", "--no-catalog")

    assert_one_line_error(result, name)
    assert "NaN or infinity" in result.stderr
