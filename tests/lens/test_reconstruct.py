"""Reconstruction rules: containing cell vs nearest sample, and their disagreement."""

from __future__ import annotations

import numpy as np
import pytest

from continuum.errors import LensError
from continuum.lens import CubedSphereTopology, FieldConfig, Reconstruction
from continuum.topology import CubedSphere


def random_points(n: int, seed: int = 0) -> np.ndarray:
    pts = np.random.default_rng(seed).normal(size=(n, 3))
    return pts / np.linalg.norm(pts, axis=1, keepdims=True)


def cell_field(topology: CubedSphere, rule: str | None = None) -> Reconstruction:
    values = np.arange(topology.n_cells, dtype=np.float64)
    config = FieldConfig("scalar", "cells", topology.n_cells)
    return Reconstruction("f", 0, 0.0, config, topology.centres, values, topology, rule)


def test_lens_topology_is_the_runtime_topology():
    assert CubedSphereTopology is CubedSphere


@pytest.mark.parametrize("n", [1, 5, 8, 32])
@pytest.mark.parametrize("rule", ["containing", "nearest"])
def test_every_cell_centre_samples_its_own_cell(n, rule):
    topology = CubedSphere(n)
    recon = cell_field(topology, rule)
    np.testing.assert_array_equal(recon.sample_batch(topology.centres), np.arange(n * n * 6))
    assert recon.sample(topology.centres[3] * 7.5) == 3.0  # any length


def test_default_rule_of_a_cell_field_is_containing():
    assert cell_field(CubedSphere(4)).rule == "containing"


def test_containing_is_the_cell_of_by_arithmetic():
    topology = CubedSphere(8)
    pts = random_points(20_000, 1)
    got = cell_field(topology).sample_batch(pts)
    np.testing.assert_array_equal(got, topology.cell_of(pts))


def test_nearest_cell_matches_brute_force():
    topology = CubedSphere(8)
    pts = random_points(20_000, 2)
    brute = np.argmax(pts @ topology.centres.T, axis=1)
    np.testing.assert_array_equal(cell_field(topology, "nearest").sample_batch(pts), brute)


def test_rules_disagree_on_a_few_percent_of_positions():
    topology = CubedSphere(8)
    pts = random_points(50_000, 3)
    containing = cell_field(topology, "containing").sample_batch(pts)
    nearest = cell_field(topology, "nearest").sample_batch(pts)
    fraction = float(np.mean(containing != nearest))
    assert 0.01 < fraction < 0.15, fraction


def point_field(m: int = 50, seed: int = 4, kind: str = "scalar") -> Reconstruction:
    positions = random_points(m, seed) * 2.0  # not unit: the index normalises
    shape = (m, 3) if kind == "vec3" else (m,)
    values = np.random.default_rng(seed).normal(size=shape)
    return Reconstruction("p", 0, 0.0, FieldConfig(kind, "points", m), positions, values)


def test_nearest_sample_of_points_matches_brute_force():
    recon = point_field()
    pts = random_points(5000, 5)
    unit = recon.positions / np.linalg.norm(recon.positions, axis=1, keepdims=True)
    brute = np.argmax(pts @ unit.T, axis=1)
    assert recon.rule == "nearest"
    np.testing.assert_array_equal(recon.indices(pts), brute)
    np.testing.assert_array_equal(recon.sample_batch(pts), recon.values[brute])


def test_vector_point_samples_return_vectors():
    recon = point_field(kind="vec3")
    value = recon.sample([0.0, 0.0, 1.0])
    assert value.shape == (3,)


def test_containing_rule_needs_a_cell_field():
    with pytest.raises(LensError, match="use --rule nearest"):
        Reconstruction(
            "p",
            0,
            0.0,
            FieldConfig("scalar", "points", 3),
            np.eye(3),
            np.zeros(3),
            None,
            "containing",
        )


def test_unknown_rule_is_refused():
    with pytest.raises(LensError, match="rule"):
        cell_field(CubedSphere(2), "bilinear")


def test_global_field_has_one_value_everywhere():
    recon = Reconstruction("g", 0, 0.0, FieldConfig("scalar", "global", 1), None, np.array([4.5]))
    assert recon.rule == "global"
    np.testing.assert_array_equal(recon.sample_batch(random_points(10)), np.full(10, 4.5))


@pytest.mark.parametrize("bad", [[0.0, 0.0, 0.0], [np.nan, 1.0, 0.0], [1.0, 2.0]])
def test_bad_positions_raise_lens_errors(bad):
    with pytest.raises(LensError):
        cell_field(CubedSphere(4)).sample(bad)
    with pytest.raises(LensError):
        point_field().sample(bad)


def test_cell_count_must_match_topology():
    with pytest.raises(LensError, match="cells"):
        Reconstruction(
            "f", 0, 0.0, FieldConfig("scalar", "cells", 10), None, np.zeros(10), CubedSphere(2)
        )
