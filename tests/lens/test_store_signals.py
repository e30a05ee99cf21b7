"""``LensStore.signals``, ``signal_history`` and ``frame_values`` on a real run's chunks."""

from __future__ import annotations

import json

import numpy as np
import pytest
from click.testing import CliRunner

from continuum.cli import cli
from continuum.errors import LensError
from continuum.lens import LensStore


@pytest.fixture(scope="module")
def store(tmp_path_factory):
    root = tmp_path_factory.mktemp("signals")
    args = ["run", "terra", "--scenario", "tiny", "--steps", "120", "--lens-dir", str(root)]
    args += ["--lens-chunk-size", "50", "--no-catalog", "--json"]
    result = CliRunner().invoke(cli, args)
    assert result.exit_code == 0, result.output
    with LensStore(json.loads(result.stdout)["lens_dir"]) as s:
        yield s


def test_signals_name_each_recorded_signal_and_its_kind(store):
    assert store.signals["core.temp"] == "scalar"
    assert store.signals["core.dipole"] == "vec3"


def test_signal_history_spans_every_chunk_in_tick_order(store):
    ticks, values = store.signal_history("core.temp")
    assert ticks.tolist() == list(range(121)) and values.shape == (121,)
    assert values[0] == 5500.0 and np.all(np.diff(values) < 0)  # the core cools
    part_ticks, part = store.signal_history("core.temp", start=40, stop=60)
    assert part_ticks.tolist() == list(range(40, 61))
    np.testing.assert_array_equal(part, values[40:61])
    _, dipole = store.signal_history("core.dipole")
    assert dipole.shape == (121, 3)


def test_an_unknown_signal_names_those_recorded(store):
    with pytest.raises(LensError, match="recorded signals: core.dipole, core.temp"):
        store.signal_history("nope")


def test_frame_values_are_the_reconstructions_values(store):
    np.testing.assert_array_equal(
        store.frame_values("atmosphere.temperature", 77),
        store.at("atmosphere.temperature", 77).values,
    )
    with pytest.raises(LensError, match="no frame at tick 500"):
        store.frame_values("atmosphere.temperature", 500)
