"""``continuum.checkpoint.diff``: pure comparisons of states and headers, and of files."""

from __future__ import annotations

import dataclasses
import json
import math

import numpy as np
import pytest

from continuum.checkpoint import (
    diff_checkpoints,
    diff_headers,
    diff_states,
    inspect_checkpoint,
)
from continuum.layout import checkpoint_name
from continuum.runtime import State
from continuum.runtime.state import frozen

from .conftest import run


def state(**current: object) -> State:
    arrays = {name: frozen(value) for name, value in current.items()}
    return State(3, 3.0, "formation", 1, {"s": 0}, {"cell": 4}, arrays, dict(arrays))


def test_a_state_does_not_differ_from_itself_even_with_nan():
    a = state(x=[1.0, np.nan, np.inf, -np.inf], g=2.0)
    b = state(x=[1.0, np.nan, np.inf, -np.inf], g=2.0)
    assert diff_states(a, b) == ((), 4)


def test_counts_and_max_abs_per_buffer():
    a = state(x=[1.0, 2.0, 3.0, 4.0], g=2.0)
    b = state(x=[1.0, 2.5, 3.0, 1.0], g=2.0)
    b.previous = dict(a.previous)  # only the current buffer changed
    found, compared = diff_states(a, b)
    assert compared == 4
    (only,) = found
    assert (only.signal, only.buffer, only.status) == ("x", "current", "changed")
    assert (only.size, only.differing, only.max_abs) == (4, 2, 3.0)
    assert only.to_dict()["shape_a"] == [4]


def test_atol_hides_small_differences():
    a, b = state(x=[1.0, 2.0]), state(x=[1.0 + 1e-12, 2.0 + 1e-3])
    (diff, _), _ = diff_states(a, b, atol=1e-9)
    assert diff.differing == 1 and diff.max_abs == pytest.approx(1e-3)
    assert diff_states(a, b, atol=1.0)[0] == ()
    with pytest.raises(ValueError):
        diff_states(a, b, atol=math.nan)


def test_nan_against_a_number_differs_and_stays_json():
    (diff, _), _ = diff_states(state(x=[np.nan, 1.0]), state(x=[0.0, 1.0]))
    assert diff.differing == 1 and math.isnan(diff.max_abs)
    assert json.dumps(diff.to_dict(), allow_nan=False)


def test_missing_and_reshaped_signals_are_not_compared_element_wise():
    a, b = state(x=[1.0, 2.0], old=1.0), state(x=[[1.0, 2.0]], new=1.0)
    found, compared = diff_states(a, b)
    assert compared == 0
    statuses = {(d.signal, d.buffer): d.status for d in found}
    assert statuses == {
        (name, buffer): status
        for name, status in (("new", "only_b"), ("old", "only_a"), ("x", "shape"))
        for buffer in ("current", "previous")
    }
    x = next(d for d in found if d.signal == "x")
    assert (x.shape_a, x.shape_b) == ((2,), (1, 2))


def test_diff_headers_names_each_fact(tmp_path):
    summary = run(tmp_path, steps=4, checkpoint_stride=2)
    header = inspect_checkpoint(tmp_path / summary["run_id"] / checkpoint_name(2))
    other = dataclasses.replace(
        header,
        tick=9,
        era="stable",
        identity=dataclasses.replace(header.identity, ir_hash="0" * 64),
    )
    assert diff_headers(header, header) == ()
    found = {f.field: (f.a, f.b) for f in diff_headers(header, other)}
    assert found == {
        "ir_hash": (header.identity.ir_hash, "0" * 64),
        "tick": (2, 9),
        "era": ("formation", "stable"),
    }


def test_diff_checkpoints_of_one_run(tmp_path):
    summary = run(tmp_path, steps=10, checkpoint_stride=5)
    run_dir = tmp_path / summary["run_id"]
    five, ten = run_dir / checkpoint_name(5), run_dir / checkpoint_name(10)
    report = diff_checkpoints(five, ten)
    assert not report.identical and report.compared == 16
    assert {f.field for f in report.fields} == {"tick", "sim_time"}
    changed = {d.signal for d in report.arrays if d.buffer == "current"}
    assert {"cell.temperature", "cell.elevation", "core.temp"} <= changed
    same = diff_checkpoints(ten, ten)
    assert same.identical and same.to_dict()["arrays"] == []
