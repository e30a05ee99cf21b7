"""``continuum run`` on hostile worlds: one ``error:`` line, exit 1, never a traceback.

Issue 12, class 7 (world part) and class 8 (NaN/inf): every sample of the issue through
the command a user types, at load (limits) and at run time (arithmetic, NaN/inf).
"""

from __future__ import annotations

import tomllib
from pathlib import Path

import pytest

from tests.cli.conftest import assert_one_line_error, invoke, ok, ok_json
from tests.world.test_limits import BIG
from tests.world.test_loader import CORE_RESOLVE, edit
from tests.world.toml_writer import dumps

TINY = ("--scenario", "tiny", "--no-catalog", "--json")


def run_world(world: Path, *args: object):
    return invoke("run", world, "--steps", 20, *TINY, *args)


LOAD_TIME = {
    "a 400-digit integer": (
        "resolution = 32",
        f"resolution = {BIG}",
        ["world.toml", "topology.resolution", "integer too large"],
    ),
    "a 400-digit literal": (
        CORE_RESOLVE,
        f'resolve = "prev + {BIG}"',
        ['[signals."core.temp"] resolve', "out of range"],
    ),
    "10,000 unary minus signs": (
        CORE_RESOLVE,
        'resolve = """\\\n' + "\\\n".join(["-" * 1000] * 10) + '\\\nprev"""',
        ['[signals."core.temp"] resolve', "too long"],
    ),
    "a deep + chain": (
        CORE_RESOLVE,
        'resolve = "prev' + " + 1" * 500 + '"',
        ["resolve", "nests deeper than 100 levels"],
    ),
    "a deep ** chain": (CORE_RESOLVE, 'resolve = "2' + "**2" * 600 + '"', ["deeper than"]),
    "a deep if chain": (
        CORE_RESOLVE,
        'resolve = "' + "1 if prev else " * 120 + 'prev"',
        ["deeper than"],
    ),
    "an unhashable stratum": (
        'stratum = "thermal"\ninitial = "5500.0"',
        'stratum = ["thermal"]\ninitial = "5500.0"',
        ["stratum", "expected the name of a stratum (a string), got an array"],
    ),
    "a resolution that cannot fit in memory": (
        "resolution = 32",
        "resolution = 3000000",
        ["[topology] resolution", "needs about", "CONTINUUM_WORLD_MEMORY_LIMIT"],
    ),
    "an entity count that cannot fit in memory": (
        "count = 12",
        "count = 9000000000000000000",
        ["[entities.plate] count", "needs about"],
    ),
}


@pytest.mark.parametrize("case", sorted(LOAD_TIME))
def test_hostile_world_at_load_is_one_line(terra_dir, case):
    old, new, fragments = LOAD_TIME[case]
    edit(terra_dir, old, new)
    assert_one_line_error(run_world(terra_dir), *fragments)


@pytest.mark.parametrize("section", ["strata", "signals", "entities", "config", "eras"])
def test_a_section_that_is_not_a_table_is_one_line(terra_dir, section):
    doc = tomllib.loads((terra_dir / "world.toml").read_text())
    doc[section] = [1, 2]
    (terra_dir / "world.toml").write_text(dumps(doc))
    assert_one_line_error(run_world(terra_dir), f"[{section}]", "expected a table, got an array")


def test_a_scenario_resolution_that_cannot_fit_names_the_scenario(terra_dir):
    scenario = terra_dir / "scenarios" / "huge.toml"
    scenario.write_text("[topology]\nresolution = 5000000\n")
    result = invoke("run", terra_dir, "--steps", 1, "--scenario", scenario, "--no-catalog")
    assert_one_line_error(result, "huge.toml: [topology] resolution: 5000000", "needs about")


RUN_TIME = {
    "10**10**10": "gives inf at tick 1",
    "1/0": "gives inf at tick 1",
    "0**-1": "gives inf at tick 1",
    "(0-8)**0.5": "gives NaN at tick 1",
    "prev / (tick - 7.0)": "gives inf at tick 7",
    "prev + rng.normal(0.0, 0.0 - 1.0)": "fails at tick 1",
}


@pytest.mark.parametrize("expr", sorted(RUN_TIME))
def test_run_time_arithmetic_is_one_line_naming_signal_tick_and_expression(terra_dir, expr):
    edit(terra_dir, CORE_RESOLVE, f'resolve = "{expr}"')
    result = run_world(terra_dir)
    assert_one_line_error(result, '[signals."core.temp"] resolve', RUN_TIME[expr], f"'{expr}'")
    assert "Warning" not in result.stderr


def test_a_failed_run_leaves_only_whole_checkpoints_of_good_ticks(terra_dir, tmp_path):
    edit(terra_dir, CORE_RESOLVE, 'resolve = "prev / (tick - 7.0)"')
    ckpt = tmp_path / "ckpt"
    result = run_world(terra_dir, "--checkpoint-dir", ckpt, "--checkpoint-stride", 2)
    assert_one_line_error(result, "at tick 7")
    (run_dir,) = ckpt.iterdir()
    ticks = sorted(int(p.stem.split("_")[1]) for p in run_dir.glob("checkpoint_*.ckpt"))
    assert ticks and max(ticks) <= 6, ticks  # the failed tick's state was never written
    ok("checkpoint", "verify", ckpt)


PROBE = """\
[signals."probe.x"]
type = "scalar"
stratum = "thermal"
initial = "1.0"
resolve = "prev / (tick - 1.0)"
"""


def test_the_opt_out_lets_the_run_finish_and_changes_the_hash(terra_dir):
    before = ok_json("run", terra_dir, "--steps", 2, *TINY)
    (terra_dir / "probe.toml").write_text(PROBE)
    assert_one_line_error(run_world(terra_dir), '[signals."probe.x"]', "gives inf at tick 1")
    (terra_dir / "probe.toml").write_text(PROBE + "allow_nonfinite = true\n")
    after = ok_json("run", terra_dir, "--steps", 2, *TINY)
    assert after["tick"] == 2 and after["ir_hash"] != before["ir_hash"]
