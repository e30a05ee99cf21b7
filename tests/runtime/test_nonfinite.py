"""Run-time arithmetic: no hang, no traceback, no NaN or infinity left in the state unsaid.

Issue 12, class 7 (constant arithmetic at run time: ``10**10**10``, ``1/0``, ``0**-1``,
``(0-8)**0.5``) and class 8 (NaN/inf left in the state without a word): a resolve or an
initial value that is not finite stops the run with one ``ResolveError`` line naming the
declaration, the tick and the expression, and the state stays at the last good tick;
``allow_nonfinite = true`` opts a declaration out.
"""

from __future__ import annotations

import time
import warnings
from pathlib import Path

import numpy as np
import pytest

from continuum.errors import ResolveError
from continuum.runtime import Simulation, State
from continuum.world import compile_world, ir_hash, load_scenario, load_world

HEADER = """\
[world]
name = "mini"

[topology]
kind = "cubed_sphere"
resolution = 2

[strata.fast]
stride = 1

[strata.slow]
stride = 4

[eras.only]
initial = true
terminal = true
dt = {dt}
strata = {{ fast = "active", slow = "active" }}

[entities.cell]
count = "cells"

[entities.cell.members.t]
type = "scalar"
stratum = "fast"
initial = "1.0 + lat"
resolve = "{member}"
{member_extra}

[signals."x.v"]
type = "scalar"
stratum = "{stratum}"
initial = "{initial}"
resolve = "{resolve}"
{extra}

[fields."x.f"]
source = "{field}"
{field_extra}
"""


def mini(
    root: Path,
    resolve: str = "prev",
    initial: str = "1.0",
    extra: str = "",
    member: str = "prev",
    member_extra: str = "",
    field: str = "x.v",
    field_extra: str = "",
    stratum: str = "fast",
    dt: str = "1.0",
) -> Path:
    """A two-declaration world under ``root/mini`` (24 cells: fast to build and step)."""
    world = root / "mini"
    world.mkdir(parents=True, exist_ok=True)
    (world / "world.toml").write_text(
        HEADER.format(
            resolve=resolve,
            initial=initial,
            extra=extra,
            member=member,
            member_extra=member_extra,
            field=field,
            field_extra=field_extra,
            stratum=stratum,
            dt=dt,
        )
    )
    return world


def sim_of(world: Path, scenario: str | None = None) -> Simulation:
    ir = load_world(world)
    return Simulation(compile_world(ir, load_scenario(ir, scenario)), 3)


def stopped(sim: Simulation, state: State, steps: int, *fragments: str) -> str:
    """Stepping must stop with one ResolveError line naming every fragment, quickly."""
    started = time.monotonic()
    with pytest.raises(ResolveError) as info:
        sim.run(state, steps)
    assert time.monotonic() - started < 5
    message = str(info.value)
    assert "\n" not in message
    for fragment in fragments:
        assert fragment in message, message
    return message


SAMPLES = {
    "10**10**10": "inf",
    "1/0": "inf",
    "0**-1": "inf",
    "(0-8)**0.5": "NaN",
    "prev / (tick - tick)": "inf",
    "maths.log(0.0 - prev)": "NaN",
    "maths.exp(1000.0)": "inf",
    "prev % 0": "NaN",
}


@pytest.mark.parametrize("expr", sorted(SAMPLES))
def test_constant_arithmetic_stops_the_run_naming_signal_tick_and_expression(tmp_path, expr):
    sim = sim_of(mini(tmp_path, resolve=expr))
    state = sim.initial_state()
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # no RuntimeWarning on stderr beside the one line
        message = stopped(
            sim, state, 5, "world.toml", '[signals."x.v"] resolve', "at tick 1", f"'{expr}'"
        )
    assert f"gives {SAMPLES[expr]} at tick 1" in message and "allow_nonfinite = true" in message
    assert state.tick == 0 and float(state.current["x.v"]) == 1.0  # the last good tick


def test_the_tick_named_is_the_tick_that_failed(tmp_path):
    sim = sim_of(mini(tmp_path, resolve="prev + 1.0 / (tick - 3.0)"))
    state = sim.initial_state()
    stopped(sim, state, 10, "gives inf at tick 3", "divide by zero")
    assert state.tick == 2


def test_a_failed_step_leaves_the_state_as_it_was(tmp_path):
    # the slow stratum runs on tick 4; the fast one has already resolved by then
    sim = sim_of(mini(tmp_path, resolve="prev / (tick - 4.0) * 0.0 + 1.0", stratum="slow"))
    state = sim.run(sim.initial_state(), 3)
    before = (state.state_hash(), dict(state.counters), state.tick, state.sim_time)
    stopped(sim, state, 1, "at tick 4")
    assert (state.state_hash(), dict(state.counters), state.tick, state.sim_time) == before


def test_an_untaken_branch_may_divide_by_zero(tmp_path):
    # both branches of `if` are evaluated elementwise; only the result must be finite
    sim = sim_of(mini(tmp_path, member="1.0 / (prev - 1.0) if prev > 1.5 else prev"))
    state = sim.run(sim.initial_state(), 5)
    assert np.isfinite(state.current["cell.t"]).all()


