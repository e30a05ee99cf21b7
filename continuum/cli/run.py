"""``continuum run``: execute a world for N ticks."""

from __future__ import annotations

import json
import sys
import time
from contextlib import nullcontext

import click

MAX_SEED = 2**63 - 1


@click.command()
@click.argument("world")
@click.option(
    "--steps", type=click.IntRange(min=0), default=1000, show_default=True, help="Ticks to run."
)
@click.option(
    "--seed",
    type=click.IntRange(0, MAX_SEED),
    default=0,
    show_default=True,
    help="Seed of all noise; same world + scenario + seed = bitwise same run.",
)
@click.option("--scenario", default=None, help="Scenario name (scenarios/NAME.toml) or file.")
@click.option("--quiet", is_flag=True, help="No progress bar and no summary.")
@click.option("--json", "as_json", is_flag=True, help="Print one JSON line at the end.")
def run(
    world: str, steps: int, seed: int, scenario: str | None, quiet: bool, as_json: bool
) -> None:
    """Run WORLD (a directory, or a bundled world's name) for --steps ticks.

    \b
    Examples:
      continuum run terra --steps 1000 --seed 7
      continuum run ./my-world --scenario tiny --json
    """
    from continuum.runtime import Simulation, new_run_id
    from continuum.world import compile_world, ir_hash, load_scenario, load_world

    ir = load_world(world)
    program = compile_world(ir, load_scenario(ir, scenario))
    sim = Simulation(program, seed)
    state = sim.initial_state()
    run_id = new_run_id()
    started = time.perf_counter()
    with _progress(steps, quiet or as_json) as bar:
        sim.run(state, steps, observer=(lambda _s: bar.update(1)) if bar else None)
    elapsed = time.perf_counter() - started
    summary = {
        "run_id": run_id,
        "world": ir.name,
        "ir_hash": ir_hash(ir),
        "scenario": program.scenario.name,
        "scenario_hash": program.scenario.hash,
        "seed": seed,
        "tick": state.tick,
        "sim_time": state.sim_time,
        "era": state.era,
        "state_hash": state.state_hash(),
        "ticks_per_s": round(steps / elapsed, 3) if elapsed > 0 else None,
    }
    if as_json:
        click.echo(json.dumps(summary))
    elif not quiet:
        for key, value in summary.items():
            click.echo(f"{key:>14}  {value}")


def _progress(steps: int, silent: bool):
    """click's progress bar on a terminal; nothing otherwise (logs stay clean)."""
    if silent or not sys.stderr.isatty():
        return nullcontext(None)
    return click.progressbar(length=steps, label="ticks", file=sys.stderr)
