"""Shared helpers for lens tests: tiny terra runs with capture, and reference frames."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from continuum import layout
from continuum.lens import CaptureConfig, FieldLens, LensCapture, LensStore
from continuum.runner import RunRequest, execute
from continuum.runtime import Simulation
from continuum.world import compile_world, load_scenario, load_world

SEED = 11
#: The run the ``lens_run`` fixture captures: 40 ticks, every 3rd, chunks of 10 ticks.
STEPS, STRIDE, CHUNK = 40, 3, 10


def run(**kw) -> dict:
    """Execute a tiny-terra run (8x8 per face) and return its summary."""
    options = {"world": "terra", "scenario": "tiny", "seed": SEED, "steps": 40}
    options.update(kw)
    return execute(RunRequest(**options))


def tiny_sim() -> Simulation:
    ir = load_world("terra")
    return Simulation(compile_world(ir, load_scenario(ir, "tiny")), SEED)


def reference(steps: int, stride: int = 1) -> FieldLens:
    """Every field observed straight from the runtime on the ticks a lens would capture."""
    sim = tiny_sim()
    state = sim.initial_state()
    lens = FieldLens(sim.topology, max_frames=None)
    for tick in range(steps + 1):
        if tick:
            sim.step(state)
        if tick % stride == 0:
            lens.record_many(tick, sim.observe(state), sim_time=state.sim_time)
    return lens


def run_dir(summary: dict) -> Path:
    return Path(summary["lens_dir"])


def assert_same_frames(loaded: FieldLens, expected: FieldLens) -> None:
    """Same fields, ticks, sim times, values and positions, bit for bit."""
    assert loaded.fields == expected.fields
    for name in expected.fields:
        ticks = expected.field_ticks(name)
        np.testing.assert_array_equal(loaded.field_ticks(name), ticks)
        np.testing.assert_array_equal(loaded.field_times(name), expected.field_times(name))
        for tick in ticks:
            a, b = loaded.at(name, int(tick)), expected.at(name, int(tick))
            assert a.values.tobytes() == b.values.tobytes(), (name, tick)
            if a.config.positions == "points":
                assert a.positions.tobytes() == b.positions.tobytes(), (name, tick)


def chunk_names(path: Path) -> list[str]:
    """The chunk files in a lens run dir, sorted (time order)."""
    if not path.is_dir():
        return []
    return sorted(p.name for p in path.iterdir() if layout.parse_lens_chunk_name(p.name))


def open_store(summary: dict) -> LensStore:
    return LensStore(run_dir(summary))


def capture(tmp_path: Path, **config) -> tuple[Simulation, LensCapture]:
    sim = tiny_sim()
    options = {"stride": 1, "chunk_size": 5, **config}
    return sim, LensCapture(sim, CaptureConfig(tmp_path, **options), "run-x", ir_hash="h")
