"""Bracketing and blending, written once for every field source."""

from __future__ import annotations

import numpy as np
import pytest

from continuum.errors import LensError
from continuum.lens import FieldConfig, Reconstruction
from continuum.lens.interpolate import blend, bracket, interpolate, moment, sample_between


def test_bracket_is_exact_at_keys_and_weighted_between():
    keys = np.array([0, 4, 10])
    assert bracket(keys, 4.0, "x") == (1, 1, 0.0)
    assert bracket(keys, 0.0, "x") == (0, 0, 0.0)
    assert bracket(keys, 10.0, "x") == (2, 2, 0.0)
    assert bracket(keys, 1.0, "x") == (0, 1, 0.25)
    assert bracket(keys, 7.0, "x") == (1, 2, 0.5)


@pytest.mark.parametrize("t", [-0.5, 10.5, float("nan"), float("inf")])
def test_bracket_never_extrapolates(t):
    with pytest.raises(LensError, match=r"outside the captured range \[0, 10\] of x"):
        bracket(np.array([0, 10]), t, "x")
    with pytest.raises(LensError, match="no frames of x"):
        bracket(np.array([]), 1.0, "x")


def test_moment_takes_exactly_one_of_time_or_tick():
    assert moment(2.5, None) == (2.5, True)
    assert moment(None, 3) == (3.0, False)
    for both in ((None, None), (1.0, 1)):
        with pytest.raises(LensError, match="exactly one"):
            moment(*both)


def test_interpolate_reads_the_later_frame_only_between_frames():
    read = []

    def sample(i: int) -> np.ndarray:
        read.append(i)
        return np.array([10.0 * i])

    assert interpolate("scalar", sample, 2, 2, 0.0).tolist() == [20.0] and read == [2]
    assert interpolate("scalar", sample, 1, 2, 0.25).tolist() == [12.5] and read == [2, 1, 2]


def test_blend_returns_the_frame_itself_at_weight_zero():
    a = np.array([[1.0, 0.0, 0.0]])
    assert blend("vec3", a, -a, 0.0) is a
    np.testing.assert_array_equal(blend("vec3", a, -a, 0.5), [[0.0, 0.0, 0.0]])  # zero lerp


def test_sample_between_locates_fixed_samples_once():
    config = FieldConfig("scalar", "global", 1)
    made = []

    def frame(i: int) -> Reconstruction:
        made.append(i)
        return Reconstruction("g", i, float(i), config, None, np.array([float(i)]))

    values, rule = sample_between(frame, 0, 4, 0.5, np.ones((3, 3)))
    assert values.tolist() == [2.0, 2.0, 2.0] and rule == "global" and made == [0, 4]