def test_a_member_names_how_many_values_are_not_finite(tmp_path):
    sim = sim_of(mini(tmp_path, member="maths.log(lat)"))
    state = sim.initial_state()
    message = stopped(sim, state, 1, "[entities.cell.members.t] resolve", "gives NaN")
    assert " of 24 values at tick 1" in message and "invalid value" in message


def test_a_non_finite_initial_value_stops_at_tick_zero(tmp_path):
    sim = sim_of(mini(tmp_path, initial="0.0 / 0.0"))
    with pytest.raises(ResolveError) as info:
        sim.initial_state()
    assert '[signals."x.v"] initial: gives NaN at tick 0' in str(info.value)


def test_a_scenario_initial_value_is_named_in_the_scenario_file(tmp_path):
    world = mini(tmp_path)
    (world / "scenarios").mkdir()
    (world / "scenarios" / "bad.toml").write_text('[initial]\n"x.v" = "1.0 / 0.0"\n')
    with pytest.raises(ResolveError) as info:
        sim_of(world, "bad").initial_state()
    assert "bad.toml: [initial] x.v: gives inf at tick 0 in '1.0 / 0.0'" in str(info.value)


def test_noise_parameters_out_of_range_fail_with_one_line(tmp_path):
    sim = sim_of(mini(tmp_path, resolve="prev + rng.normal(0.0, 0.0 - 1.0)"))
    message = stopped(sim, sim.initial_state(), 3, "fails at tick 1", "scale < 0")
    assert "allow_nonfinite" not in message  # the opt-out would not help: do not offer it


def test_allow_nonfinite_keeps_nan_and_inf_and_the_run_goes_on(tmp_path):
    sim = sim_of(mini(tmp_path, resolve="1.0 / (tick - 2.0)", extra="allow_nonfinite = true"))
    state = sim.initial_state()
    seen = []
    sim.run(state, 4, observer=lambda s: seen.append(float(s.current["x.v"])))
    assert seen[1] == np.inf and state.tick == 4


def test_a_reader_of_an_opted_out_signal_is_stopped_and_told_why(tmp_path):
    sim = sim_of(
        mini(
            tmp_path,
            resolve="0.0 / 0.0",
            extra="allow_nonfinite = true",
            member="prev + x.v",
            field="cell.t",
        )
    )
    state = sim.run(sim.initial_state(), 1)
    message = stopped(sim, state, 1, "[entities.cell.members.t] resolve", "at tick 2")
    assert "it reads non-finite x.v" in message


def test_a_non_finite_field_stops_observation(tmp_path):
    sim = sim_of(mini(tmp_path, field="x.v / 0.0"))
    state = sim.initial_state()
    with pytest.raises(ResolveError) as info:
        sim.observe(state)
    assert '[fields."x.f"] source: gives inf at tick 0' in str(info.value)
    sim = sim_of(mini(tmp_path, field="x.v / 0.0", field_extra="allow_nonfinite = true"))
    (frame,) = sim.observe(sim.initial_state())
    assert frame.values == np.inf


def test_sim_time_that_overflows_stops_the_run(tmp_path):
    sim = sim_of(mini(tmp_path, dt="1.0e308"))
    state = sim.run(sim.initial_state(), 1)
    stopped(sim, state, 2, "[eras.only] dt", "sim_time overflows at tick 2")
    assert state.sim_time == 1.0e308


def test_the_opt_out_changes_the_ir_hash_and_the_default_does_not(tmp_path):
    plain = ir_hash(load_world(mini(tmp_path / "a", resolve="prev")))
    explicit = ir_hash(load_world(mini(tmp_path / "b", extra="allow_nonfinite = false")))
    opted = ir_hash(load_world(mini(tmp_path / "c", extra="allow_nonfinite = true")))
    field = ir_hash(load_world(mini(tmp_path / "d", field_extra="allow_nonfinite = true")))
    assert plain == explicit
    assert len({plain, opted, field}) == 3


def test_terra_keeps_the_ir_hash_it_had_before_the_opt_out_existed():
    # checkpoints written before issue 12 must still resume without --force-resume
    assert ir_hash(load_world("terra")) == (
        "83c2a9e2b7170552c2e9aea7054dfaa6ebe26550caae59402c1cb7fdec4c5c83"
    )


def test_a_transition_condition_that_fails_is_one_line_and_changes_nothing(tmp_path):
    world = mini(tmp_path)
    text = (world / "world.toml").read_text()
    text = text.replace(
        "terminal = true\n",
        'transition = { to = "last", when = "rng.uniform(1.0, 0.0) > tick" }\n',
    )
    text += '[eras.last]\nterminal = true\ndt = 1.0\nstrata = { fast = "active" }\n'
    (world / "world.toml").write_text(text)
    sim = sim_of(world)
    state = sim.initial_state()
    before = state.state_hash()
    stopped(sim, state, 1, "[eras.only] transition.when: fails at tick 1", "high - low < 0")
    assert state.state_hash() == before and state.era == "only"
