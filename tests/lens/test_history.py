"""FieldLens: bounded history, exact frames at ticks, interpolation between them, snapshots."""

from __future__ import annotations

import numpy as np
import pytest

from continuum.errors import LensError
from continuum.lens import FieldLens
from continuum.runtime import FieldFrame
from continuum.topology import CubedSphere

from .helpers import assert_same_frames, reference

TOPOLOGY = CubedSphere(4)
N = TOPOLOGY.n_cells


def cells(value: float, tick: int = 0) -> np.ndarray:
    return np.linspace(0.0, 1.0, N) * (tick + 1) + value


def lens_with(ticks, **kw) -> FieldLens:
    lens = FieldLens(TOPOLOGY, **kw)
    for t in ticks:
        lens.record_many(t, {"temp": cells(10.0 * t, t)}, sim_time=100.0 * t)
    return lens


def test_record_and_read_back():
    lens = lens_with([0, 5, 10])
    assert lens.fields == ["temp"]
    np.testing.assert_array_equal(lens.field_ticks("temp"), [0, 5, 10])
    assert lens.config("temp").positions == "cells"
    assert lens.latest("temp").tick == 10
    recon = lens.at("temp", 5)
    assert recon.rule == "containing"
    assert recon.sample(TOPOLOGY.centres[7]) == cells(50.0, 5)[7]


def test_ticks_must_increase_and_fields_exist():
    lens = lens_with([0, 5])
    with pytest.raises(LensError, match="not after"):
        lens.record_many(5, {"temp": cells(0.0)})
    with pytest.raises(LensError, match="the lens holds: temp"):
        lens.at("pressure", 0)
    with pytest.raises(LensError, match=r"no frame at tick 3; held: 0..5 every 5 \(2 frames\)"):
        lens.at("temp", 3)


def test_history_is_bounded_by_frames_and_bytes():
    lens = lens_with(range(10), max_frames=3)
    np.testing.assert_array_equal(lens.field_ticks("temp"), [7, 8, 9])
    lens = lens_with(range(10), max_frames=None, max_bytes=4 * N * 8)
    np.testing.assert_array_equal(lens.field_ticks("temp"), [6, 7, 8, 9])


def test_read_only_arrays_are_kept_writable_ones_copied():
    frozen = cells(1.0)
    frozen.flags.writeable = False
    buffer = cells(2.0)
    lens = FieldLens(TOPOLOGY)
    lens.record_many(0, {"a": frozen, "b": buffer})
    buffer[:] = -1.0
    assert lens.at("a", 0).values is frozen
    assert lens.at("b", 0).values[0] == 2.0


def test_interpolation_is_exact_at_ticks_and_linear_between():
    lens = lens_with([0, 4, 8])
    pts = np.random.default_rng(0).normal(size=(100, 3))
    idx = TOPOLOGY.cell_of(pts)
    a, b = cells(0.0, 0)[idx], cells(40.0, 4)[idx]
    assert lens.query_batch("temp", pts, tick=4).values.tobytes() == b.tobytes()
    assert lens.query_batch("temp", pts, time=400.0).values.tobytes() == b.tobytes()
    w = 0.25
    expected = a + w * (b - a)
    assert lens.query_batch("temp", pts, tick=1).values.tobytes() == expected.tobytes()
    assert lens.query_batch("temp", pts, time=100.0).values.tobytes() == expected.tobytes()
    assert lens.query("temp", pts[0], time=100.0).value == expected[0]


def test_queries_outside_the_captured_range_are_refused():
    lens = lens_with([0, 4])
    with pytest.raises(LensError, match=r"outside the captured range \[0.0, 400.0\]"):
        lens.query("temp", [1, 0, 0], time=401.0)
    with pytest.raises(LensError, match="exactly one"):
        lens.query("temp", [1, 0, 0])


def plates(positions: np.ndarray, velocity: np.ndarray) -> list[FieldFrame]:
    return [FieldFrame("plates.velocity", positions, velocity)]


def test_vectors_lerp_then_normalise():
    """Direction: normalised lerp; length: the lerp of the lengths (unit stays unit)."""
    pos = np.array([[0.0, 0.0, 1.0]])
    lens = FieldLens(TOPOLOGY)
    v0, v1 = np.array([[2.0, 0.0, 0.0]]), np.array([[0.0, 4.0, 0.0]])
    lens.record_many(0, plates(pos, v0))
    lens.record_many(10, plates(pos, v1))
    assert lens.query("plates.velocity", [0, 0, 1], tick=0).value.tobytes() == v0[0].tobytes()
    mid = lens.query("plates.velocity", [0, 0, 1], tick=5).value
    np.testing.assert_allclose(np.linalg.norm(mid), 3.0)
    np.testing.assert_allclose(mid / np.linalg.norm(mid), [1 / 5**0.5, 2 / 5**0.5, 0.0])
    unit = FieldLens(TOPOLOGY)
    unit.record_many(0, plates(pos, np.array([[1.0, 0.0, 0.0]])))
    unit.record_many(10, plates(pos, np.array([[0.0, 1.0, 0.0]])))
    np.testing.assert_allclose(
        np.linalg.norm(unit.query("plates.velocity", [0, 0, 1], tick=3).value), 1
    )


def test_point_samples_follow_their_moving_positions():
    lens = FieldLens(TOPOLOGY)
    lens.record_many(0, plates(np.eye(3), np.arange(9.0).reshape(3, 3)))
    lens.record_many(1, plates(np.eye(3)[[1, 2, 0]], np.arange(9.0).reshape(3, 3)))
    assert lens.config("plates.velocity").positions == "points"
    np.testing.assert_array_equal(lens.at("plates.velocity", 0).sample([1, 0.1, 0]), [0, 1, 2])
    np.testing.assert_array_equal(lens.at("plates.velocity", 1).sample([1, 0.1, 0]), [6, 7, 8])
    h = lens.history("plates.velocity", [1, 0.1, 0])
    np.testing.assert_array_equal(h.values, [[0, 1, 2], [6, 7, 8]])


def test_history_is_one_value_per_tick():
    lens = lens_with([0, 5, 10, 15])
    h = lens.history("temp", TOPOLOGY.centres[3], start=5, stop=10)
    np.testing.assert_array_equal(h.ticks, [5, 10])
    np.testing.assert_array_equal(h.values, [cells(50.0, 5)[3], cells(100.0, 10)[3]])
    with pytest.raises(LensError, match="no frames in"):
        lens.history("temp", [1, 0, 0], start=16)


def test_snapshot_round_trip_is_bitwise(tmp_path):
    lens = reference(30, stride=3)
    for tick in range(0, 31, 3):
        lens.record_many(tick, {}, sim_time=tick * 1.0e6, signals={"core.temp": 5000.0 + tick})
    lens.record_many(31, {"extra.global": np.array([1.0, 2.0, 3.0])}, sim_time=3.1e7)
    lens.save_snapshot(tmp_path / "snap.lens")
    back = FieldLens.load_snapshot(tmp_path / "snap.lens")
    assert_same_frames(back, lens)
    ticks, values = back.signal_history("core.temp")
    np.testing.assert_array_equal(ticks, np.arange(0, 31, 3))
    np.testing.assert_array_equal(values[:, 0], 5000.0 + ticks)
    assert back.config("extra.global").positions == "global"
